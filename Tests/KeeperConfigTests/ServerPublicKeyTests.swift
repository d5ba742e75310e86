import Foundation
import XCTest

@testable import KeeperConfig

/// `server_public_key PATH` in MYSQL_CHECK: read at load time, relative to the naming file,
/// with file:line:col errors for a missing or malformed key.
final class ServerPublicKeyTests: XCTestCase {
  /// A 2048-bit RSA public key made with `openssl rsa -pubout` (SPKI) and `-RSAPublicKey_out` (PKCS#1).
  static let spki = """
    -----BEGIN PUBLIC KEY-----
    MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArjP2EgAS7yvFsghJqfjt
    SC+9GTnIhE6tsZ9CRpqUsWkdNbUX6PqzU7FbYSN+Q33CfWeZzHEiobWEnZnsYd5X
    +Rh7QufxeMlMZIj7m47eT4zQIYKi1QElks+RbHtpM2iZ4eEWC2dH2g7KWmNz3UPC
    PWND0e4Ekg7tCUoEg89xT+llE7Mx/OL1ck2xdiwybL+UToRCY7rrHgXk073vTpbf
    t1Jso2QS2YLyn7eHqIQK9uIIFBzMbd3oKH/55Maw0WpN0/Pii25qK+IVv+mbNBcJ
    2i9ulwu9DVQplZBok8go0X4VuKpEi/d0X4wIRofRPqwanxRLy6zGAcBGit9U3rS5
    rQIDAQAB
    -----END PUBLIC KEY-----

    """
  /// `openssl ec -pubout` of a prime256v1 key: a well-formed SPKI that is not RSA.
  static let ecSPKI = """
    -----BEGIN PUBLIC KEY-----
    MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGkLJ6ikVXWfnj8iV9qBocldth9zr
    JzL9J6aoUaOHinDNSA4vGnvKzwUirVfD1k56dXPRcOq3XcT3jIuI/128pw==
    -----END PUBLIC KEY-----

    """

  static func config(_ keyLine: String, user: Bool = true, checker: String = "MYSQL_CHECK") -> String {
    """
    virtual_server 10.0.0.1 3306 {
      real_server 10.0.1.1 3306 {
        \(checker) {
    \(user ? "      user monitor\n" : "")      \(keyLine)
        }
      }
    }

    """
  }

  func testKeyFileIsReadRelativeToTheNamingFile() throws {
    let scratch = try ScratchDirectory()
    let keyPath = try scratch.write("keys/mysql.pem", Self.spki)
    let main = try scratch.write("lvskeeper.conf", Self.config("server_public_key keys/mysql.pem"))
    let loaded = try testLoader().load(path: main)
    let check = try XCTUnwrap(loaded.configuration.virtualServers.first?.realServers.first?.checkers.first)
    let key = try XCTUnwrap(check.mysql?.serverPublicKey)
    XCTAssertEqual(key.path, keyPath)
    XCTAssertEqual(key.pem, Self.spki)
    XCTAssertEqual(key.location, SourceLocation(file: main, line: 5, column: 25))
    XCTAssertEqual(check.mysql?.user, "monitor")
    XCTAssertEqual(loaded.warnings, [])

    let absolute = try scratch.write("abs.conf", Self.config("server_public_key \(keyPath)"))
    let again = try testLoader().load(path: absolute)
    XCTAssertEqual(
      again.configuration.virtualServers.first?.realServers.first?.checkers.first?.mysql?.serverPublicKey?
        .path,
      keyPath)
  }

  func testBadKeyFilesAreErrorsAtThePath() throws {
    let scratch = try ScratchDirectory()
    try scratch.write("ec.pem", Self.ecSPKI)
    try scratch.write("cert.pem", "-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n")
    try scratch.write("garbage.pem", "ssh-rsa AAAAB3NzaC1yc2E user@host\n")
    try scratch.write("base64.pem", "-----BEGIN PUBLIC KEY-----\n!!notbase64!!\n-----END PUBLIC KEY-----\n")
    try scratch.write("noend.pem", "-----BEGIN RSA PUBLIC KEY-----\nMAMCAQU=\n")
    let unreadable = try scratch.write("unreadable.pem", Self.spki)
    chmod(unreadable, 0)
    let cases: [(String, String)] = [
      ("missing.pem", "cannot read server_public_key file '\(scratch.path)/missing.pem': no such file"),
      ("ec.pem", "is not an RSA public key in PEM: the key's algorithm is not rsaEncryption"),
      ("cert.pem", "the PEM block is 'CERTIFICATE', expected 'PUBLIC KEY' or 'RSA PUBLIC KEY'"),
      ("garbage.pem", "no '-----BEGIN PUBLIC KEY-----' or '-----BEGIN RSA PUBLIC KEY-----' line"),
      ("base64.pem", "the PEM body is not valid base64"),
      ("noend.pem", "no '-----END RSA PUBLIC KEY-----' line"),
    ]
    var all = cases
    // root reads a mode-000 file anyway; only check "permission denied" when it applies.
    if getuid() != 0 {
      all.append(("unreadable.pem", "cannot read server_public_key file '\(unreadable)': permission denied"))
    }
    for (file, fragment) in all {
      let main = try scratch.write("\(file).conf", Self.config("server_public_key \(file)"))
      do {
        _ = try testLoader().load(path: main)
        XCTFail("\(file): expected an error")
      } catch {
        let first = try XCTUnwrap(error.errors.first, file)
        XCTAssertTrue(first.message.contains(fragment), "\(file): \(first.message)")
        XCTAssertEqual(first.location, SourceLocation(file: main, line: 5, column: 25), file)
      }
    }
  }

  func testKeyWithoutUserWarnsAndOtherCheckersRejectIt() throws {
    let scratch = try ScratchDirectory()
    try scratch.write("k.pem", Self.spki)
    let main = try scratch.write("nouser.conf", Self.config("server_public_key k.pem", user: false))
    let loaded = try testLoader().load(path: main)
    XCTAssertEqual(loaded.warnings.count, 1)
    XCTAssertTrue(
      loaded.warnings.first?.message.contains("no effect without 'user'") ?? false, "\(loaded.warnings)")

    let tcp = try scratch.write(
      "tcp.conf", Self.config("server_public_key k.pem", user: false, checker: "TCP_CHECK"))
    XCTAssertThrowsError(try testLoader().load(path: tcp)) { error in
      let message = (error as? ConfigErrors)?.errors.first?.message ?? ""
      XCTAssertTrue(message.contains("unknown keyword 'server_public_key' in TCP_CHECK"), message)
    }
  }
}
