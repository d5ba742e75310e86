import CLinuxEvents
import COpenSSL
import Glibc
import KeeperCore
import NIOCore
import Synchronization

/// Why the process-wide TCP check engine could not start.
struct TCPCheckEngineError: Error, CustomStringConvertible {
  let call: String
  let errnoCode: Int32
  var description: String { "TCP checker unavailable: \(call): \(String(cString: strerror(errnoCode)))" }
}

/// A socket address resolved once into what connect(2) and bind(2) take. There is one per checker,
/// so an IPv4 address is held as its address and port (the `sockaddr_in` is built on the stack for
/// each call, 8 bytes inline instead of a 28-byte `sockaddr_in6`); any other family keeps its
/// bytes (at most a `sockaddr_in6`'s 28) in a shared box.
struct RawSocketAddress: @unchecked Sendable {
  private final class Other: @unchecked Sendable {
    let storage: sockaddr_in6
    init(_ storage: sockaddr_in6) { self.storage = storage }
  }
  private enum Storage {
    /// `sin_addr.s_addr` and `sin_port`, both in network byte order as the kernel takes them.
    case v4(address: UInt32, port: UInt16)
    case other(Other)
  }
  private let storage: Storage

  /// `AF_INET` or `AF_INET6`.
  var family: Int32 {
    switch storage {
    case .v4: AF_INET
    case .other(let other): Int32(other.storage.sin6_family)
    }
  }
  var length: socklen_t {
    socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
  }

  init(_ address: SocketAddress) {
    storage = address.withSockAddr { pointer, length in
      if pointer.pointee.sa_family == sa_family_t(AF_INET) && length >= MemoryLayout<sockaddr_in>.size {
        let v4 = UnsafeRawPointer(pointer).loadUnaligned(as: sockaddr_in.self)
        return .v4(address: v4.sin_addr.s_addr, port: v4.sin_port)
      }
      var storage = sockaddr_in6()
      withUnsafeMutableBytes(of: &storage) { target in
        target.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: min(length, target.count)))
      }
      return .other(Other(storage))
    }
  }

  func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    switch storage {
    case .v4(let address, let port):
      var v4 = sockaddr_in()
      v4.sin_family = sa_family_t(AF_INET)
      v4.sin_port = port
      v4.sin_addr.s_addr = address
      return withUnsafeBytes(of: &v4) { raw in
        body(
          raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    case .other(let other):
      return withUnsafeBytes(of: other.storage) { raw in
        body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
      }
    }
  }
}

/// What one TCP_CHECK probe connects to, resolved once per checker. 24 bytes inline (the engine
/// keeps one per checker in its slot): the remote address, the timeout in nanoseconds, and one
/// reference to what few checkers have (a binding, socket options, a conversation).
struct TCPCheckJob: Sendable {
  /// `bindto`/`bind_port`, the socket options, and what a checker with a conversation adds: out
  /// of line, nil for a plain TCP_CHECK, so the engine's slot does not carry ~110 empty bytes.
  final class Extras: Sendable {
    let local: RawSocketAddress?
    let options: ProbeSocketOptions
    let template: (any ConversationTemplate)?
    let tls: TLSLegs?
    init(
      local: RawSocketAddress?, options: ProbeSocketOptions, template: (any ConversationTemplate)?,
      tls: TLSLegs?
    ) {
      self.local = local
      self.options = options
      self.template = template
      self.tls = tls
    }
  }

  let remote: RawSocketAddress
  /// Bounds each leg: its connect, and with a conversation the whole exchange (nanoseconds).
  private let timeoutNanoseconds: Int64
  let extras: Extras?

  var timeout: Duration { .nanoseconds(timeoutNanoseconds) }
  /// nil: connect-only (TCP_CHECK, up once connected). Otherwise each leg of a probe is a
  /// connection followed by the template's conversation for that leg.
  var template: (any ConversationTemplate)? { extras?.template }
  /// nil: plaintext. Otherwise every leg runs TLS (the engine's `EngineTLSContext`) between
  /// connect and conversation; only with a template.
  var tls: TLSLegs? { extras?.tls }

  var local: RawSocketAddress? { extras?.local }
  var options: ProbeSocketOptions { extras?.options ?? .none }
  /// Connections per probe: 1 when connect-only.
  var legs: Int { template.map { max(1, $0.legs) } ?? 1 }

  init(
    remote: SocketAddress, local: SocketAddress?, options: ProbeSocketOptions = .none, timeout: Duration,
    template: (any ConversationTemplate)? = nil, tls: TLSLegs? = nil
  ) {
    self.remote = RawSocketAddress(remote)
    self.extras =
      local == nil && options == .none && template == nil
      ? nil
      : Extras(
        local: local.map(RawSocketAddress.init), options: options, template: template,
        tls: template == nil ? nil : tls)
    self.timeoutNanoseconds = timeout.nanoseconds
  }

