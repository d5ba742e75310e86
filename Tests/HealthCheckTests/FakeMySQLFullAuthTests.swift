import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// caching_sha2_password full authentication (0x01 0x04, the first login after a MySQL 8 restart)
/// against `FakeMySQLServer`, which decrypts the client's RSA-OAEP blob with `openssl pkeyutl`:
/// an "up" here means an independent OAEP implementation recovered the right password.
extension FakeMySQLServerTests {
  func testCachingSHA2FullAuthentication() throws {
    let keys = try RSATestKeys()
    defer { keys.remove() }
    let otherKeys = try RSATestKeys()
    defer { otherKeys.remove() }
    let configured = try MySQLServerPublicKey(pem: try String(contentsOfFile: keys.spkiPath, encoding: .utf8))
    let wrongConfigured = try MySQLServerPublicKey(pem: otherKeys.spkiPEM)

    struct Case {
      var name: String
      var full: FakeMySQLServer.FullAuth
      var password = "secret"
      var configuredKey: MySQLServerPublicKey?
      var expectUp: Bool
      var reasonContains = ""
      var expectKeyRequests: Int
      /// What openssl decrypted, after the XOR; nil when no blob is expected or it must not decrypt.
      var expectDecrypted: String?
      var expectBlobs: Int
    }
    let cases: [Case] = [
      Case(
        name: "full auth, key fetched from the server (SPKI PEM)",
        full: .init(keys: keys, servedPEM: keys.spkiPEM),
        expectUp: true, expectKeyRequests: 1, expectDecrypted: "secret", expectBlobs: 1),
      Case(
        name: "full auth, server sends a PKCS#1 PEM", full: .init(keys: keys, servedPEM: keys.pkcs1PEM),
        expectUp: true, expectKeyRequests: 1, expectDecrypted: "secret", expectBlobs: 1),
      Case(
        name: "full auth after an auth switch uses the switch nonce",
        full: .init(keys: keys, servedPEM: keys.spkiPEM, switchFirst: true),
        expectUp: true, expectKeyRequests: 1, expectDecrypted: "secret", expectBlobs: 1),
      Case(
        name: "full auth, wrong password", full: .init(keys: keys, servedPEM: keys.spkiPEM),
        password: "wrong", expectUp: false, reasonContains: "ERR 1045: Access denied", expectKeyRequests: 1,
        expectDecrypted: "wrong", expectBlobs: 1),
      Case(
        name: "full auth, configured key file: no key request on the wire",
        full: .init(keys: keys, servedPEM: "must not be asked for"), configuredKey: configured,
        expectUp: true, expectKeyRequests: 0, expectDecrypted: "secret", expectBlobs: 1),
      Case(
        name: "full auth, configured key is not the server's",
        full: .init(keys: keys, servedPEM: keys.spkiPEM),
        configuredKey: wrongConfigured, expectUp: false, reasonContains: "ERR 1045", expectKeyRequests: 0,
        expectDecrypted: nil, expectBlobs: 1),
      Case(
        name: "full auth, garbage PEM from the server",
        full: .init(
          keys: keys, servedPEM: "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"),
        expectUp: false, reasonContains: "server sent an unusable RSA public key: not an RSA public key",
        expectKeyRequests: 1, expectDecrypted: nil, expectBlobs: 0),
      Case(
        name: "full auth, server sends no PEM at all", full: .init(keys: keys, servedPEM: "hello"),
        expectUp: false, reasonContains: "server sent an unusable RSA public key: no PEM block",
        expectKeyRequests: 1, expectDecrypted: nil, expectBlobs: 0),
      Case(
        name: "full auth, server closes on the key request",
        full: .init(keys: keys, servedPEM: keys.spkiPEM, closeOnKeyRequest: true), expectUp: false,
        reasonContains: "connection closed while waiting for the server's RSA public key",
        expectKeyRequests: 1,
        expectDecrypted: nil, expectBlobs: 0),
    ]
    for c in cases {
      let server = try FakeMySQLServer(mode: .cachingSHA2Full(c.full), password: "secret", group: group)
      defer { server.close() }
      let check = MySQLCheck(
        target: CheckTarget(address: "127.0.0.1", port: server.port), connectTimeout: .seconds(3),
        user: "probe", password: c.password, serverPublicKey: c.configuredKey)
      let seen = try server.probe(
        check, on: group, name: c.name, expectUp: c.expectUp, reasonContains: c.reasonContains,
        expectQuit: c.expectUp)
      XCTAssertEqual(seen.user, "probe", c.name)
      XCTAssertEqual(seen.publicKeyRequests, c.expectKeyRequests, "\(c.name): public key requests (0x02)")
      XCTAssertEqual(seen.encryptedPasswords.count, c.expectBlobs, "\(c.name): RSA blobs sent")
      for blob in seen.encryptedPasswords {
        XCTAssertEqual(blob.count, 256, "\(c.name): a 2048-bit RSA block")
      }
      XCTAssertEqual(seen.decryptedPasswords, c.expectDecrypted.map { [$0] } ?? [], c.name)
      XCTAssertEqual(seen.outOfOrder, 0, "\(c.name): client packets out of sequence")
    }
  }

