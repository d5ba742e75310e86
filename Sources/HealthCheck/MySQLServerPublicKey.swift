import Foundation
import _CryptoExtras

/// A MySQL server's RSA public key, used for caching_sha2_password full authentication over plain
/// TCP (what `mysql --server-public-key-path` reads, or what the server sends on request).
///
/// Invariant: `pem` holds one PEM block, `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1), that
/// parses as an RSA public key of at least 1024 bits.
public struct MySQLServerPublicKey: Hashable, Sendable {
  public let pem: String
  /// The DER bytes inside the PEM block.
  let der: [UInt8]

  /// Why a key or an encryption with it was refused.
  public enum Problem: Error, Equatable, CustomStringConvertible {
    case notPEM
    case unexpectedLabel(String)
    case badBase64
    case notRSA
    case passwordTooLong(bytes: Int, keyBytes: Int)

    public var description: String {
      switch self {
      case .notPEM: return "no PEM block (-----BEGIN PUBLIC KEY----- or -----BEGIN RSA PUBLIC KEY-----)"
      case .unexpectedLabel(let label):
        return "PEM block is '\(label)', expected 'PUBLIC KEY' or 'RSA PUBLIC KEY'"
      case .badBase64: return "PEM body is not valid base64"
      case .notRSA: return "not an RSA public key of 1024 bits or more"
      case .passwordTooLong(let bytes, let keyBytes):
        return "password of \(bytes - 1) bytes is too long for RSA-OAEP with a \(keyBytes * 8)-bit key"
      }
    }
  }

  public init(pem: String) throws(Problem) {
    let der = try Self.decodePEM(pem)
    guard (try? _RSA.Encryption.PublicKey(unsafeDERRepresentation: der)) != nil else { throw .notRSA }
    self.pem = pem
    self.der = der
  }

  /// The full-authentication answer: RSA-OAEP (SHA-1, MGF1-SHA-1: OpenSSL's RSA_PKCS1_OAEP_PADDING,
  /// which libmysqlclient uses) of (password + NUL) XOR the 20-byte scramble repeated.
  func encryptPassword(_ password: String, scramble: [UInt8]) throws(Problem) -> [UInt8] {
    guard let key = try? _RSA.Encryption.PublicKey(unsafeDERRepresentation: der) else { throw .notRSA }
    let plain = MySQLProtocol.fullAuthPlaintext(password: password, scramble: scramble)
    let keyBytes = key.keySizeInBits / 8
    // libmysqlclient refuses when passwd_len + 41 >= RSA_size (OAEP-SHA1 overhead is 42 bytes).
    guard plain.count + 41 < keyBytes else { throw .passwordTooLong(bytes: plain.count, keyBytes: keyBytes) }
    guard let sealed = try? key.encrypt(plain, padding: .PKCS1_OAEP) else { throw .notRSA }
    return Array(sealed)
  }

  /// The DER body of the first PEM block, which must be a public key block.
  static func decodePEM(_ text: String) throws(Problem) -> [UInt8] {
    let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
    guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }) else {
      throw .notPEM
    }
    let label = String(lines[begin].dropFirst("-----BEGIN ".count).dropLast("-----".count))
    guard label == "PUBLIC KEY" || label == "RSA PUBLIC KEY" else { throw .unexpectedLabel(label) }
    guard let end = lines[(begin + 1)...].firstIndex(of: "-----END \(label)-----") else { throw .notPEM }
    let body = lines[(begin + 1)..<end].joined()
    guard let data = Data(base64Encoded: body), !data.isEmpty else { throw .badBase64 }
    return Array(data)
  }
}
