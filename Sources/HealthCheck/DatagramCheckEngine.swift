import CLinuxEvents
import Glibc
import KeeperCore
import NIOCore
import Synchronization

/// Why the process-wide datagram check engine could not start.
struct DatagramCheckEngineError: Error, CustomStringConvertible {
  let call: String
  let errnoCode: Int32
  var description: String {
    "PING/UDP/DNS checker unavailable: \(call): \(String(cString: strerror(errnoCode)))"
  }
}

/// What one PING_CHECK, UDP_CHECK or DNS_CHECK probe sends, resolved once per checker.
struct DatagramCheckJob: Sendable {
  enum Kind: Sendable {
    case ping
    /// The datagram to send and, when a reply is required, the rule it must pass.
    case udp(payload: [UInt8], requireReply: Bool, rule: UDPReplyRule?)
    /// The query with id 0; each probe writes its own id.
    case dns(query: [UInt8])
  }

  let remote: RawSocketAddress
  let local: RawSocketAddress?
  let options: ProbeSocketOptions
  let timeout: Duration
  let kind: Kind

  init(
    remote: SocketAddress, local: SocketAddress?, options: ProbeSocketOptions, timeout: Duration, kind: Kind
  ) {
    self.remote = RawSocketAddress(remote)
    self.local = local.map(RawSocketAddress.init)
    self.options = options
    self.timeout = timeout
    self.kind = kind
  }

  var isPing: Bool {
    if case .ping = kind { return true }
    return false
  }

  /// The verdict when nothing answered in time (keepalived: UDP silence is up unless a reply is
  /// required; a ping or DNS query without answer is down).
  var timeoutOutcome: ProbeOutcome {
    let after = "within \(Double(timeout.nanoseconds) / 1e9)s"
    switch kind {
    case .ping: return .down(reason: "no ICMP echo reply \(after)")
    case .udp(_, let required, _):
      return required ? .down(reason: "no UDP reply \(after)") : .up(weight: nil)
    case .dns: return .down(reason: "no DNS answer \(after)")
    }
  }
}

/// How PING_CHECK opens its ICMP sockets.
enum ICMPSocketMode: Sendable {
  /// A ping socket (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6) where net.ipv4.ping_group_range admits the
  /// process's group, else a raw socket (CAP_NET_RAW).
  case automatic
  case datagramOnly
  case rawOnly
}

/// Runs every PING_CHECK, UDP_CHECK and DNS_CHECK of the process on one thread, as
/// `TCPCheckEngine` runs TCP_CHECK: a schedule of probe starts and a heap of reply deadlines,
/// non-blocking sockets in one epoll set, each checker's `CheckerVerdict`; no task, promise or
/// allocation per probe, and only transitions leave the thread.
///
/// UDP and DNS probes each use a connected UDP socket opened at the start and closed at the end of
/// the probe (a connected socket is what turns an ICMP port unreachable into ECONNREFUSED). Pings
/// share one ICMP socket per family and binding (`bindto`, `bind_if`, `fwmark`), opened at the
/// first probe that needs it and closed when its last checker goes; a reply is matched to its
/// probe by the token and serial in its payload, its sequence number and its source address.
///
/// Invariants: a slot is free, waiting (one live entry in `starts`) or in flight (`inFlight`, one
/// live entry in `timeouts`, and for UDP/DNS its descriptor in epoll); heap entries and epoll
/// events carry the slot's generation and stale ones are ignored; an endpoint's `users` counts the
/// slots holding it. Every descriptor opened here is closed here. Observers are called without
/// the engine's lock held.
final class DatagramCheckEngine: Sendable {
  static let shared: Result<DatagramCheckEngine, DatagramCheckEngineError> = start(mode: .automatic)