  /// The stand-in checked against a real client: PyMySQL (Debian's python3-pymysql, which does
  /// caching_sha2_password full authentication with python3-cryptography's OAEP and checks every
  /// packet's sequence number) logs in to the fake server the same way the probe does.
  func testFakeServerAgreesWithPyMySQL() throws {
    let python = "/usr/bin/python3"
    try requireTool(python, package: "python3")
    do {
      try runTool(python, ["-c", "import pymysql, cryptography"])
    } catch {
      throw XCTSkipFailure(
        "PyMySQL is missing: install the Debian packages python3-pymysql python3-cryptography")
    }
    let keys = try RSATestKeys()
    defer { keys.remove() }
    // Prints "ok" after login and COM_QUIT (close), or the MySQL error code it got.
    let script = """
      import sys, pymysql
      try:
          c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="probe", password=sys.argv[2],
                              autocommit=None, connect_timeout=5)
          c.close()
          print("ok")
      except pymysql.err.OperationalError as e:
          print(e.args[0])
      """
    let cases: [(String, FakeMySQLServer.FullAuth, String, String)] = [
      ("SPKI key from the server", .init(keys: keys, servedPEM: keys.spkiPEM), "secret", "ok"),
      ("PKCS#1 key from the server", .init(keys: keys, servedPEM: keys.pkcs1PEM), "secret", "ok"),
      ("after an auth switch", .init(keys: keys, servedPEM: keys.spkiPEM, switchFirst: true), "secret", "ok"),
      ("wrong password", .init(keys: keys, servedPEM: keys.spkiPEM), "wrong", "1045"),
    ]
    for (name, full, password, expected) in cases {
      let server = try FakeMySQLServer(mode: .cachingSHA2Full(full), password: "secret", group: group)
      defer { server.close() }
      let output = try runTool(python, ["-c", script, String(server.port), password])
      XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), expected, name)
      var seen = server.seen.withLock { $0 }
      for _ in 0..<40 where expected == "ok" && seen.quits == 0 {
        Thread.sleep(forTimeInterval: 0.05)
        seen = server.seen.withLock { $0 }
      }
      XCTAssertEqual(seen.publicKeyRequests, 1, name)
      XCTAssertEqual(seen.decryptedPasswords, [password], name)
      XCTAssertEqual(seen.quits, expected == "ok" ? 1 : 0, name)
      XCTAssertEqual(seen.outOfOrder, 0, name)
    }
  }

  /// RSA-OAEP is randomized: two logins with the same password send different blobs, and openssl
  /// decrypts both to (password + NUL) XOR the scramble.
  func testFullAuthenticationBlobIsFreshOAEPEachTime() throws {
    let keys = try RSATestKeys()
    defer { keys.remove() }
    let server = try FakeMySQLServer(
      mode: .cachingSHA2Full(.init(keys: keys, servedPEM: keys.spkiPEM)), password: "p@ss wörd", group: group)
    defer { server.close() }
    let check = MySQLCheck(
      target: CheckTarget(address: "127.0.0.1", port: server.port), connectTimeout: .seconds(3),
      user: "probe",
      password: "p@ss wörd")
    for _ in 0..<2 {
      let outcome = try EngineProbe(check).run(on: group.next()).wait()
      XCTAssertTrue(outcome.isUp, "\(outcome)")
    }
    let seen = server.seen.withLock { $0 }
    XCTAssertEqual(seen.encryptedPasswords.count, 2)
    XCTAssertNotEqual(seen.encryptedPasswords.first, seen.encryptedPasswords.last)
    XCTAssertEqual(seen.decryptedPasswords, ["p@ss wörd", "p@ss wörd"])
    let raw = try XCTUnwrap(keys.decrypt(try XCTUnwrap(seen.encryptedPasswords.first)))
    XCTAssertEqual(
      raw, MySQLProtocol.fullAuthPlaintext(password: "p@ss wörd", scramble: FakeMySQLServer.nonce),
      "openssl's plaintext is the XORed password + NUL")
  }
}

