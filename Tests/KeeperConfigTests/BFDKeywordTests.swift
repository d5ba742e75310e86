import KeeperCore
import XCTest

@testable import KeeperConfig

/// `bfd_instance` and `track_bfd` with keepalived 2.2's keywords, defaults and ranges
/// (keepalived/bfd/bfd_parser.c): every value reaches the model, every bad one is an error at its
/// token.
final class BFDKeywordTests: XCTestCase {
  static let vrrp = """
    vrrp_instance VI_1 {
      interface eth0
      virtual_router_id 51
      virtual_ipaddress {
        10.0.0.100
      }
    """

  func testDefaultsAreKeepalivedsAndEveryKeywordReachesTheModel() throws {
    let loaded = try XCTUnwrap(
      loadValid(
        """
        bfd_instance plain {
          neighbor_ip 10.0.0.2
        }
        bfd_instance tuned {
          neighbour_ip fd00::2
          source_ip fd00::1
          min_rx 3.312
          min_tx 20
          idle_tx 2000
          multiplier 3
          passive
          hoplimit 255
          max_hops 2
          weight -30 reverse
          vrrp
        }
        bfd_instance v4ttl {
          neighbor_ip 10.0.0.3
          ttl 64
          checker
        }
        """))
    let bfds = loaded.configuration.bfdInstances
    XCTAssertEqual(bfds.map(\.name), ["plain", "tuned", "v4ttl"])
    let plain = bfds[0]
    XCTAssertEqual(plain.neighbor, IPAddress("10.0.0.2"))
    XCTAssertNil(plain.source)
    XCTAssertEqual([plain.minRx, plain.minTx, plain.idleTx], [10_000, 10_000, 1_000_000])
    XCTAssertEqual(plain.multiplier, 5)
    XCTAssertFalse(plain.passive)
    XCTAssertNil(plain.ttl)
    XCTAssertEqual(plain.maxHops, 0)
    XCTAssertEqual(plain.weight, 0)
    XCTAssertTrue(plain.notifiesVRRP && plain.notifiesCheckers)
    let tuned = bfds[1]
    XCTAssertEqual(tuned.neighbor, IPAddress("fd00::2"))
    XCTAssertEqual(tuned.source, IPAddress("fd00::1"))
    XCTAssertEqual([tuned.minRx, tuned.minTx, tuned.idleTx], [3_312, 20_000, 2_000_000])
    XCTAssertEqual(tuned.multiplier, 3)
    XCTAssertTrue(tuned.passive)
    XCTAssertEqual(tuned.ttl, 255)
    XCTAssertEqual(tuned.maxHops, 2)
    XCTAssertEqual(tuned.weight, -30)
    XCTAssertTrue(tuned.weightReverse)
    XCTAssertTrue(tuned.notifiesVRRP)
    XCTAssertFalse(tuned.notifiesCheckers)
    XCTAssertEqual(bfds[2].ttl, 64)
    XCTAssertFalse(bfds[2].notifiesVRRP)
    XCTAssertTrue(bfds[2].notifiesCheckers)
  }

  func testTrackBFDInInstancesAndSyncGroups() throws {
    let loaded = try XCTUnwrap(
      loadValid(
        """
        bfd_instance b1 {
          neighbor_ip 10.0.0.2
          weight 10 reverse
        }
        bfd_instance b2 {
          neighbor_ip 10.0.0.3
        }
        \(Self.vrrp)
          track_bfd {
            b1
            b2 weight -20 noreverse
          }
        }
        vrrp_instance VI_2 {
          interface eth0
          virtual_router_id 52
          virtual_ipaddress {
            10.0.0.101
          }
        }
        vrrp_sync_group G {
          group {
            VI_1
            VI_2
          }
          track_bfd {
            b2 weight 5 reverse
          }
        }
        """))
    let instance = try XCTUnwrap(loaded.configuration.vrrpInstances.first)
    XCTAssertEqual(instance.trackBFDs.map(\.name), ["b1", "b2"])
    XCTAssertNil(instance.trackBFDs[0].weight)
    XCTAssertNil(instance.trackBFDs[0].reverse)
    XCTAssertEqual(instance.trackBFDs[1].weight, -20)
    XCTAssertEqual(instance.trackBFDs[1].reverse, false)
    let group = try XCTUnwrap(loaded.configuration.syncGroups.first)
    XCTAssertEqual(group.trackBFDs.map(\.name), ["b2"])
    XCTAssertEqual(group.trackBFDs[0].weight, 5)
    XCTAssertEqual(group.trackBFDs[0].reverse, true)
  }

