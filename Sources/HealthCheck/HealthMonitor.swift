import KeeperCore
import Logging
import NIOCore
import Synchronization

/// Probes every real server it is given and reports up/down changes as `HealthEvent`s.
/// One probe runs per distinct `Checker` (address, port, spec, schedule) however many servers
/// use it; its results fan out to each. A server is up only while all its checkers are up.
/// Invariant: `events` receives one event per server change, in the order changes happened.
public final class HealthMonitor: Sendable {
  /// Every server change; single consumer. Finishes after `stop()`.
  public let events: AsyncStream<HealthEvent>
  private let continuation: AsyncStream<HealthEvent>.Continuation
  private let group: any EventLoopGroup
  private let logger: Logger
  private let scripts: ScriptRunner
  private let onProbeStart: (@Sendable (Duration) -> Void)?

  private struct ServerEntry {
    var server: MonitoredServer
    var verdict: ServerVerdict
    var reportedUp: Bool
    var reportedWeight: Int?
  }
  private struct State {
    var runners: [Checker: any CheckRunner] = [:]
    var subscribers: [Checker: Set<RealServerID>] = [:]
    var servers: [RealServerID: ServerEntry] = [:]
    var stopped = false
    var timers: [ObjectIdentifier: ProbeTimer] = [:]
  }
  private let state = Mutex(State())

  /// - Parameters:
  ///   - group: the loops probes run on; probes are spread over them round-robin.
  ///   - scripts: runs MISC_CHECK, notify_up and notify_down (the daemon's one runner).
  ///   - onProbeStart: called as each probe starts with its lateness against the schedule
  ///     (for benchmarks); must be cheap.
  public init(
    group: any EventLoopGroup, logger: Logger = Logger(label: "lvskeeper.health"),
    scripts: ScriptRunner = .shared, onProbeStart: (@Sendable (Duration) -> Void)? = nil
  ) {
    (events, continuation) = AsyncStream.makeStream(of: HealthEvent.self, bufferingPolicy: .unbounded)
    self.group = group
    self.logger = logger
    self.scripts = scripts
    self.onProbeStart = onProbeStart
  }

  /// Starts watching `servers`, or reloads: checkers present before keep running with their
  /// history; removed ones stop; new ones start after their warmup. New servers get an
  /// "initial" event; a kept server whose verdict changes through the reload gets one too.
  public func apply(_ servers: [MonitoredServer]) {
    var rng = SystemRandomNumberGenerator()
    var toStart: [(any CheckRunner, Duration)] = []
    var toStop: [any CheckRunner] = []
    var emitted: [HealthEvent] = []
    state.withLock { s in
      guard !s.stopped else { return }
      let wanted = Set(servers.flatMap(\.checkers))
      for (checker, runner) in s.runners where !wanted.contains(checker) {
        toStop.append(runner)
        s.runners[checker] = nil
      }
      for checker in wanted where s.runners[checker] == nil {
        let runner = makeRunner(checker, timers: &s.timers)
        s.runners[checker] = runner
        toStart.append((runner, CheckerVerdict.firstDelay(for: checker.schedule, using: &rng)))
      }
      s.subscribers = [:]
      let snapshots = RunnerSnapshot.of(Array(s.runners.values))
      var entries: [RealServerID: ServerEntry] = [:]
      for server in servers {
        var states: [Checker: ServerVerdict.CheckerState] = [:]
        for checker in server.checkers {
          s.subscribers[checker, default: []].insert(server.id)
          if let runner = s.runners[checker], let v = snapshots[ObjectIdentifier(runner)]?.verdict {
            states[checker] = .init(isUp: v.isUp, weight: v.weight, reason: v.lastOutcome.downReason)
          }
        }
        let verdict = ServerVerdict(checkers: states)
        var entry = ServerEntry(
          server: server, verdict: verdict, reportedUp: verdict.isUp, reportedWeight: verdict.weight)
        if let old = s.servers[server.id] {
          entry.reportedUp = old.reportedUp
          entry.reportedWeight = old.reportedWeight
          if old.reportedUp != verdict.isUp || old.reportedWeight != verdict.weight {
            entry.reportedUp = verdict.isUp
            entry.reportedWeight = verdict.weight
            emitted.append(event(for: entry, reason: "reload", latency: nil))
          }
        } else {
          emitted.append(event(for: entry, reason: "initial", latency: nil))
        }
        entries[server.id] = entry
      }
      s.servers = entries
      // Yield under the lock and before any probe starts: a probe that fails at once must never
      // put its DOWN on the stream ahead of the server's "initial" UP.
      for event in emitted { continuation.yield(event) }
    }
    for runner in toStop { runner.stop() }
    for (runner, delay) in toStart { runner.start(after: delay) }
  }

  /// TCP checkers live on the process-wide engine: a monitor dropped without `stop()` must not
  /// leave them probing.
  deinit {
    for runner in state.withLock({ Array($0.runners.values) }) { runner.stop() }
  }

  /// Stops every probe and finishes `events`. Probes in flight finish but report nothing.
  public func stop() {
    let runners = state.withLock { s -> [any CheckRunner] in
      s.stopped = true
      defer { s.runners = [:] }
      return Array(s.runners.values)
    }
    for runner in runners { runner.stop() }
    continuation.finish()
  }

