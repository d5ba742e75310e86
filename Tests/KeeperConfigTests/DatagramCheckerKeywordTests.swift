import Foundation
import XCTest

@testable import KeeperConfig

/// PING_CHECK, UDP_CHECK and DNS_CHECK as keepalived.conf(5) 2.2 and keepalived's check_ping.c,
/// check_udp.c and check_dns.c read them: defaults, hex strings, and errors at FILE:LINE:COL.
final class DatagramCheckerKeywordTests: XCTestCase {
  private func service(_ checker: String, _ body: String, realPort: String = " 53") -> String {
    """
    virtual_server 10.0.0.1 53 {
      delay_loop 7
      protocol UDP
      real_server 10.0.1.1\(realPort) {
        \(checker) {
          \(body)
        }
      }
    }
    """
  }

  private func checker(_ type: String, _ body: String, realPort: String = " 53") throws -> HealthCheckSpec {
    let loaded = try XCTUnwrap(loadValid(service(type, body, realPort: realPort)))
    return try XCTUnwrap(loaded.configuration.virtualServers.first?.realServers.first?.checkers.first)
  }

  func testPingCheckDefaultsAndConnectionKeywords() throws {
    let spec = try checker("PING_CHECK", "retry 4", realPort: "")
    XCTAssertEqual(spec.type, .ping)
    XCTAssertEqual(spec.retry, 4)
    XCTAssertEqual(spec.connectTimeout, 5)
    XCTAssertEqual(spec.delayBeforeRetry, 1)
    XCTAssertEqual(spec.connectIP.description, "10.0.1.1")
    let bound = try checker("PING_CHECK", "connect_ip 10.0.2.2\n bindto 10.0.0.9\n connect_timeout 2")
    XCTAssertEqual(bound.connectIP.description, "10.0.2.2")
    XCTAssertEqual(bound.bindTo?.description, "10.0.0.9")
    XCTAssertEqual(bound.connectTimeout, 2)
    // keepalived accepts the port keywords for PING_CHECK; they cannot do anything.
    let loaded = try XCTUnwrap(loadValid(service("PING_CHECK", "connect_port 80")))
    XCTAssertEqual(
      loaded.warnings.map(\.description),
      ["test.conf:6:7: warning: 'connect_port' has no effect on PING_CHECK (ICMP has no ports)"])
  }

  func testUDPCheckPayloadRequireReplyAndLengths() throws {
    let plain = try XCTUnwrap(try checker("UDP_CHECK", "connect_timeout 3").udp)
    XCTAssertEqual(
      plain, UDPCheckSpec(payload: nil, requireReply: false, minReplyLength: 0, maxReplyLength: 255))
    // keepalived.conf(5)'s example: "Ab12f 3 456 546443123" is AB 12 0F 03 45 06 54 64 43 12 03.
    let full = try XCTUnwrap(
      try checker(
        "UDP_CHECK",
        "payload Ab12f 3 456 546443123\n require_reply 01 0x Xf\n min_reply_length 2\n max_reply_length 600"
      ).udp)
    XCTAssertEqual(full.payload, [0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03])
    XCTAssertTrue(full.requireReply)
    XCTAssertEqual(full.replyData, [0x01, 0x00, 0x0f])
    XCTAssertEqual(full.replyMask, [0x00, 0x0f, 0xf0])
    XCTAssertEqual(full.minReplyLength, 2)
    XCTAssertEqual(full.maxReplyLength, 600)
    let bare = try XCTUnwrap(try checker("UDP_CHECK", "require_reply").udp)
    XCTAssertTrue(bare.requireReply)
    XCTAssertEqual(bare.replyData, [])
  }

  func testUDPCheckErrors() {
    XCTAssertEqual(
      loadErrors(service("UDP_CHECK", "payload 12 zz")).map(\.description),
      ["test.conf:6:15: error: invalid hex string for 'payload' (hex digits separated by spaces)"])
    XCTAssertEqual(
      loadErrors(service("UDP_CHECK", "payload 1x")).map(\.description),
      ["test.conf:6:15: error: invalid hex string for 'payload' (hex digits separated by spaces)"],
      "wildcards only in require_reply")
    XCTAssertEqual(
      loadErrors(service("UDP_CHECK", "min_reply_length 10\n max_reply_length 5")).map(\.description),
      [
        "test.conf:5:5: error: UDP_CHECK min_reply_length 10 > max_reply_length 5: the check would always fail"
      ])
    XCTAssertEqual(loadErrors(service("UDP_CHECK", "max_reply_length 65536")).count, 1)
  }

  func testDNSCheckTypeNameAndKeepalivedsRetryDefaults() throws {
    let spec = try checker("DNS_CHECK", "")
    XCTAssertEqual(spec.dns, DNSCheckSpec(type: "SOA", name: "."))
    XCTAssertEqual(spec.retry, 3, "DNS_DEFAULT_RETRY")
    XCTAssertEqual(spec.delayBeforeRetry, 7, "delay_before_retry defaults to delay_loop for DNS_CHECK")
    XCTAssertEqual(
      try checker("DNS_CHECK", "type aaaa\n name www.example.com.").dns,
      DNSCheckSpec(type: "AAAA", name: "www.example.com."))
    for type in ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"] {
      XCTAssertEqual(try checker("DNS_CHECK", "type \(type)").dns?.type, type)
    }
  }

  func testDNSCheckErrors() {
    XCTAssertEqual(
      loadErrors(service("DNS_CHECK", "type PTR")).map(\.description),
      ["test.conf:6:12: error: unknown DNS_CHECK type 'PTR' (one of A, NS, CNAME, SOA, MX, TXT, AAAA)"])
    XCTAssertEqual(
      loadErrors(service("DNS_CHECK", "name a..example")).map(\.description),
      [
        "test.conf:6:12: error: DNS_CHECK name 'a..example' is not a domain name (a label is empty or longer than 63 bytes, or the name is longer than 253)"
      ])
    XCTAssertEqual(
      loadErrors(service("DNS_CHECK", "name a.example\n name b.example")).map(\.description),
      ["test.conf:7:2: error: DNS_CHECK name already specified"])
    XCTAssertEqual(
      loadErrors(service("DNS_CHECK", "payload 01")).map(\.description),
      ["test.conf:6:7: error: unknown keyword 'payload' in DNS_CHECK"])
  }

  /// keepalived's sample configs for the two checkers load.
  func testKeepalivedSamplesLoad() throws {
    for name in ["keepalived.conf.PING_CHECK", "keepalived.conf.UDP_CHECK"] {
      let path = "/usr/share/doc/keepalived/samples/" + name
      guard FileManager.default.fileExists(atPath: path) else {
        return XCTFail("\(path) missing: install the Debian package keepalived (scripts/setup-deps)")
      }
      let loaded = try testLoader().load(path: path)
      XCTAssertEqual(loaded.configuration.virtualServers.first?.realServers.first?.checkers.count, 1, name)
    }
  }
}
