import XCTest

@testable import KeeperConfig

/// SMTP_CHECK as keepalived 2.2 reads it: the 2.x form (connection keywords in the checker) and
/// the deprecated `host { }` blocks, each host a checker of its own (check_smtp.c).
final class SMTPCheckConfigTests: XCTestCase {
  private func service(_ body: String, realServer: String = "10.0.1.1 25", outer: String = "") -> String {
    """
    virtual_server 10.0.0.1 25 {
      \(outer)
      real_server \(realServer) {
        SMTP_CHECK {
          \(body)
        }
      }
    }
    """
  }

  private func checkers(_ body: String, realServer: String = "10.0.1.1 25", outer: String = "") throws
    -> [HealthCheckSpec]
  {
    let loaded = try XCTUnwrap(loadValid(service(body, realServer: realServer, outer: outer)))
    return try XCTUnwrap(loaded.configuration.virtualServers.first?.realServers.first?.checkers)
  }

  func testTwoXFormAndDefaults() throws {
    let plain = try XCTUnwrap(try checkers("").first)
    XCTAssertEqual(plain.type, .smtp)
    XCTAssertEqual(plain.smtp?.heloName, "smtpchecker.keepalived.org", "keepalived's SMTP_DEFAULT_HELO")
    XCTAssertEqual(plain.connectIP.description, "10.0.1.1")
    XCTAssertEqual(plain.connectPort, 25)
    XCTAssertEqual(plain.connectTimeout, 5)
    XCTAssertEqual(plain.retry, 1)
    XCTAssertEqual(plain.delayBeforeRetry, 1)

    let set = try checkers(
      """
      connect_ip 10.0.2.2
            connect_port 587
            bindto 10.0.0.9
            bind_port 2525
            connect_timeout 3
            retry 4
            delay_before_retry 2
            warmup 7
            delay_loop 9
            helo_name "lb.example.com"
      """)
    XCTAssertEqual(set.count, 1)
    let s = set[0]
    XCTAssertEqual(s.connectIP.description, "10.0.2.2")
    XCTAssertEqual(s.connectPort, 587)
    XCTAssertEqual(s.bindTo?.description, "10.0.0.9")
    XCTAssertEqual(s.bindPort, 2525)
    XCTAssertEqual(s.connectTimeout, 3)
    XCTAssertEqual(s.retry, 4)
    XCTAssertEqual(s.delayBeforeRetry, 2)
    XCTAssertEqual(s.warmup, 7)
    XCTAssertEqual(s.delayLoop, 9)
    XCTAssertEqual(s.smtp?.heloName, "lb.example.com")
  }

  /// Hosts only: one checker per host, from the real server's address and port, with the real or
  /// virtual server's timeout and the checker's retry; the real server itself is not checked.
  func testHostBlocksAreCheckersOfTheirOwn() throws {
    let loaded = try XCTUnwrap(
      loadValid(
        service(
          """
          retry 3
                helo_name foo.bar.com
                host {
                  connect_ip 10.0.3.3
                }
                host {
                  connect_ip 10.0.4.4
                  connect_port 587
                  bindto 10.0.0.7
                  connect_timeout 2
                  retry 9
                }
          """, outer: "connect_timeout 8")))
    let specs = try XCTUnwrap(loaded.configuration.virtualServers.first?.realServers.first?.checkers)
    XCTAssertEqual(specs.map { "\($0.connectIP):\($0.connectPort)" }, ["10.0.3.3:25", "10.0.4.4:587"])
    XCTAssertEqual(specs.map(\.connectTimeout), [8, 2])
    XCTAssertEqual(
      specs.map(\.retry), [3, 3], "a host's retry has no effect (keepalived copies the checker's)")
    XCTAssertEqual(specs.map(\.bindTo?.description), [nil, "10.0.0.7"])
    XCTAssertEqual(specs.map { $0.smtp?.heloName }, ["foo.bar.com", "foo.bar.com"])
    XCTAssertEqual(
      loaded.warnings.map(\.description),
      [
        "test.conf:7:7: warning: the SMTP_CHECK host block is deprecated (as in keepalived): each host is a checker of its own; define additional SMTP_CHECKs instead",
        "test.conf:15:9: warning: 'retry' has no effect in an SMTP_CHECK host block (keepalived ignores it there too); set it in SMTP_CHECK",
      ])
  }

  /// A connection keyword in the checker itself (here connect_timeout) makes the real server a
  /// checker too, besides the hosts; the hosts do not take that timeout.
  func testHostsPlusTheRealServerWhenTheCheckerSetsAConnectionKeyword() throws {
    let specs = try checkers(
      """
      connect_timeout 10
            host {
              connect_ip 10.0.3.3
            }
      """)
    XCTAssertEqual(specs.map { "\($0.connectIP):\($0.connectPort)" }, ["10.0.1.1:25", "10.0.3.3:25"])
    XCTAssertEqual(specs.map(\.connectTimeout), [10, 5])
  }

  func testErrorsNameFileLineAndColumn() {
    XCTAssertEqual(
      loadErrors(service("helo_name \"\"")).map(\.description),
      ["test.conf:5:17: error: helo_name must be 1 to 505 bytes on one line (HELO NAME CRLF fits 512 bytes)"])
    XCTAssertEqual(
      loadErrors(service("host {\n connect_ip 10.0.3.3\n lb_algo rr\n }")).map(\.description).first?
        .hasPrefix("test.conf:7:2: error: "),
      true)
    XCTAssertEqual(
      loadErrors(service("host {\n connect_ip 10.0.3.3\n bindto fe80::1\n }")).map(\.description),
      ["test.conf:5:7: error: bindto fe80::1 is not of the same family as 10.0.3.3"])
    XCTAssertEqual(
      loadErrors(service("helo_name a b")).map(\.description).count, 1)
  }
}
