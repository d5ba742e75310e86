import HealthCheck
import KeeperConfig
import XCTest

@testable import lvskeeper

/// SMTP_CHECK from the configuration to the checkers the monitor runs: `helo_name`, the
/// connection keywords, and one checker per `host` block, all required for the real server.
final class SMTPCheckMappingTests: XCTestCase {
  func testSMTPCheckersReachTheMonitor() throws {
    let text = """
      virtual_server 10.0.0.1 25 {
        real_server 10.0.1.1 25 {
          SMTP_CHECK {
            connect_port 2525
            connect_timeout 3
            helo_name lb.example.com
          }
          SMTP_CHECK {
            host {
              connect_ip 10.0.3.3
            }
            host {
              connect_ip 10.0.4.4
              connect_port 587
              bindto 10.0.0.7
            }
          }
        }
      }

      """
    let loaded = try ConfigLoader(configID: "test", interfaces: ["lo"]).load(text: text, fileName: "t.conf")
    let mapping = try ServiceMapping(loaded.configuration)
    let checks = (mapping.monitored.first?.checkers ?? []).compactMap { checker -> SMTPCheck? in
      guard case .smtp(let check) = checker.spec else { return nil }
      return check
    }
    XCTAssertEqual(
      checks.map { "\($0.target) \($0.target.bindAddress ?? "-") \($0.heloName) \($0.connectTimeout)" },
      [
        "10.0.1.1:2525 - lb.example.com 3.0 seconds",
        "10.0.3.3:25 - smtpchecker.keepalived.org 5.0 seconds",
        "10.0.4.4:587 10.0.0.7 smtpchecker.keepalived.org 5.0 seconds",
      ])
  }
}
