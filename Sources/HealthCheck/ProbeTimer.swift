import KeeperCore
import NIOCore

/// The check engines' heap: `KeeperCore.DeadlineHeap` keyed by NIO deadlines.
typealias ProbeHeap<Payload> = DeadlineHeap<NIODeadline, Payload>

/// What a `ProbeWakeups` pass asks of the loop next.
enum NextWakeup: Equatable {
  /// Nothing queued, or an already armed wake-up covers the earliest entry.
  case none
  /// Arm one loop wake-up at this time.
  case at(NIODeadline)
  /// More entries are due than one pass releases: pass again (at this `firing` key) once the
  /// tasks already queued on the loop have run.
  case again(NIODeadline)
}

/// The pure core of `ProbeTimer`: queued probe starts, which of them one loop wake-up releases,
/// and when the loop must wake next. Time is the caller's (`now`), so it runs on a virtual clock
/// in tests. Wake-ups are coalesced: after a pass that released something, the next wake-up is
/// at least `granularity` later, so at 50,000 starts/s the loop wakes ~1/granularity times a second
/// rather than once per start; an isolated entry is still released at its deadline.
/// Invariant: every entry due at a pass's `now` is released by that pass, or the pass answers
/// `.again`; each entry is released exactly once, never before its deadline and (with the loop
/// keeping up) at most `granularity` after it.
struct ProbeWakeups<Payload> {
  let granularity: TimeAmount
  let maxPerPass: Int
  private var heap = ProbeHeap<Payload>()
  /// The earliest loop wake-up asked for and not yet consumed.
  private(set) var armed: NIODeadline?
  /// When the last pass that released something ran.
  private var lastRelease: NIODeadline?

  init(granularity: TimeAmount, maxPerPass: Int) {
    self.granularity = granularity
    self.maxPerPass = max(1, maxPerPass)
  }

  var count: Int { heap.count }
  var earliest: NIODeadline? { heap.earliest }

  /// Queues `payload` at `deadline`. Returns a loop wake-up to arm, or nil when one armed already
  /// comes soon enough.
  mutating func add(_ payload: Payload, at deadline: NIODeadline) -> NIODeadline? {
    heap.push(payload, at: deadline)
    let want = lastRelease.map { max(deadline, $0 + granularity) } ?? deadline
    guard armed.map({ want < $0 }) ?? true else { return nil }
    armed = want
    return want
  }

  /// One pass at `now`, run by the loop wake-up armed at `firing`: releases the due entries in
  /// deadline order (at most `maxPerPass`) and says what the loop must do next.
  mutating func pass(at now: NIODeadline, firing: NIODeadline) -> (
    due: [(deadline: NIODeadline, payload: Payload)], next: NextWakeup
  ) {
    if armed == firing { armed = nil }
    var due: [(deadline: NIODeadline, payload: Payload)] = []
    while due.count < maxPerPass, let entry = heap.popDue(now) { due.append(entry) }
    if !due.isEmpty { lastRelease = now }
    guard let earliest = heap.earliest else { return (due, .none) }
    if earliest <= now {
      // Due entries left over: continue right away, not a granularity later.
      armed = now
      return (due, .again(now))
    }
    let want = lastRelease.map { max(earliest, $0 + granularity) } ?? earliest
    guard armed.map({ want < $0 }) ?? true else { return (due, .none) }
    armed = want
    return (due, .at(want))
  }
}

/// Wakes probe runners on one event loop from its own queue, keeping only one task in NIO's
/// scheduler per loop. NIO cancels a scheduled task by a linear search of its heap, and every
/// probe cancels its connect timeout; with one NIO task per checker that search would cost
/// O(checkers) per probe. Invariant: touched only on `loop`.
final class ProbeTimer: @unchecked Sendable {
  /// Starts due within this much of each other share one loop wake-up (see `ProbeWakeups`).
  static let granularity = TimeAmount.milliseconds(2)
  /// Starts per pass before the rest continue in a new loop task. NIO runs tasks queued meanwhile
  /// (probe completions from the prober thread) before that task, though not socket I/O: NIO
  /// polls sockets only once its task queue is empty. A fairness bound, not a rate limit.
  static let maxPerPass = 256

  let loop: any EventLoop
  private var wakeups = ProbeWakeups<@Sendable (NIODeadline) -> Void>(
    granularity: ProbeTimer.granularity, maxPerPass: ProbeTimer.maxPerPass)

  init(loop: any EventLoop) { self.loop = loop }

  /// Runs `action` on the loop at `deadline` (with the deadline as argument). Call on `loop`.
  func schedule(at deadline: NIODeadline, _ action: @escaping @Sendable (NIODeadline) -> Void) {
    loop.preconditionInEventLoop()
    if let wake = wakeups.add(action, at: deadline) { arm(wake) }
  }

  private func arm(_ wake: NIODeadline) {
    // A superseded task still fires; its pass finds nothing due and re-arms if need be.
    loop.scheduleTask(deadline: wake) { self.fire(wake) }
  }

  private func fire(_ firing: NIODeadline) {
    let (due, next) = wakeups.pass(at: .now(), firing: firing)
    // The actions may schedule again (a probe that ends at once); `pass` has already recorded
    // the wake-up it asks for, so those calls see it.
    for entry in due { entry.payload(entry.deadline) }
    switch next {
    case .none: break
    case .at(let wake): arm(wake)
    case .again(let key): loop.execute { self.fire(key) }
    }
  }
}
