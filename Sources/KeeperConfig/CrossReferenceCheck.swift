import KeeperCore

/// What the checks spanning blocks need of one `virtual_server`, kept when its model is not (a
/// streaming check keeps these instead of 36k real servers).
///
/// Invariant: built from the finished model of the server (`init(_:)`); lists keep the order of
/// the server's real servers and checkers, so checks over summaries log what checks over the
/// model logged, in the same order.
struct VirtualServerSummary {
  /// `ADDRESS PORT PROTOCOL`, `fwmark N` or `group NAME PROTOCOL`: duplicates share it.
  var id: String
  /// The `virtual_server_group` named by a `group` server.
  var group: String?
  var location: SourceLocation
  var announcedAddress: IPAddress?
  /// No real_server and no sorry_server.
  var isEmpty: Bool
  var bindInterfaces: [(device: String, checker: String, location: SourceLocation)] = []
  /// FILE_CHECKs: the `track_file` each names.
  var fileChecks: [(trackFile: String, location: SourceLocation)] = []
  /// BFD_CHECKs, one list per real server that has any.
  var bfdChecks: [[(name: String, location: SourceLocation)]] = []
  /// Scripts, in `ScriptSecurityCheck.sites` order.
  var scripts: [ScriptSecurityCheck.Site] = []

  init(_ server: VirtualServer) {
    switch server.key.kind {
    case .address:
      id =
        "\(server.key.address.map(\.description) ?? "") \(server.key.port ?? 0) \(server.protocol.rawValue)"
    case .fwmark: id = "fwmark \(server.key.fwmark ?? 0)"
    case .group: id = "group \(server.key.group ?? "") \(server.protocol.rawValue)"
    }
    group = server.key.kind == .group ? server.key.group : nil
    location = server.location
    announcedAddress = server.announce ? server.key.address : nil
    isEmpty = server.realServers.isEmpty && server.sorryServer == nil
    func add(_ command: ScriptCommand?, _ keyword: String, _ location: SourceLocation) {
      if let command {
        scripts.append(ScriptSecurityCheck.Site(command: command, keyword: keyword, location: location))
      }
    }
    add(server.quorumUp, "quorum_up", server.location)
    add(server.quorumDown, "quorum_down", server.location)
    for real in server.realServers {
      add(real.notifyUp, "notify_up", real.location)
      add(real.notifyDown, "notify_down", real.location)
      var bfd: [(name: String, location: SourceLocation)] = []
      for checker in real.checkers {
        add(checker.misc?.path, "MISC_CHECK misc_path", checker.location)
        if let device = checker.bindInterface {
          bindInterfaces.append((device, checker.type.rawValue, checker.location))
        }
        if let file = checker.file { fileChecks.append((file.trackFile, checker.location)) }
        if checker.type == .bfd { bfd.append((checker.bfdName ?? "", checker.location)) }
      }
      if !bfd.isEmpty { bfdChecks.append(bfd) }
    }
  }
}

/// Checks that span blocks: references resolve, VRIDs are unique per interface and family,
/// virtual servers are unique, and named interfaces exist on this host (a warning: the
/// interface may appear later, e.g. a VLAN created after boot).
struct CrossReferenceCheck {
  let log: DiagnosticLog
  let interfaces: Set<String>?
  /// `vrrp_script`s dropped for having no `script`: tracking one is a warning and the entry is
  /// removed, as keepalived ignores a track_script naming a script it does not have.
  var ignoredScripts: Set<String> = []
  /// The same for `track_file` blocks without `file` (a FILE_CHECK naming one stays an error:
  /// keepalived would drop the checker and keep the server up).
  var ignoredFiles: Set<String> = []

  /// Runs every check. `servers` summarizes every virtual server read, in order, whether or not
  /// `configuration.virtualServers` holds their models (it is empty in a streaming check).
  func check(
    _ configuration: inout KeeperConfiguration, servers: [VirtualServerSummary], drafts: [VRRPInstanceDraft],
    syncDaemonNode: ConfigNode?
  ) {
    checkInstances(&configuration, drafts: drafts)
    checkSyncGroups(&configuration, drafts: drafts)
    checkSyncDaemon(&configuration, node: syncDaemonNode)
    checkVirtualServers(configuration, servers: servers)
    checkAnnouncedAddresses(configuration, servers: servers)
    resolveFileChecks(&configuration, servers: servers)
    checkBFD(configuration, servers: servers)
  }

