import KeeperConfig
import KeeperCore
import VRRP

/// Maps the configuration's VRRP blocks onto independently runnable units.
///
/// Invariant: each unit is one `vrrp_sync_group` with its members, or one instance outside any
/// group, and carries exactly the `vrrp_script`s its instances track. A reload restarts only the
/// units whose spec changed, so unchanged instances keep their state and do not re-elect.
enum VRRPMapping {
  static func units(_ config: KeeperConfiguration) throws -> [String: VRRPGroupSpec] {
    let files = Dictionary(
      config.vrrpTrackFiles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    var specs: [String: VRRPInstanceSpec] = [:]
    for instance in config.vrrpInstances {
      specs[instance.name] = try instanceSpec(instance, global: config.globalDefs, files: files)
      specs[instance.name]?.trackBFDs = trackedBFDs(instance.trackBFDs, config.bfdInstances)
    }
    var units: [String: VRRPGroupSpec] = [:]
    var grouped: Set<String> = []
    for group in config.syncGroups {
      let members = group.instances.compactMap { name -> VRRPInstanceSpec? in
        guard var spec = specs[name] else { return nil }
        addGroupTracking(group, to: &spec, files)
        return spec
      }
      grouped.formUnion(group.instances)
      let notify = try notifySpec(group.notify, config.globalDefs, group.location)
      units["sync_group \(group.name)"] = VRRPGroupSpec(
        instances: members,
        syncGroups: [VRRPSyncGroupSpec(name: group.name, members: group.instances, notify: notify)],
        scripts: try scripts(for: members, in: config), scheduling: scheduling(config.globalDefs),
        processes: processes(for: members, in: config))
    }
    for instance in config.vrrpInstances where !grouped.contains(instance.name) {
      guard let spec = specs[instance.name] else { continue }
      units["vrrp_instance \(instance.name)"] = VRRPGroupSpec(
        instances: [spec], scripts: try scripts(for: [spec], in: config),
        scheduling: scheduling(config.globalDefs), processes: processes(for: [spec], in: config))
    }
    return units
  }

  /// `vrrp_rt_priority`, `vrrp_priority`, `vrrp_rlimit_rttime`, `vrrp_cpu_affinity` for every unit's thread.
  static func scheduling(_ global: GlobalDefs) -> VRRPScheduling? {
    let scheduling = VRRPScheduling(
      realtimePriority: global.vrrpRealtimePriority, nice: global.vrrpNice,
      rlimitRTTimeMicroseconds: global.vrrpRlimitRTTime, cpuAffinity: global.vrrpCPUAffinity)
    return scheduling.isDefault ? nil : scheduling
  }

  private static func scripts(for instances: [VRRPInstanceSpec], in config: KeeperConfiguration) throws
    -> [VRRPScriptSpec]
  {
    let tracked = Set(instances.flatMap { $0.trackScripts.map(\.name) })
    return try config.vrrpScripts.filter { tracked.contains($0.name) }.compactMap { script in
      guard let runnable = try ScriptMapping.runnable(script.script, config.globalDefs, script.location)
      else {
        return nil
      }
      return VRRPScriptSpec(
        name: script.name, script: runnable, interval: script.interval, timeout: script.timeout,
        rise: script.rise, fall: script.fall, weight: script.weight, reverse: script.weightReverse,
        initFail: script.initFail)
    }
  }

  /// The `vrrp_track_process`es `instances` track, as the VRRP part counts them.
  static func processes(for instances: [VRRPInstanceSpec], in config: KeeperConfiguration)
    -> [VRRPTrackProcessSpec]
  {
    let tracked = Set(instances.flatMap { $0.trackProcesses.map(\.name) })
    return config.vrrpTrackProcesses.filter { tracked.contains($0.name) }.map { process in
      let match: ProcessPattern.Match =
        switch process.paramMatch {
        case .none: .none
        case .exact: .exact
        case .partial: .partial
        case .initial: .initial
        }
      return VRRPTrackProcessSpec(
        name: process.name,
        pattern: ProcessPattern(
          name: process.process, fullCommand: process.fullCommand, parameters: process.parameters,
          match: match),
        quorum: process.quorum, quorumMax: process.quorumMax, forkDelay: process.forkDelay,
        terminateDelay: process.terminateDelay, weight: process.weight, reverse: process.weightReverse)
    }
  }

  /// notify, notify_master/backup/fault/stop of an instance or a sync group.
  private static func notifySpec(_ notify: VRRPNotify, _ global: GlobalDefs, _ location: SourceLocation)
    throws
    -> NotifySpec
  {
    NotifySpec(
      master: try ScriptMapping.runnable(notify.master, global, location),
      backup: try ScriptMapping.runnable(notify.backup, global, location),
      fault: try ScriptMapping.runnable(notify.fault, global, location),
      stop: try ScriptMapping.runnable(notify.stop, global, location),
      any: try ScriptMapping.runnable(notify.notify, global, location))
  }

  static func instanceSpec(
    _ instance: VRRPInstance, global: GlobalDefs, files: [String: VRRPTrackFile] = [:]
  ) throws -> VRRPInstanceSpec {
    guard let vrid = UInt8(exactly: instance.virtualRouterID),
      let priority = UInt8(exactly: instance.priority)
    else {
      throw MappingError(
        location: instance.location, message: "vrrp_instance \(instance.name): VRID or priority out of range")
    }
    var spec = VRRPInstanceSpec(name: instance.name, interface: instance.interface, vrid: vrid)
    spec.version = instance.version == 3 ? .v3 : .v2
    spec.priority = priority
    spec.advertInterval = instance.advertInterval
    spec.initialState = instance.initialState == .master ? .master : .backup
    spec.preempt = instance.preempt
    spec.preemptDelay = instance.preemptDelay
    spec.dontTrackPrimary = instance.dontTrackPrimary
    // The config layer already dropped authentication for version 3 (and so for IPv6), like keepalived.
    if let auth = instance.authentication {
      spec.authType = auth.type == .ah ? .ah : .pass
      spec.authPass = auth.password
    }
    spec.virtualAddresses = instance.virtualIPAddresses.map(vip)
    spec.excludedAddresses = instance.excludedVirtualIPAddresses.map(vip)
    if let name = instance.vmacName {
      spec.vmac = VMACSpec(name: name, transmitFromBase: instance.vmacTransmitFromBase)
      // Addresses on the instance's interface (the default) go on the VMAC, as keepalived does.
      for index in spec.virtualAddresses.indices
      where spec.virtualAddresses[index].device == instance.interface {
        spec.virtualAddresses[index].device = nil
      }
      for index in spec.excludedAddresses.indices
      where spec.excludedAddresses[index].device == instance.interface {
        spec.excludedAddresses[index].device = nil
      }
    }
    spec.virtualRoutes = instance.virtualRoutes
    spec.virtualRules = instance.virtualRules
    let isIPv6 = instance.virtualIPAddresses.first?.address.family == .inet6
    spec.multicastGroup = isIPv6 ? global.vrrpMcastGroup6 : global.vrrpMcastGroup4
    spec.announceInterval = isIPv6 ? global.vrrpGnaInterval : global.vrrpGarpInterval
    if let source = instance.unicastSourceIP ?? instance.multicastSourceIP {
      spec.sourceAddress = source
    }
    spec.unicastPeers = instance.unicastPeers
    spec.garpMasterDelay = instance.garpMasterDelay
    spec.garpMasterRepeat = instance.garpMasterRepeat
    spec.garpMasterRefresh = instance.garpMasterRefresh
    spec.garpMasterRefreshRepeat = instance.garpMasterRefreshRepeat
    spec.trackInterfaces = instance.trackInterfaces.map {
      TrackedInterfaceSpec(name: $0.name, weight: $0.weight, reverse: $0.reverse)
    }
    spec.trackScripts = instance.trackScripts.map {
      TrackedScriptSpec(name: $0.name, weight: $0.weight, reverse: $0.reverse)
    }
    spec.trackFiles = instance.trackFiles.compactMap { trackedFile($0, files) }
    spec.trackProcesses = instance.trackProcesses.map {
      TrackedObjectSpec(name: $0.name, weight: $0.weight, reverse: $0.reverse)
    }
    spec.notify = try notifySpec(instance.notify, global, instance.location)
    return spec
  }

  /// A `track_file` entry with its `vrrp_track_file` block: the entry's `weight [reverse]`, else
  /// the block's; `init_file` travels along so the unit writes it at start.
  static func trackedFile(_ tracked: TrackedObject, _ files: [String: VRRPTrackFile]) -> TrackedFileSpec? {
    guard let file = files[tracked.name] else { return nil }
    let (weight, reverse) = tracked.weight.map { ($0, tracked.reverse) } ?? (file.weight, file.weightReverse)
    return TrackedFileSpec(
      path: file.file, weight: weight, reverse: reverse, initialValue: file.initValue,
      overwrite: file.initOverwrite)
  }

  /// keepalived applies a sync group's `track_interface`, `track_script`, `track_file` and `track_process` to every
  /// member, ignoring their weights (without `sync_group_tracking_weight`): a failure faults the
  /// member, and the group follows.
  static func addGroupTracking(
    _ group: VRRPSyncGroup, to spec: inout VRRPInstanceSpec, _ files: [String: VRRPTrackFile]
  ) {
    spec.trackInterfaces += group.trackInterfaces.map { TrackedInterfaceSpec(name: $0.name, weight: nil) }
    spec.trackScripts += group.trackScripts.map { TrackedScriptSpec(name: $0.name, weight: 0) }
    spec.trackProcesses += group.trackProcesses.map { TrackedObjectSpec(name: $0.name, weight: 0) }
    // A bfd tracked by both the group and the member counts once, as the group's (keepalived's
    // add_vrrp_to_track_bfd).
    let groupBFDs = Set(group.trackBFDs.map(\.name))
    spec.trackBFDs.removeAll { groupBFDs.contains($0.name) }
    spec.trackBFDs += group.trackBFDs.map { TrackedBFDSpec(name: $0.name, weight: 0) }
    spec.trackFiles += group.trackFiles.compactMap { tracked in
      trackedFile(tracked, files).map {
        var fault = $0
        fault.weight = 0
        fault.reverse = false
        return fault
      }
    }
  }

  /// `static_ipaddress`, `static_routes` and `static_rules`: one spec for the whole daemon.
  static func staticNetwork(_ config: KeeperConfiguration) -> StaticNetworkSpec {
    StaticNetworkSpec(
      addresses: config.staticAddresses.map(vip), routes: config.staticRoutes, rules: config.staticRules)
  }

  /// `track_bfd` entries with their weight resolved: the entry's `weight N [reverse|noreverse]`,
  /// else the bfd_instance's `weight N [reverse]` (keepalived's alloc_track_bfd).
  static func trackedBFDs(_ entries: [TrackedBFD], _ instances: [BFDInstance]) -> [TrackedBFDSpec] {
    entries.compactMap { entry in
      guard let bfd = instances.first(where: { $0.name == entry.name }) else { return nil }
      return TrackedBFDSpec(
        name: entry.name, weight: entry.weight ?? bfd.weight, reverse: entry.reverse ?? bfd.weightReverse)
    }
  }

  private static func vip(_ vip: VirtualIPAddress) -> VirtualAddressSpec {
    VirtualAddressSpec(
      address: vip.address, prefixLength: UInt8(clamping: vip.prefixLength), device: vip.device,
      label: vip.label, broadcast: vip.broadcast, scope: vip.scope)
  }

}