  /// Built when a probe times out rather than stored: a stored one is a heap string per checker.
  /// A leg still connecting says so; one past its connect timed out in its exchange.
  func timeoutReason(connecting: Bool) -> String {
    connecting
      ? "connect timed out after \(Double(timeout.nanoseconds) / 1e9)s"
      : "timed out after \(timeout.formattedSeconds)"
  }

  /// A failure of leg `leg` seen by the engine (connect, reset, timeout), worded by the template.
  func failure(_ reason: String, leg: Int) -> ProbeOutcome {
    .down(reason: template?.describe(failure: reason, leg: leg) ?? reason)
  }
}

/// Who hears about a periodic engine checker. Called on the engine thread, never under the
/// engine's lock; the engine holds it from `add` until `remove`.
protocol TCPCheckSubscriber: AnyObject, Sendable {
  /// Whether `probeStarted` is wanted (benchmarks); read as each probe starts, must be cheap.
  var wantsProbeStarts: Bool { get }
  /// Lateness of a probe start against its schedule.
  func probeStarted(lateness: Duration)
  func checkerTransitioned(_ transition: CheckerTransition, latency: Duration)
}

/// Runs every engine checker of the process on one thread: TCP_CHECK (connect-only) and the
/// stream checkers whose job carries a `ConversationTemplate`. The thread keeps its own schedule
/// of probe starts, makes the non-blocking connects, drives each conversation from epoll
/// readiness (reads into one scratch buffer, writes from the slot's output buffer, both reused),
/// enforces each leg's deadline and read cap, and keeps each checker's `CheckerVerdict`. A
/// connect-only probe costs socket, connect, epoll_ctl and close (plus getsockopt on a failure)
/// and no task, promise or lock hand-off per probe; subscribers hear only transitions. A
/// conversing leg adds its writes and reads only: the request goes out in the pass that sees the
/// connect complete, and the descriptor stays registered (edge-triggered) until it is closed.
///
/// Invariants: a slot is in one of three states — free, waiting (one live entry in `starts`), or
/// in flight (its descriptor registered with epoll, and one entry in `timeouts` whose deadline
/// equals the slot's `deadline`); heap entries and epoll events carry the slot's generation, so
/// those of a freed slot are recognised as stale, and a timeout entry whose deadline is not the
/// slot's current one belongs to an earlier leg or probe and is ignored. A probe's legs run in
/// turn, one descriptor at a time; each leg has its own deadline covering connect and exchange.
/// Every descriptor opened here is closed here. Observers are called without the engine's lock held.
final class TCPCheckEngine: Sendable {
  static let shared: Result<TCPCheckEngine, TCPCheckEngineError> = start()

  /// Starts per pass before completions are looked at again: a fairness bound under overload.
  static let maxStartsPerPass = 512
  /// Connect timeouts are handled up to this late, so the stale timeout entries of probes that
  /// already finished share wake-ups instead of costing one each.
  static let timeoutSlack = TimeAmount.milliseconds(10)
  /// After a pass that started probes, the next start pass is at least this much later, so starts
  /// due close together share one wake-up (at 500 starts/s, ~200 passes instead of ~500); an
  /// isolated start is not delayed. Starts are never early, and at most this late while the
  /// thread keeps up.
  static let startGranularity = TimeAmount.milliseconds(5)
  /// While readiness events come closer together than this, and fast enough that an interval is
  /// expected to hold two or more (`IOCoalescing`), the thread sleeps out the rest of this
  /// interval after a pass before it collects events again, so they share one wake-up (at 1,000
  /// HTTP probes/s, ~200 wake-ups/s instead of one per connect and one per response). Each event
  /// is then handled at most this late; an isolated event, or any at low rates, at once.
  static let ioGranularity = TimeAmount.milliseconds(5)
  /// The engine thread's one receive buffer: every conversation's bytes pass through it.
  static let scratchBytes = 16 << 10
  /// recv calls per readiness event and slot before other slots get their turn (the descriptor is
  /// then re-registered, so epoll reports the rest on the next pass).
  static let readsPerEvent = 4
  /// A conversing leg's descriptor is registered once, edge-triggered for input and output: no
  /// epoll_ctl between connect and close. Edge-triggered means every handler reads until the
  /// socket is drained (EAGAIN, OpenSSL's WANT_READ, or a short read when the event does not
  /// report the peer's FIN: EPOLLRDHUP says an end of stream waits behind the bytes) or
  /// re-registers it.
  static let conversingInterest =
    EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
  /// An output buffer grown beyond this is dropped at the end of its probe instead of kept.
  static let keptOutputCapacity = 16 << 10

