import KeeperCore
import XCTest

@testable import VRRP

final class CodecTests: XCTestCase {
  struct Fixture {
    var source: IPAddress
    var destination: IPAddress
    var ttl: UInt8
    var payload: [UInt8]
  }

  static func fixtures(_ name: String) throws -> [Fixture] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("Fixtures/\(name).txt")
    let text = try String(contentsOf: url, encoding: .utf8)
    return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
      let f = line.split(separator: " ").map(String.init)
      guard f.count == 4, let s = IPAddress(f[0]), let d = IPAddress(f[1]), let ttl = UInt8(f[2]) else {
        return nil
      }
      return Fixture(source: s, destination: d, ttl: ttl, payload: hexBytes(f[3]))
    }
  }

  static func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
      let next = hex.index(index, offsetBy: 2)
      out.append(UInt8(hex[index..<next], radix: 16) ?? 0)
      index = next
    }
    return out
  }

  func ip(_ text: String) -> IPAddress { IPAddress(text)! }

  /// Each keepalived capture decodes to the fields keepalived was configured with and re-encodes to
  /// the identical bytes (checksum included).
  func testKeepalivedCapturesDecodeAndReencode() throws {
    let cases:
      [(
        file: String, version: VRRPVersion, vrid: UInt8, priorities: [UInt8], interval: UInt16,
        addresses: [String], auth: VRRPAuthentication
      )] = [
        ("keepalived-v2-ipv4-pass", .v2, 51, [150], 1, ["10.9.0.100"], .password("secret")),
        ("keepalived-v2-ipv4-noauth", .v2, 7, [200, 0], 1, ["10.9.0.100", "10.9.0.101"], .none),
        ("keepalived-v3-ipv4", .v3, 42, [120, 0], 50, ["10.9.0.100", "10.9.0.101"], .none),
        ("keepalived-v3-ipv4-unicast", .v3, 44, [100, 0], 100, ["10.9.0.100"], .none),
        ("keepalived-v3-ipv6", .v3, 43, [100, 0], 100, ["fd00:9::100"], .none),
      ]
    for c in cases {
      let fixtures = try Self.fixtures(c.file)
      XCTAssertEqual(fixtures.count, c.priorities.count, c.file)
      for (fixture, priority) in zip(fixtures, c.priorities) {
        XCTAssertEqual(fixture.ttl, 255, c.file)
        let advert = try VRRPAdvert.decode(
          fixture.payload, source: fixture.source, destination: fixture.destination)
        XCTAssertEqual(advert.version, c.version, c.file)
        XCTAssertEqual(advert.vrid, c.vrid, c.file)
        XCTAssertEqual(advert.priority, priority, c.file)
        XCTAssertEqual(advert.advertInterval, c.interval, c.file)
        XCTAssertEqual(advert.addresses, c.addresses.map(ip), c.file)
        XCTAssertEqual(advert.authentication, c.auth, c.file)
        XCTAssertEqual(
          advert.encode(source: fixture.source, destination: fixture.destination), fixture.payload, c.file)
      }
    }
  }

  /// keepalived's default v3 IPv4 checksum includes the pseudo-header with the real destination
  /// (unicast peer included); the v2-style sum does not verify on those packets.
  func testV3IPv4ChecksumUsesPseudoHeader() throws {
    for file in ["keepalived-v3-ipv4", "keepalived-v3-ipv4-unicast"] {
      let fixture = try XCTUnwrap(Self.fixtures(file).first)
      XCTAssertThrowsError(
        try VRRPAdvert.decode(
          fixture.payload, source: fixture.source, destination: fixture.destination, v3ChecksumAsV2: true),
        file)
      XCTAssertThrowsError(
        try VRRPAdvert.decode(fixture.payload, source: fixture.source, destination: ip("224.0.0.19")), file)
    }
  }

  func testRoundTripTable() throws {
    let cases: [(String, VRRPAdvert, IPAddress, IPAddress, Bool)] = [
      (
        "v2 pass",
        VRRPAdvert(
          version: .v2, vrid: 1, priority: 100, advertInterval: 3,
          addresses: [ip("192.0.2.1")], authentication: .password("longerthan8")), ip("192.0.2.10"),
        IPAddress.vrrpMulticast4, false
      ),
      (
        "v3 v4 many",
        VRRPAdvert(
          version: .v3, vrid: 255, priority: 255, advertInterval: 4095,
          addresses: (1...20).map { ip("198.51.100.\($0)") }), ip("198.51.100.200"), ip("198.51.100.201"),
        false
      ),
      (
        "v3 v4 as v2",
        VRRPAdvert(
          version: .v3, vrid: 9, priority: 1, advertInterval: 1,
          addresses: [ip("203.0.113.5")]), ip("203.0.113.1"), IPAddress.vrrpMulticast4, true
      ),
      (
        "v3 v6",
        VRRPAdvert(
          version: .v3, vrid: 3, priority: 50, advertInterval: 10,
          addresses: [ip("2001:db8::1"), ip("2001:db8::2")]), ip("fe80::1"), IPAddress.vrrpMulticast6, false
      ),
    ]
    for (name, advert, source, destination, asV2) in cases {
      let bytes = advert.encode(source: source, destination: destination, v3ChecksumAsV2: asV2)
      var expected = advert
      if case .password = advert.authentication { expected.authentication = .password("longerth") }
      XCTAssertEqual(
        try VRRPAdvert.decode(bytes, source: source, destination: destination, v3ChecksumAsV2: asV2),
        expected, name)
    }
  }

  func testDecodeErrors() throws {
    let good = VRRPAdvert(
      version: .v3, vrid: 5, priority: 100, advertInterval: 100, addresses: [ip("10.0.0.1")]
    )
    .encode(source: ip("10.0.0.2"), destination: IPAddress.vrrpMulticast4)
    var badSum = good
    badSum[7] ^= 0xff
    var v4 = good
    v4[0] = 0x41
    var type2 = good
    type2[0] = 0x32
    let cases: [(String, [UInt8], AdvertDecodeError)] = [
      ("short", Array(good.prefix(5)), .truncated(length: 5)),
      ("address cut", Array(good.prefix(10)), .truncated(length: 10)),
      ("version 4", v4, .wrongVersion(4)),
      ("type 2", type2, .wrongType(2)),
    ]
    for (name, bytes, error) in cases {
      XCTAssertThrowsError(
        try VRRPAdvert.decode(bytes, source: ip("10.0.0.2"), destination: IPAddress.vrrpMulticast4), name
      ) {
        XCTAssertEqual($0 as? AdvertDecodeError, error, name)
      }
    }
    XCTAssertThrowsError(
      try VRRPAdvert.decode(badSum, source: ip("10.0.0.2"), destination: IPAddress.vrrpMulticast4)
    ) {
      guard case .badChecksum = $0 as? AdvertDecodeError else { return XCTFail("\($0)") }
    }
  }

  func testAnnouncementPayloads() {
    let mac: [UInt8] = [2, 0, 0, 0, 0, 1]
    let arp = Announcer.arpPayload(mac: mac, address: ip("10.1.2.3"))
    XCTAssertEqual(arp.count, 28)
    XCTAssertEqual(Array(arp[6..<8]), [0, 1])  // request
    XCTAssertEqual(Array(arp[14..<18]), [10, 1, 2, 3])
    XCTAssertEqual(Array(arp[24..<28]), [10, 1, 2, 3])
    let na = Announcer.neighbourAdvertPayload(mac: mac, address: ip("2001:db8::5"))
    XCTAssertEqual(na[0], 136)
    XCTAssertEqual(na[4], 0x20)  // Override, not Solicited
    XCTAssertEqual(Array(na[8..<24]), ip("2001:db8::5").bytes)
    XCTAssertEqual(Array(na[24..<32]), [2, 1] + mac)
  }
}