  static let maxStartsPerPass = 512
  static let timeoutSlack = TimeAmount.milliseconds(10)
  static let startGranularity = TimeAmount.milliseconds(5)
  /// Echo requests sent in one pass before the shared ICMP sockets are read.
  static let echoesPerRead = 32
  /// Receive buffer asked for each shared ICMP socket (SO_RCVBUFFORCE as root, else capped by
  /// net.core.rmem_max): replies to every checker of a family queue there.
  static let icmpReceiveBuffer: Int32 = 4 << 20
  /// Datagrams read from one ICMP socket per wake-up before other work is looked at.
  static let maxRepliesPerPass = 256
  private static let endpointFlag: UInt64 = 1 << 63

  typealias Observer = TCPCheckEngine.Observer

  private enum Mode {
    case periodic(Observer)
    case once(@Sendable (ProbeOutcome) -> Void)
  }

  private struct Slot {
    var generation: UInt32 = 0
    var job: DatagramCheckJob?
    var mode: Mode?
    var verdict: CheckerVerdict?
    var probes = 0
    var lastLatency: Duration?
    var inFlight = false
    /// The UDP/DNS probe's socket while in flight; -1 otherwise.
    var fd: Int32 = -1
    /// The ICMP endpoint a ping slot holds (from its first probe until it is freed); -1 if none.
    var endpoint = -1
    /// Counts this slot's probes: a ping's payload carries it, a DNS query's id is its low bits.
    var serial: UInt32 = 0
    var sequence: UInt16 = 0
    var due = NIODeadline.uptimeNanoseconds(0)
    var started = NIODeadline.uptimeNanoseconds(0)
  }

  private enum EndpointLookup {
    case success(Int)
    case failure(String)
  }

  /// Who shares an ICMP socket: same family, source address and socket options.
  private struct EndpointKey: Hashable {
    var family: Int32
    var local: [UInt8]
    var options: ProbeSocketOptions
  }

  private struct Endpoint {
    var key: EndpointKey
    var fd: Int32
    /// A raw socket: replies carry our identifier (and, for IPv4, the IP header).
    var raw: Bool
    var identifier: UInt16
    var sequence: UInt16 = 0
    var users = 0
  }

  private struct State {
    var slots: [Slot] = []
    var free: [UInt32] = []
    var starts = ProbeHeap<UInt64>()
    var timeouts = ProbeHeap<UInt64>()
    var endpoints: [Endpoint?] = []
    var endpointIndex: [EndpointKey: Int] = [:]
    var sleepingUntil: NIODeadline?
    var lastStartPass: NIODeadline?
    /// Echo requests sent since the ICMP sockets were last read.
    var unreadEchoes = 0
    var pingSocketsOpened = 0
    var rawSocketsOpened = 0
    /// Scratch for the datagram being built or read; reused by every probe.
    var buffer = [UInt8](repeating: 0, count: 2048)
  }

  private enum Notice {
    case started(@Sendable (Duration) -> Void, Duration)
    case transition(@Sendable (CheckerTransition, Duration) -> Void, CheckerTransition, Duration)
    case finished(@Sendable (ProbeOutcome) -> Void, ProbeOutcome)
  }

  private let epoll: EngineEpoll
  private let icmpMode: ICMPSocketMode
  private let state = Mutex(State())

  private init(epoll: EngineEpoll, icmpMode: ICMPSocketMode) {
    self.epoll = epoll
    self.icmpMode = icmpMode
  }

  // MARK: interface

  /// Adds a periodic checker whose first probe starts after `delay`; returns its handle.
  func add(_ job: DatagramCheckJob, schedule: CheckSchedule, after delay: Duration, observer: Observer)
    -> UInt64
  {
    insert(job, mode: .periodic(observer), verdict: CheckerVerdict(schedule: schedule), after: delay)
  }

  /// Probes once now and calls `completion` on the engine thread with the outcome.
  func probeOnce(_ job: DatagramCheckJob, completion: @escaping @Sendable (ProbeOutcome) -> Void) {
    _ = insert(job, mode: .once(completion), verdict: nil, after: .zero)
  }

