import Logging
import Synchronization

/// Keeps kernel IPVS equal to f(spec, health) for the services lvskeeper owns.
///
/// Feed it with `setSpec` (config load/reload), `setHealth` (checker results) and
/// `setSyncDaemon` (VRRP state), then call `reconcile` after each change and `repairDrift`
/// periodically (`run`). The kernel is read at every reconcile and never assumed: drift is repaired,
/// what is already right is adopted without operations, and services outside the spec are left
/// alone. The periodic repair reads every destination only as often as `DriftRepairSchedule` allows.
///
/// Invariant: only services in the current spec, or removed from it and not yet deleted, are ever
/// changed; reconciles are serialised.
public final class IPVSReconciler: Sendable {
  private struct Inputs {
    var spec = IPVSSpec()
    var health = HealthTable()
    var admin: [RealServerID: AdminOverride] = [:]
    var retired: Set<ServiceKey> = []
    var syncDaemon: SyncDaemonConfig??
    var status = IPVSStatus(
      ownedServices: [], quorumUp: [:], draining: [:], pendingFailures: [], lastReconcile: nil,
      lastOperationCount: 0)
  }

  private struct Work {
    var quorumUp: [ServiceKey: Bool] = [:]
    var draining: [RealServerID: ContinuousClock.Instant] = [:]
    var failures: [String: PendingFailure] = [:]
    var startedDaemons: Set<SyncDaemonRole> = []
    var drift = DriftRepairSchedule(interval: .seconds(10))
  }

  private let kernel: any IPVSKernel
  private let now: @Sendable () -> ContinuousClock.Instant
  private let logger: Logger
  private let inputs = Mutex(Inputs())
  private let work = Mutex(Work())

  public init(
    kernel: any IPVSKernel, logger: Logger = Logger(label: "lvskeeper.ipvs"),
    now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
  ) {
    self.kernel = kernel
    self.logger = logger
    self.now = now
  }

  // MARK: inputs

  /// Replaces the configuration. Services that leave it are deleted at the next reconcile.
  public func setSpec(_ spec: IPVSSpec) {
    inputs.withLock { i in
      let old = Set(i.spec.services.map(\.key))
      let new = Set(spec.services.map(\.key))
      i.retired = i.retired.union(old.subtracting(new)).subtracting(new)
      i.spec = spec
    }
  }

  /// Records a checker result; nil forgets it (back to "not checked yet").
  public func setHealth(_ server: RealServerID, _ health: RealServerHealth?) {
    inputs.withLock { $0.health[server] = health }
  }

  /// Sets an operator's override of one real server; nil returns it to the checkers' verdict.
  public func setAdminOverride(_ server: RealServerID, _ override: AdminOverride?) {
    inputs.withLock { $0.admin[server] = override }
  }

  /// The sync daemon that should run (keepalived `lvs_sync_daemon`, role from the VRRP state);
  /// nil stops the one lvskeeper started. Not calling this leaves sync daemons alone.
  public func setSyncDaemon(_ config: SyncDaemonConfig?) {
    inputs.withLock { $0.syncDaemon = .some(config) }
  }

  public func status() -> IPVSStatus { inputs.withLock { $0.status } }

  // MARK: reconcile

  /// First reconcile after start. With `flush` (keepalived `lvs_flush`) the whole kernel table is
  /// flushed first, owned or not; without it what the kernel holds is adopted.
  public func start(flush: Bool) -> ReconcileReport {
    if flush {
      do throws(IPVSKernelError) {
        try kernel.flush()
      } catch {
        logger.error("lvs_flush failed: \(error)")
      }
    }
    return reconcile()
  }

  /// Reads the kernel, applies the minimal operations, and returns what happened. `only` limits the
  /// reads and changes to some services (e.g. the one whose real server changed health).
  @discardableResult
  public func reconcile(only scope: Set<ServiceKey>? = nil) -> ReconcileReport {
    work.withLock { w in reconcile(&w, only: scope, listed: nil) }
  }

  /// How often the periodic drift repair may read every destination (`lvs_reconcile_interval`);
  /// see `DriftRepairSchedule`.
  public func setDriftRepairInterval(_ interval: Duration, budgetFactor: Int = 50) {
    work.withLock { w in
      w.drift.interval = interval
      w.drift.budgetFactor = max(1, budgetFactor)
    }
  }

  /// The drift-repair schedule as it stands (for `status` and tests).
  public func driftRepairSchedule() -> DriftRepairSchedule { work.withLock { $0.drift } }