  /// Who hears about a periodic checker, for callers that pass closures (tests): a subscriber
  /// made of them. The monitor's runners are subscribers themselves, so a checker costs no
  /// closure context of its own.
  final class Observer: TCPCheckSubscriber {
    /// Lateness of each probe start against its schedule (benchmarks); must be cheap.
    let onProbeStart: (@Sendable (Duration) -> Void)?
    let onTransition: @Sendable (CheckerTransition, Duration) -> Void
    init(
      onProbeStart: (@Sendable (Duration) -> Void)?,
      onTransition: @escaping @Sendable (CheckerTransition, Duration) -> Void
    ) {
      self.onProbeStart = onProbeStart
      self.onTransition = onTransition
    }
    var wantsProbeStarts: Bool { onProbeStart != nil }
    func probeStarted(lateness: Duration) { onProbeStart?(lateness) }
    func checkerTransitioned(_ transition: CheckerTransition, latency: Duration) {
      onTransition(transition, latency)
    }
  }

  /// A periodic checker's subscriber (held by its slot until `remove`), or a one-shot probe's
  /// completion.
  private enum Mode {
    case periodic(any TCPCheckSubscriber)
    case once(@Sendable (ProbeOutcome) -> Void)
  }

  /// Where an in-flight leg is.
  private enum Phase: UInt8 {
    case connecting
    case handshaking
    case talking
  }

  /// What `fd` is registered with epoll for.
  private enum Interest: UInt8 {
    case none
    /// A connect-only leg: EPOLLOUT.
    case connect
    /// A conversing leg: `conversingInterest`.
    case conversation

    var events: UInt32 {
      switch self {
      case .none: 0
      case .connect: EPOLLOUT.rawValue
      case .conversation: TCPCheckEngine.conversingInterest
      }
    }
  }

  /// One checker (or one-shot probe): 152 bytes, one per real server at scale, so the fields are
  /// ordered so that the small ones fill the room after `mode` and `verdict` (Swift places a field
  /// right after the previous one's size, not its stride), and what only a conversation needs is
  /// out of line (`exchange`, `job.extras`).
  private struct Slot {
    var generation: UInt32 = 0
    var fd: Int32 = -1
    var job: TCPCheckJob?
    var mode: Mode?
    var phase = Phase.connecting
    var interest = Interest.none
    /// Probes finished; saturates (13 years at ten a second).
    var probeCount: UInt32 = 0
    var verdict: CheckerVerdict?
    /// The leg in flight (0..<job.legs).
    var legIndex: Int32 = 0
    /// A conversing checker's exchange state, made once with the slot (nil for TCP_CHECK).
    var exchange: Exchange?
    /// The last probe's latency in nanoseconds; negative before the first.
    var lastLatencyNanoseconds: Int64 = -1
    var due = NIODeadline.uptimeNanoseconds(0)
    var started = NIODeadline.uptimeNanoseconds(0)
    /// The in-flight leg's deadline: the one live entry of this slot in `timeouts`.
    var deadline = NIODeadline.uptimeNanoseconds(0)

    var probes: Int { Int(probeCount) }
    var leg: Int {
      get { Int(legIndex) }
      set { legIndex = Int32(clamping: newValue) }
    }
    var lastLatency: Duration? {
      get { lastLatencyNanoseconds < 0 ? nil : .nanoseconds(lastLatencyNanoseconds) }
      set { lastLatencyNanoseconds = newValue.map { max(0, $0.nanoseconds) } ?? -1 }
    }
  }

  /// What only a conversing checker's slot needs, out of line so a TCP_CHECK slot does not carry
  /// it; made when the checker is added and kept across its probes (buffers keep capacity).
  /// Touched only under the engine's lock.
  private final class Exchange {
    /// Bytes read on this leg so far (against the template's cap).
    var received = 0
    /// Bytes of `output` already written.
    var sent = 0
    var conversation: (any ProbeConversation)?
    /// What the conversation asked to send; capacity kept between probes.
    var output: [UInt8] = []
    /// The leg's OpenSSL session (SSL_GET), freed when the leg ends.
    var ssl: OpaquePointer?
  }

  private struct State {
    var slots: [Slot] = []
    var free: [UInt32] = []
    var starts = ProbeHeap<UInt64>()
    var timeouts = ProbeHeap<UInt64>()
    /// When the thread sleeps in epoll_wait: the time it will wake at; nil while awake.
    var sleepingUntil: NIODeadline?
    /// When the last pass that started a probe ran.
    var lastStartPass: NIODeadline?
  }

  /// What one pass found to tell observers once the lock is released.
  private enum Notice {
    case started(any TCPCheckSubscriber, Duration)
    case transition(any TCPCheckSubscriber, CheckerTransition, Duration)
    case finished(@Sendable (ProbeOutcome) -> Void, ProbeOutcome)
  }

