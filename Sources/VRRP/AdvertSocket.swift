import KeeperCore

#if canImport(Glibc)
  import Glibc
#endif

/// The receiving raw IP socket of one interface, family and protocol (112 for VRRP, 51 for
/// keepalived's AH-wrapped VRRPv2, IPv4 only), shared by every instance on that link.
/// Invariant: bound to the device and joined to the multicast group on it.
final class AdvertReceiver {
  let fd: Int32
  let ipv6: Bool
  let interface: String
  /// True for the protocol-51 socket, whose packets go through `receiveIPv4Packet()`.
  let carriesAH: Bool

  init(interface: String, ipv6: Bool, groups: [IPAddress], authenticationHeader: Bool = false)
    throws(SystemCallError)
  {
    self.interface = interface
    self.ipv6 = ipv6
    carriesAH = authenticationHeader && !ipv6
    let index = try Socket.interfaceIndex(interface)
    fd = try Socket.open(
      ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_RAW.rawValue),
      carriesAH ? Int32(AuthenticationHeader.protocolNumber) : 112)
    do {
      try Socket.bindToDevice(fd, interface)
      if ipv6 {
        try Socket.set(fd, Int32(IPPROTO_IPV6), IPV6_RECVHOPLIMIT, Int32(1), "IPV6_RECVHOPLIMIT")
        try Socket.set(fd, Int32(IPPROTO_IPV6), IPV6_RECVPKTINFO, Int32(1), "IPV6_RECVPKTINFO")
        for group in groups {
          var request = ipv6_mreq()
          withUnsafeMutableBytes(of: &request.ipv6mr_multiaddr) { $0.copyBytes(from: group.bytes) }
          request.ipv6mr_interface = index
          try Socket.set(
            fd, Int32(IPPROTO_IPV6), IPV6_ADD_MEMBERSHIP, request, "IPV6_ADD_MEMBERSHIP \(group)")
        }
      } else {
        for group in groups {
          var request = ip_mreqn()
          withUnsafeMutableBytes(of: &request.imr_multiaddr) { $0.copyBytes(from: group.bytes) }
          request.imr_ifindex = Int32(index)
          try Socket.set(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, request, "IP_ADD_MEMBERSHIP \(group)")
        }
      }
    } catch {
      close(fd)
      throw error
    }
  }

  deinit { close(fd) }

  /// Reads one datagram; nil when nothing usable is pending. IPv4 sockets see the IP header, from
  /// which TTL and addresses are taken; IPv6 gets them from ancillary data (RFC 3542).
  func receive() -> ReceivedPacket? {
    var buffer = [UInt8](repeating: 0, count: 2048)
    if !ipv6 {
      let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
      guard n >= 20 else { return nil }
      let headerLength = Int(buffer[0] & 0x0f) * 4
      let total = min(n, Int(buffer[2]) << 8 | Int(buffer[3]))
      guard headerLength >= 20, total >= headerLength,
        let source = IPAddress(bytes: buffer[12..<16]), let destination = IPAddress(bytes: buffer[16..<20])
      else { return nil }
      return ReceivedPacket(
        source: source, destination: destination, hopLimit: buffer[8],
        payload: Array(buffer[headerLength..<total]))
    }
    return receiveIPv6()
  }

  /// Reads one whole IPv4 datagram (header included, as a raw IPv4 socket delivers it); nil when
  /// nothing is pending. The AH check needs the header because the ICV covers it.
  func receiveIPv4Packet() -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 2048)
    let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
    guard n > 0 else { return nil }
    return Array(buffer[0..<n])
  }

  private func receiveIPv6() -> ReceivedPacket? {
    let capacity = 2048
    let controlCapacity = 256
    let data = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
    let control = UnsafeMutableRawPointer.allocate(byteCount: controlCapacity, alignment: 8)
    defer {
      data.deallocate()
      control.deallocate()
    }
    var from = sockaddr_in6()
    var iov = iovec(iov_base: data, iov_len: capacity)
    var message = msghdr()
    let n = withUnsafeMutablePointer(to: &from) { fromPointer in
      withUnsafeMutablePointer(to: &iov) { iovPointer in
        message.msg_name = UnsafeMutableRawPointer(fromPointer)
        message.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
        message.msg_iov = iovPointer
        message.msg_iovlen = 1
        message.msg_control = control
        message.msg_controllen = controlCapacity
        return recvmsg(fd, &message, Int32(MSG_DONTWAIT))
      }
    }
    guard n > 0 else { return nil }
    var hopLimit: UInt8 = 0
    var destination: IPAddress?
    // struct cmsghdr { size_t len; int level; int type; } followed by data, 8-byte aligned.
    var offset = 0
    let headerSize = 16
    while offset + headerSize <= Int(message.msg_controllen) {
      let length = control.load(fromByteOffset: offset, as: Int.self)
      let level = control.load(fromByteOffset: offset + 8, as: Int32.self)
      let type = control.load(fromByteOffset: offset + 12, as: Int32.self)
      guard length >= headerSize else { break }
      if level == Int32(IPPROTO_IPV6) && type == IPV6_HOPLIMIT {
        hopLimit = UInt8(
          truncatingIfNeeded: control.load(fromByteOffset: offset + headerSize, as: Int32.self))
      } else if level == Int32(IPPROTO_IPV6) && type == IPV6_PKTINFO {
        destination = IPAddress(
          bytes: UnsafeRawBufferPointer(start: control + offset + headerSize, count: 16))
      }
      offset += (length + 7) & ~7
    }
    let source = withUnsafeBytes(of: from.sin6_addr) { IPAddress(bytes: $0) }
    guard let source, let destination else { return nil }
    let payload = Array(UnsafeRawBufferPointer(start: data, count: n))
    return ReceivedPacket(source: source, destination: destination, hopLimit: hopLimit, payload: payload)
  }
}