  /// The periodic drift repair. When `DriftRepairSchedule` says so, a full reconcile; otherwise
  /// the service list is read and only services that need it get their destinations read and
  /// repaired: services missing from the kernel (then everything is read: a flush or module reload
  /// took them; unless adding them failed before: then they are retried), services whose attributes
  /// changed, retired services still present, services with
  /// a pending failure or a draining destination, and `extra` (e.g. services whose real servers
  /// changed health since the last reconcile). Timeouts and the sync daemon are repaired either way.
  @discardableResult
  public func repairDrift(alsoReading extra: Set<ServiceKey> = []) -> ReconcileReport {
    work.withLock { w in
      guard w.drift.depth(at: now()) == .serviceList else { return reconcile(&w, only: nil, listed: nil) }
      let listed: [KernelService]
      do throws(IPVSKernelError) {
        listed = try kernel.services()
      } catch {
        logger.error("reading kernel IPVS service list failed: \(error)")
        w.drift.requireFull()
        var report = ReconcileReport()
        report.readError = error
        publish(w, report)
        return report
      }
      let (spec, retired) = inputs.withLock { ($0.spec, $0.retired) }
      let present = Dictionary(listed.map { ($0.key, $0.attributes) }, uniquingKeysWith: { a, _ in a })
      let failing = Set(w.failures.values.map(\.operation.service))
      // A service that vanished means the table may have lost anything: read it all. One whose
      // add keeps failing is only retried, or a persistent error would cost a full read each time.
      if spec.services.contains(where: { present[$0.key] == nil && !failing.contains($0.key) }) {
        w.drift.requireFull()
        return reconcile(&w, only: nil, listed: listed)
      }
      var scope = extra.union(failing)
      for vs in spec.services where present[vs.key] != vs.attributes { scope.insert(vs.key) }
      scope.formUnion(retired.filter { present[$0] != nil })
      scope.formUnion(w.draining.keys.map(\.service))
      return reconcile(&w, only: scope, listed: listed, controls: true)
    }
  }

  /// One reconcile under the work lock. `listed`: the kernel's service list if already read.
  /// `controls`: also repair timeouts and the sync daemon (always done when `scope` is nil).
  private func reconcile(
    _ w: inout Work, only scope: Set<ServiceKey>?, listed: [KernelService]?, controls: Bool = false
  ) -> ReconcileReport {
    let (spec, health, admin, retired, daemon) = inputs.withLock {
      ($0.spec, $0.health, $0.admin, $0.retired, $0.syncDaemon)
    }
    let started = now()
    var report = ReconcileReport()
    let inScope = { (key: ServiceKey) in scope?.contains(key) ?? true }
    // Services are independent in the desired table: compute only those in scope.
    var scopedSpec = spec
    if let scope { scopedSpec.services = spec.services.filter { scope.contains($0.key) } }
    let desired = DesiredTable(
      spec: scopedSpec, healthOf: { health[$0] }, previousQuorum: w.quorumUp, admin: admin)
    for event in desired.events where inScope(event.service) {
      w.quorumUp[event.service] = event.up
      report.quorumEvents.append(event)
      logger.notice(
        "quorum \(event.up ? "up" : "down") for \(event.service), live weight \(event.liveWeight)")
    }
    let wanted = desired.services.filter { inScope($0.key) }
    let gone = retired.filter(inScope)
    let actual: IPVSTable
    do throws(IPVSKernelError) {
      actual = try IPVSTable.read(from: kernel, only: Set(wanted.keys).union(gone), listed: listed)
    } catch {
      logger.error("reading kernel IPVS table failed: \(error)")
      report.readError = error
      w.drift.requireFull()
      publish(w, report)
      return report
    }
    let instant = now()
    let plan = ReconcilePlan(
      desired: wanted, retired: gone, actual: actual,
      draining: w.draining.filter { inScope($0.key.service) },
      now: instant)
    // The cost of a full repair: desired table, reads and plan (not the operations it applies).
    if scope == nil { w.drift.recordFullRead(start: started, duration: now() - started) }
    w.draining = w.draining.filter { !inScope($0.key.service) }.merging(plan.draining) { $1 }
    var results: [IPVSOperationResult] = []
    if !plan.operations.isEmpty {
      do throws(IPVSKernelError) {
        results = try kernel.apply(plan.operations)
      } catch {
        results = plan.operations.map { IPVSOperationResult(operation: $0, error: error) }
      }
    }
    record(results, scope: inScope, into: &w, report: &report)
    let deleted = Set(
      results.compactMap { r -> ServiceKey? in
        if case .deleteService(let key) = r.operation, r.error == nil { return key }
        return nil
      })
    let stillThere = Set(gone.filter { actual.services[$0] != nil }).subtracting(deleted)
    inputs.withLock { $0.retired = $0.retired.subtracting(gone.subtracting(stillThere)) }
    if scope == nil || controls {
      reconcileTimeouts(spec.timeouts, &report)
      if let daemon { reconcileSyncDaemon(daemon, &w, &report) }
    }
    publish(w, report)
    return report
  }

