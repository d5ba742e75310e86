import NIOCore
import Synchronization

/// A PING_CHECK, UDP_CHECK or DNS_CHECK checker run by the process's `DatagramCheckEngine`: the
/// engine owns its schedule and verdict; this object is the monitor's handle on them.
/// Invariant: registered with the engine from `start` until `stop`, and never again after `stop`.
final class DatagramCheckRunner: CheckRunner {
  let checker: Checker
  let loop: any EventLoop
  let engine: DatagramCheckEngine
  private let onProbeStart: (@Sendable (Duration) -> Void)?
  private let onChange: @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void

  private enum Registration {
    case idle
    case running(handle: UInt64)
    case stopped
  }
  private let registration: Mutex<Registration>

  /// `checker` must be a datagram checker whose `job(for:)` succeeds (the monitor checks first).
  init(
    checker: Checker, engine: DatagramCheckEngine, loop: any EventLoop,
    onProbeStart: (@Sendable (Duration) -> Void)?,
    onChange: @escaping @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void
  ) {
    self.checker = checker
    self.registration = Mutex(.idle)
    self.engine = engine
    self.loop = loop
    self.onProbeStart = onProbeStart
    self.onChange = onChange
  }

  /// The engine's job for `spec`: nil when `spec` is not a datagram checker, a failure when its
  /// addresses or DNS name cannot be used.
  static func job(for spec: CheckerSpec) -> Result<DatagramCheckJob, ProbeError>? {
    let target: CheckTarget
    let timeout: Duration
    let kind: DatagramCheckJob.Kind
    switch spec {
    case .ping(let c):
      (target, timeout, kind) = (c.target, c.connectTimeout, .ping)
    case .udp(let c):
      let payload = c.payload ?? (0..<32).map { filler[$0 % filler.count] }
      let rule =
        c.requireReply
        ? UDPReplyRule(
          data: c.replyData, mask: c.replyMask, minLength: c.minReplyLength, maxLength: c.maxReplyLength)
        : nil
      (target, timeout, kind) = (
        c.target, c.connectTimeout, .udp(payload: payload, requireReply: c.requireReply, rule: rule)
      )
    case .dns(let c):
      guard let query = DNSMessage.query(name: c.name, type: c.type) else {
        return .failure(.badAddress("DNS name \(c.name)"))
      }
      (target, timeout, kind) = (c.target, c.connectTimeout, .dns(query: query))
    case .tcp, .http, .https, .mysql, .smtp, .misc, .file, .bfd:
      return nil
    }
    return Result {
      DatagramCheckJob(
        remote: try ProbeSocket.remoteAddress(target), local: try ProbeSocket.localAddress(target),
        options: ProbeSocketOptions(target), timeout: timeout, kind: kind)
    }.mapError { $0 as? ProbeError ?? .badAddress(target.address) }
  }

  /// keepalived's UDP payload when none is configured (layer4.c set_buf, UDP_BUFSIZE 32).
  private static let filler = Array("keepalived check - ".utf8)

  func snapshot() -> RunnerSnapshot {
    handle.flatMap { engine.snapshots([$0])[0] } ?? .unprobed(checker)
  }

  var handle: UInt64? {
    guard case .running(let handle) = registration.withLock({ $0 }) else { return nil }
    return handle
  }

  func start(after delay: Duration) {
    registration.withLock { r in
      guard case .idle = r else { return }
      guard case .success(let job)? = Self.job(for: checker.spec) else {
        r = .stopped
        return
      }
      let observer = DatagramCheckEngine.Observer(onProbeStart: onProbeStart) {
        [weak self] transition, latency in
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

/// A datagram checker as a one-shot probe on `DatagramCheckEngine` (for callers wanting one
/// outcome, and the monitor's fallback when the engine or the job cannot be had).
struct DatagramProbe: Probe {
  let job: Result<DatagramCheckJob, ProbeError>?
  let engine: Result<DatagramCheckEngine, DatagramCheckEngineError>

  init(
    spec: CheckerSpec,
    engine: Result<DatagramCheckEngine, DatagramCheckEngineError> = DatagramCheckEngine.shared
  ) {
    self.job = DatagramCheckRunner.job(for: spec)
    self.engine = engine
  }

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    switch (engine, job) {
    case (.failure(let error), _): return loop.makeSucceededFuture(.down(reason: error.description))
    case (_, .failure(let error)?): return loop.makeSucceededFuture(.down(reason: error.description))
    case (_, nil): return loop.makeSucceededFuture(.down(reason: "not a datagram checker"))
    case (.success(let engine), .success(let job)?):
      let promise = loop.makePromise(of: ProbeOutcome.self)
      engine.probeOnce(job) { promise.succeed($0) }
      return promise.futureResult
    }
  }
}
