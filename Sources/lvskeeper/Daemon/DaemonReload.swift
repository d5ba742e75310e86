import Foundation
import IPVSSync
import KeeperConfig
import VRRP

/// A configuration read, checked and mapped into the parts' specs: everything of a reload that can
/// fail, done before anything changes.
struct PreparedReload: Sendable {
  var loaded: LoadedConfig
  var mapping: ServiceMapping
  var units: [String: VRRPGroupSpec]
  var staticNetwork: StaticNetworkSpec
  var announce: AnnounceSpec
}

/// SIGHUP and `lvskeeper reload`: check the new configuration completely, then apply only the
/// differences. A refused reload keeps everything running on the old configuration.
///
/// The parse, validation and mapping run on a thread of their own, not on the daemon's actor, so
/// `status`, `stop` and the watchdog keep answering however long they take; past
/// `reloadTimeout` the reload is refused (the parse is abandoned, its result ignored). One
/// reload at a time: a reload asked for while one is in progress is refused, not queued, and says
/// so (the caller may ask again; the configuration file is read afresh then). Abandoned parses
/// still running are capped at `maximumAbandonedParses`: past that, reloads are refused until
/// one ends, so a parse that hangs for good (an include that never answers) cannot pile up threads.
extension Daemon {
  static let maximumAbandonedParses = 2

