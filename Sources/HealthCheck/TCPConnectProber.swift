import CLinuxEvents
import Glibc
import NIOCore
import Synchronization

/// Why the process-wide connect prober could not start.
struct TCPConnectProberError: Error, CustomStringConvertible {
  let call: String
  let errnoCode: Int32
  var description: String { "TCP prober unavailable: \(call): \(String(cString: strerror(errnoCode)))" }
}

/// Waits for non-blocking TCP connects on one dedicated thread (epoll + a deadline heap) and
/// completes each probe's promise with up, refused/unreachable, or timed out. A NIO
/// `ClientBootstrap` per probe costs a Channel, a pipeline, several promises and a scheduled
/// timeout; a raw socket costs four system calls and one epoll registration.
/// Invariant: every descriptor handed to `watch` is either in `pending` (registered with epoll,
/// with a heap entry carrying its id) or closed; each promise is completed exactly once, by
/// whichever of the epoll event or the deadline removes it from `pending` first.
final class TCPConnectProber: Sendable {
  /// Started when the first TCP_CHECK probe is built; lives for the whole process.
  static let shared: Result<TCPConnectProber, TCPConnectProberError> = start()

  /// Expired deadlines are handled in batches this far apart at most, so stale heap entries of
  /// probes that already finished cost at most one wake-up per slice.
  private static let timerSlack = Int64(10_000_000)

  private struct Pending {
    let id: UInt64
    let promise: EventLoopPromise<ProbeOutcome>
    let timeout: Duration
  }

  private struct State {
    var pending: [Int32: Pending] = [:]
    var heap = DeadlineHeap<(fd: Int32, id: UInt64)>()
    var nextID: UInt64 = 0
    /// When the thread sleeps in epoll_wait: the deadline it will wake at; nil while awake.
    var sleepingUntil: NIODeadline?
  }

  private let epollFD: Int32
  private let wakeFD: Int32
  private let state = Mutex(State())

  private init(epollFD: Int32, wakeFD: Int32) {
    self.epollFD = epollFD
    self.wakeFD = wakeFD
  }

  private static func start() -> Result<TCPConnectProber, TCPConnectProberError> {
    let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
    guard ep >= 0 else { return .failure(TCPConnectProberError(call: "epoll_create1", errnoCode: errno)) }
    let ev = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    guard ev >= 0 else {
      let e = errno
      close(ep)
      return .failure(TCPConnectProberError(call: "eventfd", errnoCode: e))
    }
    var event = epoll_event()
    event.events = EPOLLIN.rawValue
    event.data.fd = ev
    guard epoll_ctl(ep, EPOLL_CTL_ADD, ev, &event) == 0 else {
      let e = errno
      close(ev)
      close(ep)
      return .failure(TCPConnectProberError(call: "epoll_ctl", errnoCode: e))
    }
    let prober = TCPConnectProber(epollFD: ep, wakeFD: ev)
    var thread = pthread_t()
    let context = Unmanaged.passRetained(prober).toOpaque()
    let rc = pthread_create(
      &thread, nil,
      { context in
        guard let context else { return nil }
        Unmanaged<TCPConnectProber>.fromOpaque(context).takeRetainedValue().run()
        return nil
      }, context)
    guard rc == 0 else {
      Unmanaged<TCPConnectProber>.fromOpaque(context).release()
      close(ev)
      close(ep)
      return .failure(TCPConnectProberError(call: "pthread_create", errnoCode: rc))
    }
    pthread_detach(thread)
    return .success(prober)
  }