  func testBadValuesAreErrorsAtTheirToken() {
    let cases: [(String, String)] = [
      ("min_rx 0", "test.conf:3:10: error: min_rx 0 is out of range 1..4294967"),
      (
        "min_rx 1.2345",
        "test.conf:3:10: error: min_rx must be milliseconds (up to 3 decimals) in 1..4294967, not '1.2345'"
      ),
      (
        "min_tx abc",
        "test.conf:3:10: error: min_tx must be milliseconds (up to 3 decimals) in 1..4294967, not 'abc'"
      ),
      ("idle_tx 999", "test.conf:3:11: error: idle_tx 999 is out of range 1000..4294967"),
      ("multiplier 0", "test.conf:3:14: error: multiplier 0 is out of range 1..255"),
      ("multiplier 256", "test.conf:3:14: error: multiplier 256 is out of range 1..255"),
      ("ttl 0", "test.conf:3:7: error: ttl 0 is out of range 1..255"),
      ("hoplimit 300", "test.conf:3:12: error: hoplimit 300 is out of range 1..255"),
      ("max_hops -2", "test.conf:3:12: error: max_hops -2 is out of range -1..255"),
      ("weight 254", "test.conf:3:10: error: weight 254 is out of range -253..253"),
      ("weight 5 backwards", "test.conf:3:12: error: expected 'reverse' after the weight, not 'backwards'"),
      (
        "source_ip fd00::1",
        "test.conf:1:1: error: bfd_instance 'b': source_ip fd00::1 and neighbor_ip 10.0.0.2 are not of the same family"
      ),
      ("ttl 10\n  max_hops 20", "test.conf:4:3: error: bfd_instance 'b': max_hops 20 exceeds the ttl 10"),
      ("multihop", "test.conf:3:3: error: unknown keyword 'multihop' in bfd_instance"),
    ]
    for (statement, expected) in cases {
      let errors = loadErrors("bfd_instance b {\n  neighbor_ip 10.0.0.2\n  \(statement)\n}\n")
      XCTAssertEqual(errors.map(\.description), [expected], statement)
    }
    XCTAssertEqual(
      loadErrors("bfd_instance b {\n  min_rx 5\n}\n").map(\.description),
      ["test.conf:1:1: error: bfd_instance 'b' has no 'neighbor_ip'"])
    XCTAssertEqual(
      loadErrors("bfd_instance a {\n  neighbor_ip 10.0.0.2\n}\nbfd_instance b {\n  neighbor_ip 10.0.0.2\n}\n")
        .map(
          \.description),
      ["test.conf:4:1: error: bfd_instance 'b' has the same neighbor_ip as 'a'"])
  }

  func testTrackBFDMustNameABFDInstanceThatNotifiesVRRP() {
    XCTAssertEqual(
      loadErrors("\(Self.vrrp)\n  track_bfd {\n    nosuch\n  }\n}\n").map(\.description),
      ["test.conf:8:5: error: track_bfd 'nosuch' of vrrp_instance 'VI_1' is not a defined bfd_instance"])
    XCTAssertEqual(
      loadErrors(
        "bfd_instance c {\n  neighbor_ip 10.0.0.2\n  checker\n}\n\(Self.vrrp)\n  track_bfd {\n    c\n  }\n}\n"
      ).map(\.description),
      [
        "test.conf:12:5: error: track_bfd 'c' of vrrp_instance 'VI_1': bfd_instance 'c' notifies only 'checker'"
      ])
    XCTAssertEqual(
      loadErrors(
        "bfd_instance c {\n  neighbor_ip 10.0.0.2\n}\n\(Self.vrrp)\n  track_bfd {\n    c weight 300\n  }\n}\n"
      ).map(\.description),
      ["test.conf:11:14: error: weight 300 is out of range -253..253"])
  }

  /// keepalived logs "larger than max sensible" above 10 s and takes the value; so do we, with a
  /// warning at the token.
  func testIntervalsAboveTenSecondsWarn() throws {
    let loaded = try XCTUnwrap(loadValid("bfd_instance b {\n  neighbor_ip 10.0.0.2\n  idle_tx 20000\n}\n"))
    XCTAssertEqual(loaded.configuration.bfdInstances.first?.idleTx, 20_000_000)
    XCTAssertEqual(
      loaded.warnings.map(\.description),
      ["test.conf:3:11: warning: idle_tx 20000 is larger than the sensible maximum 10000 ms"])
  }
}