  /// Stops a periodic checker: a probe in flight is abandoned, none starts after this returns, and
  /// its observer is not called again.
  func remove(_ handle: UInt64) {
    state.withLock { s in
      guard let index = Self.liveIndex(handle, in: s) else { return }
      Self.release(index, in: &s)
    }
  }

  /// The checkers' verdicts and counters (nil for one removed), read under one lock.
  func snapshots(_ handles: [UInt64]) -> [RunnerSnapshot?] {
    state.withLock { s in
      handles.map { handle in
        guard let index = Self.liveIndex(handle, in: s), let verdict = s.slots[index].verdict else {
          return nil
        }
        return RunnerSnapshot(
          verdict: verdict, probes: s.slots[index].probes, lastLatency: s.slots[index].lastLatency)
      }
    }
  }

  /// Checkers and one-shot probes the engine holds, and ICMP sockets open (for tests).
  var activeCount: Int { state.withLock { $0.slots.count - $0.free.count } }
  var openEndpoints: Int { state.withLock { $0.endpoints.reduce(0) { $0 + ($1 == nil ? 0 : 1) } } }
  /// ICMP sockets opened so far, ping and raw (for tests: which path ran).
  var icmpSocketsOpened: (ping: Int, raw: Int) {
    state.withLock { ($0.pingSocketsOpened, $0.rawSocketsOpened) }
  }

  private func insert(_ job: DatagramCheckJob, mode: Mode, verdict: CheckerVerdict?, after delay: Duration)
    -> UInt64
  {
    let due = NIODeadline.now() + .nanoseconds(max(0, delay.nanoseconds))
    let (handle, wake) = state.withLock { s -> (UInt64, Bool) in
      let index: Int
      if let reused = s.free.popLast() {
        index = Int(reused)
      } else {
        index = s.slots.count
        s.slots.append(Slot())
      }
      s.slots[index].job = job
      s.slots[index].mode = mode
      s.slots[index].verdict = verdict
      s.slots[index].due = due
      s.slots[index].serial = UInt32.random(in: 0...UInt32.max)
      let handle = Self.token(index, s.slots[index].generation)
      s.starts.push(handle, at: due)
      guard let until = s.sleepingUntil, due < until else { return (handle, false) }
      s.sleepingUntil = nil
      return (handle, true)
    }
    if wake { epoll.wake() }
    return handle
  }

  private static func token(_ index: Int, _ generation: UInt32) -> UInt64 {
    UInt64(index) << 32 | UInt64(generation)
  }

  private static func liveIndex(_ token: UInt64, in s: State) -> Int? {
    let index = Int(token >> 32)
    guard token & endpointFlag == 0, index < s.slots.count, s.slots[index].job != nil,
      s.slots[index].generation == UInt32(truncatingIfNeeded: token)
    else { return nil }
    return index
  }

  /// Frees slot `index`: closes its probe socket and lets go of its ICMP endpoint.
  private static func release(_ index: Int, in s: inout State) {
    if s.slots[index].fd >= 0 { close(s.slots[index].fd) }
    let endpoint = s.slots[index].endpoint
    if endpoint >= 0, var e = s.endpoints[endpoint] {
      e.users -= 1
      if e.users > 0 {
        s.endpoints[endpoint] = e
      } else {
        close(e.fd)
        s.endpoints[endpoint] = nil
        s.endpointIndex[e.key] = nil
      }
    }
    s.slots[index] = Slot(generation: s.slots[index].generation &+ 1)
    s.free.append(UInt32(index))
  }

  // MARK: the engine thread

  /// A new engine with its own thread; the process uses `shared`, tests may start their own.
  static func start(mode: ICMPSocketMode) -> Result<DatagramCheckEngine, DatagramCheckEngineError> {
    let epoll: EngineEpoll
    switch EngineEpoll.make() {
    case .success(let made): epoll = made
    case .failure(let failure):
      return .failure(DatagramCheckEngineError(call: failure.call, errnoCode: failure.errnoCode))
    }
    let engine = DatagramCheckEngine(epoll: epoll, icmpMode: mode)
    if let failure = epoll.startThread(named: "lvsk-dgram-check", { engine.run() }) {
      return .failure(DatagramCheckEngineError(call: failure.call, errnoCode: failure.errnoCode))
    }
    return .success(engine)
  }

