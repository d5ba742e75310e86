import Foundation
import KeeperCore

#if canImport(Glibc)
  import Glibc
#endif

/// `use_vmac [NAME]` and `vmac_xmit_base`: the instance's addresses live on a macvlan of its
/// interface whose MAC is the VRRP virtual router MAC (RFC 5798 7.3: 00:00:5e:00:01:VRID for IPv4),
/// so hosts keep the same ARP entry across a failover.
///
/// Invariant: `name` is a valid interface name (1...15 bytes, no `/`, `:` or white space).
public struct VMACSpec: Sendable, Codable, Equatable, Hashable {
  public var name: String
  /// `vmac_xmit_base`: adverts leave from the base interface (its MAC), not from the macvlan.
  public var transmitFromBase: Bool

  public init(name: String, transmitFromBase: Bool = false) {
    self.name = name
    self.transmitFromBase = transmitFromBase
  }

  /// RFC 5798 7.3: 00-00-5E-00-01-{VRID} (IPv4), 00-00-5E-00-02-{VRID} (IPv6).
  public static func mac(vrid: UInt8, ipv6: Bool) -> [UInt8] { [0, 0, 0x5e, 0, ipv6 ? 2 : 1, vrid] }
}

/// Link constants of rtnetlink (linux/rtnetlink.h, linux/if_link.h).
enum LinkMessage {
  static let newLink: UInt16 = 16
  static let deleteLink: UInt16 = 17
  static let address: UInt16 = 1  // IFLA_ADDRESS
  static let name: UInt16 = 3  // IFLA_IFNAME
  static let link: UInt16 = 5  // IFLA_LINK
  static let linkInfo: UInt16 = 18  // IFLA_LINKINFO
  static let infoKind: UInt16 = 1  // IFLA_INFO_KIND
  static let infoData: UInt16 = 2  // IFLA_INFO_DATA
  static let macvlanMode: UInt16 = 1  // IFLA_MACVLAN_MODE
  static let macvlanPrivate: UInt32 = 1  // MACVLAN_MODE_PRIVATE

  /// `struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change }`.
  static func header(index: UInt32 = 0, flags: UInt32 = 0, change: UInt32 = 0) -> [UInt8] {
    [0, 0, 0, 0] + littleEndianBytes(index) + littleEndianBytes(flags) + littleEndianBytes(change)
  }

  /// RTM_NEWLINK creating a private-mode macvlan on `base`, as keepalived's netlink_link_add_vmac.
  static func createMacvlan(name: String, base: UInt32, mac: [UInt8], sequence: UInt32) -> NetlinkMessage {
    var message = NetlinkMessage(
      type: newLink, flags: Netlink.request | Netlink.ack | Netlink.create | Netlink.exclusive,
      sequence: sequence, portID: 0, familyHeader: header())
    message.nest(linkInfo) { info in
      info.put(infoKind, payload: Array("macvlan".utf8))
      info.nest(infoData) { data in data.put(macvlanMode, u32: macvlanPrivate) }
    }
    message.put(link, u32: base)
    message.put(Self.name, string: name)
    message.put(address, payload: mac)
    return message
  }

  /// RTM_NEWLINK setting IFF_UP on `index`.
  static func up(index: UInt32, sequence: UInt32) -> NetlinkMessage {
    let iffUp: UInt32 = 1
    return NetlinkMessage(
      type: newLink, flags: Netlink.request | Netlink.ack, sequence: sequence, portID: 0,
      familyHeader: header(index: index, flags: iffUp, change: iffUp))
  }

  /// RTM_DELLINK of `index`.
  static func delete(index: UInt32, sequence: UInt32) -> NetlinkMessage {
    NetlinkMessage(
      type: deleteLink, flags: Netlink.request | Netlink.ack, sequence: sequence, portID: 0,
      familyHeader: header(index: index))
  }
}

/// The sysctls keepalived sets for a VMAC. IPv4 (vrrp_if_config.c, set_interface_parameters): on the
/// macvlan arp_ignore 1, accept_local 1, rp_filter 0, promote_secondaries 1 and IPv6 off; on the
/// base interface arp_ignore 1 and arp_filter 1, so only the macvlan answers ARP for the virtual
/// addresses (with the virtual MAC). The base's previous values are restored when its last IPv4 VMAC
/// goes. IPv6 (vrrp_vmac.c): no address generated from the virtual MAC (addr_gen_mode none, RFC 5798
/// 7.4), set before the link comes up.
///
/// Invariant: `saved` holds the base's original values exactly while `users[base]` > 0, and
/// `bases` names the base of every IPv4 VMAC counted there.
final class VMACSysctls: @unchecked Sendable {
  static let shared = VMACSysctls()
  private let lock = NSLock()
  private var users: [String: Int] = [:]
  private var saved: [String: (arpIgnore: String?, arpFilter: String?)] = [:]
  private var bases: [String: String] = [:]

  /// For the macvlan of an IPv6 instance; returns the settings that could not be written.
  func configureIPv6(vmac: String) -> [String] {
    Self.write("net/ipv6/conf/\(vmac)/addr_gen_mode", "1") ? [] : ["\(vmac) addr_gen_mode"]
  }

  /// For the macvlan of an IPv4 instance; returns the settings that could not be written.
  func configure(vmac: String, base: String) -> [String] {
    var failures: [String] = []
    for (leaf, value) in [
      ("arp_ignore", "1"), ("accept_local", "1"), ("rp_filter", "0"), ("promote_secondaries", "1"),
    ]
    where !Self.write("net/ipv4/conf/\(vmac)/\(leaf)", value) {
      failures.append("\(vmac) \(leaf)")
    }
    // keepalived keeps IPv6 off a VMAC of an IPv4 instance (link_set_ipv6 false).
    if !Self.write("net/ipv6/conf/\(vmac)/disable_ipv6", "1") { failures.append("\(vmac) disable_ipv6") }
    lock.withLock {
      if users[base, default: 0] == 0 {
        saved[base] = (
          readSmallFile("/proc/sys/net/ipv4/conf/\(base)/arp_ignore"),
          readSmallFile("/proc/sys/net/ipv4/conf/\(base)/arp_filter")
        )
        for leaf in ["arp_ignore", "arp_filter"] where !Self.write("net/ipv4/conf/\(base)/\(leaf)", "1") {
          failures.append("\(base) \(leaf)")
        }
      }
      users[base, default: 0] += 1
      bases[vmac] = base
    }
    return failures
  }

  /// The macvlan `vmac` is gone: its base gets its own settings back once no IPv4 VMAC uses it.
  func release(vmac: String) {
    lock.withLock {
      guard let base = bases.removeValue(forKey: vmac), let count = users[base], count > 0 else { return }
      users[base] = count - 1
      guard count == 1, let values = saved.removeValue(forKey: base) else { return }
      if let value = values.arpIgnore { _ = Self.write("net/ipv4/conf/\(base)/arp_ignore", value) }
      if let value = values.arpFilter { _ = Self.write("net/ipv4/conf/\(base)/arp_filter", value) }
    }
  }

  private static func write(_ path: String, _ value: String) -> Bool {
    let fd = open("/proc/sys/" + path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(value.utf8)
    return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
  }
}