  /// Returns once the new configuration is in force, IPVS included, or refused.
  func reload() async -> ReloadOutcome {
    if stopping {
      return ReloadOutcome(at: Date(), succeeded: false, message: "the daemon is stopping")
    }
    if reloading {
      let message = "a reload is already in progress; try again when it has finished"
      logger.warning("reload refused: \(message)")
      return ReloadOutcome(at: Date(), succeeded: false, message: message)
    }
    let abandoned = parsesInFlight.names
    if abandoned.count >= Self.maximumAbandonedParses {
      let message =
        "\(abandoned.count) earlier reloads are still reading the configuration past their deadline "
        + "(\(abandoned.joined(separator: ", "))); reload refused until one ends or lvskeeper restarts"
      logger.error("reload refused: \(message)")
      return ReloadOutcome(at: Date(), succeeded: false, message: message)
    }
    reloading = true
    defer { reloading = false }
    notifier.reloading()
    let outcome = await attemptReload()
    // The old model and mapping are gone by now (attemptReload's locals included).
    HeapTrim.releaseFreePages()
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

  /// Reads, checks and maps the configuration at `path`. Pure of daemon state; runs off the actor.
  /// `expectedRealServers` (the configuration in force's count) sizes the mapping's tables up front.
  nonisolated static func prepare(path: String, configID: String?, expectedRealServers: Int = 0)
    -> Result<PreparedReload, ReloadRefusal>
  {
    TestHooks.passReloadGate()
    let loaded: LoadedConfig
    let mapped = ServiceMappingStream(expectedRealServers: expectedRealServers)
    do {
      loaded = try ConfigLoader(configID: configID).load(path: path, sink: mapped)
    } catch {
      let first = error.diagnostics.first { $0.severity == .error }?.description ?? "\(error)"
      return .failure(ReloadRefusal(message: first))
    }
    do {
      return .success(
        PreparedReload(
          loaded: loaded, mapping: try mapped.finish(loaded.configuration),
          units: try VRRPMapping.units(loaded.configuration),
          staticNetwork: VRRPMapping.staticNetwork(loaded.configuration),
          announce: AnnounceSpec(loaded.configuration)))
    } catch {
      return .failure(ReloadRefusal(message: "\(error)"))
    }
  }

  private func attemptReload() async -> ReloadOutcome {
    // 1. Everything that can fail, before anything changes, off the actor and bounded.
    let (path, configID, limit) = (options.configPath, options.configID, options.reloadTimeout)
    let expected = mapping.realServerCount
    reloadsStarted += 1
    let (parses, parse) = (parsesInFlight, "reload \(reloadsStarted) from \(Date().formatted(.iso8601))")
    parses.begin(parse)
    let prepared = await Deadline.runBlocking(limit, name: "lvskeeper.reload-parse") {
      defer { parses.end(parse) }
      return Self.prepare(path: path, configID: configID, expectedRealServers: expected)
    }
    guard let prepared else {
      return ReloadOutcome(
        at: Date(), succeeded: false,
        message: "reading and checking the configuration took longer than \(limit); abandoned")
    }
    let loaded: LoadedConfig
    var newMapping: ServiceMapping
    let newUnits: [String: VRRPGroupSpec]
    let newStaticNetwork: StaticNetworkSpec
    let newAnnounce: AnnounceSpec
    switch prepared {
    case .failure(let refusal): return ReloadOutcome(at: Date(), succeeded: false, message: refusal.message)
    case .success(let ready):
      (loaded, newMapping, newUnits, newStaticNetwork, newAnnounce) = (
        ready.loaded, ready.mapping, ready.units, ready.staticNetwork, ready.announce
      )
    }
    if stopping { return ReloadOutcome(at: Date(), succeeded: false, message: "the daemon is stopping") }
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
    var stuck: Set<String> = []
    for (name, unit) in units where newUnits[name] != unit.spec {
      units[name] = nil
      // VRRPService.stop() blocks until its loop ends: off the actor, and bounded.
      let service = unit.service
      let stopped = await Deadline.runBlocking(options.stopTimeout, name: "lvskeeper.reload-stop") {
        service.stop()
        return true
      }
      if stopped == nil {
        stuck.insert(name)
        failures.append("\(name): its old VRRP loop did not stop within \(options.stopTimeout)")
      }
      if newUnits[name] == nil { restarted.append("-\(name)") }
    }
    if stopping { return ReloadOutcome(at: Date(), succeeded: false, message: "the daemon is stopping") }
    // keepalived's reload: static entries the new configuration dropped go, the rest is (re)set.
    if newStaticNetwork != staticNetwork {
      do {
        try applyStaticNetwork(newStaticNetwork)
      } catch {
        failures.append("\(error)")
      }
    }
    for (name, spec) in newUnits.sorted(by: { $0.key < $1.key })
    where units[name] == nil && !stuck.contains(name) {
      do {
        try startUnit(name, spec)
        restarted.append("+\(name)")
      } catch {
        failures.append("\(name): \(error)")
      }
    }
    do {
      try bfd.apply(BFDLink.specs(loaded.configuration))
    } catch {
      failures.append("BFD: \(error)")
    }
    bfd.setListeners(units.values.map(\.service))
    // Timeouts and the sync daemon are repaired only by a full reconcile.
    let controlsChanged =
      newMapping.ipvs.timeouts != mapping.ipvs.timeouts
      || loaded.configuration.globalDefs.lvsSyncDaemon != globalDefs.lvsSyncDaemon
    globalDefs = loaded.configuration.globalDefs
    // 3. Checkers: unchanged ones keep their history; IPVS gets only the diff. A reload that
    // leaves every real server's checkers as they were (a weight, a scheduler) skips the monitor:
    // at 36k servers re-interning them is a sixth of the reload's CPU, and changes nothing.
    let checkersChanged = !monitor.isWatching(newMapping.monitored)
    let newMonitored = newMapping.takeMonitored()
    // Only the kernel services whose spec changed (added, edited, removed) are read and
    // reconciled: at 2,277 services reading and diffing all of them was most of a one-weight
    // reload. The others are as the last reconcile left them, and the periodic drift repair
    // still reads everything on its schedule.
    let scope =
      openedKernel != nil || controlsChanged
      ? nil : Self.changedServices(from: mapping.ipvs, to: newMapping.ipvs)
    carryServerStates(from: mapping.ipvs, to: newMapping.ipvs)
    mapping = newMapping
    applyIPVSSysctls(loaded.configuration.globalDefs)
    // Before the checkers: new real servers' "initial" verdicts then count. VIPs whose spec and
    // verdicts did not change keep their routes (no flap).
    if newAnnounce != announceSpec {
      do {
        try applyAnnounceSpec(newAnnounce)
      } catch {
        failures.append("\(error)")
      }
    }
    if checkersChanged { monitor.apply(newMonitored) }
    if let openedKernel {
      kernel = openedKernel
      reconciler = IPVSReconciler(kernel: openedKernel)
      publishAdminStates()
    }
    if let reconciler {
      reconciler.setSpec(newMapping.ipvs)
      reconciler.setDriftRepairInterval(
        SchedulingMath.duration(loaded.configuration.globalDefs.lvsReconcileInterval))
      reconciler.setSyncDaemon(syncDaemon(masterOf: masterInstances()))
      await reconcileAndWait(only: scope, reason: "reload")
    }
    let vrrpChange = restarted.isEmpty ? "VRRP unchanged" : "VRRP units \(restarted.joined(separator: " "))"
    if !failures.isEmpty {
      // The new configuration is in force (not "refused"), but some VRRP units did not start.
      logger.error(
        "reload: applied, but some parts could not start (VRRP, BFD, static network, announce): \(failures.joined(separator: "; "))"
      )
      return ReloadOutcome(
        at: Date(), succeeded: true,
        message: "\(vrrpChange); APPLIED WITH ERRORS, could not start: \(failures.joined(separator: "; "))")
    }
    return ReloadOutcome(at: Date(), succeeded: true, message: vrrpChange)
  }
}

extension Daemon {
  /// The kernel services whose spec differs between `old` and `new`: added, changed or removed.
  nonisolated static func changedServices(from old: IPVSSpec, to new: IPVSSpec) -> Set<ServiceKey> {
    var before: [ServiceKey: Int] = [:]
    before.reserveCapacity(old.services.count)
    for (index, service) in old.services.enumerated() { before[service.key] = index }
    var changed: Set<ServiceKey> = []
    for service in new.services {
      if let index = before.removeValue(forKey: service.key) {
        if old.services[index] != service { changed.insert(service.key) }
      } else {
        changed.insert(service.key)
      }
    }
    changed.formUnion(before.keys)
    return changed
  }
}

/// Why a new configuration was not taken: its first error.
struct ReloadRefusal: Error, Sendable {
  var message: String
}