  /// A consistent copy of every server's and checker's state.
  public func status() -> HealthStatus {
    state.withLock { s in
      let snapshots = RunnerSnapshot.of(Array(s.runners.values))
      let servers = s.servers.values.sorted { $0.server.id.rawValue < $1.server.id.rawValue }.map { entry in
        ServerStatus(
          id: entry.server.id, isUp: entry.reportedUp, weight: entry.reportedWeight,
          reason: entry.verdict.downReason,
          checkers: Array(Set(entry.server.checkers)).compactMap { c in
            s.runners[c].flatMap { snapshots[ObjectIdentifier($0)] }?.status(
              of: c, subscribers: s.subscribers[c]?.count ?? 0)
          })
      }
      return HealthStatus(servers: servers, probeCount: s.runners.count)
    }
  }

  /// TCP_CHECK runs on the process's `TCPCheckEngine`; every other checker runs its probes on an
  /// event loop of `group`, woken by that loop's `ProbeTimer`.
  private func makeRunner(_ checker: Checker, timers: inout [ObjectIdentifier: ProbeTimer]) -> any CheckRunner
  {
    let loop = group.next()
    let onChange: @Sendable (any CheckRunner, CheckerTransition, Duration) -> Void = {
      [weak self] runner, transition, latency in
      self?.checkerChanged(runner, transition, latency)
    }
    let probe: any Probe
    if case .tcp(let check) = checker.spec {
      switch (TCPCheckEngine.shared, TCPCheckRunner.job(for: check)) {
      case (.success(let engine), .success(let job)):
        return TCPCheckRunner(
          checker: checker, job: job, engine: engine, loop: loop, onProbeStart: onProbeStart,
          onChange: onChange)
      case (.failure(let error), _): probe = FailingProbe(reason: error.description)
      case (_, .failure(let error)): probe = FailingProbe(reason: error.description)
      }
    } else {
      probe = makeProbe(checker.spec)
    }
    let timer = timers[ObjectIdentifier(loop), default: ProbeTimer(loop: loop)]
    timers[ObjectIdentifier(loop)] = timer
    return ProbeRunner(
      checker: checker, probe: probe, timer: timer, onProbeStart: onProbeStart, onChange: onChange)
  }

  private func makeProbe(_ spec: CheckerSpec) -> any Probe {
    switch spec {
    case .tcp(let c): return TCPProbe(check: c)
    case .http(let c): return HTTPProbe(check: c, tls: nil)
    case .https(let c):
      switch HTTPProbe.insecureClientContext {
      case .success(let context): return HTTPProbe(check: c, tls: context)
      case .failure(let error): return FailingProbe(reason: "TLS unavailable: \(error)")
      }
    case .mysql(let c): return MySQLProbe(check: c)
    case .misc(let c): return MiscProbe(check: c, runner: scripts)
    }
  }

  private func event(for entry: ServerEntry, reason: String, latency: Duration?) -> HealthEvent {
    HealthEvent(
      server: entry.server.id, isUp: entry.reportedUp, weight: entry.reportedWeight,
      reason: reason, latency: latency)
  }

  private func checkerChanged(_ runner: any CheckRunner, _ transition: CheckerTransition, _ latency: Duration)
  {
    let v = runner.verdict
    let checkerState = ServerVerdict.CheckerState(
      isUp: v.isUp, weight: v.weight, reason: v.lastOutcome.downReason)
    var emitted: [HealthEvent] = []
    var scripts: [RunnableScript] = []
    state.withLock { s in
      // A runner replaced by a reload must not speak for the new configuration.
      guard !s.stopped, s.runners[runner.checker] === runner else { return }
      for id in s.subscribers[runner.checker] ?? [] {
        guard var entry = s.servers[id] else { continue }
        entry.verdict.update(runner.checker, to: checkerState)
        let up = entry.verdict.isUp
        let weight = entry.verdict.weight
        if up != entry.reportedUp || weight != entry.reportedWeight {
          let flipped = up != entry.reportedUp
          entry.reportedUp = up
          entry.reportedWeight = weight
          let reason =
            up
            ? "\(runner.checker.spec) \(flipped ? "succeeded" : "weight \(weight ?? 0)")"
            : (entry.verdict.downReason ?? "down")
          let change = event(for: entry, reason: reason, latency: latency)
          emitted.append(change)
          // Under the lock, so concurrent runners' changes reach the stream in state order.
          continuation.yield(change)
          if flipped, let script = up ? entry.server.notifyUp : entry.server.notifyDown {
            scripts.append(script)
          }
        }
        s.servers[id] = entry
      }
    }
    for e in emitted {
      logger.info(
        "real server \(e.isUp ? "up" : "down")",
        metadata: [
          "server": "\(e.server)", "reason": "\(e.reason)", "weight": "\(e.weight.map(String.init) ?? "-")",
        ])
    }
    for script in scripts {
      script.run(on: self.scripts) { [logger] exit in
        if case .failedToStart = exit {
          logger.error("notify script failed", metadata: ["script": "\(script)", "error": "\(exit)"])
        }
      }
    }
  }
}

extension Optional where Wrapped == ProbeOutcome {
  var downReason: String? {
    if case .down(let reason)? = self { return reason }
    return nil
  }
}
