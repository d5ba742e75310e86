import CLinuxEvents
import KeeperCore
import VRRP

#if canImport(Glibc)
  import Glibc
#endif

/// The announce edge: a non-persistent tun device that holds every announced VIP as a local
/// address, and one route per VIP in the announce table while it is announced (docs/scaleout.md).
///
/// Invariant: while the device's descriptor is open the device exists, is up, and carries an
/// address for each VIP of the last `setAddresses`; a route `VIP/32|128 dev DEVICE table T proto 250`
/// exists for exactly the VIPs in `routed`. Closing the descriptor (at stop, or when the process
/// dies, even by SIGKILL) makes the kernel delete the device with its addresses and routes: no
/// announcement survives lvskeeper. Not thread-safe: the daemon's actor is its only caller.
final class AnnounceOwner: @unchecked Sendable {
  private let netlink: AddressOwner
  private var descriptor: Int32 = -1
  private(set) var interface: String?
  private(set) var addresses: [IPAddress] = []
  /// VIP → the table its route is in.
  private(set) var routed: [IPAddress: UInt32] = [:]

  init() throws(SystemCallError) {
    netlink = try AddressOwner()
  }

  deinit { close() }

  /// Creates the tun device `name` and brings it up; a device already opened under another name is
  /// closed first (its addresses and routes go with it).
  func open(_ name: String) throws(SystemCallError) {
    if interface == name && descriptor >= 0 { return }
    close()
    let fd = lvsk_tun_open(name)
    guard fd >= 0 else {
      throw SystemCallError(
        "create tun device \(name) (/dev/net/tun; EBUSY: another process holds it, ENOENT/EPERM: the device "
          + "node is missing or hidden, e.g. by systemd's PrivateDevices)")
    }
    descriptor = fd
    interface = name
    do {
      try netlink.setLinkUp(name)
    } catch {
      close()
      throw error
    }
  }

  /// Makes the device's VIP addresses exactly `vips` (their routes must be withdrawn first).
  /// Returns the failures, each naming its VIP; the others are still applied.
  func setAddresses(_ vips: [IPAddress]) -> [String] {
    guard let interface else { return vips.isEmpty ? [] : ["no announce interface"] }
    var failures: [String] = []
    for old in addresses where !vips.contains(old) {
      do {
        try netlink.remove(VirtualAddressSpec(address: old, device: interface), defaultDevice: interface)
      } catch {
        failures.append("remove \(old) from \(interface): \(error)")
      }
    }
    var kept: [IPAddress] = []
    for vip in vips {
      do {
        try netlink.add(VirtualAddressSpec(address: vip, device: interface), defaultDevice: interface)
        kept.append(vip)
      } catch {
        failures.append("add \(vip) to \(interface): \(error)")
      }
    }
    addresses = kept
    return failures
  }

  /// Installs the VIP's route in `table` (an identical route already there is adopted).
  func announce(_ vip: IPAddress, table: UInt32) throws(SystemCallError) {
    guard let interface else { throw SystemCallError("announce \(vip): no announce interface", code: ENODEV) }
    try netlink.add(Self.route(vip, interface: interface, table: table))
    routed[vip] = table
  }

  /// Removes the VIP's route (a route already gone counts as removed).
  func withdraw(_ vip: IPAddress) throws(SystemCallError) {
    guard let table = routed[vip], let interface else { return }
    try netlink.remove(Self.route(vip, interface: interface, table: table))
    routed[vip] = nil
  }

  /// Closes the device's descriptor: the kernel deletes the device, its addresses and routes.
  func close() {
    if descriptor >= 0 { Glibc.close(descriptor) }
    descriptor = -1
    interface = nil
    addresses = []
    routed = [:]
  }

  /// `VIP/32 (or /128) dev INTERFACE table TABLE proto 250 scope link`, as `ip route add` makes a
  /// route without a gateway.
  static func route(_ vip: IPAddress, interface: String, table: UInt32) -> IPRoute {
    var route = IPRoute(destination: IPPrefix(address: vip, prefixLength: vip.isIPv4 ? 32 : 128))
    route.device = interface
    route.table = table
    route.protocol = AnnounceSpec.routeProtocol
    route.scope = 253
    return route
  }
}
