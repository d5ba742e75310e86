import XCTest

@testable import BFD

/// The Control packet codec against hand-assembled RFC 5880 4.1 bytes, and every reason a
/// received datagram is refused.
final class BFDPacketTests: XCTestCase {
  /// Up, P, multiplier 3, discriminators 0x11223344 / 0x55667788, 10 ms / 20 ms.
  static let golden: [UInt8] = [
    0x20, 0xE0, 0x03, 0x18, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    0x00, 0x00, 0x27, 0x10, 0x00, 0x00, 0x4E, 0x20, 0x00, 0x00, 0x00, 0x00,
  ]
  static let goldenPacket = BFDControlPacket(
    state: .up, poll: true, detectMultiplier: 3, myDiscriminator: 0x1122_3344, yourDiscriminator: 0x5566_7788,
    desiredMinTx: 10_000, requiredMinRx: 20_000)

  func testEncodesTheGoldenBytes() {
    XCTAssertEqual(Self.goldenPacket.encode(), Self.golden)
  }

  func testDecodesTheGoldenBytes() throws {
    XCTAssertEqual(try BFDControlPacket.decode(Self.golden), Self.goldenPacket)
  }

  /// Down with diagnostic 1 (detection time expired), F, and your discriminator 0 (allowed in Down).
  func testDecodesDownWithDiagnosticAndFinal() throws {
    let bytes: [UInt8] = [
      0x21, 0x50, 0x05, 0x18, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x40, 0, 0, 0x27, 0x10, 0, 0, 0, 0,
    ]
    let packet = try BFDControlPacket.decode(bytes)
    XCTAssertEqual(packet.state, .down)
    XCTAssertEqual(packet.diagnostic, .detectionTimeExpired)
    XCTAssertTrue(packet.final)
    XCTAssertFalse(packet.poll)
    XCTAssertEqual(packet.desiredMinTx, 1_000_000)
    XCTAssertEqual(packet.encode(), bytes)
  }

  /// RFC 5880 6.8.6: bytes beyond the Length field are ignored.
  func testIgnoresBytesAfterTheLengthField() throws {
    XCTAssertEqual(try BFDControlPacket.decode(Self.golden + [0xAA, 0xBB]), Self.goldenPacket)
  }

  func testRefusesMalformedPackets() {
    func with(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
      var b = Self.golden
      edit(&b)
      return b
    }
    let cases: [(String, [UInt8], BFDDecodeError)] = [
      ("23 bytes", Array(Self.golden.prefix(23)), .tooShort(23)),
      ("empty", [], .tooShort(0)),
      ("version 0", with { $0[0] = 0x00 }, .version(0)),
      ("version 2", with { $0[0] = 0x40 }, .version(2)),
      ("length beyond datagram", with { $0[3] = 30 }, .lengthMismatch(field: 30, received: 24)),
      ("length below 24", with { $0[3] = 20 }, .lengthMismatch(field: 20, received: 24)),
      ("reserved diagnostic", with { $0[0] = 0x29 }, .reservedDiagnostic(9)),
      ("multiplier 0", with { $0[2] = 0 }, .zeroMultiplier),
      ("multipoint", with { $0[1] |= 0x01 }, .multipoint),
      ("my discriminator 0", with { $0[4...7] = [0, 0, 0, 0] }, .zeroMyDiscriminator),
      ("your discriminator 0 in Up", with { $0[8...11] = [0, 0, 0, 0] }, .zeroYourDiscriminator(.up)),
      (
        "your discriminator 0 in Init",
        with {
          $0[1] = 0x80
          $0[8...11] = [0, 0, 0, 0]
        },
        .zeroYourDiscriminator(.initializing)
      ),
      ("poll and final", with { $0[1] |= 0x10 }, .pollAndFinal),
      (
        "authentication",
        with {
          $0[1] |= 0x04
          $0[3] = 24
        } + [0, 0], .lengthMismatch(field: 24, received: 26)
      ),
      (
        "authentication present",
        with {
          $0[1] |= 0x04
          $0[3] = 26
        } + [0, 0], .authentication
      ),
    ]
    for (name, bytes, expected) in cases {
      XCTAssertThrowsError(try BFDControlPacket.decode(bytes), name) { error in
        XCTAssertEqual(error as? BFDDecodeError, expected, name)
      }
    }
  }

  /// Every 24-byte pattern of one flipped bit either decodes to a packet that re-encodes to the
  /// same bytes or is refused: nothing decodes to something else.
  func testSingleBitFlipsDecodeExactlyOrAreRefused() {
    for bit in 0..<(24 * 8) {
      var bytes = Self.golden
      bytes[bit / 8] ^= UInt8(1 << (bit % 8))
      if let packet = try? BFDControlPacket.decode(bytes) {
        XCTAssertEqual(packet.encode(), bytes, "bit \(bit)")
      }
    }
  }
}
