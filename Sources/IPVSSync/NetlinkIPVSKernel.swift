import CNetlink
import KeeperCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The real kernel over generic netlink family "IPVS". libnl-3 opens the socket and resolves the
/// family; requests are encoded by `IPVSMessageCodec` and written in batches (many requests per
/// `send`, acks collected by sequence number) so a large apply costs few system calls.
///
/// Invariant: every call returns or throws within `timeout` of its last kernel reply (SO_RCVTIMEO),
/// and replies that arrive late for an earlier call are discarded by sequence number.
public final class NetlinkIPVSKernel: IPVSKernel {
  let connection: Mutex<NetlinkConnection>

  /// Opens a socket and resolves the IPVS family. `batchSize` bounds requests in flight per send.
  public init(timeout: Duration = .seconds(5), batchSize: Int = 256) throws(IPVSKernelError) {
    connection = Mutex(try NetlinkConnection(timeout: timeout, batchSize: max(1, batchSize)))
  }

  public func info() throws(IPVSKernelError) -> IPVSInfo {
    try connection.withLock { c throws(IPVSKernelError) -> IPVSInfo in
      let messages = try c.request("get IPVS info", command: IPVSCommand.getInfo)
      guard let a = messages.first?.attributes, let version = a.u32(IPVSAttr.infoVersion) else {
        throw .malformedReply(operation: "get IPVS info", detail: "no version attribute")
      }
      return IPVSInfo(version: version, connectionTableSize: a.u32(IPVSAttr.infoConnTabSize) ?? 0)
    }
  }

  public func services() throws(IPVSKernelError) -> [KernelService] {
    try connection.withLock { c throws(IPVSKernelError) -> [KernelService] in
      let messages = try c.request("dump services", command: IPVSCommand.getService, dump: true)
      return messages.compactMap { m in
        m.attributes.nested(IPVSAttr.service).flatMap(IPVSMessageCodec.decodeService)
      }
    }
  }

  public func service(_ key: ServiceKey) throws(IPVSKernelError) -> KernelService {
    try connection.withLock { c throws(IPVSKernelError) -> KernelService in
      let operation = "get service \(key)"
      let messages = try c.request(operation, command: IPVSCommand.getService) {
        $0.nest(IPVSAttr.service) { IPVSMessageCodec.putService(&$0, key, nil) }
      }
      guard
        let s = messages.first?.attributes.nested(IPVSAttr.service).flatMap(IPVSMessageCodec.decodeService)
      else { throw .malformedReply(operation: operation, detail: "no service attribute") }
      return s
    }
  }

  public func destinations(of service: ServiceKey) throws(IPVSKernelError) -> [KernelDestination] {
    try connection.withLock { c throws(IPVSKernelError) -> [KernelDestination] in
      Self.decodeDestinations(try Self.dumpDestinations(of: service, c), of: service)
    }
  }

  static func dumpDestinations(of service: ServiceKey, _ c: NetlinkConnection) throws(IPVSKernelError)
    -> [NetlinkReply]
  {
    try c.request("dump destinations of \(service)", command: IPVSCommand.getDest, dump: true) {
      $0.nest(IPVSAttr.service) { IPVSMessageCodec.putService(&$0, service, nil) }
    }
  }

  static func decodeDestinations(_ messages: [NetlinkReply], of service: ServiceKey) -> [KernelDestination] {
    messages.compactMap { m in
      m.attributes.nested(IPVSAttr.dest).flatMap {
        IPVSMessageCodec.decodeDestination($0, serviceFamily: service.family)
      }
    }
  }

  public func apply(_ operations: [IPVSOperation]) throws(IPVSKernelError) -> [IPVSOperationResult] {
    try connection.withLock { c throws(IPVSKernelError) -> [IPVSOperationResult] in
      let codec = c.codec
      let errors = try c.batch(count: operations.count, name: "apply") {
        codec.encode(operations[$0], sequence: $1)
      }
      return zip(operations, errors).map { op, e in
        IPVSOperationResult(
          operation: op,
          error: e.map {
            .rejected(operation: op.description, errno: $0, reason: .classify(errno: $0, on: op))
          })
      }
    }
  }

