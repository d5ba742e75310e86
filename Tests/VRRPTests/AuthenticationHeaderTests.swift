import KeeperCore
import XCTest

@testable import VRRP

/// keepalived's `auth_type AH` on the wire: captured packets verify, re-seal byte for byte, and every
/// damaged or replayed packet is a counted drop, never a crash.
final class AuthenticationHeaderTests: XCTestCase {
  func ip(_ text: String) -> IPAddress { IPAddress(text)! }

  static let captures: [(file: String, password: String, unicast: Bool, vrid: UInt8, priorities: [UInt8])] = [
    ("keepalived-v2-ipv4-ah", "secret", false, 51, [150, 150, 150, 150, 0]),
    ("keepalived-v2-ipv4-ah-unicast", "longpassword", true, 52, [120, 120, 0]),
  ]

  func expectation(_ vrid: UInt8, password: String, unicast: Bool) -> ReceiveExpectation {
    ReceiveExpectation(
      version: .v2, vrid: vrid, advertInterval: 1, authentication: .ah,
      unicastPeers: unicast ? [ip("10.9.0.1")] : [], addresses: [ip("10.9.0.100")],
      ahKey: AHPacket.key(password))
  }

  /// Every captured advert verifies under keepalived's key (auth_pass cut to 8 bytes), carries
  /// SPI = source, sequence and IP identification 1, 2, 3..., an inner advert with auth type 2 and zero
  /// auth bytes, and re-seals to the identical bytes (ICV and IP header checksum included).
  func testKeepalivedCapturesVerifyAndReseal() throws {
    for c in Self.captures {
      let fixtures = try CodecTests.fixtures(c.file)
      XCTAssertEqual(fixtures.count, c.priorities.count, c.file)
      for (number, (fixture, priority)) in zip(fixtures, c.priorities).enumerated() {
        let packet = try AHPacket.open(fixture.payload, key: AHPacket.key(c.password), unicast: c.unicast)
        XCTAssertEqual(packet.source, fixture.source, c.file)
        XCTAssertEqual(packet.destination, fixture.destination, c.file)
        XCTAssertEqual(packet.ttl, 255, c.file)
        XCTAssertEqual(packet.header.nextHeader, 112, c.file)
        XCTAssertEqual(packet.header.payloadLength, 4, c.file)
        XCTAssertEqual(packet.header.spi, fixture.source.bytes, c.file)
        XCTAssertEqual(packet.header.sequence, UInt32(number + 1), c.file)
        XCTAssertEqual(packet.identification, UInt16(number + 1), c.file)
        XCTAssertEqual(Array(fixture.payload[0..<2]), [0x45, 0xc0], "TOS 0xc0 (network control)")
        XCTAssertEqual(Array(fixture.payload[6..<8]), [0, 0], "no fragment flags")
        let advert = try VRRPAdvert.decode(
          packet.vrrp, source: packet.source, destination: packet.destination)
        XCTAssertEqual(advert.vrid, c.vrid, c.file)
        XCTAssertEqual(advert.priority, priority, c.file)
        XCTAssertEqual(advert.authentication, .ah, c.file)
        XCTAssertEqual(Array(packet.vrrp.suffix(8)), [UInt8](repeating: 0, count: 8), "auth data zero")
        let inner = advert.encode(source: packet.source, destination: packet.destination)
        XCTAssertEqual(inner, packet.vrrp, c.file)
        let resealed = AHPacket.seal(
          vrrp: inner, source: packet.source, destination: packet.destination,
          identification: packet.identification, sequence: packet.header.sequence,
          key: AHPacket.key(c.password), unicast: c.unicast)
        XCTAssertEqual(resealed, fixture.payload, "\(c.file) #\(number)")
      }
    }
  }

