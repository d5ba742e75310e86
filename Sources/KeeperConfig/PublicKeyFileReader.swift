import Foundation

extension CheckerBuilder {
  /// Reads `server_public_key PATH` (relative to the directory of the file that names it) and
  /// checks its PEM shape; logs one error at the path and returns nil when it is unusable.
  func publicKeyFile(_ node: ConfigNode, _ value: String) -> PublicKeyFile? {
    let at = node.arguments[0].location
    var path = value
    if !path.hasPrefix("/") {
      let directory = (at.file as NSString).deletingLastPathComponent
      if !directory.isEmpty { path = directory + "/" + path }
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
      log.error("cannot read server_public_key file '\(path)': \(reason)", at: at)
      return nil
    }
    let pem = String(decoding: data, as: UTF8.self)
    if let problem = PublicKeyFile.pemProblem(pem) {
      log.error("server_public_key file '\(path)' is not an RSA public key in PEM: \(problem)", at: at)
      return nil
    }
    return PublicKeyFile(path: path, pem: pem, location: at)
  }
}

extension PublicKeyFile {
  /// rsaEncryption, 1.2.840.113549.1.1.1, as a DER OBJECT IDENTIFIER.
  static let rsaEncryptionOID: [UInt8] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]

  /// Why `text` is not a PEM RSA public key, or nil when its shape is right. Checks the block
  /// label, the base64 body, a DER SEQUENCE, and for SPKI the rsaEncryption algorithm; the key
  /// itself is parsed by the checker.
  static func pemProblem(_ text: String) -> String? {
    let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
    guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }) else {
      return "no '-----BEGIN PUBLIC KEY-----' or '-----BEGIN RSA PUBLIC KEY-----' line"
    }
    let label = String(lines[begin].dropFirst("-----BEGIN ".count).dropLast("-----".count))
    guard label == "PUBLIC KEY" || label == "RSA PUBLIC KEY" else {
      return "the PEM block is '\(label)', expected 'PUBLIC KEY' or 'RSA PUBLIC KEY'"
    }
    guard let end = lines[(begin + 1)...].firstIndex(of: "-----END \(label)-----") else {
      return "no '-----END \(label)-----' line"
    }
    guard let der = Data(base64Encoded: lines[(begin + 1)..<end].joined()), let first = der.first else {
      return "the PEM body is not valid base64"
    }
    guard first == 0x30 else { return "the PEM body is not a DER SEQUENCE" }
    if label == "PUBLIC KEY" {
      let bytes = [UInt8](der.prefix(32))
      let hasRSA = bytes.indices.contains { bytes[$0...].starts(with: rsaEncryptionOID) }
      guard hasRSA else { return "the key's algorithm is not rsaEncryption" }
    }
    return nil
  }
}