  public func flush() throws(IPVSKernelError) {
    try acknowledged("flush") { codec, seq in codec.message(IPVSCommand.flush, sequence: seq).bytes }
  }

  public func timeouts() throws(IPVSKernelError) -> IPVSTimeouts {
    try connection.withLock { c throws(IPVSKernelError) -> IPVSTimeouts in
      let messages = try c.request("get timeouts", command: IPVSCommand.getConfig)
      guard let a = messages.first?.attributes else {
        throw .malformedReply(operation: "get timeouts", detail: "empty reply")
      }
      return IPVSTimeouts(
        tcp: a.u32(IPVSAttr.timeoutTCP) ?? 0, tcpFin: a.u32(IPVSAttr.timeoutTCPFin) ?? 0,
        udp: a.u32(IPVSAttr.timeoutUDP) ?? 0)
    }
  }

  public func setTimeouts(_ timeouts: IPVSTimeouts) throws(IPVSKernelError) {
    try acknowledged("set timeouts") { codec, seq in codec.setTimeouts(timeouts, sequence: seq) }
  }

  public func syncDaemons() throws(IPVSKernelError) -> [SyncDaemonConfig] {
    try connection.withLock { c throws(IPVSKernelError) -> [SyncDaemonConfig] in
      let messages = try c.request("dump sync daemons", command: IPVSCommand.getDaemon, dump: true)
      return messages.compactMap {
        $0.attributes.nested(IPVSAttr.daemon).flatMap(IPVSMessageCodec.decodeDaemon)
      }
    }
  }

  public func startSyncDaemon(_ config: SyncDaemonConfig) throws(IPVSKernelError) {
    try acknowledged("start sync daemon \(config.role) on \(config.interface)") { codec, seq in
      codec.startDaemon(config, sequence: seq)
    }
  }

  public func stopSyncDaemon(_ role: SyncDaemonRole) throws(IPVSKernelError) {
    try acknowledged("stop sync daemon \(role)") { codec, seq in codec.stopDaemon(role, sequence: seq) }
  }

  private func acknowledged(_ name: String, _ encode: (IPVSMessageCodec, UInt32) -> [UInt8])
    throws(IPVSKernelError)
  {
    try connection.withLock { c throws(IPVSKernelError) in
      let codec = c.codec
      if let e = try c.batch(count: 1, name: name, encode: { encode(codec, $1) }).first ?? nil {
        throw .rejected(operation: name, errno: e, reason: .classify(errno: e, on: nil))
      }
    }
  }
}

/// One libnl socket plus our own sequence numbering. Only ever used inside the owning
/// `NetlinkIPVSKernel`'s mutex, which is what makes the unchecked Sendable sound.
final class NetlinkConnection: @unchecked Sendable {
  private let socket: OpaquePointer
  private let fd: Int32
  let codec: IPVSMessageCodec
  private let timeoutSeconds: Double
  private let batchSize: Int
  private var sequence: UInt32
  private var receiveBuffer = [UInt8](repeating: 0, count: 1 << 17)