  /// The ICV ignores TOS, fragment flags and the header checksum (and TTL for unicast), which routers
  /// or the kernel may change, and covers everything else keepalived covers, TTL of multicast included.
  func testMutableFieldsAreOutsideTheICV() throws {
    let multicast = try XCTUnwrap(CodecTests.fixtures("keepalived-v2-ipv4-ah").first).payload
    let unicast = try XCTUnwrap(CodecTests.fixtures("keepalived-v2-ipv4-ah-unicast").first).payload
    let cases: [(name: String, packet: [UInt8], offset: Int, password: String, unicast: Bool, valid: Bool)] =
      [
        ("tos", multicast, 1, "secret", false, true),
        ("flags", multicast, 6, "secret", false, true),
        ("checksum", multicast, 10, "secret", false, true),
        ("multicast ttl", multicast, 8, "secret", false, false),
        ("unicast ttl", unicast, 8, "longpass", true, true),
        ("identification", multicast, 5, "secret", false, false),
        ("destination", multicast, 19, "secret", false, false),
      ]
    for c in cases {
      var packet = c.packet
      packet[c.offset] ^= 0x10
      let result = Result { try AHPacket.open(packet, key: AHPacket.key(c.password), unicast: c.unicast) }
      XCTAssertEqual((try? result.get()) != nil, c.valid, c.name)
    }
  }

  /// Damaged packets are drops with a reason (auth_mismatch or malformed) and the VRID when readable,
  /// so the service counts them against the instance; the sequence counter does not move.
  func testDamagedPacketsAreCountedDrops() throws {
    let good = try XCTUnwrap(CodecTests.fixtures("keepalived-v2-ipv4-ah").first).payload
    func flipped(_ offset: Int) -> [UInt8] {
      var copy = good
      copy[offset] ^= 0x01
      return copy
    }
    var nextHeader = good
    nextHeader[20] = 113
    var plainProtocol = good
    plainProtocol[9] = 112
    var longer = good
    longer[3] = 0x50
    let cases: [(name: String, packet: [UInt8], password: String, reason: DropReason?)] = [
      ("wrong key", good, "secreT", .authentication),
      ("key beyond 8 bytes ignored", good, "secret\0\0x", .none),
      ("flipped vrrp byte", flipped(good.count - 9), "secret", .authentication),
      ("flipped priority", flipped(46), "secret", .authentication),
      ("flipped icv", flipped(40), "secret", .authentication),
      ("flipped spi", flipped(27), "secret", .authentication),
      ("flipped sequence", flipped(31), "secret", .authentication),
      ("truncated in vrrp", Array(good.prefix(60)), "secret", .malformed),
      ("truncated in ah", Array(good.prefix(30)), "secret", .malformed),
      ("truncated in ip", Array(good.prefix(12)), "secret", .malformed),
      ("empty", [], "secret", .malformed),
      ("total length beyond data", longer, "secret", .malformed),
      ("next header not vrrp", nextHeader, "secret", .malformed),
      ("not protocol 51", plainProtocol, "secret", .malformed),
    ]
    for c in cases {
      var sequences = [AHSequenceCounter()]
      let result = ReceiveFilter.judgeAuthenticated(
        c.packet, against: [expectation(51, password: c.password, unicast: false)], sequences: &sequences)
      switch (result.verdict, c.reason) {
      case (.accepted(let index, let advert, _, _), .none):
        XCTAssertEqual(index, 0, c.name)
        XCTAssertEqual(advert.priority, 150, c.name)
        XCTAssertEqual(sequences[0].value, 1, c.name)
      case (.dropped(let reason, _), let expected):
        XCTAssertEqual(reason, expected, c.name)
        XCTAssertEqual(sequences[0].value, 0, "a drop must not advance the counter: \(c.name)")
        if reason == .authentication { XCTAssertEqual(result.vrid, 51, c.name) }
      default:
        XCTFail("\(c.name): \(result.verdict)")
      }
    }
    // Every truncation of a good packet is a drop.
    for length in 0..<good.count {
      var sequences = [AHSequenceCounter()]
      let result = ReceiveFilter.judgeAuthenticated(
        Array(good.prefix(length)), against: [expectation(51, password: "secret", unicast: false)],
        sequences: &sequences)
      guard case .dropped = result.verdict else { return XCTFail("accepted at \(length) bytes") }
    }
  }