  /// Takes ownership of `fd`, a socket whose connect() returned EINPROGRESS, and completes
  /// `promise` when the connect finishes or `timeout` passes; `fd` is closed either way.
  func watch(_ fd: Int32, promise: EventLoopPromise<ProbeOutcome>, timeout: Duration) {
    let deadline = NIODeadline.now() + .nanoseconds(max(1, timeout.nanoseconds))
    let (id, wake) = state.withLock { s -> (UInt64, Bool) in
      s.nextID &+= 1
      s.pending[fd] = Pending(id: s.nextID, promise: promise, timeout: timeout)
      s.heap.push((fd, s.nextID), at: deadline)
      guard let until = s.sleepingUntil, deadline < until else { return (s.nextID, false) }
      s.sleepingUntil = nil
      return (s.nextID, true)
    }
    var event = epoll_event()
    event.events = EPOLLOUT.rawValue
    event.data.fd = fd
    if epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) != 0 {
      let e = errno
      let mine = state.withLock { s -> Pending? in
        guard s.pending[fd]?.id == id else { return nil }
        return s.pending.removeValue(forKey: fd)
      }
      if let mine {
        close(fd)
        mine.promise.succeed(.down(reason: String(cString: strerror(e))))
      }
      return
    }
    if wake {
      var one: UInt64 = 1
      _ = write(wakeFD, &one, 8)
    }
  }

  /// Completes the promises with one task per event loop rather than one per promise: a
  /// promise completed off its loop costs a task (and its lock) on that loop.
  private func complete(
    _ done: [(fd: Int32, promise: EventLoopPromise<ProbeOutcome>, outcome: ProbeOutcome)]
  ) {
    guard let first = done.first else { return }
    let loop = first.promise.futureResult.eventLoop
    if done.allSatisfy({ $0.promise.futureResult.eventLoop === loop }) {
      let batch = done.map { ($0.promise, $0.outcome) }
      loop.execute { for (promise, outcome) in batch { promise.succeed(outcome) } }
      return
    }
    var byLoop:
      [ObjectIdentifier: (loop: any EventLoop, batch: [(EventLoopPromise<ProbeOutcome>, ProbeOutcome)])] =
        [:]
    for d in done {
      let l = d.promise.futureResult.eventLoop
      byLoop[ObjectIdentifier(l), default: (l, [])].batch.append((d.promise, d.outcome))
    }
    for (_, entry) in byLoop {
      let batch = entry.batch
      entry.loop.execute { for (promise, outcome) in batch { promise.succeed(outcome) } }
    }
  }

  private func run() {
    // Otherwise it inherits the name of whichever thread built the first TCP_CHECK.
    _ = lvsk_set_thread_name("lvsk-tcp-prober")
    let capacity: Int32 = 512
    var events = [epoll_event](repeating: epoll_event(), count: Int(capacity))
    var ready: [(fd: Int32, error: Int32)] = []
    var done: [(fd: Int32, promise: EventLoopPromise<ProbeOutcome>, outcome: ProbeOutcome)] = []
    while true {
      let waitMs = state.withLock { s -> Int32 in
        // Entries of probes that already finished stay in the heap until their deadline: they
        // keep the thread's sleep finite, so `watch` need not wake it for a later deadline
        // (that was an eventfd write, a wake-up and a read per probe). They cost at most one
        // wake-up per `timerSlack`.
        guard let earliest = s.heap.earliest else {
          s.sleepingUntil = .distantFuture
          return -1
        }
        let until = earliest + .nanoseconds(Self.timerSlack)
        s.sleepingUntil = until
        let ns = (until - .now()).nanoseconds
        return ns <= 0 ? 0 : Int32(clamping: (ns + 999_999) / 1_000_000)
      }
      let n = events.withUnsafeMutableBufferPointer { buffer in
        epoll_wait(epollFD, buffer.baseAddress, capacity, waitMs)
      }
      ready.removeAll(keepingCapacity: true)
      for i in 0..<max(0, Int(n)) {
        let fd = events[i].data.fd
        if fd == wakeFD {
          var count: UInt64 = 0
          _ = read(wakeFD, &count, 8)
          continue
        }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
        ready.append((fd, error))
      }
      let now = NIODeadline.now()
      done.removeAll(keepingCapacity: true)
      state.withLock { s in
        s.sleepingUntil = nil
        for r in ready {
          guard let p = s.pending.removeValue(forKey: r.fd) else { continue }
          let outcome: ProbeOutcome =
            r.error == 0 ? .up(weight: nil) : .down(reason: String(cString: strerror(r.error)))
          done.append((r.fd, p.promise, outcome))
        }
        while let due = s.heap.popDue(now) {
          guard s.pending[due.payload.fd]?.id == due.payload.id,
            let p = s.pending.removeValue(forKey: due.payload.fd)
          else { continue }
          let seconds = Double(p.timeout.nanoseconds) / 1e9
          done.append((due.payload.fd, p.promise, .down(reason: "connect timed out after \(seconds)s")))
        }
      }
      // Close before completing: a caller that counts descriptors after its future fires sees none.
      for d in done { close(d.fd) }
      complete(done)
    }
  }
}
