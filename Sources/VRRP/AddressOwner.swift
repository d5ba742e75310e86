import KeeperCore

#if canImport(Glibc)
  import Glibc
#endif

/// Adds and removes interface addresses (RTM_NEWADDR / RTM_DELADDR), routes (RTM_NEWROUTE /
/// RTM_DELROUTE) and rules (RTM_NEWRULE / RTM_DELRULE) with rtnetlink. Invariant: every request is
/// acknowledged before the call returns; an entry already present counts as added and an absent one
/// as removed, so what a killed run left behind is adopted, never duplicated.
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

  /// Installs the route; returns false when an identical route was already there (adopted).
  @discardableResult
  public func add(_ route: IPRoute) throws(SystemCallError) -> Bool {
    let code = try request(route: route, add: true)
    if code == EEXIST { return false }
    guard code == 0 else { throw SystemCallError("RTM_NEWROUTE \(route)", code: code) }
    return true
  }

  /// Removes the route; returns false when it was not there.
  @discardableResult
  public func remove(_ route: IPRoute) throws(SystemCallError) -> Bool {
    let code = try request(route: route, add: false)
    if code == ESRCH || code == ENOENT || code == ENODEV { return false }
    guard code == 0 else { throw SystemCallError("RTM_DELROUTE \(route)", code: code) }
    return true
  }

  /// Installs the rule; returns false when an identical rule was already there (adopted).
  @discardableResult
  public func add(_ rule: IPRule) throws(SystemCallError) -> Bool {
    sequence &+= 1
    let code = try exchange(rule.message(add: true, sequence: sequence).bytes)
    if code == EEXIST { return false }
    guard code == 0 else { throw SystemCallError("RTM_NEWRULE \(rule)", code: code) }
    return true
  }

  /// Removes the rule; returns false when it was not there.
  @discardableResult
  public func remove(_ rule: IPRule) throws(SystemCallError) -> Bool {
    sequence &+= 1
    let code = try exchange(rule.message(add: false, sequence: sequence).bytes)
    if code == ENOENT || code == ESRCH { return false }
    guard code == 0 else { throw SystemCallError("RTM_DELRULE \(rule)", code: code) }
    return true
  }

  /// Sets IFF_UP on the interface `name` (the announce tun device).
  public func setLinkUp(_ name: String) throws(SystemCallError) {
    let index = try Socket.interfaceIndex(name)
    sequence &+= 1
    let code = try exchange(LinkMessage.up(index: index, sequence: sequence).bytes)
    guard code == 0 else { throw SystemCallError("RTM_NEWLINK up \(name)", code: code) }
  }

  public func createVMAC(_ vmac: VMACSpec, base: String, mac: [UInt8]) throws(SystemCallError) {
    let baseIndex = try Socket.interfaceIndex(base)
    sequence &+= 1
    var code = try exchange(
      LinkMessage.createMacvlan(name: vmac.name, base: baseIndex, mac: mac, sequence: sequence).bytes)
    if code == EEXIST {
      // Left by a killed run (or someone else's link of that name): start from a fresh one.
      _ = try deleteLink(vmac.name)
      sequence &+= 1
      code = try exchange(
        LinkMessage.createMacvlan(name: vmac.name, base: baseIndex, mac: mac, sequence: sequence).bytes)
    }
    guard code == 0 else { throw SystemCallError("RTM_NEWLINK macvlan \(vmac.name) on \(base)", code: code) }
    let ipv6 = mac.count == 6 && mac[4] == 2
    let failed =
      ipv6
      ? VMACSysctls.shared.configureIPv6(vmac: vmac.name)
      : VMACSysctls.shared.configure(vmac: vmac.name, base: base)
    if !failed.isEmpty {
      throw SystemCallError("sysctl \(failed.joined(separator: ", ")) for VMAC \(vmac.name)", code: EPERM)
    }
    let index = try Socket.interfaceIndex(vmac.name)
    sequence &+= 1
    code = try exchange(LinkMessage.up(index: index, sequence: sequence).bytes)
    guard code == 0 else { throw SystemCallError("RTM_NEWLINK up \(vmac.name)", code: code) }
    // keepalived's set_link_local_address: the base's link-local address on the VMAC too, so
    // adverts can leave from it with the same source as from the base.
    if ipv6 && !vmac.transmitFromBase {
      guard let linkLocal = InterfaceFacts.addresses(of: base, ipv6: true).first(where: \.isLinkLocal) else {
        throw SystemCallError(
          "no IPv6 link-local address on \(base) for VMAC \(vmac.name)", code: EADDRNOTAVAIL)
      }
      try add(
        VirtualAddressSpec(address: linkLocal, prefixLength: 64, device: vmac.name), defaultDevice: vmac.name)
    }
  }

  @discardableResult
  public func deleteVMAC(_ vmac: VMACSpec, base: String) throws(SystemCallError) -> Bool {
    defer { VMACSysctls.shared.release(vmac: vmac.name) }
    return try deleteLink(vmac.name)
  }

  private func deleteLink(_ name: String) throws(SystemCallError) -> Bool {
    let index = if_nametoindex(name)
    guard index != 0 else { return false }
    sequence &+= 1
    let code = try exchange(LinkMessage.delete(index: index, sequence: sequence).bytes)
    if code == ENODEV { return false }
    guard code == 0 else { throw SystemCallError("RTM_DELLINK \(name)", code: code) }
    return true
  }

  private func request(route: IPRoute, add: Bool) throws(SystemCallError) -> Int32 {
    sequence &+= 1
    let built = route.message(add: add, sequence: sequence) { name in
      let index = if_nametoindex(name)
      return index == 0 ? nil : index
    }
    switch built {
    case .success(let message): return try exchange(message.bytes)
    case .failure:
      // A route whose device is gone is not installed (add) and cannot be there (remove).
      return ENODEV
    }
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
    return try exchange(message.bytes)
  }

  /// Sends one request (numbered `sequence`) and returns the errno of its acknowledgement.
  private func exchange(_ message: [UInt8]) throws(SystemCallError) -> Int32 {
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
