import BFD
import Foundation
import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore
import Logging
import NIOCore
import NIOPosix
import VRRP

/// How `lvskeeper run` was asked to behave.
struct DaemonOptions: Sendable {
  var configPath: String
  var configID: String?
  /// IPVS changes are computed, logged and shown in `status`, but applied only to an in-memory table.
  var dryRun = false
  var controlSocket = ControlCoding.defaultSocketPath
  /// Where state that outlives the process lives (`server-state.json`: `lvskeeper server`).
  var stateDirectory = DaemonOptions.defaultStateDirectory
  static let defaultStateDirectory = "/var/lib/lvskeeper"
  /// Stop gives up waiting for parts after this long, so a hung script never blocks shutdown.
  var stopTimeout: Duration = .seconds(10)
  /// A reload whose parse and checks take longer is refused; the running configuration stays.
  var reloadTimeout: Duration = .seconds(30)

  /// `announce_withdraw_delay` of the configuration the daemon started with, if it announced
  /// anything (zero otherwise): the longest wait for the routers at stop. A reload that raises
  /// the delay, or introduces `announce`, is capped at it: the hard bound was set at start.
  var announceWithdrawBound: Duration = .zero

  /// The process exits at this bound after a stop begins, whatever still hangs.
  var stopHardBound: Duration { stopTimeout + Self.stopGrace + announceWithdrawBound }
  /// Time after `stopTimeout` for the IPVS stop policy, the listeners and the exit itself.
  static let stopGrace: Duration = .seconds(5)
}

/// Why the daemon could not start.
struct DaemonStartError: Error, CustomStringConvertible {
  var description: String
}

