import Foundation

/// An RSA key pair made by the `openssl` command line (not by the code under test), with the
/// public half in both PEM forms MySQL servers use, and OAEP decryption done by `openssl pkeyutl`
/// so a test proves the client's encryption against an independent implementation.
struct RSATestKeys: Sendable {
  let directory: URL
  let privateKeyPath: String
  /// SPKI: `-----BEGIN PUBLIC KEY-----` (what MySQL 8 generates and sends).
  let spkiPath: String
  let spkiPEM: String
  /// PKCS#1: `-----BEGIN RSA PUBLIC KEY-----`.
  let pkcs1PEM: String

  static let openssl = "/usr/bin/openssl"

  init(bits: Int = 2048) throws {
    try requireTool(Self.openssl, package: "openssl")
    directory = try makeTempDir("lvsk-rsa")
    privateKeyPath = directory.appendingPathComponent("private.pem").path
    spkiPath = directory.appendingPathComponent("public.pem").path
    let pkcs1Path = directory.appendingPathComponent("public-pkcs1.pem").path
    try runTool(Self.openssl, ["genrsa", "-out", privateKeyPath, String(bits)])
    try runTool(Self.openssl, ["rsa", "-in", privateKeyPath, "-pubout", "-out", spkiPath])
    try runTool(Self.openssl, ["rsa", "-in", privateKeyPath, "-RSAPublicKey_out", "-out", pkcs1Path])
    spkiPEM = try String(contentsOfFile: spkiPath, encoding: .utf8)
    pkcs1PEM = try String(contentsOfFile: pkcs1Path, encoding: .utf8)
  }

  func remove() { try? FileManager.default.removeItem(at: directory) }

  /// `openssl pkeyutl -decrypt` with OAEP, SHA-1 digest and MGF1-SHA-1 (RSA_PKCS1_OAEP_PADDING);
  /// nil when openssl rejects the blob (wrong key, wrong padding).
  func decrypt(_ blob: [UInt8]) -> [UInt8]? {
    let input = directory.appendingPathComponent("blob-\(UInt32.random(in: 0...UInt32.max)).bin")
    defer { try? FileManager.default.removeItem(at: input) }
    guard (try? Data(blob).write(to: input)) != nil else { return nil }
    guard
      let out = try? runToolData(
        Self.openssl,
        [
          "pkeyutl", "-decrypt", "-inkey", privateKeyPath, "-in", input.path, "-pkeyopt",
          "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1",
        ])
    else { return nil }
    return out
  }
}

/// Runs a program to completion and returns its raw stdout; throws on a non-zero exit.
func runToolData(_ path: String, _ args: [String]) throws -> [UInt8] {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = args
  let out = Pipe()
  p.standardOutput = out
  p.standardError = FileHandle.nullDevice
  try p.run()
  let data = out.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  guard p.terminationStatus == 0 else {
    throw XCTSkipFailure("\(path) \(args.joined(separator: " ")) exited \(p.terminationStatus)")
  }
  return [UInt8](data)
}
