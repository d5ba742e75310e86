import KeeperCore

#if canImport(Glibc)
  import Glibc
#endif

/// Adds and removes interface addresses with rtnetlink (RTM_NEWADDR / RTM_DELADDR). Invariant: every
/// request is acknowledged before the call returns; an address already present counts as added and an
/// absent one as removed, so a VIP left behind by a killed run is adopted, never duplicated.
public final class AddressOwner: @unchecked Sendable {
  private let fd: Int32
  private var sequence: UInt32 = 1

  public init() throws(SystemCallError) {
    fd = try Socket.open(AF_NETLINK, Int32(SOCK_RAW.rawValue), 0)  // NETLINK_ROUTE
    // struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups }: pid 0 lets the kernel pick.
    let local = withUnsafeBytes(of: UInt16(AF_NETLINK)) { Array($0) } + [UInt8](repeating: 0, count: 10)
    let rc = Socket.withRawSockaddr(local) { Glibc.bind(fd, $0, $1) }
    guard rc == 0 else {
      close(fd)
      throw SystemCallError("bind netlink")
    }
  }

  deinit { close(fd) }

  /// Adds the address; returns false when it was already there (adopted).
  @discardableResult
  public func add(_ vip: VirtualAddressSpec, defaultDevice: String) throws(SystemCallError) -> Bool {
    let code = try request(
      type: Netlink.newAddress, flags: Netlink.create | Netlink.exclusive, vip: vip,
      defaultDevice: defaultDevice)
    if code == EEXIST { return false }
    guard code == 0 else { throw SystemCallError("RTM_NEWADDR \(vip.address)", code: code) }
    return true
  }

  /// Removes the address; returns false when it was not there.
  @discardableResult
  public func remove(_ vip: VirtualAddressSpec, defaultDevice: String) throws(SystemCallError) -> Bool {
    let code = try request(type: Netlink.deleteAddress, flags: 0, vip: vip, defaultDevice: defaultDevice)
    if code == EADDRNOTAVAIL || code == ENOENT || code == ENODEV { return false }
    guard code == 0 else { throw SystemCallError("RTM_DELADDR \(vip.address)", code: code) }
    return true
  }

  /// Whether the address is configured on its device now. getifaddrs(3) names a labelled IPv4
  /// address by its label (`eth0:vip`), so that is the name to look under.
  public func isPresent(_ vip: VirtualAddressSpec, defaultDevice: String) -> Bool {
    let device = vip.device ?? defaultDevice
    let name = vip.address.isIPv4 ? vip.label ?? device : device
    return InterfaceFacts.addresses(of: name, ipv6: !vip.address.isIPv4).contains(vip.address)
  }

  static func scopeCode(_ name: String?) -> UInt8 {
    switch name {
    case "host": return 254
    case "link": return 253
    case "site": return 200
    case "nowhere": return 255
    default: return 0
    }
  }

  /// The RTM_NEWADDR / RTM_DELADDR request for `vip` on interface `index`. Attributes come in the
  /// order `ip addr add` sends them (IFA_LOCAL, IFA_BROADCAST, IFA_LABEL, IFA_ADDRESS); broadcast and
  /// label are IPv4-only. IFA_F_NODAD for IPv6 VIPs so they are usable at once, as keepalived does.
  static func message(
    type: UInt16, flags: UInt16, sequence: UInt32, vip: VirtualAddressSpec, interfaceIndex: UInt32
  ) -> NetlinkMessage {
    let ipv6 = !vip.address.isIPv4
    var message = NetlinkMessage.interfaceAddress(
      type: type, flags: flags | Netlink.request | Netlink.ack, sequence: sequence, portID: 0,
      header: InterfaceAddressHeader(
        family: vip.address.family, prefixLength: vip.prefixLength, flags: ipv6 ? 0x02 : 0,
        scope: scopeCode(vip.scope), interfaceIndex: interfaceIndex))
    message.put(InterfaceAddressAttribute.local, payload: vip.address.bytes)
    if let broadcast = vip.broadcast, !ipv6 {
      message.put(InterfaceAddressAttribute.broadcast, payload: broadcast.bytes)
    }
    if let label = vip.label, !ipv6 { message.put(InterfaceAddressAttribute.label, string: label) }
    message.put(InterfaceAddressAttribute.address, payload: vip.address.bytes)
    return message
  }

  /// Sends one request and returns the errno of its acknowledgement (0 for success).
  private func request(type: UInt16, flags: UInt16, vip: VirtualAddressSpec, defaultDevice: String)
    throws(SystemCallError) -> Int32
  {
    let index = try Socket.interfaceIndex(vip.device ?? defaultDevice)
    sequence &+= 1
    let message = Self.message(type: type, flags: flags, sequence: sequence, vip: vip, interfaceIndex: index)
      .bytes
    let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    guard sent == message.count else { throw SystemCallError("send rtnetlink") }
    var reply = [UInt8](repeating: 0, count: 8192)
    while true {
      let n = recv(fd, &reply, reply.count, 0)
      guard n >= 0 else { throw SystemCallError("recv rtnetlink") }
      for answer in NetlinkReply.split(reply[0..<n]) where answer.sequence == sequence {
        if let code = answer.errorCode { return code }  // NLMSG_ERROR carries -errno, 0 for the ack
      }
    }
  }
}
