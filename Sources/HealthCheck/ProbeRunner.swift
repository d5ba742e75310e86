import NIOCore
import Synchronization

/// One distinct checker, probing until stopped; what `HealthMonitor` holds per checker.
/// Invariant: at most one probe of the checker is in flight; after `stop()` none starts and no
/// transition is reported.
protocol CheckRunner: AnyObject, Sendable {
  var checker: Checker { get }
  func snapshot() -> RunnerSnapshot
  func start(after delay: Duration)
  func stop()
}

extension CheckRunner {
  var verdict: CheckerVerdict { snapshot().verdict }
}

/// What every runner of one `HealthMonitor.apply` reports to, in one shared object: a runner
/// holds a reference to it rather than two closures (one runner per real server at scale).
final class RunnerHooks: Sendable {
  /// Lateness of each probe start against its schedule (benchmarks); must be cheap.
  let onProbeStart: (@Sendable (Duration) -> Void)?
  /// A runner's checker changed (called without the runner's or the engine's lock held).
  let onChange: @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void

  init(
    onProbeStart: (@Sendable (Duration) -> Void)?,
    onChange: @escaping @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void
  ) {
    self.onProbeStart = onProbeStart
    self.onChange = onChange
  }
}

/// One checker's state at one instant, as `status` shows it.
struct RunnerSnapshot {
  var verdict: CheckerVerdict
  var probes: Int
  var lastLatency: Duration?

  /// A checker that has not probed yet (or no longer runs): its schedule's starting verdict.
  static func unprobed(_ checker: Checker) -> RunnerSnapshot {
    RunnerSnapshot(verdict: CheckerVerdict(schedule: checker.schedule), probes: 0)
  }

  func status(of checker: Checker, subscribers: Int) -> CheckerStatus {
    CheckerStatus(
      checker: checker, isUp: verdict.isUp, weight: verdict.weight, lastOutcome: verdict.lastOutcome,
      lastLatency: lastLatency, consecutiveSuccesses: verdict.consecutiveSuccesses,
      consecutiveFailures: verdict.consecutiveFailures, retriesUsed: verdict.retriesUsed, probes: probes,
      subscribers: subscribers)
  }

  /// Snapshots of many runners, in their order; those on the TCP engine are read under one engine
  /// lock, so a `status` of 50,000 checkers does not queue 50,000 times behind the engine thread.
  static func of(_ runners: [any CheckRunner]) -> [RunnerSnapshot] {
    var result: [RunnerSnapshot?] = Array(repeating: nil, count: runners.count)
    var onEngine: [(index: Int, handle: UInt64)] = []
    var engine: TCPCheckEngine?
    for (index, runner) in runners.enumerated() {
      if let tcp = runner as? TCPCheckRunner, let handle = tcp.handle {
        onEngine.append((index, handle))
        engine = tcp.engine
      } else {
        result[index] = runner.snapshot()
      }
    }
    if let engine {
      for (entry, snap) in zip(onEngine, engine.snapshots(onEngine.map(\.handle))) {
        result[entry.index] = snap
      }
    }
    return zip(runners, result).map { runner, snap in snap ?? .unprobed(runner.checker) }
  }
}

/// Runs one distinct checker forever on one event loop: probe, record, wait, repeat.
/// Invariant: at most one probe of this checker is in flight; after `stop()` none starts.
final class ProbeRunner: CheckRunner {
  let checker: Checker
  let loop: any EventLoop
  private let timer: ProbeTimer
  private let probe: any Probe
  private let onChange: @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void
  private let onProbeStart: (@Sendable (Duration) -> Void)?

  private struct State {
    var verdict: CheckerVerdict
    var lastLatency: Duration?
    var probes = 0
    var stopped = false
  }
  private let state: Mutex<State>

  init(
    checker: Checker, probe: any Probe, timer: ProbeTimer,
    onProbeStart: (@Sendable (Duration) -> Void)?,
    onChange: @escaping @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void
  ) {
    self.checker = checker
    self.probe = probe
    self.loop = timer.loop
    self.timer = timer
    self.onChange = onChange
    self.onProbeStart = onProbeStart
    self.state = Mutex(State(verdict: CheckerVerdict(schedule: checker.schedule)))
  }

  func snapshot() -> RunnerSnapshot {
    state.withLock { RunnerSnapshot(verdict: $0.verdict, probes: $0.probes, lastLatency: $0.lastLatency) }
  }

  func start(after delay: Duration) {
    loop.execute { self.schedule(after: delay) }
  }

  /// Stops scheduling; a wake-up already queued in the timer finds the runner stopped.
  func stop() {
    state.withLock { $0.stopped = true }
  }

  private func schedule(after delay: Duration) {
    guard !state.withLock({ $0.stopped }) else { return }
    timer.schedule(at: NIODeadline.now() + .nanoseconds(delay.nanoseconds)) { due in self.fire(due: due) }
  }

  private func fire(due: NIODeadline) {
    guard !state.withLock({ $0.stopped }) else { return }
    let started = NIODeadline.now()
    onProbeStart?(.nanoseconds(max(0, (started - due).nanoseconds)))
    probe.run(on: loop).whenComplete { result in
      let latency = Duration.nanoseconds((NIODeadline.now() - started).nanoseconds)
      let outcome: ProbeOutcome
      switch result {
      case .success(let o): outcome = o
      case .failure(let e): outcome = .down(reason: "\(e)")
      }
      let step = self.state.withLock { s -> CheckerVerdict.Step? in
        guard !s.stopped else { return nil }
        s.probes += 1
        s.lastLatency = latency
        return s.verdict.record(outcome)
      }
      guard let step else { return }
      if let transition = step.transition { self.onChange(self, transition, latency) }
      self.schedule(after: step.nextDelay)
    }
  }
}

/// Reports a fixed failure; used when a probe cannot even be built (no TLS library).
struct FailingProbe: Probe {
  let reason: String
  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    loop.makeSucceededFuture(.down(reason: reason))
  }
}