  /// Everything one pass of the engine thread works with besides the state: the notices it
  /// collects and the receive buffer. Only the engine thread touches it (hence unchecked: the
  /// buffer is a raw pointer the thread owns for its whole life).
  private struct Pass: @unchecked Sendable {
    var notices: [Notice] = []
    let scratch: UnsafeMutableRawBufferPointer
  }

  private let epoll: EngineEpoll
  private let state = Mutex(State())

  private init(epoll: EngineEpoll) {
    self.epoll = epoll
  }

  // MARK: interface

  /// Adds a periodic checker whose first probe starts after `delay`; returns its handle. The
  /// engine holds `subscriber` until `remove(handle)`.
  func add(
    _ job: TCPCheckJob, schedule: CheckSchedule, after delay: Duration, subscriber: any TCPCheckSubscriber
  ) -> UInt64 {
    insert(job, mode: .periodic(subscriber), verdict: CheckerVerdict(schedule: schedule), after: delay)
  }

  /// `add` with closures for a subscriber.
  func add(_ job: TCPCheckJob, schedule: CheckSchedule, after delay: Duration, observer: Observer) -> UInt64 {
    add(job, schedule: schedule, after: delay, subscriber: observer)
  }

  /// Probes once now and calls `completion` on the engine thread with the outcome.
  func probeOnce(_ job: TCPCheckJob, completion: @escaping @Sendable (ProbeOutcome) -> Void) {
    _ = insert(job, mode: .once(completion), verdict: nil, after: .zero)
  }

