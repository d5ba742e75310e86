import Foundation
import KeeperCore
import XCTest

@testable import HealthCheck

final class ParsingTests: XCTestCase {
  func testScriptCommandRule() {
    let cases: [(String, [String]?, Bool)] = [
      ("/usr/bin/check --port 80", ["/usr/bin/check", "--port", "80"], false),
      ("check 'a b' \"c d\" e\\ f", ["check", "a b", "c d", "e f"], false),
      ("check | grep x", ["/bin/sh", "-c", "check | grep x"], true),
      ("test -f /tmp/x && exit 0", ["/bin/sh", "-c", "test -f /tmp/x && exit 0"], true),
      ("echo \"$HOME\"", ["/bin/sh", "-c", "echo \"$HOME\""], true),
      ("echo '$HOME'", ["echo", "$HOME"], false),
      ("echo 'unclosed", nil, false),
      ("   ", nil, false),
    ]
    for (text, argv, shell) in cases {
      let c = try? ScriptCommand(parsing: text)
      XCTAssertEqual(c?.argv, argv, text)
      if let c { XCTAssertEqual(c.usesShell, shell, text) }
    }
  }

  func testStatusCodeSet() {
    let cases: [(String, [Int], [Int])?] = [
      ("200", [200], [201, 404]),
      ("200-299 301", [200, 250, 299, 301], [300, 302, 404]),
      ("404", [404], [200]),
    ]
    for case (let text, let yes, let no)? in cases {
      let set = StatusCodeSet(parsing: text)
      XCTAssertNotNil(set, text)
      for code in yes { XCTAssertTrue(set?.contains(code) ?? false, "\(text) contains \(code)") }
      for code in no { XCTAssertFalse(set?.contains(code) ?? true, "\(text) excludes \(code)") }
    }
    for bad in ["", "abc", "300-200", "99", "200-"] { XCTAssertNil(StatusCodeSet(parsing: bad), bad) }
    XCTAssertTrue(StatusCodeSet.success.contains(204))
  }

  /// Vectors computed independently with Python's hashlib (see the test's comment in docs).
  func testMySQLScrambles() {
    let nonce = [UInt8](1...20)
    XCTAssertEqual(
      hex(MySQLProtocol.nativePassword("secret", nonce: nonce)), "b32bb3a583e1340c0a1108d58b1be49781ad8c2f")
    XCTAssertEqual(
      hex(MySQLProtocol.cachingSHA2("secret", nonce: nonce)),
      "746ebe205d56a0707acb3e796e834e0dd7b1d61743b26bd5202c7a623230c7c9")
    XCTAssertEqual(MySQLProtocol.nativePassword("", nonce: nonce), [])
    XCTAssertNil(MySQLProtocol.scramble(password: "x", nonce: nonce, plugin: "client_ed25519"))
    // Full authentication's plaintext: (password + NUL) XOR the scramble, repeated past 20 bytes;
    // computed with Python: bytes(p[i] ^ n[i % 20] for i in range(len(p))).
    XCTAssertEqual(
      hex(MySQLProtocol.fullAuthPlaintext(password: "secret", scramble: nonce)), "72676076607207")
    XCTAssertEqual(
      hex(MySQLProtocol.fullAuthPlaintext(password: String(repeating: "a", count: 25), scramble: nonce)),
      "6063626564676669686b6a6d6c6f6e7170737275606362656406")
  }

  func testMySQLGreetingAndErr() throws {
    let g = try MySQLProtocol.parseGreeting(FakeMySQLServer.greeting(plugin: "caching_sha2_password"))
    XCTAssertEqual(g.serverVersion, "8.0.36-fake")
    XCTAssertEqual(g.connectionID, 7)
    XCTAssertEqual(g.scramble, FakeMySQLServer.nonce)
    XCTAssertEqual(g.authPlugin, "caching_sha2_password")
    XCTAssertThrowsError(try MySQLProtocol.parseGreeting([9, 0]))
    XCTAssertThrowsError(try MySQLProtocol.parseGreeting([10, 65]))
    XCTAssertEqual(
      MySQLProtocol.describeError([0xff, 0x15, 0x04] + Array("#28000Access denied".utf8)),
      "ERR 1045: Access denied")
  }

  func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
}
