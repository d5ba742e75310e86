import KeeperCore
import XCTest

@testable import VRRP

final class ReceiveFilterTests: XCTestCase {
  let peer = IPAddress("10.0.0.9")!
  let group = IPAddress.vrrpMulticast4

  func expectation(
    _ version: VRRPVersion = .v2, vrid: UInt8 = 10, interval: UInt16 = 1, auth: VRRPAuthentication = .none,
    peers: [IPAddress] = []
  ) -> ReceiveExpectation {
    ReceiveExpectation(
      version: version, vrid: vrid, advertInterval: interval, authentication: auth, unicastPeers: peers,
      addresses: [IPAddress("10.0.0.100")!])
  }

  func packet(
    _ version: VRRPVersion = .v2, vrid: UInt8 = 10, interval: UInt16 = 1, auth: VRRPAuthentication = .none,
    ttl: UInt8 = 255, source: IPAddress? = nil, mutate: (inout [UInt8]) -> Void = { _ in }
  ) -> ReceivedPacket {
    var bytes = VRRPAdvert(
      version: version, vrid: vrid, priority: 100, advertInterval: interval,
      addresses: [IPAddress("10.0.0.100")!], authentication: auth
    ).encode(source: source ?? peer, destination: group)
    mutate(&bytes)
    return ReceivedPacket(source: source ?? peer, destination: group, hopLimit: ttl, payload: bytes)
  }

  func reason(_ verdict: ReceiveVerdict) -> DropReason? {
    if case .dropped(let reason, _) = verdict { return reason }
    return nil
  }

  func testDropReasons() {
    let cases: [(String, ReceivedPacket, [ReceiveExpectation], DropReason?)] = [
      ("accepted", packet(), [expectation()], nil),
      ("ttl 64", packet(ttl: 64), [expectation()], .ttl),
      ("bad checksum", packet { $0[6] ^= 1 }, [expectation()], .checksum),
      ("wrong version byte", packet { $0[0] = 0x11 }, [expectation()], .version),
      ("v3 packet for a v2 instance", packet(.v3, interval: 100), [expectation()], .version),
      ("unknown vrid", packet(vrid: 11), [expectation()], .unknownVRID),
      (
        "password mismatch", packet(auth: .password("x")), [expectation(auth: .password("y"))],
        .authentication
      ),
      ("missing password", packet(), [expectation(auth: .password("y"))], .authentication),
      ("matching password", packet(auth: .password("y")), [expectation(auth: .password("y"))], nil),
      ("v2 interval mismatch", packet(interval: 2), [expectation()], .advertInterval),
      ("v3 interval mismatch is learned", packet(.v3, interval: 10), [expectation(.v3, interval: 100)], nil),
      ("unlisted unicast peer", packet(), [expectation(peers: [IPAddress("10.0.0.8")!])], .unlistedPeer),
      ("listed unicast peer", packet(), [expectation(peers: [peer])], nil),
      ("truncated", packet { $0.removeLast(9) }, [expectation()], .malformed),
      (
        "tiny", ReceivedPacket(source: peer, destination: group, hopLimit: 255, payload: [0x21]),
        [expectation()],
        .malformed
      ),
    ]
    for (name, packet, expectations, expected) in cases {
      XCTAssertEqual(reason(ReceiveFilter.judge(packet, against: expectations)), expected, name)
    }
  }

  func testSelectsTheInstanceByVRIDAndVersion() {
    let list = [expectation(vrid: 1), expectation(.v3, vrid: 2, interval: 100), expectation(vrid: 2)]
    guard case .accepted(let index, let advert, _, _) = ReceiveFilter.judge(packet(vrid: 2), against: list)
    else {
      return XCTFail("dropped")
    }
    XCTAssertEqual(index, 2)
    XCTAssertEqual(advert.vrid, 2)
  }
}