  /// Stops a periodic checker: a probe in flight is abandoned (its descriptor closed now), no
  /// probe starts after this returns, and its observer is not called again.
  func remove(_ handle: UInt64) {
    state.withLock { s in
      guard let index = Self.liveIndex(handle, in: s) else { return }
      // Closing also takes the descriptor out of epoll; an event for it already fetched by the
      // engine thread carries the old generation and is ignored.
      if let ssl = s.slots[index].exchange?.ssl { SSL_free(ssl) }
      if s.slots[index].fd >= 0 { close(s.slots[index].fd) }
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

  /// Makes room for `additional` more checkers in one allocation, so a start of N checkers does
  /// not leave the slot table at the next power of two (up to 2x the slots, 152 bytes each), nor
  /// the start heap (24 bytes an entry).
  func reserve(additional: Int) {
    guard additional > 0 else { return }
    state.withLock { s in
      let needed = s.slots.count - s.free.count + additional
      if needed > s.slots.count { s.slots.reserveCapacity(needed) }
      // Each new checker queues one start: the start heap grows once too.
      if s.starts.count + additional > s.starts.capacity {
        s.starts.reserveCapacity(s.starts.count + additional)
      }
    }
  }

  /// Bytes per checker in the slot table (a test holds it to the size the layout promises).
  static var slotStride: Int { MemoryLayout<Slot>.stride }

  /// Checkers and one-shot probes the engine holds (for tests: back to zero once all are removed).
  var activeCount: Int { state.withLock { $0.slots.count - $0.free.count } }

  private func insert(_ job: TCPCheckJob, mode: Mode, verdict: CheckerVerdict?, after delay: Duration)
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
      s.slots[index].exchange = job.template == nil ? nil : Exchange()
      s.slots[index].mode = mode
      s.slots[index].verdict = verdict
      s.slots[index].due = due
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
    guard index < s.slots.count, s.slots[index].job != nil,
      s.slots[index].generation == UInt32(truncatingIfNeeded: token)
    else { return nil }
    return index
  }

  /// Whether timeout entry `entry` is its slot's in-flight leg's deadline (else it is stale).
  private static func isLiveTimeout(_ entry: (deadline: NIODeadline, payload: UInt64), in s: State) -> Bool {
    guard let index = liveIndex(entry.payload, in: s) else { return false }
    return s.slots[index].fd >= 0 && s.slots[index].deadline == entry.deadline
  }

  private static func release(_ index: Int, in s: inout State) {
    s.slots[index] = Slot(generation: s.slots[index].generation &+ 1)
    s.free.append(UInt32(index))
  }

  // MARK: the engine thread

  /// A new engine with its own thread; the process uses `shared`, tests may start their own.
  static func start() -> Result<TCPCheckEngine, TCPCheckEngineError> {
    let epoll: EngineEpoll
    switch EngineEpoll.make() {
    case .success(let made): epoll = made
    case .failure(let failure):
      return .failure(TCPCheckEngineError(call: failure.call, errnoCode: failure.errnoCode))
    }
    let engine = TCPCheckEngine(epoll: epoll)
    if let failure = epoll.startThread(named: "lvsk-tcp-check", { engine.run() }) {
      return .failure(TCPCheckEngineError(call: failure.call, errnoCode: failure.errnoCode))
    }
    return .success(engine)
  }

  private func run() {
    var events = [epoll_event](repeating: epoll_event(), count: Int(EngineEpoll.capacity))
    var ready: [(token: UInt64, flags: UInt32)] = []
    // Lives as long as the thread, which never ends.
    var pass = Pass(
      scratch: UnsafeMutableRawBufferPointer.allocate(byteCount: Self.scratchBytes, alignment: 16))
    var moreStarts = false
    // When the last two passes that handled readiness events ran.
    var lastIOPass = NIODeadline.uptimeNanoseconds(0)
    var previousIOPass = NIODeadline.uptimeNanoseconds(0)
    var coalescing = IOCoalescing(granule: Self.ioGranularity)
    while true {
      if !moreStarts, coalescing.busy, lastIOPass - previousIOPass < Self.ioGranularity {
        let rest = (lastIOPass + Self.ioGranularity - .now()).nanoseconds
        if rest > 0 {
          var pause = timespec(tv_sec: 0, tv_nsec: Int(rest))
          _ = nanosleep(&pause, nil)
        }
      }
      let waitMs =
        moreStarts
        ? 0
        : state.withLock { s -> Int32 in
          // Timeout entries of legs that already ended are dropped here rather than woken for:
          // otherwise nearly every probe's stale entry costs a wake-up of its own at low rates.
          while let entry = s.timeouts.earliestEntry, !Self.isLiveTimeout(entry, in: s) {
            _ = s.timeouts.popDue(entry.deadline)
          }
          return EngineEpoll.sleepMilliseconds(
            earliestStart: s.starts.earliest, earliestTimeout: s.timeouts.earliest,
            lastStartPass: s.lastStartPass, timeoutSlack: Self.timeoutSlack,
            startGranularity: Self.startGranularity, sleepingUntil: &s.sleepingUntil)
        }
      epoll.wait(&events, timeoutMs: waitMs, ready: &ready)
      pass.notices.removeAll(keepingCapacity: true)
      let now = NIODeadline.now()
      if !ready.isEmpty {
        previousIOPass = lastIOPass
        lastIOPass = now
        coalescing.record(ready.count, at: now)
      }
      moreStarts = state.withLock { s in
        s.sleepingUntil = nil
        for r in ready {
          guard let index = Self.liveIndex(r.token, in: s), s.slots[index].fd >= 0 else { continue }
          handleReady(index, flags: r.flags, at: now, in: &s, pass: &pass)
        }
        while let entry = s.timeouts.popDue(now) {
          guard let index = Self.liveIndex(entry.payload, in: s), s.slots[index].fd >= 0,
            s.slots[index].deadline == entry.deadline, let job = s.slots[index].job
          else { continue }
          let reason = job.timeoutReason(connecting: s.slots[index].phase == .connecting)
          endLeg(index, job.failure(reason, leg: s.slots[index].leg), at: now, in: &s, pass: &pass)
        }
        var started = 0
        while started < Self.maxStartsPerPass, let entry = s.starts.popDue(now) {
          guard let index = Self.liveIndex(entry.payload, in: s), s.slots[index].fd < 0,
            s.slots[index].due == entry.deadline
          else { continue }
          started += 1
          begin(index, at: now, in: &s, pass: &pass)
        }
        if started > 0 { s.lastStartPass = now }
        return started == Self.maxStartsPerPass
      }
      for notice in pass.notices {
        switch notice {
        case .started(let subscriber, let lateness): subscriber.probeStarted(lateness: lateness)
        case .transition(let subscriber, let transition, let latency):
          subscriber.checkerTransitioned(transition, latency: latency)
        case .finished(let call, let outcome): call(outcome)
        }
      }
    }
  }

  /// Starts slot `index`'s probe at its first leg.
  private func begin(_ index: Int, at now: NIODeadline, in s: inout State, pass: inout Pass) {
    if case .periodic(let subscriber)? = s.slots[index].mode, subscriber.wantsProbeStarts {
      pass.notices.append(
        .started(subscriber, .nanoseconds(max(0, (now - s.slots[index].due).nanoseconds))))
    }
    s.slots[index].started = now
    s.slots[index].leg = 0
    connectLeg(index, at: now, in: &s, pass: &pass)
  }

  /// Opens and connects the socket of slot `index`'s current leg: in flight afterwards, or the
  /// leg ended at once.
  private func connectLeg(_ index: Int, at now: NIODeadline, in s: inout State, pass: inout Pass) {
    guard let job = s.slots[index].job else { return }
    let leg = s.slots[index].leg
    let fd = socket(
      job.remote.family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      endLeg(index, job.failure(Self.reason(errno), leg: leg), at: now, in: &s, pass: &pass)
      return
    }
    s.slots[index].fd = fd
    s.slots[index].phase = .connecting
    if let failure = job.options.apply(to: fd) {
      endLeg(index, job.failure(failure, leg: leg), at: now, in: &s, pass: &pass)
      return
    }
    if let local = job.local {
      var one: Int32 = 1
      _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
      if local.withSockAddr({ bind(fd, $0, $1) }) != 0 {
        endLeg(index, job.failure(Self.reason(errno), leg: leg), at: now, in: &s, pass: &pass)
        return
      }
    }
    let connected = job.remote.withSockAddr({ connect(fd, $0, $1) }) == 0
    if connected, job.template == nil {
      endLeg(index, .up(weight: nil), at: now, in: &s, pass: &pass)
      return
    }
    // A conversation's leg that connected at once is started by the EPOLLOUT that follows.
    let e = connected ? 0 : errno
    guard e == EINPROGRESS || e == 0 else {
      endLeg(index, job.failure(Self.reason(e), leg: leg), at: now, in: &s, pass: &pass)
      return
    }
    let token = Self.token(index, s.slots[index].generation)
    let interest: Interest = job.template == nil ? .connect : .conversation
    guard control(EPOLL_CTL_ADD, fd, for: interest.events, token: token) else {
      endLeg(index, job.failure(Self.reason(errno), leg: leg), at: now, in: &s, pass: &pass)
      return
    }
    s.slots[index].interest = interest
    let deadline = now + .nanoseconds(max(1, job.timeout.nanoseconds))
    s.slots[index].deadline = deadline
    s.timeouts.push(token, at: deadline)
  }

  /// Epoll reported slot `index`'s descriptor ready with `flags`.
  private func handleReady(
    _ index: Int, flags: UInt32, at now: NIODeadline, in s: inout State, pass: inout Pass
  ) {
    guard let job = s.slots[index].job else { return }
    let leg = s.slots[index].leg
    let fd = s.slots[index].fd
    if s.slots[index].phase == .connecting {
      let outcome = Self.connectOutcome(fd, flags: flags)
      if case .down(let reason) = outcome {
        endLeg(index, job.failure(reason, leg: leg), at: now, in: &s, pass: &pass)
        return
      }
      guard job.template != nil else {
        endLeg(index, outcome, at: now, in: &s, pass: &pass)
        return
      }
      if let tls = job.tls {
        guard case .success(let context) = EngineTLSContext.shared,
          let ssl = context.session(
            fd: fd, serverName: tls.serverNames.indices.contains(leg) ? tls.serverNames[leg] : nil)
        else {
          endLeg(index, job.failure("TLS unavailable", leg: leg), at: now, in: &s, pass: &pass)
          return
        }
        s.slots[index].exchange?.ssl = ssl
        s.slots[index].phase = .handshaking
        handshake(index, at: now, in: &s, pass: &pass)
      } else {
        // The request goes out in this pass, not after another epoll round trip.
        converse(index, at: now, in: &s, pass: &pass)
      }
      // Edge-triggered: what is already readable (a banner, TLS records after the handshake)
      // is read now, as no new edge will report it. Unless the leg ended meanwhile.
      guard s.slots[index].fd == fd, s.slots[index].leg == leg, s.slots[index].phase == .talking else {
        return
      }
    } else if s.slots[index].phase == .handshaking {
      handshake(index, at: now, in: &s, pass: &pass)
      guard s.slots[index].fd == fd, s.slots[index].leg == leg, s.slots[index].phase == .talking else {
        return
      }
    } else if flags & EPOLLOUT.rawValue != 0, let x = s.slots[index].exchange, x.sent < x.output.count {
      if let failure = flush(index, in: &s) {
        endLeg(index, job.failure(failure, leg: leg), at: now, in: &s, pass: &pass)
        return
      }
    }
    guard let x = s.slots[index].exchange else { return }
    let ssl = x.ssl
    // Under TLS a readable socket may hold no whole record and decrypted bytes may wait inside
    // OpenSSL with the socket drained, so TLS reads on every event until OpenSSL wants more.
    let input = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
    guard ssl != nil || flags & input != 0 else {
      return
    }
    let limit = job.template?.maxBytesPerLeg ?? 0
    var reads = 0
    while ssl != nil || reads < Self.readsPerEvent {
      reads += 1
      let room = min(pass.scratch.count, max(1, limit + 1 - x.received))
      var n: Int
      if let ssl {
        ERR_clear_error()
        n = Int(SSL_read(ssl, pass.scratch.baseAddress, Int32(room)))
        if n <= 0 {
          let e = errno
          let code = SSL_get_error(ssl, Int32(n))
          // OpenSSL waits for the socket (it saw EAGAIN): the next edge of either kind resumes it.
          if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return }
          if code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SYSCALL && e == 0) {
            n = 0
          } else {
            ERR_clear_error()
            let reason = EngineTLSContext.reason(code, errnoCode: e)
            endLeg(index, job.failure(reason, leg: leg), at: now, in: &s, pass: &pass)
            return
          }
        }
      } else {
        n = recv(fd, pass.scratch.baseAddress, room, Int32(MSG_DONTWAIT))
      }
      if n > 0 {
        x.received += n
        if x.received > limit {
          endLeg(
            index, job.failure("response larger than \(limit) bytes", leg: leg), at: now, in: &s, pass: &pass)
          return
        }
        guard var conversation = x.conversation else { return }
        // Taken out while it runs, so its (boxed) state is uniquely referenced and not copied.
        x.conversation = nil
        let step = conversation.received(
          UnsafeRawBufferPointer(rebasing: pass.scratch[0..<n]), output: &x.output)
        x.conversation = conversation
        proceed(index, step, at: now, in: &s, pass: &pass)
        // Ended (a next leg may have reused the descriptor's number), or nothing more waiting.
        if case .finished = step { return }
        // A short read drained the socket, unless the peer's FIN came with the bytes: then the
        // next read returns the end of stream, which no later edge would report.
        let closing = flags & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
        if s.slots[index].fd < 0 || (ssl == nil && n < room && !closing) { return }
      } else if n == 0 {
        guard var conversation = x.conversation else { return }
        let outcome = conversation.closed()
        endLeg(index, outcome, at: now, in: &s, pass: &pass)
        return
      } else {
        let e = errno
        if e == EAGAIN || e == EWOULDBLOCK { return }
        if e == EINTR { continue }
        endLeg(index, job.failure(Self.reason(e), leg: leg), at: now, in: &s, pass: &pass)
        return
      }
    }
    // Left with bytes possibly unread (the per-event read budget is spent): re-registering makes
    // epoll report the socket again if it is still readable, as an edge would not.
    if !control(
      EPOLL_CTL_MOD, fd, for: s.slots[index].interest.events,
      token: Self.token(index, s.slots[index].generation))
    {
      endLeg(index, job.failure(Self.reason(errno), leg: leg), at: now, in: &s, pass: &pass)
    }
  }

  /// The leg's byte stream is up (connected, and TLS done if any): starts its conversation.
  private func converse(_ index: Int, at now: NIODeadline, in s: inout State, pass: inout Pass) {
    guard let template = s.slots[index].job?.template, let x = s.slots[index].exchange else { return }
    s.slots[index].phase = .talking
    x.received = 0
    x.sent = 0
    x.output.removeAll(keepingCapacity: true)
    var conversation = template.conversation(leg: s.slots[index].leg)
    let step = conversation.connected(output: &x.output)
    x.conversation = conversation
    proceed(index, step, at: now, in: &s, pass: &pass)
  }

  /// Advances slot `index`'s TLS handshake: the conversation starts once it completes; until
  /// then the socket waits for what OpenSSL wants (input or room to write).
  private func handshake(_ index: Int, at now: NIODeadline, in s: inout State, pass: inout Pass) {
    guard let ssl = s.slots[index].exchange?.ssl, let job = s.slots[index].job else { return }
    ERR_clear_error()
    let rc = SSL_do_handshake(ssl)
    if rc == 1 {
      converse(index, at: now, in: &s, pass: &pass)
      return
    }
    let e = errno
    let code = SSL_get_error(ssl, rc)
    // OpenSSL waits for the socket (it saw EAGAIN): the descriptor is registered edge-triggered
    // for both directions, so the next edge resumes the handshake without an epoll_ctl.
    if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return }
    let reason = "TLS handshake failed: \(EngineTLSContext.reason(code, errnoCode: e))"
    endLeg(index, job.failure(reason, leg: s.slots[index].leg), at: now, in: &s, pass: &pass)
  }

  /// Acts on what the conversation of slot `index` asked for: write its output and keep talking,
  /// or write it best effort and end the leg with the verdict.
  private func proceed(
    _ index: Int, _ step: ConversationStep, at now: NIODeadline, in s: inout State, pass: inout Pass
  ) {
    guard let job = s.slots[index].job else { return }
    switch step {
    case .proceed:
      // What does not fit now goes out on the next EPOLLOUT edge (registered from the start).
      if let failure = flush(index, in: &s) {
        endLeg(index, job.failure(failure, leg: s.slots[index].leg), at: now, in: &s, pass: &pass)
      }
    case .finished(let outcome):
      // A parting message (QUIT) is sent once if the socket takes it; its failure changes nothing.
      _ = flush(index, in: &s)
      endLeg(index, outcome, at: now, in: &s, pass: &pass)
    }
  }

  /// Writes what is left of slot `index`'s output without blocking (through TLS when the leg
  /// has it); nil, or why the write failed.
  private func flush(_ index: Int, in s: inout State) -> String? {
    let fd = s.slots[index].fd
    guard let x = s.slots[index].exchange else { return nil }
    while x.sent < x.output.count {
      let sent = x.sent
      if let ssl = x.ssl {
        ERR_clear_error()
        let n = x.output.withUnsafeBytes { bytes in
          SSL_write(ssl, bytes.baseAddress.map { $0 + sent }, Int32(clamping: bytes.count - sent))
        }
        if n > 0 {
          x.sent += Int(n)
          continue
        }
        let e = errno
        let code = SSL_get_error(ssl, n)
        if code == SSL_ERROR_WANT_WRITE || code == SSL_ERROR_WANT_READ { return nil }
        return EngineTLSContext.reason(code, errnoCode: e)
      }
      let n = x.output.withUnsafeBytes { bytes in
        send(fd, bytes.baseAddress.map { $0 + sent }, bytes.count - sent, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
      }
      if n > 0 {
        x.sent += n
        continue
      }
      let e = errno
      if n < 0 && e == EINTR { continue }
      if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) { return nil }
      return Self.reason(n < 0 ? e : EPIPE)
    }
    x.output.removeAll(keepingCapacity: true)
    x.sent = 0
    return nil
  }

  /// Closes slot `index`'s leg with `outcome`: the next leg starts when this one is up and
  /// another remains, otherwise the probe is finished with `outcome`.
  private func endLeg(
    _ index: Int, _ outcome: ProbeOutcome, at now: NIODeadline, in s: inout State, pass: inout Pass
  ) {
    if let x = s.slots[index].exchange {
      if let ssl = x.ssl { SSL_free(ssl) }
      x.ssl = nil
      x.conversation = nil
      x.sent = 0
      if x.output.capacity > Self.keptOutputCapacity {
        x.output = []
      } else {
        x.output.removeAll(keepingCapacity: true)
      }
    }
    if s.slots[index].fd >= 0 { close(s.slots[index].fd) }
    s.slots[index].fd = -1
    s.slots[index].interest = .none
    if outcome.isUp, let job = s.slots[index].job, s.slots[index].leg + 1 < job.legs {
      s.slots[index].leg += 1
      connectLeg(index, at: now, in: &s, pass: &pass)
      return
    }
    finish(index, outcome, at: now, in: &s, pass: &pass)
  }

  /// Records the outcome of slot `index`'s probe (its descriptor already closed) and schedules
  /// the next one, or frees the slot.
  private func finish(
    _ index: Int, _ outcome: ProbeOutcome, at now: NIODeadline, in s: inout State, pass: inout Pass
  ) {
    let latency = Duration.nanoseconds((now - s.slots[index].started).nanoseconds)
    switch s.slots[index].mode {
    case .once(let completion)?:
      pass.notices.append(.finished(completion, outcome))
      Self.release(index, in: &s)
    case .periodic(let subscriber)?:
      guard let step = s.slots[index].verdict?.record(outcome) else {
        Self.release(index, in: &s)
        return
      }
      if s.slots[index].probeCount < .max { s.slots[index].probeCount += 1 }
      s.slots[index].lastLatency = latency
      if let transition = step.transition {
        pass.notices.append(.transition(subscriber, transition, latency))
      }
      let due = now + .nanoseconds(max(0, step.nextDelay.nanoseconds))
      s.slots[index].due = due
      s.starts.push(Self.token(index, s.slots[index].generation), at: due)
    case nil:
      Self.release(index, in: &s)
    }
  }

  /// Up when epoll reports the socket writable without an error or hang-up; otherwise the
  /// socket's pending error names the reason.
  private static func connectOutcome(_ fd: Int32, flags: UInt32) -> ProbeOutcome {
    let failed = EPOLLERR.rawValue | EPOLLHUP.rawValue
    if flags & failed == 0 && flags & EPOLLOUT.rawValue != 0 { return .up(weight: nil) }
    var error: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
    return .down(reason: error == 0 ? "connection closed before the check ended" : reason(error))
  }

  private static func reason(_ code: Int32) -> String { ErrnoText.text(code) }

  /// epoll_ctl `operation` for `fd` with `events`, tagged with `token`; false with errno set.
  private func control(_ operation: Int32, _ fd: Int32, for events: UInt32, token: UInt64) -> Bool {
    epoll.control(operation, fd, for: events, token: token)
  }
}
