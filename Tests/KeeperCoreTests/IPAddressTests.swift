import Foundation
import KeeperCore
import XCTest

/// The one address type every module shares: text in and out, order, Codable, kernel forms.
final class IPAddressTests: XCTestCase {
  func testParsesCanonicalTextAndRejectsTheRest() {
    let cases: [(text: String, canonical: String?, family: AddressFamily?)] = [
      ("10.0.0.1", "10.0.0.1", .inet),
      ("2001:0db8:0000::0001", "2001:db8::1", .inet6),
      ("::ffff:192.0.2.1", "::ffff:192.0.2.1", .inet6),
      ("fe80::1", "fe80::1", .inet6),
      ("10.0.0", nil, nil),
      ("10.0.0.1/24", nil, nil),
      ("eth0", nil, nil),
      ("", nil, nil),
    ]
    for item in cases {
      let address = IPAddress(item.text)
      XCTAssertEqual(address?.description, item.canonical, item.text)
      XCTAssertEqual(address?.family, item.family, item.text)
    }
  }

  /// The dotted-quad fast path accepts exactly what inet_pton(AF_INET) accepts, with the same bytes:
  /// edge cases and 20,000 random strings over digits and dots.
  func testDottedQuadsParseAsInetPtonDoes() {
    var strings = [
      "0.0.0.0", "255.255.255.255", "256.0.0.1", "01.2.3.4", "1.02.3.4", "1.2.3.04", "0.0.0.00", "1.2.3.4.",
      ".1.2.3.4", "1..2.3", "1.2.3", "1.2.3.4.5", "1234.1.1.1", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4\u{0}junk",
      "127.1.0.1", "10.0.0.1", "9.9.9.9", "199.255.255.254", "1.2.3.-4", "+1.2.3.4", "1.2.3.4x",
    ]
    var rng = SystemRandomNumberGenerator()
    let alphabet = Array("0123456789..0125")
    for _ in 0..<20_000 {
      strings.append(
        String((0..<Int.random(in: 1...16, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
    }
    for text in strings {
      var v4 = in_addr()
      let expected = inet_pton(AF_INET, text, &v4) == 1 ? withUnsafeBytes(of: &v4) { Array($0) } : nil
      let address = IPAddress(text)
      XCTAssertEqual(address?.bytes, expected, text)
      if expected != nil { XCTAssertEqual(address?.family, .inet, text) }
    }
  }

  /// The one-word storage (IPv4 inline, IPv6 boxed) behaves as the bytes it replaces: bytes round
  /// trip, equality and hashing follow the bytes, the order is family then bytes, and multicast and
  /// link-local are the byte definitions (224.0.0.0/4, ff00::/8; 169.254.0.0/16, fe80::/10).
  func testStorageBehavesAsItsBytes() {
    var rng = SystemRandomNumberGenerator()
    var samples: [[UInt8]] = [
      [0, 0, 0, 0], [255, 255, 255, 255], [224, 0, 0, 18], [239, 1, 2, 3], [223, 255, 255, 255],
      [169, 254, 1, 1], [169, 255, 0, 1], [0xFE, 0x80] + Array(repeating: 0, count: 14),
      [0xFE, 0xBF] + Array(repeating: 0xFF, count: 14), [0xFE, 0xC0] + Array(repeating: 0, count: 14),
      [0xFF, 0x02] + Array(repeating: 0, count: 13) + [0x12], Array(repeating: 0, count: 16),
    ]
    for _ in 0..<2_000 {
      // Few distinct values per byte, so equal pairs and near orders occur.
      let count = Bool.random(using: &rng) ? 4 : 16
      samples.append(
        (0..<count).map { _ in [0, 1, 0x80, 0xFE, 0xFF, 169, 254, 224].randomElement(using: &rng)! })
    }
    let addresses = samples.map { IPAddress(bytes: $0)! }
    for (bytes, address) in zip(samples, addresses) {
      XCTAssertEqual(address.bytes, bytes)
      XCTAssertEqual(address.family, bytes.count == 4 ? .inet : .inet6)
      XCTAssertEqual(IPAddress(address.description), address, address.description)
      XCTAssertEqual(address.kernelBytes, bytes + Array(repeating: 0, count: 16 - bytes.count))
      let multicast = bytes.count == 4 ? bytes[0] & 0xF0 == 0xE0 : bytes[0] == 0xFF
      XCTAssertEqual(address.isMulticast, multicast, address.description)
      let linkLocal =
        bytes.count == 4 ? bytes[0] == 169 && bytes[1] == 254 : bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80
      XCTAssertEqual(address.isLinkLocal, linkLocal, address.description)
    }
    for _ in 0..<5_000 {
      let i = Int.random(in: 0..<samples.count, using: &rng)
      let j = Int.random(in: 0..<samples.count, using: &rng)
      let (a, b) = (addresses[i], addresses[j])
      XCTAssertEqual(a == b, samples[i] == samples[j])
      if a == b { XCTAssertEqual(a.hashValue, b.hashValue) }
      let before =
        samples[i].count != samples[j].count
        ? samples[i].count < samples[j].count : samples[i].lexicographicallyPrecedes(samples[j])
      XCTAssertEqual(a < b, before, "\(a) < \(b)")
    }
  }

  func testWithPortBracketsIPv6Only() throws {
    XCTAssertEqual(try XCTUnwrap(IPAddress("10.0.0.2")).withPort(80), "10.0.0.2:80")
    XCTAssertEqual(try XCTUnwrap(IPAddress("2001:db8::2")).withPort(UInt16(443)), "[2001:db8::2]:443")
  }

  /// The shared binary search agrees with a linear scan on sorted arrays with repeats.
  func testFirstIndexNotBelowAgreesWithALinearScan() {
    var rng = SystemRandomNumberGenerator()
    for count in 0..<40 {
      let values = (0..<count).map { _ in Int.random(in: 0..<10, using: &rng) }.sorted()
      for target in -1...10 {
        XCTAssertEqual(
          values.firstIndex(notBelow: target) { $0 }, values.firstIndex { $0 >= target } ?? values.count,
          "\(values) \(target)")
        // A slice keeps its parent's indices.
        let tail = values.dropFirst(3)
        XCTAssertEqual(
          tail.firstIndex(notBelow: target) { $0 }, tail.firstIndex { $0 >= target } ?? tail.endIndex)
      }
    }
  }

  func testOrdersIPv4BeforeIPv6ThenByBytes() {
    let texts = ["2001:db8::1", "10.0.0.10", "::1", "10.0.0.9", "192.0.2.1"]
    let sorted = texts.compactMap(IPAddress.init).sorted().map(\.description)
    XCTAssertEqual(sorted, ["10.0.0.9", "10.0.0.10", "192.0.2.1", "::1", "2001:db8::1"])
  }

  func testCodableAsTextAndFamilyAsItsConfigWord() throws {
    let address = try XCTUnwrap(IPAddress("2001:db8::5"))
    let data = try JSONEncoder().encode([address])
    XCTAssertEqual(String(decoding: data, as: UTF8.self), #"["2001:db8::5"]"#)
    XCTAssertEqual(try JSONDecoder().decode([IPAddress].self, from: data), [address])
    XCTAssertThrowsError(try JSONDecoder().decode([IPAddress].self, from: Data(#"["nope"]"#.utf8)))
    XCTAssertEqual(
      String(decoding: try JSONEncoder().encode([AddressFamily.inet6]), as: UTF8.self), #"["inet6"]"#)
    XCTAssertEqual(AddressFamily(rawValue: "inet"), .inet)
  }

  func testKernelForms() throws {
    XCTAssertEqual(AddressFamily.inet.kernelValue, UInt16(AF_INET))
    XCTAssertEqual(AddressFamily.inet6.kernelValue, UInt16(AF_INET6))
    XCTAssertEqual(AddressFamily(kernelValue: 10), .inet6)
    XCTAssertNil(AddressFamily(kernelValue: 17))
    XCTAssertLessThan(AddressFamily.inet, .inet6)
    let v4 = try XCTUnwrap(IPAddress("10.0.0.1"))
    XCTAssertEqual(v4.kernelBytes, [10, 0, 0, 1] + [UInt8](repeating: 0, count: 12))
    XCTAssertEqual(IPAddress(kernelBytes: v4.kernelBytes, family: .inet), v4)
    XCTAssertNil(IPAddress(kernelBytes: [1, 2, 3], family: .inet))
    XCTAssertNil(IPAddress(bytes: [1, 2, 3, 4, 5]))
  }

  func testConstantsAndClassification() {
    XCTAssertEqual(IPAddress.vrrpMulticast4.description, "224.0.0.18")
    XCTAssertEqual(IPAddress.vrrpMulticast6.description, "ff02::12")
    XCTAssertEqual(IPAddress.allNodes6.description, "ff02::1")
    XCTAssertEqual(IPAddress.ipvsSyncMulticast4.description, "224.0.0.81")
    XCTAssertTrue(IPAddress.vrrpMulticast6.isMulticast)
    XCTAssertTrue(IPAddress("169.254.1.1")?.isLinkLocal ?? false)
    XCTAssertTrue(IPAddress("fe80::1")?.isLinkLocal ?? false)
    XCTAssertFalse(IPAddress("10.0.0.1")?.isLinkLocal ?? true)
    XCTAssertEqual(IPAddress("10.0.0.255")?.advanced(by: 2)?.description, "10.0.1.1")
    XCTAssertNil(IPAddress("255.255.255.255")?.advanced(by: 1))
  }
}

/// The shared netlink builder: header length kept up to date, attributes and nests 4-byte aligned.
final class NetlinkMessageTests: XCTestCase {
  func testNestsAndPadsAttributesAfterAnInterfaceAddressHeader() {
    var message = NetlinkMessage.interfaceAddress(
      type: Netlink.newAddress, flags: Netlink.request, sequence: 2, portID: 0,
      header: InterfaceAddressHeader(family: .inet, prefixLength: 24, flags: 0, scope: 253, interfaceIndex: 3)
    )
    message.nest(9) { nested in
      nested.put(1, u8: 7)
      nested.put(2, string: "ab")
    }
    let expected: [UInt8] =
      [44, 0, 0, 0, 20, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0]  // nlmsghdr
      + [2, 24, 0, 253, 3, 0, 0, 0]  // ifaddrmsg
      + [20, 0, 9, 0]  // nest
      + [5, 0, 1, 0, 7, 0, 0, 0]  // u8, padded
      + [7, 0, 2, 0, 0x61, 0x62, 0, 0]  // "ab\0", padded
    XCTAssertEqual(message.bytes, expected)
    let reply = NetlinkReply.split(message.bytes[...])
    XCTAssertEqual(reply.count, 1)
    XCTAssertEqual(reply.first?.type, Netlink.newAddress)
    XCTAssertEqual(reply.first?.sequence, 2)
  }
}