  init(timeout: Duration, batchSize: Int) throws(IPVSKernelError) {
    guard let socket = nl_socket_alloc() else { throw .socket(operation: "nl_socket_alloc", errno: ENOMEM) }
    self.socket = socket
    let connected = nl_connect(socket, NETLINK_GENERIC)
    guard connected == 0 else {
      nl_socket_free(socket)
      throw .socket(operation: "nl_connect NETLINK_GENERIC", errno: EPROTO)
    }
    fd = nl_socket_get_fd(socket)
    let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
    timeoutSeconds = seconds
    self.batchSize = batchSize
    var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var bufferSize: Int32 = 8 << 20
    // SO_RCVBUFFORCE needs CAP_NET_ADMIN, which IPVS needs anyway; fall back to the capped option.
    if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufferSize, 4) != 0 {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufferSize, 4)
    }
    var one: Int32 = 1
    setsockopt(fd, 270 /* SOL_NETLINK */, 10 /* NETLINK_CAP_ACK */, &one, 4)
    let family = genl_ctrl_resolve(socket, "IPVS")
    guard family > 0 else {
      nl_socket_free(socket)
      throw .familyUnavailable("genl_ctrl_resolve(\"IPVS\") returned \(family); is the ip_vs module loaded?")
    }
    codec = IPVSMessageCodec(family: UInt16(family), portID: nl_socket_get_local_port(socket))
    sequence = UInt32(truncatingIfNeeded: time(nil)) & 0x7fff_ffff
  }

  deinit { nl_socket_free(socket) }

  private func nextSequence() -> UInt32 {
    sequence &+= 1
    return sequence
  }

  /// Sends one request and returns its replies: all parts of a dump, or the single reply. `name`
  /// is only built for an error: a reconcile of 1,000 services makes 1,000 dumps.
  func request(
    _ name: @autoclosure () -> String, command: UInt8, dump: Bool = false,
    attributes: (inout NetlinkMessage) -> Void = { _ in }
  ) throws(IPVSKernelError) -> [NetlinkReply] {
    let seq = nextSequence()
    var message = codec.message(command, flags: Netlink.request | (dump ? Netlink.dump : 0), sequence: seq)
    attributes(&message)
    try send(message.bytes, name())
    var replies: [NetlinkReply] = []
    while true {
      for m in try receive(name()) where m.sequence == seq {
        if m.type == Netlink.error {
          let e = m.errorCode ?? 0
          if e == 0 { return replies }
          throw .rejected(operation: name(), errno: e, reason: .classify(errno: e, on: nil))
        }
        if m.type == Netlink.done { return replies }
        if m.type == codec.family { replies.append(m) }
        if !dump && !replies.isEmpty { return replies }
      }
    }
  }

  /// Sends requests in batches of `batchSize` per `send` and waits for every ack. Returns one errno
  /// (nil = success) per request, in order.
  func batch(count: Int, name: String, encode: (Int, UInt32) -> [UInt8]) throws(IPVSKernelError) -> [Int32?] {
    var results = [Int32?](repeating: nil, count: count)
    var start = 0
    while start < count {
      let end = min(count, start + batchSize)
      var buffer: [UInt8] = []
      var pending: [UInt32: Int] = [:]
      for index in start..<end {
        let seq = nextSequence()
        pending[seq] = index
        buffer += encode(index, seq)
      }
      try send(buffer, name)
      while !pending.isEmpty {
        for m in try receive(name) where m.type == Netlink.error {
          guard let index = pending.removeValue(forKey: m.sequence) else { continue }
          let e = m.errorCode ?? 0
          results[index] = e == 0 ? nil : e
        }
      }
      start = end
    }
    return results
  }

  private func send(_ bytes: [UInt8], _ name: @autoclosure () -> String) throws(IPVSKernelError) {
    let started = profile == nil ? nil : ContinuousClock.now
    let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    // A dump request runs the kernel's first dump pass inside send(2) (netlink_dump_start).
    if let started { profile?.send += ContinuousClock.now - started }
    if sent < 0 {
      let e = errno
      throw .socket(operation: "\(name()): send", errno: e)
    }
  }

  /// When set, `send` and `receive` add the time spent in send(2), recv(2) and in splitting
  /// replies (for the benchmark).
  var profile: DumpProfile?

  private func receive(_ name: @autoclosure () -> String) throws(IPVSKernelError) -> [NetlinkReply] {
    while true {
      let started = profile == nil ? nil : ContinuousClock.now
      let count = receiveBuffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
      // Copy out what arrived: replies keep slices of it, and slicing `receiveBuffer` itself would
      // make the next recv copy the whole 128 KiB buffer (copy-on-write).
      if count >= 0, let started, var p = profile {
        let received = ContinuousClock.now
        let messages = NetlinkReply.split(Array(receiveBuffer[0..<count])[...])
        p.recv += received - started
        p.split += ContinuousClock.now - received
        p.bytes += count
        p.recvCalls += 1
        profile = p
        return messages
      }
      if count >= 0 { return NetlinkReply.split(Array(receiveBuffer[0..<count])[...]) }
      let e = errno
      if e == EINTR { continue }
      if e == EAGAIN || e == EWOULDBLOCK { throw .timedOut(operation: name(), seconds: timeoutSeconds) }
      throw .socket(operation: "\(name()): recv", errno: e)
    }
  }
}
