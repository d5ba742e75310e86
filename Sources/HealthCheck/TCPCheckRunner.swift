import NIOCore
import Synchronization

/// A checker run by the process's `TCPCheckEngine` rather than on an event loop (TCP_CHECK, and
/// every checker `job(for:)` gives a conversation template): the engine owns its schedule and
/// verdict; this object is the monitor's handle on them.
/// It is its checker's subscriber on the engine (no closure context per checker); the engine
/// holds it while registered.
/// Invariant: registered with the engine from `start` until `stop`, and never again after `stop`.
final class TCPCheckRunner: CheckRunner, TCPCheckSubscriber {
  let checker: Checker
  let engine: TCPCheckEngine
  /// Shared by every runner of one `apply`: 56 bytes per runner instead of 97 with two closures
  /// and an event loop of its own.
  private let hooks: RunnerHooks

  /// No job is kept here: it is resolved from `checker` at `start` and lives only in the engine's
  /// slot, so an idle runner does not carry a second copy of it (one runner per checker).
  /// The registration is one word: the engine's handle while running, or one of two values no
  /// handle takes (a handle's upper half is a slot index, and the engine never has 2^32 - 1
  /// slots), so the runner is 56 bytes (a 64-byte malloc chunk) rather than 57 (80).
  private static let idle = UInt64.max
  private static let stopped = UInt64.max - 1
  private let registration = Mutex<UInt64>(TCPCheckRunner.idle)

  /// `checker`'s `job(for: checker.spec)` must succeed (the monitor checks that first).
  init(checker: Checker, engine: TCPCheckEngine, hooks: RunnerHooks) {
    self.checker = checker
    self.engine = engine
    self.hooks = hooks
  }

  /// The job for `check`, or why it cannot be probed.
  static func job(for check: TCPCheck) -> Result<TCPCheckJob, ProbeError> {
    job(target: check.target, timeout: check.connectTimeout, template: nil)
  }

  /// The engine's job for a checker that runs on the engine, or why it cannot be probed; nil for
  /// a checker that does not run on the engine. The one place a checker kind joins the engine:
  /// connect-only, or with its `ConversationTemplate`.
  static func job(for spec: CheckerSpec) -> Result<TCPCheckJob, ProbeError>? {
    switch spec {
    case .tcp(let check): return job(for: check)
    case .http(let check): return job(for: check, tls: false)
    case .https(let check): return job(for: check, tls: true)
    case .mysql(let check): return job(target: check.target, timeout: check.connectTimeout, template: check)
    case .smtp(let check): return job(target: check.target, timeout: check.connectTimeout, template: check)
    case .misc, .ping, .udp, .dns, .file, .bfd: return nil
    }
  }

  /// HTTP_GET's (`tls` false) or SSL_GET's job: an `HTTPConversation` per url, under TLS with
  /// each url's SNI for SSL_GET.
  static func job(for check: HTTPCheck, tls: Bool) -> Result<TCPCheckJob, ProbeError> {
    job(
      target: check.target, timeout: check.connectTimeout, template: HTTPTemplate(check: check, tls: tls),
      tls: tls ? TLSLegs(serverNames: check.urls.map { HTTPTemplate.serverName(url: $0, check: check) }) : nil
    )
  }

  /// A job connecting to `target` (bound and marked as it says), each leg within `timeout`.
  static func job(
    target: CheckTarget, timeout: Duration, template: (any ConversationTemplate)?, tls: TLSLegs? = nil
  ) -> Result<TCPCheckJob, ProbeError> {
    Result {
      TCPCheckJob(
        remote: try ProbeSocket.remoteAddress(target),
        local: try ProbeSocket.localAddress(target),
        options: ProbeSocketOptions(target),
        timeout: timeout, template: template, tls: tls)
    }.mapError { $0 as? ProbeError ?? .badAddress(target.address) }
  }

  func snapshot() -> RunnerSnapshot {
    handle.flatMap { engine.snapshots([$0])[0] } ?? .unprobed(checker)
  }

  /// The engine's handle while registered.
  var handle: UInt64? {
    let r = registration.withLock { $0 }
    return r == Self.idle || r == Self.stopped ? nil : r
  }

  func start(after delay: Duration) {
    registration.withLock { r in
      guard r == Self.idle else { return }
      // Resolved before, in the monitor; a failure here cannot happen, and would leave it unprobed.
      guard case .success(let job)? = Self.job(for: checker.spec) else {
        r = Self.stopped
        return
      }
      r = engine.add(job, schedule: checker.schedule, after: delay, subscriber: self)
    }
  }

  func stop() {
    registration.withLock { r in
      if r != Self.idle && r != Self.stopped { engine.remove(r) }
      r = Self.stopped
    }
  }

  // MARK: TCPCheckSubscriber

  var wantsProbeStarts: Bool { hooks.onProbeStart != nil }
  func probeStarted(lateness: Duration) { hooks.onProbeStart?(lateness) }
  func checkerTransitioned(_ transition: CheckerTransition, latency: Duration) {
    hooks.onChange(self, transition, latency)
  }

}
