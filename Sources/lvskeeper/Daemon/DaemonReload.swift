import Foundation
import IPVSSync
import KeeperConfig
import VRRP

/// SIGHUP and `lvskeeper reload`: check the new configuration completely, then apply only the
/// differences. A refused reload keeps everything running on the old configuration.
extension Daemon {
  /// Returns once the new configuration is in force, IPVS included.
  func reload() async -> ReloadOutcome {
    notifier.reloading()
    let outcome = await attemptReload()
    lastReload = outcome
    DaemonMetrics.reload(succeeded: outcome.succeeded)
    if outcome.succeeded {
      logger.notice("reload: applied \(outcome.message)")
      notifier.ready(status: summary())
    } else {
      logger.error("reload refused, still running the previous configuration: \(outcome.message)")
      notifier.ready(status: "reload refused: \(outcome.message); running the previous configuration")
    }
    return outcome
  }

  private func attemptReload() async -> ReloadOutcome {
    // 1. Everything that can fail, before anything changes.
    let loaded: LoadedConfig
    do {
      loaded = try ConfigLoader(configID: options.configID).load(path: options.configPath)
    } catch {
      let first = error.diagnostics.first { $0.severity == .error }?.description ?? "\(error)"
      return ReloadOutcome(at: Date(), succeeded: false, message: first)
    }
    let newMapping: ServiceMapping
    let newUnits: [String: VRRPGroupSpec]
    do {
      newMapping = try ServiceMapping(loaded.configuration)
      newUnits = try VRRPMapping.units(loaded.configuration)
    } catch {
      return ReloadOutcome(at: Date(), succeeded: false, message: "\(error)")
    }
    let wantsKernel =
      !newMapping.ipvs.services.isEmpty || loaded.configuration.globalDefs.lvsSyncDaemon != nil
    var openedKernel: (any IPVSKernel)?
    if wantsKernel && kernel == nil {
      do {
        openedKernel = try Self.openKernel(dryRun: options.dryRun)
      } catch {
        return ReloadOutcome(at: Date(), succeeded: false, message: "\(error)")
      }
    }

    // 2. Commit: VRRP units that changed restart; unchanged ones keep their state.
    var restarted: [String] = []
    var failures: [String] = []
    for (name, unit) in units where newUnits[name] != unit.spec {
      unit.service.stop()
      units[name] = nil
      if newUnits[name] == nil { restarted.append("-\(name)") }
    }
    for (name, spec) in newUnits.sorted(by: { $0.key < $1.key }) where units[name] == nil {
      do {
        try startUnit(name, spec)
        restarted.append("+\(name)")
      } catch {
        failures.append("\(name): \(error)")
      }
    }
    config = loaded.configuration
    mapping = newMapping
    // 3. Checkers: unchanged ones keep their history; IPVS gets only the diff.
    monitor.apply(newMapping.monitored)
    if let openedKernel {
      kernel = openedKernel
      reconciler = IPVSReconciler(kernel: openedKernel)
    }
    if let reconciler {
      reconciler.setSpec(newMapping.ipvs)
      reconciler.setDriftRepairInterval(
        SchedulingMath.duration(loaded.configuration.globalDefs.lvsReconcileInterval))
      reconciler.setSyncDaemon(syncDaemon(masterOf: masterInstances()))
      await reconcileAndWait(reason: "reload")
    }
    let vrrpChange = restarted.isEmpty ? "VRRP unchanged" : "VRRP units \(restarted.joined(separator: " "))"
    if !failures.isEmpty {
      // The new configuration is in force (not "refused"), but some VRRP units did not start.
      logger.error("reload: applied, but VRRP could not start: \(failures.joined(separator: "; "))")
      return ReloadOutcome(
        at: Date(), succeeded: true,
        message: "\(vrrpChange); APPLIED WITH ERRORS, could not start: \(failures.joined(separator: "; "))")
    }
    return ReloadOutcome(at: Date(), succeeded: true, message: vrrpChange)
  }
}
