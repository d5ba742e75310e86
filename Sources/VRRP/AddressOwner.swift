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
    let code = try request(type: 20, flags: 0x400 | 0x200, vip: vip, defaultDevice: defaultDevice)
    if code == EEXIST { return false }
    guard code == 0 else { throw SystemCallError("RTM_NEWADDR \(vip.address)", code: code) }
    return true
  }

  /// Removes the address; returns false when it was not there.
  @discardableResult
  public func remove(_ vip: VirtualAddressSpec, defaultDevice: String) throws(SystemCallError) -> Bool {
    let code = try request(type: 21, flags: 0, vip: vip, defaultDevice: defaultDevice)
    if code == EADDRNOTAVAIL || code == ENOENT || code == ENODEV { return false }
    guard code == 0 else { throw SystemCallError("RTM_DELADDR \(vip.address)", code: code) }
    return true
  }

  /// Whether the address is configured on its device now.
  public func isPresent(_ vip: VirtualAddressSpec, defaultDevice: String) -> Bool {
    InterfaceFacts.addresses(of: vip.device ?? defaultDevice, ipv6: !vip.address.isIPv4).contains(vip.address)
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

  /// Sends one request and returns the errno of its acknowledgement (0 for success).
  private func request(type: UInt16, flags: UInt16, vip: VirtualAddressSpec, defaultDevice: String)
    throws(SystemCallError) -> Int32
  {
    let device = vip.device ?? defaultDevice
    let index = try Socket.interfaceIndex(device)
    let ipv6 = !vip.address.isIPv4
    sequence &+= 1
    // struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index }; IFA_F_NODAD for IPv6 VIPs
    // so they are usable at once, as keepalived does.
    var body: [UInt8] = [
      UInt8(ipv6 ? AF_INET6 : AF_INET), vip.prefixLength, ipv6 ? 0x02 : 0, Self.scopeCode(vip.scope),
    ]
    body += withUnsafeBytes(of: index.littleEndian) { Array($0) }
    body += attribute(2, vip.address.bytes)  // IFA_LOCAL
    body += attribute(1, vip.address.bytes)  // IFA_ADDRESS
    if let broadcast = vip.broadcast, !ipv6 { body += attribute(4, broadcast.bytes) }  // IFA_BROADCAST
    if let label = vip.label, !ipv6 { body += attribute(3, Array(label.utf8) + [0]) }  // IFA_LABEL
    var message: [UInt8] = []
    message += withUnsafeBytes(of: UInt32(16 + body.count).littleEndian) { Array($0) }
    message += withUnsafeBytes(of: type.littleEndian) { Array($0) }
    message += withUnsafeBytes(of: (flags | 0x1 | 0x4).littleEndian) { Array($0) }  // REQUEST | ACK
    message += withUnsafeBytes(of: sequence.littleEndian) { Array($0) }
    message += [0, 0, 0, 0]
    message += body
    let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    guard sent == message.count else { throw SystemCallError("send rtnetlink") }
    var reply = [UInt8](repeating: 0, count: 8192)
    while true {
      let n = recv(fd, &reply, reply.count, 0)
      guard n >= 0 else { throw SystemCallError("recv rtnetlink") }
      var offset = 0
      while offset + 16 <= n {
        let length = Int(reply.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) })
        let kind = reply.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self) }
        let seq = reply.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self) }
        if kind == 2 && seq == sequence && offset + 20 <= n {  // NLMSG_ERROR carries -errno
          return -reply.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 16, as: Int32.self) }
        }
        guard length >= 16 else { break }
        offset += (length + 3) & ~3
      }
    }
  }

  private func attribute(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
    let length = UInt16(4 + payload.count)
    var out = withUnsafeBytes(of: length.littleEndian) { Array($0) }
    out += withUnsafeBytes(of: type.littleEndian) { Array($0) }
    out += payload
    while out.count % 4 != 0 { out.append(0) }
    return out
  }
}
