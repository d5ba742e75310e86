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
}