  private func run() {
    var events = [epoll_event](repeating: epoll_event(), count: Int(EngineEpoll.capacity))
    var ready: [(token: UInt64, flags: UInt32)] = []
    var notices: [Notice] = []
    var moreWork = false
    while true {
      let waitMs =
        moreWork
        ? 0
        : state.withLock { s -> Int32 in
          EngineEpoll.sleepMilliseconds(
            earliestStart: s.starts.earliest, earliestTimeout: s.timeouts.earliest,
            lastStartPass: s.lastStartPass, timeoutSlack: Self.timeoutSlack,
            startGranularity: Self.startGranularity, sleepingUntil: &s.sleepingUntil)
        }
      epoll.wait(&events, timeoutMs: waitMs, ready: &ready)
      notices.removeAll(keepingCapacity: true)
      moreWork = state.withLock { s in
        s.sleepingUntil = nil
        let now = NIODeadline.now()
        var more = false
        for r in ready {
          if r.token & Self.endpointFlag != 0 {
            more =
              receiveEchoes(Int(r.token & ~Self.endpointFlag), at: now, in: &s, notices: &notices) || more
          } else if let index = Self.liveIndex(r.token, in: s), s.slots[index].fd >= 0 {
            receiveDatagram(index, flags: r.flags, at: now, in: &s, notices: &notices)
          }
        }
        while let entry = s.timeouts.popDue(now) {
          guard let index = Self.liveIndex(entry.payload, in: s), s.slots[index].inFlight,
            let job = s.slots[index].job
          else { continue }
          finish(index, job.timeoutOutcome, at: now, in: &s, notices: &notices)
        }
        var started = 0
        while started < Self.maxStartsPerPass, let entry = s.starts.popDue(now) {
          guard let index = Self.liveIndex(entry.payload, in: s), !s.slots[index].inFlight,
            s.slots[index].due == entry.deadline
          else { continue }
          started += 1
          begin(index, at: now, in: &s, notices: &notices)
          // A loopback or nearby host answers within the sendto: read the shared ICMP sockets
          // every few requests so a pass of hundreds of starts cannot overflow their buffers.
          if s.unreadEchoes >= Self.echoesPerRead { readAllEchoes(at: now, in: &s, notices: &notices) }
        }
        if started > 0 { s.lastStartPass = now }
        return more || started == Self.maxStartsPerPass
      }
      for notice in notices {
        switch notice {
        case .started(let call, let lateness): call(lateness)
        case .transition(let call, let transition, let latency): call(transition, latency)
        case .finished(let call, let outcome): call(outcome)
        }
      }
    }
  }

  /// Starts slot `index`'s probe: in flight afterwards, or finished at once.
  private func begin(_ index: Int, at now: NIODeadline, in s: inout State, notices: inout [Notice]) {
    guard let job = s.slots[index].job else { return }
    if case .periodic(let observer)? = s.slots[index].mode, let onStart = observer.onProbeStart {
      notices.append(.started(onStart, .nanoseconds(max(0, (now - s.slots[index].due).nanoseconds))))
    }
    s.slots[index].started = now
    s.slots[index].serial &+= 1
    let failure: String?
    switch job.kind {
    case .ping: failure = sendEcho(index, job, in: &s)
    case .udp(let payload, _, _):
      failure = openConnected(index, job, in: &s) { fd, _ in
        payload.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == payload.count
      }
    case .dns(let query):
      let id = UInt16(truncatingIfNeeded: s.slots[index].serial)
      failure = openConnected(index, job, in: &s) { fd, buffer in
        for i in query.indices { buffer[i] = query[i] }
        buffer[0] = UInt8(id >> 8)
        buffer[1] = UInt8(id & 0xff)
        return buffer.withUnsafeBytes { send(fd, $0.baseAddress, query.count, Int32(MSG_NOSIGNAL)) }
          == query.count
      }
    }
    if let failure {
      finish(index, .down(reason: failure), at: now, in: &s, notices: &notices)
      return
    }
    s.slots[index].inFlight = true
    s.timeouts.push(
      Self.token(index, s.slots[index].generation), at: now + .nanoseconds(max(1, job.timeout.nanoseconds)))
  }