extension FakeMySQLServerTests {
  /// Which PEM texts `MySQLServerPublicKey` accepts, and why it refuses the others.
  func testServerPublicKeyParsing() throws {
    let keys = try RSATestKeys()
    defer { keys.remove() }
    let small = try RSATestKeys(bits: 1024)
    defer { small.remove() }
    let ecPath = keys.directory.appendingPathComponent("ec.pem").path
    try runTool(
      RSATestKeys.openssl, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ecPath + ".key"])
    try runTool(RSATestKeys.openssl, ["ec", "-in", ecPath + ".key", "-pubout", "-out", ecPath])
    let ecPEM = try String(contentsOfFile: ecPath, encoding: .utf8)
    let privatePEM = try String(contentsOfFile: keys.privateKeyPath, encoding: .utf8)

    let accepted: [(String, String)] = [
      ("SPKI", keys.spkiPEM), ("PKCS#1", keys.pkcs1PEM), ("1024-bit SPKI", small.spkiPEM),
      ("with text around it", "key follows\n" + keys.spkiPEM + "trailer\n"),
      ("CRLF line ends", keys.spkiPEM.replacingOccurrences(of: "\n", with: "\r\n")),
    ]
    for (name, pem) in accepted {
      XCTAssertNoThrow(try MySQLServerPublicKey(pem: pem), name)
    }
    let refused: [(String, String, MySQLServerPublicKey.Problem)] = [
      ("empty", "", .notPEM),
      ("no END line", "-----BEGIN PUBLIC KEY-----\nAAAA\n", .notPEM),
      (
        "private key", privatePEM,
        .unexpectedLabel(privatePEM.contains("RSA PRIVATE") ? "RSA PRIVATE KEY" : "PRIVATE KEY")
      ),
      ("bad base64", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", .badBase64),
      ("EC key", ecPEM, .notRSA),
    ]
    for (name, pem, problem) in refused {
      XCTAssertThrowsError(try MySQLServerPublicKey(pem: pem), name) { error in
        XCTAssertEqual(error as? MySQLServerPublicKey.Problem, problem, name)
      }
    }
    // libmysqlclient's limit: passwd_len + 41 < RSA_size (passwd_len counts the NUL); a 1024-bit
    // key (128 bytes) takes 85 password bytes and refuses 86, one byte under OAEP's own limit.
    let key1024 = try MySQLServerPublicKey(pem: small.spkiPEM)
    let nonce = [UInt8](1...20)
    let longest = String(repeating: "x", count: 85)
    let blob = try key1024.encryptPassword(longest, scramble: nonce)
    XCTAssertEqual(small.decrypt(blob), MySQLProtocol.fullAuthPlaintext(password: longest, scramble: nonce))
    XCTAssertThrowsError(try key1024.encryptPassword(longest + "x", scramble: nonce)) { error in
      XCTAssertEqual(error as? MySQLServerPublicKey.Problem, .passwordTooLong(bytes: 87, keyBytes: 128))
    }
  }
}