  /// FILE_CHECK names a `track_file` block, which may come after the virtual server: an unknown
  /// name is an error (found from the summaries); the models held get the file's path, and its
  /// weight unless the checker gives one.
  private func resolveFileChecks(_ configuration: inout KeeperConfiguration, servers: [VirtualServerSummary])
  {
    let files = Dictionary(
      configuration.vrrpTrackFiles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    for server in servers {
      for check in server.fileChecks where files[check.trackFile] == nil {
        log.error(
          "FILE_CHECK track_file '\(check.trackFile)' is not a defined track_file", at: check.location)
      }
    }
    for s in configuration.virtualServers.indices {
      for r in configuration.virtualServers[s].realServers.indices {
        for c in configuration.virtualServers[s].realServers[r].checkers.indices {
          let checker = configuration.virtualServers[s].realServers[r].checkers[c]
          guard var spec = checker.file, let file = files[spec.trackFile] else { continue }
          spec.path = file.file
          if spec.weight == nil {
            spec.weight = file.weight
            spec.reverse = file.weightReverse
          }
          configuration.virtualServers[s].realServers[r].checkers[c].file = spec
        }
      }
    }
  }

  private func warnIfMissing(_ interface: String, what: String, at location: SourceLocation) {
    guard let interfaces, !interfaces.contains(interface) else { return }
    log.warning("interface '\(interface)' for \(what) does not exist on this host", at: location)
  }

  private func checkInstances(_ configuration: inout KeeperConfiguration, drafts: [VRRPInstanceDraft]) {
    let scripts = Set(configuration.vrrpScripts.map(\.name))
    let files = Set(configuration.vrrpTrackFiles.map(\.name))
    let processes = Set(configuration.vrrpTrackProcesses.map(\.name))
    var vrids: [String: String] = [:]
    for draft in drafts {
      if let interface = draft.interface, let token = draft.interfaceToken {
        warnIfMissing(interface, what: "vrrp_instance '\(draft.name)'", at: token.location)
      }
      for node in draft.trackInterfaceNodes
      where draft.trackInterfaces.contains(where: { $0.name == node.name }) {
        warnIfMissing(node.name, what: "track_interface of '\(draft.name)'", at: node.location)
      }
      for vip in draft.vips + draft.excludedVIPs where !vip.device.isEmpty {
        warnIfMissing(vip.device, what: "virtual address \(vip.address)", at: vip.location)
      }
      for node in draft.trackScriptNodes where !scripts.contains(node.name) {
        if ignoredScripts.contains(node.name) {
          log.warning(
            "track_script '\(node.name)' of vrrp_instance '\(draft.name)' is ignored: that vrrp_script has no 'script'",
            at: node.location)
          if let index = configuration.vrrpInstances.firstIndex(where: { $0.name == draft.name }) {
            configuration.vrrpInstances[index].trackScripts.removeAll { $0.name == node.name }
          }
          continue
        }
        log.error(
          "track_script '\(node.name)' of vrrp_instance '\(draft.name)' is not a defined vrrp_script",
          at: node.location)
      }
      for node in draft.trackFileNodes where !files.contains(node.name) {
        if ignoredFiles.contains(node.name) {
          log.warning(
            "track_file '\(node.name)' of vrrp_instance '\(draft.name)' is ignored: that track_file has no 'file'",
            at: node.location)
          if let index = configuration.vrrpInstances.firstIndex(where: { $0.name == draft.name }) {
            configuration.vrrpInstances[index].trackFiles.removeAll { $0.name == node.name }
          }
          continue
        }
        log.error(
          "track_file '\(node.name)' of vrrp_instance '\(draft.name)' is not a defined vrrp_track_file",
          at: node.location)
      }
      for node in draft.trackProcessNodes where !processes.contains(node.name) {
        log.error(
          "track_process '\(node.name)' of vrrp_instance '\(draft.name)' is not a defined vrrp_track_process",
          at: node.location)
      }
      guard let interface = draft.interface, let vrid = draft.virtualRouterID else { continue }
      let family = draft.vips.first?.address.family ?? .inet
      let key = "\(interface)/\(vrid)/\(family.rawValue)"
      if let other = vrids[key] {
        log.error(
          "virtual_router_id \(vrid) on interface \(interface) is already used by vrrp_instance '\(other)'",
          at: draft.node.location)
      } else {
        vrids[key] = draft.name
      }
    }
  }

  private func checkSyncGroups(_ configuration: inout KeeperConfiguration, drafts: [VRRPInstanceDraft]) {
    let known = Set(drafts.map(\.name))
    let scripts = Set(configuration.vrrpScripts.map(\.name))
    let files = Set(configuration.vrrpTrackFiles.map(\.name))
    let processes = Set(configuration.vrrpTrackProcesses.map(\.name))
    var membership: [String: String] = [:]
    for (groupIndex, group) in configuration.syncGroups.enumerated() {
      for member in group.instances {
        if !known.contains(member) {
          log.error("sync group '\(group.name)' names unknown vrrp_instance '\(member)'", at: group.location)
        } else if let other = membership[member] {
          log.error(
            "vrrp_instance '\(member)' is in sync groups '\(other)' and '\(group.name)'", at: group.location)
        } else {
          membership[member] = group.name
        }
      }
      if group.instances.count == 1 {
        log.warning("sync group '\(group.name)' has only one instance", at: group.location)
      }
      for tracked in group.trackScripts where !scripts.contains(tracked.name) {
        if ignoredScripts.contains(tracked.name) {
          log.warning(
            "track_script '\(tracked.name)' of sync group '\(group.name)' is ignored: that vrrp_script has no 'script'",
            at: group.location)
          configuration.syncGroups[groupIndex].trackScripts.removeAll { $0.name == tracked.name }
          continue
        }
        log.error(
          "track_script '\(tracked.name)' of sync group '\(group.name)' is not a defined vrrp_script",
          at: group.location)
      }
      for tracked in group.trackFiles where !files.contains(tracked.name) {
        if ignoredFiles.contains(tracked.name) {
          log.warning(
            "track_file '\(tracked.name)' of sync group '\(group.name)' is ignored: that track_file has no 'file'",
            at: group.location)
          configuration.syncGroups[groupIndex].trackFiles.removeAll { $0.name == tracked.name }
          continue
        }
        log.error(
          "track_file '\(tracked.name)' of sync group '\(group.name)' is not a defined vrrp_track_file",
          at: group.location)
      }
      for tracked in group.trackProcesses where !processes.contains(tracked.name) {
        log.error(
          "track_process '\(tracked.name)' of sync group '\(group.name)' is not a defined vrrp_track_process",
          at: group.location)
      }
      for tracked in group.trackInterfaces {
        warnIfMissing(tracked.name, what: "track_interface of sync group '\(group.name)'", at: group.location)
      }
    }
    for index in configuration.vrrpInstances.indices {
      configuration.vrrpInstances[index].syncGroup = membership[configuration.vrrpInstances[index].name]
    }
  }

  private func checkSyncDaemon(_ configuration: inout KeeperConfiguration, node: ConfigNode?) {
    guard var daemon = configuration.globalDefs.lvsSyncDaemon, let node else { return }
    warnIfMissing(daemon.interface, what: "lvs_sync_daemon", at: node.arguments[0].location)
    let idGiven = node.arguments.contains { $0.text == "id" }
    if let name = daemon.vrrpInstance {
      if let instance = configuration.vrrpInstances.first(where: { $0.name == name }) {
        if !idGiven { daemon.syncID = instance.virtualRouterID }
      } else {
        log.error("lvs_sync_daemon names unknown vrrp_instance '\(name)'", at: node.location)
      }
    }
    configuration.globalDefs.lvsSyncDaemon = daemon
  }

  /// An announced VIP lives on the announce tun device for as long as lvskeeper runs
  /// (docs/scaleout.md); a VRRP instance or `static_ipaddress` owning the same address would add
  /// it to a second interface and remove it when it resigns. One owner per address.
  private func checkAnnouncedAddresses(_ configuration: KeeperConfiguration, servers: [VirtualServerSummary])
  {
    var announced: [IPAddress: SourceLocation] = [:]
    for server in servers {
      if let address = server.announcedAddress, announced[address] == nil {
        announced[address] = server.location
      }
    }
    guard !announced.isEmpty else { return }
    var owners: [(VirtualIPAddress, String)] = configuration.staticAddresses.map { ($0, "static_ipaddress") }
    for instance in configuration.vrrpInstances {
      owners += instance.virtualIPAddresses.map { ($0, "vrrp_instance \(instance.name)") }
    }
    for (vip, owner) in owners {
      guard let first = announced[vip.address] else { continue }
      log.error(
        "\(vip.address) is announced by virtual_server at \(first) and also owned by \(owner): an address is either announced or under VRRP/static_ipaddress, not both",
        at: vip.location)
    }
  }

  private func checkVirtualServers(_ configuration: KeeperConfiguration, servers: [VirtualServerSummary]) {
    let groups = Set(configuration.virtualServerGroups.map(\.name))
    var seen: [String: SourceLocation] = [:]
    for server in servers {
      if let name = server.group, !groups.contains(name) {
        log.error("virtual_server group '\(name)' is not a defined virtual_server_group", at: server.location)
      }
      if let first = seen[server.id] {
        log.error("duplicate virtual_server \(server.id) (first defined at \(first))", at: server.location)
      } else {
        seen[server.id] = server.location
      }
      if server.isEmpty {
        log.warning("virtual_server \(server.id) has no real_server", at: server.location)
      }
      for bound in server.bindInterfaces {
        warnIfMissing(bound.device, what: "bind_if of \(bound.checker)", at: bound.location)
      }
    }
  }
}