  /// Opens, binds and connects slot `index`'s UDP socket, sends with `send` and registers the
  /// socket for its reply; nil on success (the socket is the slot's), else why not (closed).
  private func openConnected(
    _ index: Int, _ job: DatagramCheckJob, in s: inout State, send: (Int32, inout [UInt8]) -> Bool
  ) -> String? {
    let fd = socket(
      job.remote.family, Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return "socket: \(Self.reason(errno))" }
    if let failure = Self.bindSocket(fd, job) {
      close(fd)
      return failure
    }
    if job.remote.withSockAddr({ connect(fd, $0, $1) }) != 0 {
      let e = errno
      close(fd)
      return "connect: \(Self.reason(e))"
    }
    if !send(fd, &s.buffer) {
      let e = errno
      close(fd)
      return "send: \(Self.reason(e))"
    }
    guard
      epoll.control(
        EPOLL_CTL_ADD, fd, for: EPOLLIN.rawValue, token: Self.token(index, s.slots[index].generation))
    else {
      let e = errno
      close(fd)
      return "epoll_ctl: \(Self.reason(e))"
    }
    s.slots[index].fd = fd
    return nil
  }

  /// Sets `bind_if`/`fwmark` and binds `bindto`/`bind_port`; nil on success, else why not.
  private static func bindSocket(_ fd: Int32, _ job: DatagramCheckJob) -> String? {
    if let failure = job.options.apply(to: fd) { return failure }
    if let local = job.local, local.withSockAddr({ bind(fd, $0, $1) }) != 0 {
      return "bind: \(reason(errno))"
    }
    return nil
  }

