import Foundation
import HealthCheck
import IPVSSync
import VRRP

/// Assembles `lvskeeper status` from the parts' own snapshots and one read of the kernel table.
extension Daemon {
  func statusReport() async -> StatusReport {
    let table = await readKernelTable()
    let sysctls = IPVSSysctls.read()
    let daemon = DaemonStatus(
      pid: getpid(), configPath: options.configPath, startedAt: startedAt, dryRun: options.dryRun,
      lastReload: lastReload)
    var instances: [InstanceStatus] = []
    var unmatched: [String: UInt64] = [:]
    for (_, unit) in units.sorted(by: { $0.key < $1.key }) {
      let status = unit.service.status()
      unmatched.merge(status.unmatchedDrops, uniquingKeysWith: +)
      for instance in status.instances {
        let spec = unit.spec.instances.first { $0.name == instance.name }
        let transition = transitions[instance.name]
        instances.append(
          InstanceStatus(
            name: instance.name, interface: spec?.interface ?? "?", virtualRouterID: Int(spec?.vrid ?? 0),
            state: instance.state.rawValue, configuredPriority: Int(instance.basePriority),
            effectivePriority: Int(instance.effectivePriority), masterAddress: instance.masterAddress,
            lastTransitionAt: transition?.at,
            lastTransitionReason: transition?.reason
              ?? (instance.faultReasons.isEmpty ? nil : instance.faultReasons.joined(separator: ", ")),
            virtualAddresses: (spec?.virtualAddresses ?? []).map { "\($0.address)/\($0.prefixLength)" },
            threadScheduling: status.loopScheduling?.description,
            droppedPackets: instance.counters.dropped))
      }
    }
    return StatusReport(
      daemon: daemon, vrrpInstances: instances, virtualServices: serviceStatuses(table),
      pendingOperations: pendingOperations(), vrrpUnmatchedDrops: unmatched, bfd: bfd.status,
      announcements: announcementStatuses(), ipvsSysctls: sysctls.isEmpty ? nil : sysctls)
  }

  private func announcementStatuses() -> [AnnouncementStatus]? {
    guard !announceSpec.isEmpty else { return nil }
    return announceSpec.vips.compactMap { vip in
      guard let state = announcements[vip.address] else { return nil }
      return AnnouncementStatus(
        vip: "\(vip.address)", interface: announceSpec.interface, table: announceSpec.table,
        state: state.announced ? "announced" : "withdrawn", reasonCode: state.reason.code,
        reason: state.reason.description, since: state.since)
    }
  }

  /// Brings `lvskeeper_vrrp_dropped_packets_total` up to the VRRP units' own counters; runs
  /// before each scrape, so the VRRP loop never touches the metrics registry per packet.
  func publishDropMetrics() {
    var seen: [DropCounterKey: UInt64] = [:]
    for unit in units.values {
      let status = unit.service.status()
      let unitID = ObjectIdentifier(unit.service)
      var counts = status.instances.map { ($0.name, $0.counters.dropped) }
      counts.append((DropCounterKey.unmatched, status.unmatchedDrops))
      for (instance, dropped) in counts {
        for (reason, count) in dropped {
          let key = DropCounterKey(unit: unitID, instance: instance, reason: reason)
          let delta = count - min(count, publishedDrops[key] ?? 0)
          if delta > 0 { DaemonMetrics.vrrpDropped(instance: instance, reason: reason, count: delta) }
          seen[key] = count
        }
      }
    }
    publishedDrops = seen
  }

  /// One read of the owned services, off the actor (a netlink dump can take its deadline).
  private func readKernelTable() async -> IPVSTable {
    guard let kernel else { return IPVSTable() }
    let owned = Set(mapping.ipvs.services.map(\.key))
    return await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(returning: (try? IPVSTable.read(from: kernel, only: owned)) ?? IPVSTable())
      }
    }
  }

  private func serviceStatuses(_ table: IPVSTable) -> [ServiceStatus] {
    let ipvs = reconciler?.status()
    let health = Dictionary(
      monitor.status().servers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    var healthIDs: [IPVSSync.RealServerID: HealthCheck.RealServerID] = [:]
    for (id, destinations) in mapping.destinations.all {
      for destination in destinations { healthIDs[destination] = id }
    }
    return mapping.ipvs.services.map { service in
      let inKernel = table.services[service.key]
      let quorumUp = ipvs?.quorumUp[service.key] ?? true
      var flags: [String] = []
      if service.attributes.flags.contains(.persistent) {
        flags.append("persistent \(service.attributes.timeout)")
      }
      if service.attributes.flags.contains(.onePacket) { flags.append("ops") }
      if service.attributes.flags.contains(.scheduler1) { flags.append("flag-1") }
      if service.attributes.flags.contains(.scheduler2) { flags.append("flag-2") }
      if service.attributes.flags.contains(.scheduler3) { flags.append("flag-3") }
      let servers = service.realServers.map { server -> RealServerStatus in
        let id = IPVSSync.RealServerID(service: service.key, server: server.key)
        let kernelEntry = inKernel?.destinations[server.key]
        let healthID = healthIDs[id]
        let serverHealth = healthID.flatMap { health[$0] }
        var state = serverHealth.map { $0.isUp ? "up" : "down" } ?? "unknown"
        if ipvs?.draining[id] != nil { state = "draining" }
        let lastCheck = serverHealth.flatMap(Self.lastCheck)
        return RealServerStatus(
          address: server.key.description, forwarding: server.forwarding.description,
          configuredWeight: Int(server.weight), kernelWeight: kernelEntry.map { Int($0.attributes.weight) },
          health: state, lastCheck: lastCheck, activeConnections: kernelEntry?.activeConnections ?? 0,
          inactiveConnections: kernelEntry?.inactiveConnections ?? 0, admin: adminStates[id])
      }
      return ServiceStatus(
        key: service.key.description, scheduler: service.attributes.scheduler, flags: flags,
        inKernel: inKernel != nil,
        quorumUp: quorumUp, sorryServerActive: !quorumUp && service.sorryServer != nil, realServers: servers)
    }
  }

  /// The most telling probe of a server: a failing checker if any, else the first, as the
  /// monitor last saw it (probe results, not only transitions).
  private static func lastCheck(_ server: ServerStatus) -> CheckStatus? {
    guard
      let checker = server.checkers.first(where: { $0.lastOutcome?.isUp == false }) ?? server.checkers.first,
      let outcome = checker.lastOutcome
    else { return nil }
    var reason = ""
    if case .down(let why) = outcome { reason = why }
    let latency = checker.lastLatency.map {
      Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15
    }
    let name = "\(checker.checker.spec)".split(separator: " ").first.map(String.init) ?? "check"
    return CheckStatus(
      checker: name, succeeded: outcome.isUp, reason: reason, latencyMilliseconds: latency ?? 0)
  }

  private func pendingOperations() -> [OperationStatus] {
    var pending = (reconciler?.status().pendingFailures ?? []).map {
      OperationStatus(operation: "\($0.operation)", error: "\($0.error)", attempts: $0.attempts)
    }
    if options.dryRun {
      pending += dryRunOperations.suffix(50).map {
        OperationStatus(operation: $0, error: "dry run: not applied", attempts: 0)
      }
    }
    return pending
  }
}

/// One series of `lvskeeper_vrrp_dropped_packets_total` within one VRRP unit's lifetime.
struct DropCounterKey: Hashable, Sendable {
  /// The instance label of drops no instance could be blamed for.
  static let unmatched = "-"
  var unit: ObjectIdentifier
  var instance: String
  var reason: String
}