/// One running director: the VRRP units, the health monitor and the IPVS reconciler, joined.
///
/// Invariant: data flows one way. The configuration is mapped once per (re)load into the parts'
/// specs; health and VRRP events only feed the reconciler's inputs; nothing writes back into the
/// configuration. A reload that fails at any step before `commit` changes nothing that runs.
actor Daemon {
  let options: DaemonOptions
  let logger: Logger
  let notifier: SystemdNotifier
  let group: MultiThreadedEventLoopGroup
  let startedAt = Date()

  /// Only the global settings outlive start and reload: the rest of the model is mapped into
  /// `mapping` and the VRRP specs, then dropped (at 36k real servers it is tens of MB).
  var globalDefs: GlobalDefs
  /// The VRRP units of the configuration given at init, until `start` runs them.
  private var initialUnits: Result<[String: VRRPGroupSpec], any Error>
  /// The `bfd_instance`s of the configuration given at init, until `start` runs them.
  private var initialBFD: [BFDInstanceSpec]
  /// The `announce` virtual servers of the configuration in force (docs/scaleout.md), the tun
  /// device and routes that carry them, the verdicts they are decided on and their state.
  var announceSpec = AnnounceSpec()
  private var initialAnnounceSpec: AnnounceSpec
  var announceOwner: AnnounceOwner?
  var announceHealth: [HealthCheck.RealServerID: AnnounceDecision.Verdict] = [:]
  var announceQuorum: [String: Bool] = [:]
  var announcements: [IPAddress: AnnouncementState] = [:]
  /// The BFD engine and the units it wakes.
  nonisolated let bfd = BFDLink()
  var mapping: ServiceMapping
  var units: [String: (spec: VRRPGroupSpec, service: VRRPService)] = [:]
  /// `static_ipaddress`/`static_routes`/`static_rules` of the configuration in force; their
  /// owner exists once a configuration has had any.
  var staticNetwork: StaticNetworkSpec
  var staticNetworkOwner: StaticNetworkOwner?
  let monitor: HealthMonitor
  /// Every script the daemon runs (VRRP, checkers, quorum); stopped with the daemon.
  nonisolated let scripts = ScriptRunner()
  var kernel: (any IPVSKernel)?
  var reconciler: IPVSReconciler?
  var transitions: [String: (at: Date, reason: String)] = [:]
  var lastReload: ReloadOutcome?
  /// Operators' runtime states (`lvskeeper server`), as the state file holds them.
  var adminStates: [IPVSSync.RealServerID: ServerAdminState] = [:]
  /// With --dry-run: the most recent operations that would have been applied.
  var dryRunOperations: [String] = []
  /// Kernel I/O runs here, not on the actor: a netlink call may block up to its deadline (and a
  /// kernel sync-daemon stop for seconds), while the actor must keep taking events and `status`.
  /// Serial, so reconciles and their log lines keep their order.
  nonisolated let kernelQueue = DispatchQueue(label: "lvskeeper.ipvs")
  /// Background reconciles on `kernelQueue`, coalesced: at most one waits at any time.
  nonisolated let backgroundReconciles: CoalescingReconciles
  private var tasks: [Task<Void, Never>] = []
  private(set) var stopping = false
  /// True while a reload is being parsed and applied; a second reload meanwhile is refused.
  var reloading = false
  /// VRRP drop counts already added to `lvskeeper_vrrp_dropped_packets_total`, by unit object,
  /// instance and reason (a restarted unit counts from zero again).
  var publishedDrops: [DropCounterKey: UInt64] = [:]
  /// Reloads asked for since start (names abandoned parses in messages).
  var reloadsStarted = 0
  /// Reload parses running on their threads, including ones abandoned at their deadline.
  nonisolated let parsesInFlight = PendingParts()
  /// The parts of a stop still running (named in the log when the stop times out).
  nonisolated let pendingStop = PendingParts()
  /// VRRP events arrive on the VRRP thread; one stream keeps them in order into the actor.
  private let vrrpEvents: AsyncStream<VRRPStateEvent>
  private let vrrpEventSink: AsyncStream<VRRPStateEvent>.Continuation

  /// - Parameter mapped: the virtual servers already mapped while `loaded` was read (its sink);
  ///   those still in `loaded`'s model are mapped here.
  init(
    options: DaemonOptions, loaded: LoadedConfig, mapped: ServiceMappingStream = ServiceMappingStream(),
    logger: Logger, notifier: SystemdNotifier
  ) throws {
    self.options = options
    self.logger = logger
    self.notifier = notifier
    self.globalDefs = loaded.configuration.globalDefs
    self.initialUnits = Result { try VRRPMapping.units(loaded.configuration) }
    self.staticNetwork = VRRPMapping.staticNetwork(loaded.configuration)
    self.initialBFD = BFDLink.specs(loaded.configuration)
    self.initialAnnounceSpec = AnnounceSpec(loaded.configuration)
    self.mapping = try mapped.finish(loaded.configuration)
    self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let bfd = self.bfd
    self.monitor = HealthMonitor(
      group: group, logger: Logger(label: "lvskeeper.health"), scripts: scripts,
      bfdSessionUp: { bfd.isUp($0) })
    (vrrpEvents, vrrpEventSink) = AsyncStream.makeStream(of: VRRPStateEvent.self)
    backgroundReconciles = CoalescingReconciles(queue: kernelQueue)
  }

  // MARK: start

  /// Starts every part. Throws, having stopped what it started, when one cannot run.
  func start() async throws {
    // keepalived runs startup_script once, before anything else starts, and waits for it.
    if let startup = mapping.startupScript {
      let exit = await startup.script.run(timeout: startup.timeout, on: scripts)
      logger.notice("startup_script \(startup.script): \(exit)")
    }
    let units = try initialUnits.get()
    initialUnits = .success([:])
    if needsKernel(mapping) {
      kernel = try Self.openKernel(dryRun: options.dryRun)
    }
    // Static addresses, routes and rules before any instance (keepalived's start_vrrp): a
    // virtual route may go through a static one.
    try applyStaticNetwork(staticNetwork)
    // BFD before VRRP: a unit tracking a session reads it from its first sample.
    do {
      try bfd.apply(initialBFD)
    } catch {
      throw DaemonStartError(description: "\(error)")
    }
    // VRRP first: after a restart the peer must hear adverts again within its master-down
    // interval, and VIPs left by the previous run are adopted (or removed) right away.
    do {
      for (name, spec) in units.sorted(by: { $0.key < $1.key }) {
        try startUnit(name, spec)
      }
    } catch {
      for unit in self.units.values { unit.service.stop() }
      staticNetworkOwner?.removeAll()
      bfd.stop()
      throw DaemonStartError(description: "VRRP: \(error)")
    }
    bfd.setListeners(self.units.values.map(\.service))
    // Before the first reconcile: a server left in maintenance never re-enters the pool.
    restoreServerStates()
    if let kernel {
      let reconciler = IPVSReconciler(kernel: kernel, logger: Logger(label: "lvskeeper.ipvs"))
      reconciler.setSpec(mapping.ipvs)
      reconciler.setDriftRepairInterval(SchedulingMath.duration(globalDefs.lvsReconcileInterval))
      reconciler.setSyncDaemon(syncDaemon(masterOf: masterInstances()))
      self.reconciler = reconciler
      publishAdminStates()
      record(reconciler.start(flush: globalDefs.lvsFlush), reason: "start: adopt the kernel table")
    }
    // Before the checkers: their first ("initial") verdicts decide the first announcements.
    do {
      try applyAnnounceSpec(initialAnnounceSpec)
    } catch {
      for unit in self.units.values { unit.service.stop() }
      staticNetworkOwner?.removeAll()
      bfd.stop()
      throw error
    }
    applyIPVSSysctls(globalDefs)
    monitor.apply(mapping.takeMonitored())
    let events = monitor.events
    tasks.append(
      Task { [weak self] in
        for await event in events { await self?.handle(event) }
      })
    let vrrpEvents = self.vrrpEvents
    tasks.append(
      Task { [weak self] in
        for await event in vrrpEvents { await self?.handle(event) }
      })
    let interval = SchedulingMath.duration(globalDefs.lvsReconcileInterval)
    tasks.append(
      Task { [weak self] in
        while !Task.isCancelled {
          do { try await Task.sleep(for: interval) } catch { return }
          await self?.periodicReconcile()
        }
      })
    if let period = notifier.watchdogInterval {
      tasks.append(Task { [weak self] in await self?.watchdogLoop(period: period) })
    }
    // The parse's peak (syntax tree, model) is freed by now: return its pages.
    HeapTrim.releaseFreePages()
    notifier.ready(status: summary())
    logger.info("started: \(summary())")
  }

  private func needsKernel(_ mapping: ServiceMapping) -> Bool {
    !mapping.ipvs.services.isEmpty || globalDefs.lvsSyncDaemon != nil
  }

  static func openKernel(dryRun: Bool) throws -> any IPVSKernel {
    if dryRun { return InMemoryIPVSKernel(recordsOperations: false) }
    do {
      let kernel = try NetlinkIPVSKernel()
      _ = try kernel.info()
      return kernel
    } catch {
      throw DaemonStartError(
        description: "virtual_server is configured but kernel IPVS is not available (\(error)); "
          + "load it with 'modprobe ip_vs', or use --dry-run to stage this configuration")
    }
  }

  /// Installs `spec`'s static entries and removes those of the previous configuration it lacks.
  /// Failed entries are logged by the owner and do not stop the others.
  func applyStaticNetwork(_ spec: StaticNetworkSpec) throws {
    if staticNetworkOwner == nil && !spec.isEmpty {
      do {
        staticNetworkOwner = try StaticNetworkOwner(logger: Logger(label: "lvskeeper.vrrp"))
      } catch {
        throw DaemonStartError(description: "static routes: \(error)")
      }
    }
    staticNetworkOwner?.apply(spec)
    staticNetwork = spec
  }

  func startUnit(_ name: String, _ spec: VRRPGroupSpec) throws {
    let sink = vrrpEventSink
    let bfd = self.bfd
    let service = try VRRPService(
      spec: spec, logger: Logger(label: "lvskeeper.vrrp"), scripts: scripts, onEvent: { sink.yield($0) },
      bfdState: { bfd.isUp($0) })
    try service.start()
    units[name] = (spec, service)
  }

  // MARK: stop

  /// SIGTERM or `lvskeeper stop`: priority-0 adverts and VIPs removed (VRRP), checkers stopped, IPVS
  /// left as it is unless `lvs_flush_on_stop`. Returns within `stopTimeout` plus the time the IPVS
  /// stop policy takes (itself bounded by `stopGrace`) even if a part hangs: every part stops on a
  /// thread of its own and a part still running at the deadline is abandoned and logged. Returns
  /// false when something did not finish.
  @discardableResult
  func stop() async -> Bool {
    guard !stopping else { return true }
    stopping = true
    notifier.stopping()
    logger.info("stopping")
    if TestHooks.daemonHangsOnStop { TestHooks.hangForever() }
    for task in tasks { task.cancel() }
    // Announced VIPs first: the routers move the traffic away while everything here still serves.
    await withdrawAllForStop()
    // Taken before the checkers stop: who is up and which quorums hold decides what omega runs.
    let omegaScripts = omegaStopScripts()
    var parts: [(name: String, stop: @Sendable () -> Void)] = units.sorted(by: { $0.key < $1.key }).map {
      let service = $0.value.service
      return ("VRRP unit \($0.key)", { service.stop() })
    }
    let bfd = self.bfd
    parts.append(("BFD", { bfd.stop() }))
    let monitor = self.monitor
    let checkersHang = TestHooks.checkersHangOnStop
    parts.append(
      (
        "health checkers",
        {
          if checkersHang { TestHooks.hangForever() }
          monitor.stop()
        }
      ))
    let all = DispatchGroup()
    for part in parts {
      pendingStop.begin(part.name)
      all.enter()
      let thread = Thread { [pendingStop] in
        part.stop()
        pendingStop.end(part.name)
        all.leave()
      }
      thread.name = "lvskeeper.stop"
      thread.start()
    }
    var clean = await Deadline.wait(for: all, options.stopTimeout)
    if !clean {
      logger.error(
        "stop: \(pendingStop.names.joined(separator: ", ")) did not finish within \(options.stopTimeout); going on without"
      )
    }
    // keepalived's stop_vrrp: the static entries go once every instance has resigned.
    staticNetworkOwner?.removeAll()
    for script in omegaScripts {
      logger.notice("omega: running \(script) at stop")
      script.run(on: scripts) { [logger] exit in
        if case .failedToStart = exit { logger.error("omega script \(script): \(exit)") }
      }
    }
    // keepalived runs shutdown_script once everything else has stopped, and waits for it.
    if let shutdown = mapping.shutdownScript {
      let exit = await shutdown.script.run(timeout: shutdown.timeout, on: scripts)
      logger.notice("shutdown_script \(shutdown.script): \(exit)")
    }
    // After VRRP, omega and shutdown_script (their scripts get a second to run): nothing a
    // script started outlives the daemon.
    await scripts.terminateAll()
    if let reconciler {
      let policy: StopPolicy =
        switch globalDefs.lvsFlushOnStop {
        case .none: .leave
        case .all: .flushAll
        case .virtualServers: .removeOwned
        }
      pendingStop.begin("IPVS stop policy")
      let queue = kernelQueue
      let report = await Deadline.race(DaemonOptions.stopGrace / 2, timedOut: nil) { finish in
        queue.async { finish(reconciler.stop(policy)) }
      }
      if let report {
        pendingStop.end("IPVS stop policy")
        record(report, reason: "stop (lvs_flush_on_stop \(globalDefs.lvsFlushOnStop.rawValue))")
      } else {
        clean = false
        logger.error("stop: the IPVS stop policy did not finish within \(DaemonOptions.stopGrace / 2)")
      }
    }
    closeAnnounceInterface()
    let group = self.group
    _ = await Deadline.run(.seconds(1)) { try? await group.shutdownGracefully() }
    logger.info(clean ? "stopped" : "stopped, leaving behind: \(pendingStop.names.joined(separator: ", "))")
    return clean
  }

  /// `omega`: keepalived runs, as it clears such a virtual server at shutdown, `notify_down` of
  /// each real server that is up and `quorum_down` of a quorum that holds.
  func omegaStopScripts() -> [RunnableScript] {
    guard !mapping.omega.isEmpty else { return [] }
    let up = Set(monitor.status().servers.filter(\.isUp).map(\.id))
    let quorum = reconciler?.status().quorumUp ?? [:]
    let notifyDown = Dictionary(
      monitor.servers.map { ($0.id, $0.notifyDown) }, uniquingKeysWith: { first, _ in first })
    var scripts: [RunnableScript] = []
    for service in mapping.omega {
      scripts += service.servers.filter(up.contains).compactMap { notifyDown[$0] ?? nil }
      scripts += service.services.filter { quorum[$0] == true }.compactMap { mapping.quorumScripts[$0]?.down }
    }
    return scripts
  }

  /// Runs `body` but returns after `limit` whatever happens; true when `body` finished in time.
  static func withDeadline(_ limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
    await Deadline.run(limit, body)
  }

  // MARK: watchdog

  /// Pings systemd only while the NIO loop, the daemon actor and every VRRP loop answer: a wedged
  /// daemon gets restarted.
  private func watchdogLoop(period: Duration) async {
    while !Task.isCancelled {
      // This runs on the daemon's actor, so reaching here also proves the actor is not wedged.
      let loopAlive = (try? await group.next().submit { true }.get()) ?? false
      // The VRRP loops wake at least every 100 ms; one silent for a second is stuck.
      let vrrpAlive = units.values.allSatisfy {
        ContinuousClock.now - $0.service.lastHeartbeat() < .seconds(1)
      }
      if loopAlive && vrrpAlive { notifier.watchdog() }
      do { try await Task.sleep(for: period / 2) } catch { return }
    }
  }

  /// Names of the instances that are master right now.
  func masterInstances() -> Set<String> {
    Set(units.values.flatMap { $0.service.status().instances }.filter { $0.state == .master }.map(\.name))
  }

  /// Runs a reconcile on `kernelQueue` and records its report; the actor stays free meanwhile.
  func reconcileAndWait(only scope: Set<ServiceKey>? = nil, reason: String) async {
    guard let reconciler else { return }
    let report = await withCheckedContinuation { continuation in
      kernelQueue.async { continuation.resume(returning: reconciler.reconcile(only: scope)) }
    }
    record(report, reason: reason)
  }

  /// Queues a reconcile on `kernelQueue` (merged into one already waiting there) and records its
  /// report back on the actor.
  func reconcileInBackground(_ request: ReconcileRequest) {
    guard let reconciler else { return }
    backgroundReconciles.submit(request, to: reconciler) { [weak self] report, reason in
      Task { await self?.record(report, reason: reason) }
    }
  }

  func summary() -> String {
    let masters = masterInstances()
    let services = mapping.ipvs.services.count
    let servers = mapping.realServerCount
    let master = masters.isEmpty ? "master of none" : "master of \(masters.sorted().joined(separator: ","))"
    return "\(units.count) VRRP unit(s), \(master); \(services) virtual service(s), \(servers) real server(s)"
      + (options.dryRun ? " [dry run]" : "")
  }
}

/// Seconds (as configured) to Durations.
enum SchedulingMath {
  static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
}
