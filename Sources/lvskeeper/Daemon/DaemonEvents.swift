import Foundation
import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore
import VRRP

/// What the daemon does with the parts' events: each becomes an input of the reconciler, a log
/// line with its reason, and metrics.
extension Daemon {
  func handle(_ event: HealthEvent) {
    let latency = event.latency.map {
      Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
    }
    let destinations = mapping.destinations[event.server] ?? []
    DaemonMetrics.healthTransition(
      servers: destinations.map { ($0.service.description, $0.server.description) }, up: event.isUp,
      latencySeconds: latency)
    logger.notice("check: \(event.server) is \(event.isUp ? "UP" : "DOWN"): \(event.reason)")
    noteAnnounceHealth(event)
    guard let reconciler, !destinations.isEmpty else { return }
    let health: RealServerHealth = event.isUp ? .up(weight: event.weight.map { UInt32(clamping: $0) }) : .down
    for destination in destinations { reconciler.setHealth(destination, health) }
    reconcileInBackground(
      .health(Set(destinations.map(\.service)), reason: "\(event.server) \(event.isUp ? "up" : "down")"))
  }

  func handle(_ event: VRRPStateEvent) {
    let reason =
      event.to == .fault
      ? "fault" : event.from == .initialize ? "initial state" : "\(event.from) -> \(event.to)"
    transitions[event.instance] = (Date(), "\(reason) at priority \(event.priority)")
    let code =
      switch event.to {
      case .initialize: 0
      case .backup: 1
      case .master: 2
      case .fault: 3
      }
    let spec = units.values.lazy.flatMap(\.spec.instances).first { $0.name == event.instance }
    DaemonMetrics.vrrpTransition(
      instance: event.instance, vrid: spec.map { Int($0.vrid) }, interface: spec?.interface,
      to: event.to.rawValue,
      code: code)
    logger.notice("vrrp: \(event.instance) \(event.from) -> \(event.to) (priority \(event.priority))")
    guard let reconciler, globalDefs.lvsSyncDaemon != nil else { return }
    reconciler.setSyncDaemon(syncDaemon(masterOf: masterInstances()))
    reconcileInBackground(.everything(reason: "sync daemon follows \(event.instance) \(event.to)"))
  }

  func periodicReconcile() {
    // Bursts (a start's first verdicts, a flapping pool, the last drift repair's tables) leave
    // freed pages in the arenas of the threads that allocated them; once per interval they go
    // back to the kernel (see HeapTrim).
    HeapTrim.releaseFreePages()
    reconcileInBackground(.driftRepair(reason: "periodic reconcile (drift repair)"))
  }

  /// The connection sync daemon as `lvs_sync_daemon IF INSTANCE` asks: master while INSTANCE is
  /// master, backup otherwise, so established connections survive a failover.
  func syncDaemon(masterOf masters: Set<String>) -> SyncDaemonConfig? {
    guard let sync = globalDefs.lvsSyncDaemon else { return nil }
    let master = sync.vrrpInstance.map { masters.contains($0) } ?? true
    return SyncDaemonConfig(
      role: master ? .master : .backup, interface: sync.interface, syncID: UInt32(clamping: sync.syncID),
      maxLength: sync.maxLength.map { UInt16(clamping: $0) },
      group: sync.group,
      port: UInt16(clamping: sync.port), ttl: sync.ttl.map { UInt8(clamping: $0) })
  }

  /// Logs every operation a reconcile applied or failed, with the reason it ran, and runs the
  /// quorum scripts of services whose quorum changed.
  func record(_ report: ReconcileReport, reason: String) {
    for operation in report.applied {
      DaemonMetrics.ipvsOperation(Self.kind(operation), failed: false)
      if options.dryRun {
        logger.notice("ipvs (dry run, not applied): \(operation) (\(reason))")
        dryRunOperations.append("\(operation)")
      } else {
        logger.notice("ipvs: \(operation) (\(reason))")
      }
    }
    // Copied rather than trimmed in place: a start's burst (one operation per real server)
    // would otherwise keep its capacity for the daemon's life.
    if dryRunOperations.count > 200 { dryRunOperations = Array(dryRunOperations.suffix(200)) }
    for failure in report.failures {
      DaemonMetrics.ipvsOperation(Self.kind(failure.operation), failed: true)
      logger.error("ipvs: \(failure) (\(reason)); retried at the next reconcile")
    }
    if let error = report.readError { logger.error("ipvs: cannot read the kernel table: \(error)") }
    for error in report.controlErrors { logger.error("ipvs: \(error)") }
    for event in report.quorumEvents {
      DaemonMetrics.quorum(service: event.service.description, up: event.up)
    }
    for event in report.quorumEvents where !event.initial {
      logger.notice(
        "ipvs: \(event.service) quorum \(event.up ? "UP" : "DOWN") (live weight \(event.liveWeight))")
      let quorum = mapping.quorumScripts[event.service]
      if let script = event.up ? quorum?.up : quorum?.down {
        script.run(on: self.scripts) { [logger] exit in
          if case .failedToStart = exit { logger.error("quorum script \(script): \(exit)") }
        }
      }
    }
  }

  private static func kind(_ operation: IPVSOperation) -> String {
    switch operation {
    case .addService: "add_service"
    case .editService: "edit_service"
    case .deleteService: "delete_service"
    case .addDestination: "add_destination"
    case .editDestination: "edit_destination"
    case .deleteDestination: "delete_destination"
    }
  }
}
