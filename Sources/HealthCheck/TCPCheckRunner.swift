import NIOCore
import Synchronization

/// A TCP_CHECK checker run by the process's `TCPCheckEngine` rather than on an event loop: the
/// engine owns its schedule and verdict; this object is the monitor's handle on them.
/// Invariant: registered with the engine from `start` until `stop`, and never again after `stop`.
final class TCPCheckRunner: CheckRunner {
  let checker: Checker
  let loop: any EventLoop
  let engine: TCPCheckEngine
  private let onProbeStart: (@Sendable (Duration) -> Void)?
  private let onChange: @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void

  private enum Registration {
    /// Not started; the job moves into the engine's slot at `start` (one copy per checker).
    case idle(TCPCheckJob)
    case running(handle: UInt64)
    case stopped
  }
  private let registration: Mutex<Registration>

  init(
    checker: Checker, job: TCPCheckJob, engine: TCPCheckEngine, loop: any EventLoop,
    onProbeStart: (@Sendable (Duration) -> Void)?,
    onChange: @escaping @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void
  ) {
    self.checker = checker
    self.registration = Mutex(.idle(job))
    self.engine = engine
    self.loop = loop
    self.onProbeStart = onProbeStart
    self.onChange = onChange
  }

  /// The job for `check`, or why it cannot be probed.
  static func job(for check: TCPCheck) -> Result<TCPCheckJob, ProbeError> {
    Result {
      TCPCheckJob(
        remote: try ProbeSocket.remoteAddress(check.target),
        local: try ProbeSocket.localAddress(check.target),
        options: ProbeSocketOptions(check.target),
        timeout: check.connectTimeout)
    }.mapError { $0 as? ProbeError ?? .badAddress(check.target.address) }
  }

  func snapshot() -> RunnerSnapshot {
    handle.flatMap { engine.snapshots([$0])[0] } ?? .unprobed(checker)
  }

  /// The engine's handle while registered.
  var handle: UInt64? {
    guard case .running(let handle) = registration.withLock({ $0 }) else { return nil }
    return handle
  }

  func start(after delay: Duration) {
    registration.withLock { r in
      guard case .idle(let job) = r else { return }
      let observer = TCPCheckEngine.Observer(onProbeStart: onProbeStart) { [weak self] transition, latency in
        guard let self else { return }
        self.onChange(self, transition, latency)
      }
      r = .running(handle: engine.add(job, schedule: checker.schedule, after: delay, observer: observer))
    }
  }

  func stop() {
    registration.withLock { r in
      if case .running(let handle) = r { engine.remove(handle) }
      r = .stopped
    }
  }

}
