import BFD
import HealthCheck
import KeeperConfig
import KeeperCore
import VRRP
import XCTest

@testable import lvskeeper

/// What the daemon hands its parts for `bfd_instance`, `track_bfd` and `BFD_CHECK`: the engine's
/// sessions with keepalived's defaults, resolved track weights per instance (sync groups fault,
/// as their other tracking does), and a checker reading the session every 100 ms.
final class BFDMappingTests: XCTestCase {
  static let config = """
    bfd_instance b4 {
      neighbor_ip 10.0.0.2
      weight 10 reverse
    }
    bfd_instance b6 {
      neighbor_ip fd00::2
      source_ip fd00::1
      min_rx 25.5
      min_tx 30
      idle_tx 1500
      multiplier 4
      passive
      max_hops 3
    }
    vrrp_instance VI_1 {
      interface eth0
      virtual_router_id 51
      virtual_ipaddress {
        10.0.0.100
      }
      track_bfd {
        b4
        b6 weight -20
      }
    }
    vrrp_instance VI_2 {
      interface eth0
      virtual_router_id 52
      virtual_ipaddress {
        10.0.0.101
      }
      track_bfd {
        b4 weight 7 noreverse
      }
    }
    vrrp_instance VI_3 {
      interface eth0
      virtual_router_id 53
      virtual_ipaddress {
        10.0.0.102
      }
      track_bfd {
        b6 weight 5
      }
    }
    vrrp_instance VI_4 {
      interface eth0
      virtual_router_id 54
      virtual_ipaddress {
        10.0.0.103
      }
    }
    vrrp_sync_group G {
      group {
        VI_3
        VI_4
      }
      track_bfd {
        b6 weight 9
      }
    }
    virtual_server 10.0.0.200 80 {
      delay_loop 6
      real_server 10.0.0.2 80 {
        BFD_CHECK {
          name b4
        }
      }
    }

    """

  func testBFDSpecsTrackedWeightsAndChecksReachTheParts() throws {
    let loaded = try ConfigLoader(configID: "t", interfaces: ["eth0"]).load(
      text: Self.config, fileName: "t.conf")
    let specs = BFDLink.specs(loaded.configuration)
    XCTAssertEqual(
      specs,
      [
        BFDInstanceSpec(name: "b4", neighbor: try XCTUnwrap(IPAddress("10.0.0.2"))),
        BFDInstanceSpec(
          name: "b6", neighbor: try XCTUnwrap(IPAddress("fd00::2")), source: IPAddress("fd00::1"),
          timing: BFDTiming(minRx: 25_500, minTx: 30_000, idleTx: 1_500_000, multiplier: 4, passive: true),
          maxHops: 3),
      ])
    XCTAssertEqual(specs[0].ttl, 255, "IPv4 default ttl")
    XCTAssertEqual(specs[1].ttl, 64, "IPv6 default hoplimit")
    XCTAssertEqual(specs[0].timing, BFDTiming(minRx: 10_000, minTx: 10_000, idleTx: 1_000_000, multiplier: 5))

    let units = try VRRPMapping.units(loaded.configuration)
    func tracked(_ unit: String, _ instance: String) -> [TrackedBFDSpec]? {
      units[unit]?.instances.first { $0.name == instance }?.trackBFDs
    }
    // The bfd_instance's weight and reverse unless the entry gives its own.
    XCTAssertEqual(
      tracked("vrrp_instance VI_1", "VI_1"),
      [TrackedBFDSpec(name: "b4", weight: 10, reverse: true), TrackedBFDSpec(name: "b6", weight: -20)])
    XCTAssertEqual(tracked("vrrp_instance VI_2", "VI_2"), [TrackedBFDSpec(name: "b4", weight: 7)])
    // A sync group's track_bfd faults every member; it replaces the member's own entry.
    XCTAssertEqual(tracked("sync_group G", "VI_3"), [TrackedBFDSpec(name: "b6", weight: 0)])
    XCTAssertEqual(tracked("sync_group G", "VI_4"), [TrackedBFDSpec(name: "b6", weight: 0)])

    let mapping = try ServiceMapping(loaded.configuration)
    let checker = try XCTUnwrap(mapping.monitored.first?.checkers.first)
    XCTAssertEqual(checker.spec, .bfd(BFDSessionCheck(name: "b4")))
    XCTAssertEqual(checker.schedule.delayLoop, .milliseconds(100))
    XCTAssertEqual(checker.schedule.retry, 0)
    XCTAssertFalse(checker.schedule.alpha)
  }
}
