import Foundation
import KeeperConfig
import KeeperCore
import VRRP
import XCTest

@testable import lvskeeper

/// `VRRPMapping` over the shipped configurations: which units run and what each instance gets.
final class VRRPMappingTests: XCTestCase {
  static func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
    return address
  }

  /// A script as the mapping resolves it: no own user, `script_user` as the shipped configs set it
  /// (root), or, with `scriptUser` nil, the default.
  static func script(_ text: String, scriptUser: String? = "root") throws -> RunnableScript {
    try RunnableScript(ScriptCommand(parsing: text), scriptUser: scriptUser.map { ScriptUser(user: $0) })
  }

  func testNATPairIsOneSyncGroupUnitHoldingBothInstances() throws {
    for (file, priority, state) in [
      ("nat-master.conf", UInt8(150), VRRPState.master), ("nat-backup.conf", UInt8(100), VRRPState.backup),
    ] {
      let units = try VRRPMapping.units(try ShippedConfigs.load(file).configuration)
      XCTAssertEqual(Array(units.keys), ["sync_group DIRECTOR"], file)
      let unit = try XCTUnwrap(units["sync_group DIRECTOR"])
      XCTAssertEqual(unit.instances.map(\.name), ["VI_EXTERNAL", "VI_INTERNAL"], file)
      XCTAssertEqual(
        unit.syncGroups,
        [
          VRRPSyncGroupSpec(
            name: "DIRECTOR", members: ["VI_EXTERNAL", "VI_INTERNAL"],
            notify: NotifySpec(any: try Self.script("/usr/local/sbin/lvskeeper-notify.sh")))
        ], file)
      XCTAssertEqual(
        unit.scripts,
        [
          VRRPScriptSpec(
            name: "chk_uplink", script: try Self.script("/usr/bin/ping -c 1 -W 1 192.168.10.1"),
            interval: 5, timeout: 2, rise: 2, fall: 2, weight: -20)
        ], file)

      let external = try XCTUnwrap(unit.instances.first)
      XCTAssertEqual(external.interface, "eth0", file)
      XCTAssertEqual(external.vrid, 51, file)
      XCTAssertEqual(external.priority, priority, file)
      XCTAssertEqual(external.initialState, state, file)
      XCTAssertEqual(external.version, .v2, file)
      XCTAssertEqual(external.advertInterval, 1, file)
      XCTAssertEqual(external.authPass, "n4t-ext", file)
      XCTAssertEqual(external.authentication, .password("n4t-ext"), file)
      XCTAssertEqual(
        external.virtualAddresses,
        [
          VirtualAddressSpec(
            address: Self.ip("192.168.10.100"), prefixLength: 24, device: "eth0", label: "eth0:vip")
        ],
        file)
      // The script's own weight (-20) applies: the track_script entry does not override it.
      XCTAssertEqual(external.trackScripts, [TrackedScriptSpec(name: "chk_uplink", weight: nil)], file)
      XCTAssertEqual(external.multicastGroup, Self.ip("224.0.0.18"), file)
      XCTAssertEqual(external.garpMasterDelay, 5, file)
      XCTAssertEqual(external.garpMasterRefresh, 60, file)
      XCTAssertTrue(external.preempt, file)

      let internalInstance = try XCTUnwrap(unit.instances.last)
      XCTAssertEqual(internalInstance.interface, "eth1", file)
      XCTAssertEqual(internalInstance.vrid, 52, file)
      XCTAssertEqual(internalInstance.priority, priority, file)
      XCTAssertEqual(internalInstance.authPass, "n4t-int", file)
      XCTAssertEqual(
        internalInstance.virtualAddresses,
        [VirtualAddressSpec(address: Self.ip("10.0.0.1"), prefixLength: 24, device: "eth1")],
        file)
      XCTAssertEqual(internalInstance.trackScripts, [], file)
    }
  }

  func testDRPairIsOneUnicastVersion3Instance() throws {
    let master = try VRRPMapping.units(try ShippedConfigs.load("dr-master.conf").configuration)
    let backup = try VRRPMapping.units(try ShippedConfigs.load("dr-backup.conf").configuration)
    XCTAssertEqual(Array(master.keys), ["vrrp_instance VI_WEB"])
    XCTAssertEqual(Array(backup.keys), ["vrrp_instance VI_WEB"])
    let (m, b) = (try XCTUnwrap(master.values.first), try XCTUnwrap(backup.values.first))
    XCTAssertEqual(m.syncGroups ?? [], [])
    XCTAssertEqual(m.scripts ?? [], [])
    let mi = try XCTUnwrap(m.instances.first)
    let bi = try XCTUnwrap(b.instances.first)
    XCTAssertEqual(mi.version, .v3)
    XCTAssertEqual(mi.advertInterval, 0.5)
    XCTAssertEqual(mi.wireInterval, 50, "v3 adverts carry centiseconds")
    XCTAssertEqual([mi.priority, bi.priority], [200, 100])
    XCTAssertEqual([mi.initialState, bi.initialState], [.backup, .backup])
    XCTAssertEqual([mi.preempt, bi.preempt], [true, false])
    XCTAssertEqual(mi.sourceAddress, Self.ip("192.168.20.11"))
    XCTAssertEqual(mi.unicastPeers, [Self.ip("192.168.20.12")])
    XCTAssertEqual(bi.sourceAddress, Self.ip("192.168.20.12"))
    XCTAssertEqual(bi.unicastPeers, [Self.ip("192.168.20.11")])
    XCTAssertNil(mi.authPass)
    XCTAssertEqual(
      mi.virtualAddresses,
      [VirtualAddressSpec(address: Self.ip("192.168.20.100"), prefixLength: 32, device: "eth0")])
    XCTAssertEqual(
      mi.notify,
      NotifySpec(
        master: try Self.script("/usr/local/sbin/lvskeeper-notify.sh MASTER VI_WEB", scriptUser: nil),
        backup: try Self.script("/usr/local/sbin/lvskeeper-notify.sh BACKUP VI_WEB", scriptUser: nil),
        fault: try Self.script("/usr/local/sbin/lvskeeper-notify.sh FAULT VI_WEB", scriptUser: nil)))
  }

  func testTrackedWeightsAndRefusedSettings() throws {
    let text = """
      vrrp_script chk_a {
          script "/bin/true"
          weight 10
      }
      vrrp_instance VI_1 {
          interface lo
          virtual_router_id 7
          priority 90
          virtual_ipaddress {
              10.9.9.9/32
          }
          track_script {
              chk_a weight 25 reverse
          }
          track_interface {
              lo weight -30
          }
      }
      """
    let config = try ConfigLoader(configID: "test", interfaces: ["lo"]).load(
      text: text, fileName: "track.conf")
    let unit = try XCTUnwrap(try VRRPMapping.units(config.configuration)["vrrp_instance VI_1"])
    let instance = try XCTUnwrap(unit.instances.first)
    XCTAssertEqual(
      instance.trackScripts, [TrackedScriptSpec(name: "chk_a", weight: 25, reverse: true)],
      "reverse travels with the weight (TrackingPolicy negates it while up)")
    XCTAssertEqual(instance.trackInterfaces, [TrackedInterfaceSpec(name: "lo", weight: -30)])
    XCTAssertEqual(unit.scripts?.map(\.name), ["chk_a"])
    XCTAssertEqual(unit.scripts?.first?.weight, 10)

    let ah = text.replacingOccurrences(
      of: "    priority 90\n",
      with: "    priority 90\n    authentication {\n        auth_type AH\n        auth_pass secret\n    }\n")
    let ahConfig = try ConfigLoader(configID: "test", interfaces: ["lo"]).load(text: ah, fileName: "ah.conf")
    let ahUnit = try XCTUnwrap(try VRRPMapping.units(ahConfig.configuration)["vrrp_instance VI_1"])
    let ahInstance = try XCTUnwrap(ahUnit.instances.first)
    XCTAssertEqual(ahInstance.authType, .ah)
    XCTAssertEqual(ahInstance.authentication, .ah)
    XCTAssertEqual(ahInstance.ahKey, Array("secret".utf8) + [0, 0], "auth_pass padded to 8 bytes is the key")
    XCTAssertNoThrow(try ahInstance.validate())

    // keepalived ignores authentication with version 3 (and so with IPv6, which needs version 3).
    let ahV3 = ah.replacingOccurrences(of: "    priority 90\n", with: "    priority 90\n    version 3\n")
    let v3Config = try ConfigLoader(configID: "test", interfaces: ["lo"]).load(
      text: ahV3, fileName: "ah3.conf")
    let v3Instance = try XCTUnwrap(
      try VRRPMapping.units(v3Config.configuration)["vrrp_instance VI_1"]?.instances.first)
    XCTAssertNil(v3Instance.authPass)
    XCTAssertEqual(v3Instance.authentication, .none)
  }

  /// track_file, vrrp_track_file's weight/reverse/init_file, a sync group's tracking on every
  /// member (weights ignored), a vrrp_script's `weight N reverse` and `init_fail`.
  func testTrackFilesGroupTrackingReverseAndInitFailReachTheSpec() throws {
    let text = """
      global_defs {
          vrrp_garp_interval 0.25
          vrrp_gna_interval 0.5
      }
      vrrp_script chk {
          script "/bin/true"
          weight 10 reverse
          init_fail
      }
      vrrp_track_file tf {
          file /run/lvsk-test-track
          weight 3 reverse
          init_file 5 overwrite
      }
      vrrp_instance VI_1 {
          interface lo
          virtual_router_id 7
          priority 100
          virtual_ipaddress { 192.0.2.7/32 }
          track_file { tf }
          track_script { chk weight -5 reverse }
          dont_track_primary
      }
      vrrp_instance VI_2 {
          interface lo
          virtual_router_id 8
          priority 100
          virtual_ipaddress { 192.0.2.8/32 }
      }
      vrrp_sync_group G {
          group {
              VI_1
              VI_2
          }
          track_script { chk weight 30 }
          track_file { tf weight 2 }
          track_interface { lo weight 5 }
      }
      """
    let config = try KeeperConfig.ConfigLoader(interfaces: ["lo"]).load(text: text, fileName: "t.conf")
      .configuration
    let unit = try XCTUnwrap(try VRRPMapping.units(config)["sync_group G"])
    let first = try XCTUnwrap(unit.instances.first { $0.name == "VI_1" })
    let second = try XCTUnwrap(unit.instances.first { $0.name == "VI_2" })
    XCTAssertEqual(
      first.trackFiles,
      [
        TrackedFileSpec(
          path: "/run/lvsk-test-track", weight: 3, reverse: true, initialValue: 5, overwrite: true),
        TrackedFileSpec(
          path: "/run/lvsk-test-track", weight: 0, reverse: false, initialValue: 5, overwrite: true),
      ])
    XCTAssertEqual(
      first.trackScripts,
      [TrackedScriptSpec(name: "chk", weight: -5, reverse: true), TrackedScriptSpec(name: "chk", weight: 0)])
    XCTAssertEqual(first.trackInterfaces, [TrackedInterfaceSpec(name: "lo", weight: nil)])
    XCTAssertTrue(first.dontTrackPrimary)
    XCTAssertEqual(first.announceInterval, 0.25, "vrrp_garp_interval for an IPv4 instance")
    XCTAssertEqual(
      second.trackScripts, [TrackedScriptSpec(name: "chk", weight: 0)], "group tracking on every member")
    XCTAssertEqual(second.trackFiles.map(\.weight), [0])
    let script = try XCTUnwrap(unit.scripts?.first)
    XCTAssertEqual([script.weight], [10])
    XCTAssertTrue(script.reverse)
    XCTAssertTrue(script.initFail)
  }

  /// use_vmac moves the VIPs on the instance interface (the default `dev`) onto the VMAC and keeps
  /// an explicit other `dev`; virtual routes and rules travel with the instance; the static blocks
  /// become the daemon's one static spec.
  func testVMACRoutesRulesAndStaticBlocksReachTheSpecs() throws {
    let text = """
      static_ipaddress {
        192.0.2.9/32 dev eth1
      }
      static_routes {
        198.51.100.0/24 via 192.0.2.254 dev eth0
      }
      static_rules {
        from 198.51.100.0/24 table 100 priority 100
      }
      vrrp_instance VI_1 {
        interface eth0
        virtual_router_id 9
        use_vmac
        vmac_xmit_base
        virtual_ipaddress {
          192.0.2.10/24
          192.0.2.11/24 dev eth1
        }
        virtual_routes {
          203.0.113.0/24 via 192.0.2.254
        }
        virtual_rules {
          to 203.0.113.0/24 table 101 priority 101
        }
      }
      """
    let config = try ConfigLoader(configID: "host", interfaces: ["eth0", "eth1"]).load(text: text)
      .configuration
    let spec = try XCTUnwrap(VRRPMapping.units(config)["vrrp_instance VI_1"]?.instances.first)
    XCTAssertEqual(spec.vmac, VMACSpec(name: "vrrp.9", transmitFromBase: true))
    XCTAssertEqual(spec.virtualAddresses.map(\.device), [nil, "eth1"])
    XCTAssertEqual(
      [spec.addressDevice, spec.advertDevice, spec.receiveDevice], ["vrrp.9", "eth0", "vrrp.9"])
    XCTAssertEqual(spec.virtualRoutes.map(\.description), ["203.0.113.0/24 via 192.0.2.254"])
    XCTAssertEqual(spec.virtualRules.map(\.description), ["priority 101 to 203.0.113.0/24 table 101"])
    let fixed = VRRPMapping.staticNetwork(config)
    XCTAssertEqual(fixed.addresses.map(\.device), ["eth1"])
    XCTAssertEqual(fixed.routes.map(\.description), ["198.51.100.0/24 via 192.0.2.254 dev eth0"])
    XCTAssertEqual(fixed.rules.map(\.description), ["priority 100 from 198.51.100.0/24 table 100"])
  }
}