  /// keepalived's anti-replay: a sequence number not above the counter is dropped; accepting one makes
  /// it the counter, and our own next advert continues after it.
  func testSequenceAntiReplay() throws {
    let fixtures = try CodecTests.fixtures("keepalived-v2-ipv4-ah").map(\.payload)
    let expected = [expectation(51, password: "secret", unicast: false)]
    var sequences = [AHSequenceCounter()]
    func judge(_ packet: [UInt8]) -> ReceiveVerdict {
      ReceiveFilter.judgeAuthenticated(packet, against: expected, sequences: &sequences).verdict
    }
    guard case .accepted = judge(fixtures[1]) else { return XCTFail("seq 2 first") }
    XCTAssertEqual(sequences[0].value, 2)
    for (name, packet) in [("replayed", fixtures[1]), ("older", fixtures[0])] {
      guard case .dropped(.replay, _) = judge(packet) else { return XCTFail(name) }
    }
    guard case .accepted = judge(fixtures[3]) else { return XCTFail("seq 4") }
    XCTAssertEqual(sequences[0].next(), 5, "our advert continues after the peer's")
    guard case .dropped(.replay, _) = judge(fixtures[4]) else { return XCTFail("seq 5 after we sent 5") }
  }

  func testSequenceCounterCyclesLikeKeepalived() {
    var counter = AHSequenceCounter(value: 0xFFFF_FFFC)
    XCTAssertEqual(counter.next(), 0xFFFF_FFFD)
    XCTAssertEqual(counter.next(), 0xFFFF_FFFE)
    XCTAssertFalse(counter.cycled)
    XCTAssertEqual(counter.next(), 0xFFFF_FFFE, "stops past 0xFFFFFFFD")
    XCTAssertTrue(counter.cycled)
    counter.becomeMaster()
    XCTAssertEqual(counter.value, 0)
    XCTAssertEqual(counter.next(), 1)
    counter.becomeMaster()
    XCTAssertEqual(counter.value, 1, "no reset unless cycled")
    counter.follow(lowerPriority: 40)
    XCTAssertEqual(counter.next(), 42, "a Master continues after a lower-priority advert")
  }

  /// AH and non-AH instances refuse each other's adverts: a bare advert claiming auth type 2 must not
  /// pass an AH instance, and an AH packet is refused by a PASS instance.
  func testAuthTypeMismatchBothWays() throws {
    let ahPacket = try XCTUnwrap(CodecTests.fixtures("keepalived-v2-ipv4-ah").first).payload
    let parsed = try AHPacket.parse(ahPacket)
    let bare = ReceivedPacket(
      source: parsed.source, destination: parsed.destination, hopLimit: 255, payload: parsed.vrrp)
    guard
      case .dropped(.authentication, _) = ReceiveFilter.judge(
        bare, against: [expectation(51, password: "secret", unicast: false)])
    else { return XCTFail("bare auth type 2 advert accepted by an AH instance") }
    let pass = ReceiveExpectation(
      version: .v2, vrid: 51, advertInterval: 1, authentication: .password("secret"), unicastPeers: [],
      addresses: [ip("10.9.0.100")])
    var sequences = [AHSequenceCounter()]
    let verdict = ReceiveFilter.judgeAuthenticated(ahPacket, against: [pass], sequences: &sequences)
    guard case .dropped(.authentication, _) = verdict.verdict else { return XCTFail("\(verdict)") }
    let other = ReceiveFilter.judgeAuthenticated(
      ahPacket, against: [expectation(9, password: "secret", unicast: false)], sequences: &sequences)
    guard case .dropped(.unknownVRID, _) = other.verdict else { return XCTFail("\(other)") }
  }

  func testSpecRules() {
    var spec = VRRPInstanceSpec(name: "VI", interface: "eth0", vrid: 1)
    spec.authPass = "secret"
    spec.authType = .ah
    spec.initialState = .master
    XCTAssertNoThrow(try spec.validate())
    XCTAssertEqual(spec.startState, .backup, "keepalived clears state MASTER for AH")
    spec.priority = 255
    XCTAssertEqual(spec.startState, .master, "the address owner still starts as Master")
    spec.version = .v3
    XCTAssertThrowsError(try spec.validate())
    spec.authType = .pass
    spec.version = .v2
    XCTAssertNil(spec.ahKey)
    XCTAssertEqual(spec.authentication, .password("secret"))
  }
}