/// The sending raw IP socket of one instance, bound to the instance's source address so adverts
/// carry it (the tie-break address of RFC 5798 6.4.3). Invariant: TTL / hop limit 255, no loopback.
/// With `authenticationHeader` it is an IPv4 protocol-51 socket with IP_HDRINCL: the AH ICV covers
/// the IPv4 header (identification included), so the caller builds the whole packet, as keepalived does.
final class AdvertSender {
  let fd: Int32
  let source: IPAddress
  let scope: UInt32

  init(interface: String, source: IPAddress, authenticationHeader: Bool = false) throws(SystemCallError) {
    self.source = source
    let index = try Socket.interfaceIndex(interface)
    scope = source.isIPv4 ? 0 : index
    let withAH = authenticationHeader && source.isIPv4
    fd = try Socket.open(
      source.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_RAW.rawValue),
      withAH ? Int32(AuthenticationHeader.protocolNumber) : 112)
    do {
      try Socket.bindToDevice(fd, interface)
      if withAH { try Socket.set(fd, Int32(IPPROTO_IP), IP_HDRINCL, Int32(1), "IP_HDRINCL") }
      if source.isIPv4 {
        try Socket.set(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, UInt8(255), "IP_MULTICAST_TTL")
        try Socket.set(fd, Int32(IPPROTO_IP), IP_TTL, Int32(255), "IP_TTL")
        try Socket.set(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, UInt8(0), "IP_MULTICAST_LOOP")
        var request = ip_mreqn()
        request.imr_ifindex = Int32(index)
        try Socket.set(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, request, "IP_MULTICAST_IF")
        // Keep adverts out of any receive-side buffering on this socket.
        try Socket.set(fd, SOL_SOCKET, SO_RCVBUF, Int32(256), "SO_RCVBUF")
      } else {
        try Socket.set(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, Int32(255), "IPV6_MULTICAST_HOPS")
        try Socket.set(fd, Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, Int32(255), "IPV6_UNICAST_HOPS")
        try Socket.set(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, UInt32(0), "IPV6_MULTICAST_LOOP")
        try Socket.set(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, UInt32(index), "IPV6_MULTICAST_IF")
      }
      // A link-local address is unusable while its duplicate-address detection runs (tentative,
      // EADDRNOTAVAIL); wait up to 3 s for it, as happens right after an interface comes up.
      var attempts = 0
      while true {
        do {
          try Socket.bind(fd, source, scope: scope)
          break
        } catch  where error.code == EADDRNOTAVAIL && !source.isIPv4 && attempts < 30 {
          attempts += 1
          usleep(100_000)
        }
      }
      // A send-only socket: shut the receive side so it never queues adverts.
      shutdown(fd, Int32(SHUT_RD))
    } catch {
      close(fd)
      throw error
    }
  }

  deinit { close(fd) }

  func send(_ payload: [UInt8], to destination: IPAddress) throws(SystemCallError) {
    try Socket.send(fd, payload, to: destination, scope: destination.isIPv4 ? 0 : scope)
  }
}
