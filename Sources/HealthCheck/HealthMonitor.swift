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
  public let events = HealthEventQueue()
  private let group: any EventLoopGroup
  private let logger: Logger
  private let scripts: ScriptRunner
  private let onProbeStart: (@Sendable (Duration) -> Void)?
  /// Whether a BFD session is up (BFD_CHECK); false for one the daemon does not run.
  private let bfdSessionUp: @Sendable (String) -> Bool

  /// One real server of the last `apply`, by slot. Its checkers are a range of `checkerList`.
  /// It holds the server as given (id 24 bytes, checkers and notify scripts references: 40 bytes), not
  /// copies of its scripts; with what it last reported, 48 bytes.
  private struct ServerEntry {
    var server: MonitoredServer
    var reported: ReportedState
    var id: RealServerID { server.id }
    var reportedUp: Bool { reported.isUp }
    var reportedWeight: Int? { reported.weight }
  }
  /// An up/down and a dynamic weight (dynamic weights are within -65535...65535) in 5 bytes
  /// instead of the 17 of `Bool` and `Int?`: one per real server and one per checker.
  /// Invariant: `weightValue == ReportedState.noWeight` exactly when the weight is nil.
  private struct ReportedState: Equatable {
    static let noWeight = Int32.min
    var weightValue: Int32
    var isUp: Bool
    init(isUp: Bool, weight: Int?) {
      self.isUp = isUp
      self.weightValue = weight.map { max(Int32(clamping: $0), Self.noWeight + 1) } ?? Self.noWeight
    }
    var weight: Int? { weightValue == Self.noWeight ? nil : Int(weightValue) }
  }
  /// One distinct checker (interned: one record however many servers use it), by slot. Its state
  /// is what every server using it sees, so servers keep no per-checker copy. 40 bytes.
  private struct CheckerRecord {
    var runner: any CheckRunner
    var reason: String?
    var verdict: ReportedState
    var state: ServerVerdict.CheckerState {
      get { .init(isUp: verdict.isUp, weight: verdict.weight, reason: reason) }
      set {
        verdict = ReportedState(isUp: newValue.isUp, weight: newValue.weight)
        reason = newValue.reason
      }
    }
    init(runner: any CheckRunner, state: ServerVerdict.CheckerState) {
      self.runner = runner
      self.reason = state.reason
      self.verdict = ReportedState(isUp: state.isUp, weight: state.weight)
    }
  }
  /// Flat tables, rebuilt by each `apply` except `records`, whose slots (and so runners and
  /// their history) survive a reload for every checker still wanted.
  /// Invariant: `slotOf[c] == i` exactly when `records[i]?.runner.checker == c`. A `Checker` key
  /// is a reference to the box the runner's checker shares, with its hash cached there.
  private struct State {
    var slotOf: [Checker: Int32] = [:]
    var records: [CheckerRecord?] = []
    var freeSlots: [Int32] = []
    var servers: [ServerEntry] = []
    /// Server slot s uses the distinct checker slots `checkerList[checkerStart[s]..<checkerStart[s+1]]`.
    var checkerStart: [Int32] = [0]
    var checkerList: [Int32] = []
    /// Checker slot c is used by the server slots `subscriberList[subscriberStart[c]..<subscriberStart[c+1]]`.
    var subscriberStart: [Int32] = [0]
    var subscriberList: [Int32] = []
    var stopped = false
    var timers: [ObjectIdentifier: ProbeTimer] = [:]

    func checkers(of server: Int) -> ArraySlice<Int32> {
      checkerList[Int(checkerStart[server])..<Int(checkerStart[server + 1])]
    }
    func subscribers(of slot: Int) -> ArraySlice<Int32> {
      guard slot + 1 < subscriberStart.count else { return [] }
      return subscriberList[Int(subscriberStart[slot])..<Int(subscriberStart[slot + 1])]
    }
    func states(of server: Int) -> [ServerVerdict.CheckerState] {
      checkers(of: server).compactMap { records[Int($0)]?.state }
    }
    func downReason(of server: Int) -> String? {
      ServerVerdict.downReason(
        checkers(of: server).compactMap { records[Int($0)].map { ($0.runner.checker, $0.state) } })
    }
  }
  private let state = Mutex(State())

  /// - Parameters:
  ///   - group: the loops probes run on; probes are spread over them round-robin.
  ///   - scripts: runs MISC_CHECK, notify_up and notify_down (the daemon's one runner).
  ///   - onProbeStart: called as each probe starts with its lateness against the schedule
  ///     (for benchmarks); must be cheap.
  ///   - bfdSessionUp: reads a BFD session's tracker view for BFD_CHECK; must be cheap.
  public init(
    group: any EventLoopGroup, logger: Logger = Logger(label: "lvskeeper.health"),
    scripts: ScriptRunner = .shared, onProbeStart: (@Sendable (Duration) -> Void)? = nil,
    bfdSessionUp: @escaping @Sendable (String) -> Bool = { _ in false }
  ) {
    self.bfdSessionUp = bfdSessionUp
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
    let hooks = RunnerHooks(onProbeStart: onProbeStart) { [weak self] runner, transition, latency in
      self?.checkerChanged(runner, transition, latency)
    }
    state.withLock { s in
      guard !s.stopped else { return }
      // 1. Intern every wanted checker; a new one gets a slot (a freed one first) and a runner.
      var wanted = [Bool](repeating: false, count: s.records.count)
      var checkerStart: [Int32] = [0]
      var checkerList: [Int32] = []
      checkerStart.reserveCapacity(servers.count + 1)
      checkerList.reserveCapacity(servers.count)
      // At most this many checkers after the apply: the tables grow once instead of doubling.
      let mostCheckers = servers.reduce(0) { $0 + $1.checkerCount }
      if mostCheckers > s.records.count {
        s.records.reserveCapacity(mostCheckers)
        s.slotOf.reserveCapacity(mostCheckers)
      }
      for server in servers {
        let first = checkerList.count
        server.forEachChecker { checker in
          let slot: Int32
          if let existing = s.slotOf[checker] {
            slot = existing
          } else {
            let runner = makeRunner(checker, timers: &s.timers, hooks: hooks)
            let v = runner.verdict
            let record = CheckerRecord(
              runner: runner, state: .init(isUp: v.isUp, weight: v.weight, reason: v.lastOutcome.downReason))
            if let free = s.freeSlots.popLast() {
              slot = free
              s.records[Int(free)] = record
            } else {
              slot = Int32(s.records.count)
              s.records.append(record)
              wanted.append(false)
            }
            s.slotOf[checker] = slot
            toStart.append((runner, CheckerVerdict.firstDelay(for: checker.schedule, using: &rng)))
          }
          wanted[Int(slot)] = true
          if !checkerList[first...].contains(slot) { checkerList.append(slot) }
        }
        checkerStart.append(Int32(checkerList.count))
      }
      // 2. Stop the checkers no server wants any more; their slots are reused.
      for slot in s.records.indices where !wanted[slot] {
        guard let record = s.records[slot] else { continue }
        toStop.append(record.runner)
        s.slotOf[record.runner.checker] = nil
        s.records[slot] = nil
        s.freeSlots.append(Int32(slot))
      }
      // 3. Every kept checker's state afresh, read in one pass over the engine.
      let live = s.records.indices.filter { s.records[$0] != nil }
      let snapshots = RunnerSnapshot.of(live.compactMap { s.records[$0]?.runner })
      for (slot, snapshot) in zip(live, snapshots) {
        let v = snapshot.verdict
        s.records[slot]?.state = .init(isUp: v.isUp, weight: v.weight, reason: v.lastOutcome.downReason)
      }
      // 4. Subscribers by checker, counted then filled (no set or array per checker).
      var subscriberStart = [Int32](repeating: 0, count: s.records.count + 1)
      for slot in checkerList { subscriberStart[Int(slot) + 1] += 1 }
      for i in 1..<subscriberStart.count { subscriberStart[i] += subscriberStart[i - 1] }
      var fill = subscriberStart
      var subscriberList = [Int32](repeating: 0, count: checkerList.count)
      for server in servers.indices {
        for slot in checkerList[Int(checkerStart[server])..<Int(checkerStart[server + 1])] {
          subscriberList[Int(fill[Int(slot)])] = Int32(server)
          fill[Int(slot)] += 1
        }
      }
      // 5. Servers: a kept one keeps what it last reported; a change through the reload is reported.
      var previous: [RealServerID: Int] = [:]
      previous.reserveCapacity(s.servers.count)
      for (index, entry) in s.servers.enumerated() { previous[entry.id] = index }
      let old = s.servers
      s.checkerStart = checkerStart
      s.checkerList = checkerList
      s.subscriberStart = subscriberStart
      s.subscriberList = subscriberList
      var entries: [ServerEntry] = []
      entries.reserveCapacity(servers.count)
      for (index, server) in servers.enumerated() {
        let states = s.states(of: index)
        let (up, weight) = (ServerVerdict.isUp(states), ServerVerdict.weight(states))
        let now = ReportedState(isUp: up, weight: weight)
        var entry = ServerEntry(server: server, reported: now)
        if let was = previous[server.id].map({ old[$0] }) {
          entry.reported = was.reported
          if was.reported != now {
            entry.reported = now
            emitted.append(event(for: entry, reason: "reload", latency: nil))
          }
        } else {
          emitted.append(event(for: entry, reason: "initial", latency: nil))
        }
        entries.append(entry)
      }
      s.servers = entries
      // Yield under the lock and before any probe starts: a probe that fails at once must never
      // put its DOWN on the stream ahead of the server's "initial" UP.
      for event in emitted { events.yield(event) }
    }
    for runner in toStop { runner.stop() }
    // The engine's slot table grows once for all new checkers it takes.
    let onEngine = toStart.compactMap { ($0.0 as? TCPCheckRunner)?.engine }
    onEngine.first?.reserve(additional: onEngine.count)
    for (runner, delay) in toStart { runner.start(after: delay) }
  }

  /// TCP checkers live on the process-wide engine: a monitor dropped without `stop()` must not
  /// leave them probing.
  /// `events` ends with the monitor, as an `AsyncStream` ends with its last continuation.
  deinit {
    for runner in state.withLock({ $0.records.compactMap { $0?.runner } }) { runner.stop() }
    events.finish()
  }

  /// Whether `servers` is what the last `apply` gave, in the same order (a reload that would
  /// give the same list can skip `apply`); the caller need not keep its own copy to tell.
  public func isWatching(_ servers: [MonitoredServer]) -> Bool {
    state.withLock { s in
      guard s.servers.count == servers.count else { return false }
      for index in servers.indices where s.servers[index].server != servers[index] { return false }
      return true
    }
  }

  /// The servers of the last `apply`, in its order.
  public var servers: [MonitoredServer] { state.withLock { $0.servers.map(\.server) } }

  /// Stops every probe and finishes `events`. Probes in flight finish but report nothing.
  public func stop() {
    let runners = state.withLock { s -> [any CheckRunner] in
      s.stopped = true
      defer {
        s.records = []
        s.slotOf = [:]
      }
      return s.records.compactMap { $0?.runner }
    }
    for runner in runners { runner.stop() }
    events.finish()
  }

  /// A consistent copy of every server's and checker's state.
  public func status() -> HealthStatus {
    state.withLock { s in
      let live = s.records.indices.filter { s.records[$0] != nil }
      var snapshots = [RunnerSnapshot?](repeating: nil, count: s.records.count)
      for (slot, snapshot) in zip(live, RunnerSnapshot.of(live.compactMap { s.records[$0]?.runner })) {
        snapshots[slot] = snapshot
      }
      // Each id's text built once (an id holds its parts, not its text), not twice per comparison.
      let texts = s.servers.map(\.id.rawValue)
      let order = texts.indices.sorted { texts[$0] < texts[$1] }
      let servers = order.map { index in
        let entry = s.servers[index]
        return ServerStatus(
          id: entry.id, isUp: entry.reportedUp, weight: entry.reportedWeight,
          reason: s.downReason(of: index),
          checkers: s.checkers(of: index).compactMap { slot in
            s.records[Int(slot)].flatMap { record in
              snapshots[Int(slot)]?.status(
                of: record.runner.checker, subscribers: s.subscribers(of: Int(slot)).count)
            }
          })
      }
      return HealthStatus(servers: servers, probeCount: live.count)
    }
  }

  /// Checkers `TCPCheckRunner.job(for:)` puts on the engine (TCP_CHECK, and those with a
  /// conversation template) run on the process's `TCPCheckEngine`; PING_CHECK, UDP_CHECK and
  /// DNS_CHECK on its `DatagramCheckEngine` (a checker neither engine can take reports why on every
  /// probe); every other checker runs its probes on an event loop of `group`, woken by that loop's
  /// `ProbeTimer`.
  ///
  /// `hooks` are made once per `apply` and shared by every runner it makes (a closure made per
  /// runner was a heap context per checker).
  private func makeRunner(
    _ checker: Checker, timers: inout [ObjectIdentifier: ProbeTimer], hooks: RunnerHooks
  ) -> any CheckRunner {
    let onChange = hooks.onChange
    let probe: any Probe
    if let job = TCPCheckRunner.job(for: checker.spec) {
      switch (TCPCheckEngine.shared, job) {
      case (.success(let engine), .success):
        return TCPCheckRunner(checker: checker, engine: engine, hooks: hooks)
      case (.failure(let error), _): probe = FailingProbe(reason: error.description)
      case (_, .failure(let error)): probe = FailingProbe(reason: error.description)
      }
    } else if case .success? = DatagramCheckRunner.job(for: checker.spec),
      case .success(let engine) = DatagramCheckEngine.shared
    {
      return DatagramCheckRunner(
        checker: checker, engine: engine, loop: group.next(), onProbeStart: onProbeStart, onChange: onChange)
    } else {
      probe = makeProbe(checker.spec)
    }
    let loop = group.next()
    let timer = timers[ObjectIdentifier(loop), default: ProbeTimer(loop: loop)]
    timers[ObjectIdentifier(loop)] = timer
    return ProbeRunner(
      checker: checker, probe: probe, timer: timer, onProbeStart: onProbeStart, onChange: onChange)
  }

  private func makeProbe(_ spec: CheckerSpec) -> any Probe {
    switch spec {
    case .tcp(let c): return TCPProbe(check: c)
    case .http(let c): return HTTPProbe(check: c, tls: false)
    case .https(let c): return HTTPProbe(check: c, tls: true)
    case .mysql, .smtp:
      // Not reached: `TCPCheckRunner.job(for:)` puts them on the engine, or fails them there.
      return FailingProbe(reason: "\(spec) runs only on the check engine")
    case .misc(let c): return MiscProbe(check: c, runner: scripts)
    case .ping, .udp, .dns: return DatagramProbe(spec: spec)
    case .file(let c): return FileProbe(check: c)
    case .bfd(let c): return SessionStateProbe(check: c, sessionUp: bfdSessionUp)
    }
  }

  private func event(for entry: ServerEntry, reason: String, latency: Duration?) -> HealthEvent {
    HealthEvent(
      server: entry.id, isUp: entry.reportedUp, weight: entry.reportedWeight,
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
      guard !s.stopped, let slot = s.slotOf[runner.checker].map(Int.init), s.records[slot]?.runner === runner
      else { return }
      s.records[slot]?.state = checkerState
      for server in s.subscribers(of: slot).map(Int.init) {
        var entry = s.servers[server]
        let states = s.states(of: server)
        let (up, weight) = (ServerVerdict.isUp(states), ServerVerdict.weight(states))
        let now = ReportedState(isUp: up, weight: weight)
        if now != entry.reported {
          let flipped = up != entry.reportedUp
          entry.reported = now
          let reason =
            up
            ? "\(runner.checker.spec) \(flipped ? "succeeded" : "weight \(weight ?? 0)")"
            : (s.downReason(of: server) ?? "down")
          let change = event(for: entry, reason: reason, latency: latency)
          emitted.append(change)
          // Under the lock, so concurrent runners' changes reach the stream in state order.
          events.yield(change)
          if flipped, let script = up ? entry.server.notifyUp : entry.server.notifyDown {
            scripts.append(script)
          }
          s.servers[server] = entry
        }
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
