import NIOCore
import Synchronization

/// Runs one distinct checker forever on one event loop: probe, record, wait, repeat.
/// Invariant: at most one probe of this checker is in flight; after `stop()` none starts.
final class ProbeRunner: Sendable {
  let checker: Checker
  let loop: any EventLoop
  private let timer: ProbeTimer
  private let probe: any Probe
  private let onChange: @Sendable (ProbeRunner, CheckerTransition, Duration) -> Void
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
    onChange: @escaping @Sendable (ProbeRunner, CheckerTransition, Duration) -> Void
  ) {
    self.checker = checker
    self.probe = probe
    self.loop = timer.loop
    self.timer = timer
    self.onChange = onChange
    self.onProbeStart = onProbeStart
    self.state = Mutex(State(verdict: CheckerVerdict(schedule: checker.schedule)))
  }

  var verdict: CheckerVerdict { state.withLock { $0.verdict } }

  func snapshot(subscribers: Int) -> CheckerStatus {
    state.withLock { s in
      CheckerStatus(
        checker: checker, isUp: s.verdict.isUp, weight: s.verdict.weight, lastOutcome: s.verdict.lastOutcome,
        lastLatency: s.lastLatency, consecutiveSuccesses: s.verdict.consecutiveSuccesses,
        consecutiveFailures: s.verdict.consecutiveFailures, retriesUsed: s.verdict.retriesUsed,
        probes: s.probes, subscribers: subscribers)
    }
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