  /// The UDP/DNS socket of slot `index` is readable or has an error (an ICMP unreachable).
  private func receiveDatagram(
    _ index: Int, flags: UInt32, at now: NIODeadline, in s: inout State, notices: inout [Notice]
  ) {
    guard let job = s.slots[index].job else { return }
    let fd = s.slots[index].fd
    let id = UInt16(truncatingIfNeeded: s.slots[index].serial)
    for _ in 0..<16 {
      let count = s.buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_TRUNC)) }
      if count < 0 {
        let e = errno
        if e == EAGAIN || e == EINTR { return }
        let what = e == ECONNREFUSED ? "ICMP port unreachable" : "ICMP unreachable"
        finish(index, .down(reason: "\(what): \(Self.reason(e))"), at: now, in: &s, notices: &notices)
        return
      }
      let length = count
      let judged: ProbeOutcome? = s.buffer.withUnsafeBytes { all in
        let reply = UnsafeRawBufferPointer(rebasing: all[0..<min(length, all.count)])
        switch job.kind {
        case .ping: return nil
        case .udp(_, let required, let rule):
          guard required, let rule, let failure = rule.failure(reply, length: length) else {
            return .up(weight: nil)
          }
          return .down(reason: failure)
        case .dns(let query):
          return query.withUnsafeBytes { q -> ProbeOutcome? in
            guard case .outcome(let o) = DNSMessage.judge(reply, query: q, id: id) else { return nil }
            return o
          }
        }
      }
      if let judged {
        finish(index, judged, at: now, in: &s, notices: &notices)
        return
      }
    }
  }

  /// Sends slot `index`'s echo request on its family's shared ICMP socket; nil on success.
  private func sendEcho(_ index: Int, _ job: DatagramCheckJob, in s: inout State) -> String? {
    if s.slots[index].endpoint < 0 {
      switch endpoint(for: job, in: &s) {
      case .success(let e):
        s.slots[index].endpoint = e
        s.endpoints[e]?.users += 1
      case .failure(let reason): return reason
      }
    }
    guard let e = s.endpoints[s.slots[index].endpoint] else { return "ICMP socket closed" }
    let sequence = e.sequence &+ 1
    s.endpoints[s.slots[index].endpoint]?.sequence = sequence
    s.slots[index].sequence = sequence
    let v6 = job.remote.family == AF_INET6
    ICMPEcho.request(
      into: &s.buffer, v6: v6, identifier: e.identifier, sequence: sequence,
      token: Self.token(index, s.slots[index].generation), serial: s.slots[index].serial,
      checksum: e.raw && !v6)
    let sent = s.buffer.withUnsafeBytes { bytes in
      job.remote.withSockAddr {
        sendto(e.fd, bytes.baseAddress, ICMPEcho.requestLength, Int32(MSG_NOSIGNAL), $0, $1)
      }
    }
    guard sent == ICMPEcho.requestLength else { return "ICMP echo not sent: \(Self.reason(errno))" }
    s.unreadEchoes += 1
    return nil
  }

  /// The index of the open ICMP socket for `job`'s family and binding, opening it if needed.
  private func endpoint(for job: DatagramCheckJob, in s: inout State) -> EndpointLookup {
    let local: [UInt8] =
      job.local.map { l in l.withSockAddr { p, n in Array(UnsafeRawBufferPointer(start: p, count: Int(n))) } }
      ?? []
    let key = EndpointKey(family: job.remote.family, local: local, options: job.options)
    if let index = s.endpointIndex[key] { return .success(index) }
    let v6 = key.family == AF_INET6
    let proto = Int32(v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)
    let flags = Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
    var raw = false
    var fd: Int32 = -1
    if icmpMode != .rawOnly { fd = socket(key.family, Int32(SOCK_DGRAM.rawValue) | flags, proto) }
    if fd < 0 && icmpMode != .datagramOnly {
      fd = socket(key.family, Int32(SOCK_RAW.rawValue) | flags, proto)
      raw = true
    }
    guard fd >= 0 else {
      return .failure("ICMP socket: \(Self.reason(errno)) (needs CAP_NET_RAW or net.ipv4.ping_group_range)")
    }
    if raw { Self.filterEchoReplies(fd, v6: v6) }
    var size = Self.icmpReceiveBuffer
    if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
      _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    if let failure = Self.bindSocket(fd, job) {
      close(fd)
      return .failure(failure)
    }
    let index = s.endpoints.firstIndex { $0 == nil } ?? s.endpoints.count
    if index == s.endpoints.count { s.endpoints.append(nil) }
    guard epoll.control(EPOLL_CTL_ADD, fd, for: EPOLLIN.rawValue, token: Self.endpointFlag | UInt64(index))
    else {
      let e = errno
      close(fd)
      return .failure("epoll_ctl: \(Self.reason(e))")
    }
    s.endpoints[index] = Endpoint(key: key, fd: fd, raw: raw, identifier: UInt16.random(in: 1...UInt16.max))
    s.endpointIndex[key] = index
    if raw { s.rawSocketsOpened += 1 } else { s.pingSocketsOpened += 1 }
    return .success(index)
  }

  /// A raw ICMP socket sees every ICMP packet the host receives: let only echo replies through.
  private static func filterEchoReplies(_ fd: Int32, v6: Bool) {
    if v6 {
      // struct icmp6_filter: a set bit blocks that type; ICMP6_FILTER is option 1.
      var filter = [UInt32](repeating: .max, count: 8)
      filter[129 >> 5] &= ~(1 << (129 & 31))
      _ = filter.withUnsafeBytes {
        setsockopt(fd, Int32(IPPROTO_ICMPV6), 1, $0.baseAddress, socklen_t($0.count))
      }
    } else {
      // ICMP_FILTER (SOL_RAW, 1): a set bit blocks that type; echo reply is type 0.
      var mask: UInt32 = ~1
      _ = setsockopt(fd, 255, 1, &mask, socklen_t(MemoryLayout<UInt32>.size))
    }
  }

  /// Reads the replies waiting on every open ICMP socket.
  private func readAllEchoes(at now: NIODeadline, in s: inout State, notices: inout [Notice]) {
    s.unreadEchoes = 0
    for e in s.endpoints.indices where s.endpoints[e] != nil {
      _ = receiveEchoes(e, at: now, in: &s, notices: &notices)
    }
  }

  /// Reads echo replies waiting on endpoint `e`; true if it stopped with replies left.
  private func receiveEchoes(_ e: Int, at now: NIODeadline, in s: inout State, notices: inout [Notice])
    -> Bool
  {
    guard e < s.endpoints.count, let endpoint = s.endpoints[e] else { return false }
    let v6 = endpoint.key.family == AF_INET6
    var from = sockaddr_in6()
    for _ in 0..<Self.maxRepliesPerPass {
      var fromLength = socklen_t(MemoryLayout<sockaddr_in6>.size)
      let count = s.buffer.withUnsafeMutableBytes { buffer in
        withUnsafeMutablePointer(to: &from) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            recvfrom(endpoint.fd, buffer.baseAddress, buffer.count, 0, $0, &fromLength)
          }
        }
      }
      guard count >= 0 else { return false }
      let reply = s.buffer.withUnsafeBytes {
        ICMPEcho.reply(UnsafeRawBufferPointer(rebasing: $0[0..<count]), v6: v6, ipHeader: endpoint.raw && !v6)
      }
      guard let reply, !endpoint.raw || reply.identifier == endpoint.identifier,
        let index = Self.liveIndex(reply.token, in: s), s.slots[index].inFlight,
        s.slots[index].endpoint == e, s.slots[index].serial == reply.serial,
        s.slots[index].sequence == reply.sequence, let job = s.slots[index].job,
        Self.sameHost(from, job.remote)
      else { continue }
      finish(index, .up(weight: nil), at: now, in: &s, notices: &notices)
    }
    return true
  }

  /// Whether `from` is `remote`'s address (ports and scope aside).
  private static func sameHost(_ from: sockaddr_in6, _ remote: RawSocketAddress) -> Bool {
    withUnsafeBytes(of: from) { a in
      remote.withSockAddr { p, _ in
        let b = UnsafeRawBufferPointer(start: p, count: MemoryLayout<sockaddr_in6>.size)
        let range = remote.family == AF_INET6 ? 8..<24 : 4..<8
        return a[0] == b[0] && a[1] == b[1] && a[range].elementsEqual(b[range])
      }
    }
  }

  /// Records the outcome of slot `index`'s probe, closing its UDP socket, and schedules the next
  /// one, or frees the slot.
  private func finish(
    _ index: Int, _ outcome: ProbeOutcome, at now: NIODeadline, in s: inout State, notices: inout [Notice]
  ) {
    if s.slots[index].fd >= 0 {
      close(s.slots[index].fd)
      s.slots[index].fd = -1
    }
    s.slots[index].inFlight = false
    let latency = Duration.nanoseconds((now - s.slots[index].started).nanoseconds)
    switch s.slots[index].mode {
    case .once(let completion)?:
      notices.append(.finished(completion, outcome))
      Self.release(index, in: &s)
    case .periodic(let observer)?:
      guard let step = s.slots[index].verdict?.record(outcome) else {
        Self.release(index, in: &s)
        return
      }
      s.slots[index].probes += 1
      s.slots[index].lastLatency = latency
      if let transition = step.transition {
        notices.append(.transition(observer.onTransition, transition, latency))
      }
      let due = now + .nanoseconds(max(0, step.nextDelay.nanoseconds))
      s.slots[index].due = due
      s.starts.push(Self.token(index, s.slots[index].generation), at: due)
    case nil:
      Self.release(index, in: &s)
    }
  }

  private static func reason(_ code: Int32) -> String { ErrnoText.text(code) }
}
