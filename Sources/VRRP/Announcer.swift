import KeeperCore

#if canImport(Glibc)
  import Glibc
#endif

/// Announces VIPs a new master owns: gratuitous ARP requests for IPv4 (AF_PACKET) and unsolicited
/// neighbour advertisements for IPv6 (RFC 4861 7.2.6, hop limit 255, Override flag). Invariant: its
/// sockets are bound to `interface`.
final class Announcer {
  static let ethernetARP: UInt16 = 0x0806
  let interface: String
  private let index: UInt32
  private let mac: [UInt8]
  private var packetSocket: Int32 = -1
  private var icmpSocket: Int32 = -1

  init(interface: String) throws(SystemCallError) {
    self.interface = interface
    index = try Socket.interfaceIndex(interface)
    mac = InterfaceFacts.macAddress(interface) ?? [0, 0, 0, 0, 0, 0]
  }

  deinit {
    if packetSocket >= 0 { close(packetSocket) }
    if icmpSocket >= 0 { close(icmpSocket) }
  }

  func announce(_ address: IPAddress) throws(SystemCallError) {
    if address.isIPv4 { try sendGratuitousARP(address) } else { try sendNeighbourAdvert(address) }
  }

  /// Builds the ARP request keepalived sends: sender and target protocol address both the VIP.
  static func arpPayload(mac: [UInt8], address: IPAddress) -> [UInt8] {
    [0, 1, 0x08, 0x00, 6, 4, 0, 1] + mac + address.bytes + [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
      + address.bytes
  }

  /// ICMPv6 type 136 with Override set and a target link-layer address option; the kernel fills in
  /// the checksum of raw ICMPv6 sockets.
  static func neighbourAdvertPayload(mac: [UInt8], address: IPAddress) -> [UInt8] {
    [136, 0, 0, 0, 0x20, 0, 0, 0] + address.bytes + [2, 1] + mac
  }

  private func sendGratuitousARP(_ address: IPAddress) throws(SystemCallError) {
    if packetSocket < 0 {
      packetSocket = try Socket.open(AF_PACKET, Int32(SOCK_DGRAM.rawValue), Int32(Self.ethernetARP.bigEndian))
    }
    // struct sockaddr_ll { u16 family; be16 protocol; i32 ifindex; u16 hatype; u8 pkttype, halen; u8 addr[8] }
    var link = withUnsafeBytes(of: UInt16(AF_PACKET)) { Array($0) }
    link += withUnsafeBytes(of: Self.ethernetARP.bigEndian) { Array($0) }
    link += withUnsafeBytes(of: Int32(index)) { Array($0) }
    link += [0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]
    let payload = Self.arpPayload(mac: mac, address: address)
    let socket = packetSocket
    let rc = Socket.withRawSockaddr(link) { sa, length in
      payload.withUnsafeBytes { sendto(socket, $0.baseAddress, $0.count, 0, sa, length) }
    }
    guard rc >= 0 else { throw SystemCallError("send gratuitous ARP for \(address)") }
  }

  private func sendNeighbourAdvert(_ address: IPAddress) throws(SystemCallError) {
    if icmpSocket < 0 {
      icmpSocket = try Socket.open(AF_INET6, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMPV6))
      try Socket.bindToDevice(icmpSocket, interface)
      try Socket.set(icmpSocket, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, Int32(255), "IPV6_MULTICAST_HOPS")
      try Socket.set(icmpSocket, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, UInt32(index), "IPV6_MULTICAST_IF")
    }
    try Socket.send(
      icmpSocket, Self.neighbourAdvertPayload(mac: mac, address: address), to: .allNodes6, scope: index)
  }
}
