import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// MYSQL_CHECK against a real MariaDB 10.11: logins by plugin, failures, and the promise that a
/// check with a user never leaves the server counting an aborted connect.
final class MariaDBTests: XCTestCase {
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  override func tearDown() { try? group.syncShutdownGracefully() }

  func testMySQLCheckAgainstMariaDB() throws {
    let db = try MariaDBInstance()
    try db.sql(
      """
      CREATE USER 'native'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('s3cret');
      CREATE USER 'nopass'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
      CREATE USER 'ed'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('s3cret');
      CREATE DATABASE shop;
      CREATE DATABASE vault;
      GRANT SELECT ON shop.* TO 'native'@'127.0.0.1';
      """)
    func probe(_ user: String?, _ password: String = "", database: String? = nil) -> EngineProbe {
      EngineProbe(
        MySQLCheck(
          target: CheckTarget(address: "127.0.0.1", port: db.port), connectTimeout: .seconds(3), user: user,
          password: password, database: database))
    }
    struct Case {
      var name: String
      var probe: EngineProbe
      var expectUp: Bool
      var reasonContains: String
    }
    let cases = [
      Case(name: "greeting only", probe: probe(nil), expectUp: true, reasonContains: ""),
      Case(name: "native login", probe: probe("native", "s3cret"), expectUp: true, reasonContains: ""),
      Case(name: "empty password", probe: probe("nopass"), expectUp: true, reasonContains: ""),
      Case(
        name: "wrong password", probe: probe("native", "nope"), expectUp: false, reasonContains: "ERR 1045"),
      Case(name: "unknown user", probe: probe("ghost", "x"), expectUp: false, reasonContains: "ERR 1045"),
      Case(
        name: "database granted", probe: probe("native", "s3cret", database: "shop"), expectUp: true,
        reasonContains: ""),
      Case(
        name: "database not granted", probe: probe("native", "s3cret", database: "vault"), expectUp: false,
        reasonContains: "ERR 1044"),
      Case(
        name: "database missing (MariaDB answers as for one not granted)",
        probe: probe("native", "s3cret", database: "gone"), expectUp: false,
        reasonContains: "ERR 1044: Access denied for user 'native'@'127.0.0.1' to database 'gone'"),
      Case(
        name: "ed25519 user (unsupported plugin)", probe: probe("ed", "s3cret"), expectUp: false,
        reasonContains: "client_ed25519"),
    ]
    for c in cases {
      let outcome = try c.probe.run(on: group.next()).wait()
      XCTAssertEqual(outcome.isUp, c.expectUp, "\(c.name): \(outcome)")
      if case .down(let reason) = outcome, !c.reasonContains.isEmpty {
        XCTAssertTrue(reason.contains(c.reasonContains), "\(c.name): \(reason)")
      }
    }

    // 1,000 checks with a user: Aborted_connects must not move.
    let before = try db.status("Aborted_connects")
    let native = probe("native", "s3cret")
    var ups = 0
    for _ in 0..<50 {
      let batch = (0..<20).map { _ in native.run(on: group.next()) }
      for f in batch where try f.wait().isUp { ups += 1 }
    }
    XCTAssertEqual(ups, 1000)
    // The server counts after it reads our COM_QUIT/close; let it catch up.
    Thread.sleep(forTimeInterval: 0.5)
    let afterLogin = try db.status("Aborted_connects")
    XCTAssertEqual(afterLogin, before, "logins with COM_QUIT must not count as aborted connects")

    // Without a user, closing after the greeting: record what the server does with that.
    let greetingOnly = probe(nil)
    for _ in 0..<10 {
      let batch = (0..<10).map { _ in greetingOnly.run(on: group.next()) }
      for f in batch { XCTAssertTrue(try f.wait().isUp) }
    }
    Thread.sleep(forTimeInterval: 0.5)
    let afterGreeting = try db.status("Aborted_connects")
    print(
      "MariaDB Aborted_connects: before \(before), after 1000 logins \(afterLogin), after 100 greeting-only checks \(afterGreeting)"
    )
    print(
      "MariaDB status: \(try db.sql("SHOW GLOBAL STATUS WHERE Variable_name IN ('Aborted_connects','Aborted_clients','Connection_errors_internal','Aborted_connects_preauth')").replacingOccurrences(of: "\n", with: "; "))"
    )
    XCTAssertEqual(
      afterGreeting - afterLogin, 100, "documented: each greeting-only check counts one aborted connect")
  }
}