  private func record(
    _ results: [IPVSOperationResult], scope inScope: (ServiceKey) -> Bool, into w: inout Work,
    report: inout ReconcileReport
  ) {
    var failures = w.failures.filter { !inScope($0.value.operation.service) }
    for r in results {
      guard let error = r.error else {
        report.applied.append(r.operation)
        continue
      }
      let target = "\(r.operation.service)|\(r.operation.destination.map { "\($0)" } ?? "")"
      let attempts = (w.failures[target]?.attempts ?? 0) + 1
      let failure = PendingFailure(operation: r.operation, error: error, attempts: attempts)
      failures[target] = failure
      report.failures.append(failure)
      logger.error("IPVS operation failed, will retry at next reconcile: \(failure)")
    }
    w.failures = failures
  }

  private func reconcileTimeouts(_ wanted: IPVSTimeouts?, _ report: inout ReconcileReport) {
    guard let wanted else { return }
    do throws(IPVSKernelError) {
      let current = try kernel.timeouts()
      let differs =
        (wanted.tcp != 0 && wanted.tcp != current.tcp)
        || (wanted.tcpFin != 0 && wanted.tcpFin != current.tcpFin)
        || (wanted.udp != 0 && wanted.udp != current.udp)
      if differs { try kernel.setTimeouts(wanted) }
    } catch {
      logger.error("lvs_timeouts: \(error)")
      report.controlErrors.append(error)
    }
  }

  private func reconcileSyncDaemon(
    _ wanted: SyncDaemonConfig?, _ w: inout Work, _ report: inout ReconcileReport
  ) {
    do throws(IPVSKernelError) {
      let running = try kernel.syncDaemons()
      for daemon in running where w.startedDaemons.contains(daemon.role) && daemon.role != wanted?.role {
        try kernel.stopSyncDaemon(daemon.role)
        w.startedDaemons.remove(daemon.role)
      }
      if let wanted {
        if let current = running.first(where: { $0.role == wanted.role }) {
          if current.interface != wanted.interface || current.syncID != wanted.syncID {
            try kernel.stopSyncDaemon(wanted.role)
            try kernel.startSyncDaemon(wanted)
          }
        } else {
          try kernel.startSyncDaemon(wanted)
        }
        w.startedDaemons.insert(wanted.role)
      }
    } catch {
      logger.error("lvs_sync_daemon: \(error)")
      report.controlErrors.append(error)
    }
  }

  private func publish(_ w: Work, _ report: ReconcileReport) {
    let instant = now()
    inputs.withLock { i in
      i.status = IPVSStatus(
        ownedServices: (i.spec.services.map(\.key) + i.retired).sorted(), quorumUp: w.quorumUp,
        draining: w.draining,
        pendingFailures: w.failures.values.sorted { $0.operation.service < $1.operation.service },
        lastReconcile: instant, lastOperationCount: report.applied.count + report.failures.count)
    }
  }

  /// Repairs drift (`repairDrift`) every `interval` until the task is cancelled (global_defs
  /// `lvs_reconcile_interval`).
  public func run(interval: Duration) async {
    setDriftRepairInterval(interval)
    while !Task.isCancelled {
      repairDrift()
      do { try await Task.sleep(for: interval) } catch { return }
    }
  }

  /// Releases the kernel state at daemon stop according to `policy`.
  @discardableResult
  public func stop(_ policy: StopPolicy) -> ReconcileReport {
    work.withLock { w in
      var report = ReconcileReport()
      let owned = inputs.withLock { Set($0.spec.services.map(\.key)).union($0.retired) }
      do throws(IPVSKernelError) {
        switch policy {
        case .leave:
          return report
        case .flushAll:
          try kernel.flush()
          return report
        case .removeOwned, .removeOwnedServices:
          let actual = try IPVSTable.read(from: kernel, only: owned)
          var ops: [IPVSOperation] = []
          for key in actual.services.keys.sorted() {
            if policy == .removeOwned, let s = actual.services[key] {
              ops += s.destinations.keys.sorted().map { .deleteDestination(key, $0) }
            }
            ops.append(.deleteService(key))
          }
          record(try kernel.apply(ops), scope: { _ in true }, into: &w, report: &report)
        }
        for role in w.startedDaemons { try? kernel.stopSyncDaemon(role) }
        w.startedDaemons = []
      } catch {
        logger.error("releasing IPVS at stop: \(error)")
        report.readError = error
      }
      return report
    }
  }
}
