import XCTest

@testable import KeeperConfig

/// VRRP instance keywords whose only effect is to be lvskeeper's one mode, or an error.
final class VRRPKeywordTests: XCTestCase {
  static func instance(_ extra: String) -> String {
    """
    vrrp_instance VI_1 {
      interface lo
      virtual_router_id 5
      priority 100
      virtual_ipaddress { 192.0.2.5/32 }
      \(extra)
    }
    """
  }

  /// The virtual addresses always accept traffic (`accept`); `no_accept` would need the firewall
  /// rules keepalived manages with vrrp_iptables/vrrp_nftables, so it is an error.
  func testAcceptIsTheOnlyModeAndNoAcceptIsAnError() throws {
    let loaded = try XCTUnwrap(loadValid(Self.instance("accept")))
    XCTAssertTrue(loaded.configuration.vrrpInstances[0].accept)
    let errors = loadErrors(Self.instance("no_accept"))
    XCTAssertEqual(errors.map(\.location.description), ["test.conf:6:3"])
    XCTAssertTrue(
      errors.first?.message.hasPrefix("unsupported keyword 'no_accept' in vrrp_instance") ?? false)
  }

  /// `use_vmac` without a name is keepalived's `vrrp.VRID` (IPv6 instances too); a name is kept; a
  /// MAC address is not supported yet; `vmac_xmit_base` alone warns (it needs use_vmac).
  func testUseVMACNamesTheMacvlanAndRejectsWhatIsNotSupported() throws {
    let plain = try XCTUnwrap(loadValid(Self.instance("use_vmac")))
    XCTAssertEqual(plain.configuration.vrrpInstances[0].vmacName, "vrrp.5")
    XCTAssertFalse(plain.configuration.vrrpInstances[0].vmacTransmitFromBase)
    let named = try XCTUnwrap(loadValid(Self.instance("use_vmac vmac5\n  vmac_xmit_base")))
    XCTAssertEqual(named.configuration.vrrpInstances[0].vmacName, "vmac5")
    XCTAssertTrue(named.configuration.vrrpInstances[0].vmacTransmitFromBase)
    XCTAssertEqual(
      loadErrors(Self.instance("use_vmac 00:00:5e:00:01:99")).map(\.description),
      ["test.conf:6:12: error: use_vmac with a MAC address is not supported yet"])
    XCTAssertEqual(
      loadErrors(Self.instance("use_vmac a_name_far_too_long")).map(\.location.description),
      ["test.conf:6:12"])
    let ipv6 = """
      vrrp_instance VI_6 {
        interface lo
        virtual_router_id 6
        use_vmac
        virtual_ipaddress { 2001:db8::6 }
      }
      """
    XCTAssertEqual(try XCTUnwrap(loadValid(ipv6)).configuration.vrrpInstances[0].vmacName, "vrrp.6")
    let alone = try XCTUnwrap(loadValid(Self.instance("vmac_xmit_base")))
    XCTAssertNil(alone.configuration.vrrpInstances[0].vmacName)
    XCTAssertEqual(
      alone.warnings.map(\.description),
      ["test.conf:6:3: warning: vmac_xmit_base without use_vmac has no effect"])
  }
}
