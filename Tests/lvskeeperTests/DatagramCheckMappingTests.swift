import Foundation
import HealthCheck
import KeeperConfig
import XCTest

@testable import lvskeeper

/// PING_CHECK, UDP_CHECK and DNS_CHECK from the configuration to the checkers the monitor runs:
/// every keyword reaches the `CheckerSpec` and its schedule.
final class DatagramCheckMappingTests: XCTestCase {
  func testDatagramCheckersReachTheMonitor() throws {
    let config = """
      virtual_server 10.0.0.1 53 {
        protocol UDP
        delay_loop 9
        real_server 10.0.1.1 53 {
          PING_CHECK {
            connect_ip 10.0.2.1
            bindto 10.0.0.5
            bind_if lo
            fwmark 7
            connect_timeout 2
            retry 4
            delay_before_retry 3
            warmup 1
          }
          UDP_CHECK {
            connect_port 5353
            bind_port 4000
            payload 68 69
            require_reply 4f 4X
            min_reply_length 2
            max_reply_length 40
          }
          DNS_CHECK {
            type MX
            name example.test
          }
        }
      }

      """
    let loaded = try ConfigLoader(configID: "test", interfaces: ["lo"]).load(text: config, fileName: "t.conf")
    let checkers = try XCTUnwrap(try ServiceMapping(loaded.configuration).monitored.first?.checkers)
    XCTAssertEqual(checkers.count, 3)
    guard case .ping(let ping) = checkers[0].spec, case .udp(let udp) = checkers[1].spec,
      case .dns(let dns) = checkers[2].spec
    else { return XCTFail("\(checkers.map(\.spec))") }
    XCTAssertEqual(
      ping.target,
      CheckTarget(address: "10.0.2.1", port: 53, bindAddress: "10.0.0.5", bindInterface: "lo", fwmark: 7))
    XCTAssertEqual(ping.connectTimeout, .seconds(2))
    XCTAssertEqual(
      checkers[0].schedule,
      CheckSchedule(delayLoop: .seconds(9), warmup: .seconds(1), retry: 4, delayBeforeRetry: .seconds(3)))
    XCTAssertEqual(udp.target, CheckTarget(address: "10.0.1.1", port: 5353, bindPort: 4000))
    XCTAssertEqual(udp.payload, [0x68, 0x69])
    XCTAssertTrue(udp.requireReply)
    XCTAssertEqual(udp.replyData, [0x4f, 0x40])
    XCTAssertEqual(udp.replyMask, [0x00, 0x0f])
    XCTAssertEqual(udp.minReplyLength, 2)
    XCTAssertEqual(udp.maxReplyLength, 40)
    XCTAssertEqual(dns.type, 15)
    XCTAssertEqual(dns.name, "example.test")
    XCTAssertEqual(dns.target.port, 53)
    XCTAssertEqual(checkers[2].schedule.retry, 3)
    XCTAssertEqual(checkers[2].schedule.delayBeforeRetry, .seconds(9))
  }
}
