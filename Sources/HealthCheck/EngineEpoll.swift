import CLinuxEvents
import Glibc
import NIOCore

/// The epoll instance, the wake-up eventfd and the thread of one check engine: what the stream
/// engine (`TCPCheckEngine`) and the datagram engine (`DatagramCheckEngine`) share.
///
/// Invariant: `wakeFD` is registered in `fd` under `wakeToken`, which no probe token uses; both
/// descriptors live as long as the process (an engine's thread never ends).
struct EngineEpoll: Sendable {
  /// The call that failed while an engine started, and its errno.
  struct StartFailure: Error {
    let call: String
    let errnoCode: Int32
  }

  static let wakeToken = UInt64.max
  /// Events fetched per epoll_wait.
  static let capacity: Int32 = 1024

  let fd: Int32
  let wakeFD: Int32

  /// A new epoll instance with its wake-up eventfd registered; nothing stays open on failure.
  static func make() -> Result<EngineEpoll, StartFailure> {
    let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
    guard ep >= 0 else { return .failure(StartFailure(call: "epoll_create1", errnoCode: errno)) }
    let ev = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    guard ev >= 0 else {
      let e = errno
      Glibc.close(ep)
      return .failure(StartFailure(call: "eventfd", errnoCode: e))
    }
    let epoll = EngineEpoll(fd: ep, wakeFD: ev)
    guard epoll.control(EPOLL_CTL_ADD, ev, for: EPOLLIN.rawValue, token: wakeToken) else {
      let e = errno
      epoll.close()
      return .failure(StartFailure(call: "epoll_ctl", errnoCode: e))
    }
    return .success(epoll)
  }

  /// Runs `body` on a new detached thread named `name` (at most 15 bytes); on failure closes both
  /// descriptors and says why.
  func startThread(named name: String, _ body: @escaping @Sendable () -> Void) -> StartFailure? {
    final class Body {
      let name: String
      let run: @Sendable () -> Void
      init(name: String, run: @escaping @Sendable () -> Void) {
        self.name = name
        self.run = run
      }
    }
    var thread = pthread_t()
    let context = Unmanaged.passRetained(Body(name: name, run: body)).toOpaque()
    let rc = pthread_create(
      &thread, nil,
      { context in
        guard let context else { return nil }
        let body = Unmanaged<Body>.fromOpaque(context).takeRetainedValue()
        _ = lvsk_set_thread_name(body.name)
        body.run()
        return nil
      }, context)
    guard rc == 0 else {
      Unmanaged<Body>.fromOpaque(context).release()
      close()
      return StartFailure(call: "pthread_create", errnoCode: rc)
    }
    pthread_detach(thread)
    return nil
  }

  /// Wakes the engine's thread out of epoll_wait.
  func wake() {
    var one: UInt64 = 1
    _ = write(wakeFD, &one, 8)
  }

  /// Sleeps in epoll_wait up to `timeoutMs` (-1: until an event); `ready` gets the events other
  /// than wake-ups, which are drained here.
  func wait(
    _ events: inout [epoll_event], timeoutMs: Int32, ready: inout [(token: UInt64, flags: UInt32)]
  ) {
    let n = events.withUnsafeMutableBufferPointer { buffer in
      epoll_wait(fd, buffer.baseAddress, Int32(buffer.count), timeoutMs)
    }
    ready.removeAll(keepingCapacity: true)
    for i in 0..<max(0, Int(n)) {
      if events[i].data.u64 == Self.wakeToken {
        var count: UInt64 = 0
        _ = read(wakeFD, &count, 8)
        continue
      }
      ready.append((events[i].data.u64, events[i].events))
    }
  }

  /// epoll_ctl `operation` for `target` with `events`, tagged with `token`; false with errno set.
  func control(_ operation: Int32, _ target: Int32, for events: UInt32, token: UInt64) -> Bool {
    var event = epoll_event()
    event.events = events
    event.data.u64 = token
    return epoll_ctl(fd, operation, target, &event) == 0
  }

  private func close() {
    Glibc.close(wakeFD)
    Glibc.close(fd)
  }

  /// How long an engine may sleep: until the earliest probe start (no sooner than
  /// `startGranularity` after the last pass that started one) or the earliest timeout plus
  /// `timeoutSlack`, in whole milliseconds rounded up; -1 when nothing is scheduled. Records the
  /// wake-up instant in `sleepingUntil` (`.distantFuture` for none), which `insert` compares
  /// against to decide whether a new probe must wake the thread.
  static func sleepMilliseconds(
    earliestStart: NIODeadline?, earliestTimeout: NIODeadline?, lastStartPass: NIODeadline?,
    timeoutSlack: TimeAmount, startGranularity: TimeAmount, sleepingUntil: inout NIODeadline?
  ) -> Int32 {
    let timeout = earliestTimeout.map { $0 + timeoutSlack }
    let start = earliestStart.map { due in lastStartPass.map { max(due, $0 + startGranularity) } ?? due }
    let earliest = start.map { start in timeout.map { min(start, $0) } ?? start } ?? timeout
    guard let earliest else {
      sleepingUntil = .distantFuture
      return -1
    }
    sleepingUntil = earliest
    let ns = (earliest - .now()).nanoseconds
    return ns <= 0 ? 0 : Int32(clamping: (ns + 999_999) / 1_000_000)
  }
}

/// Whether readiness events come fast enough that sleeping out the rest of an I/O granule after
/// a pass (so that the next events share one wake-up) saves wake-ups.
///
/// A sleep is itself a wake-up; it pays only when a granule is expected to hold two events or
/// more. At low rates the events closer than a granule are one probe's own (connect ready, then
/// the response a millisecond later), and sleeping after them cost a third wake-up per HTTP probe
/// with nothing to share it (strace at 200 HTTP probes/s, 84afcce: clock_nanosleep 0.15 per probe).
/// Invariant: `busy` says whether the events recorded over the last completed measuring window
/// (at least `window` long) averaged `busyEventsPerGranule` or more per `granule`.
struct IOCoalescing {
  static let window = TimeAmount.milliseconds(50)
  static let busyEventsPerGranule = 2
  let granule: TimeAmount
  private var windowStart = NIODeadline.uptimeNanoseconds(0)
  private var events = 0
  private(set) var busy = false

  init(granule: TimeAmount) { self.granule = granule }

  /// Counts `count` readiness events handled at `now`; closes the window once it is old enough.
  mutating func record(_ count: Int, at now: NIODeadline) {
    let elapsed = (now - windowStart).nanoseconds
    if elapsed >= Self.window.nanoseconds {
      busy = Int64(events) * granule.nanoseconds >= Int64(Self.busyEventsPerGranule) * elapsed
      windowStart = now
      events = 0
    }
    events += count
  }
}

/// strerror's text for each errno, made once per process and shared: a probe that fails keeps
/// its reason in its checker's verdict (and the monitor's copy of it), so building a new string
/// per failure left one heap string per down checker (~128 bytes each at 10,000 refused servers,
/// heaptrack) where a handful of distinct texts exist.
/// Invariant: `text(code)` equals `String(cString: strerror(code))` (the C locale's wording).
enum ErrnoText {
  /// Covers Linux's errno range (1...133); others are built on demand.
  private static let table: [String] = (0..<134).map { String(cString: strerror(Int32($0))) }

  static func text(_ code: Int32) -> String {
    code >= 0 && Int(code) < table.count ? table[Int(code)] : String(cString: strerror(code))
  }
}
