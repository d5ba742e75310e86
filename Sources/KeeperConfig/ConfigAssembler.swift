import KeeperCore

/// Turns top-level statements into the model, one block at a time (`add`), then applies global
/// defaults and checks everything that spans blocks (`finish`: names, references, VRIDs,
/// interfaces).
///
/// Each block's subtree is dropped once its part of the model is built. Virtual servers, the bulk
/// of a large configuration, are kept as models only when `keepsVirtualServers`; the checks that
/// span blocks read their summaries (`VirtualServerSummary`) either way, so a streaming check
/// finds exactly the errors a full load finds, at the same FILE:LINE:COL.
///
/// Invariant: diagnostics are logged under `DiagnosticLog.Stage.assemble`, in the order the
/// blocks were added, then those of `finish`.
struct ConfigAssembler {
  let log: DiagnosticLog
  let keepsVirtualServers: Bool
  private let interfaces: Set<String>?
  private let reader: StatementReader
  private let tracking: VRRPTrackingReader
  private let routing: RoutingReader
  private let instanceBuilder: VRRPInstanceBuilder
  private let serverBuilder: VirtualServerBuilder
  private var globalBuilder: GlobalDefsBuilder
  private var defs: GlobalDefs
  private var configuration: KeeperConfiguration
  private var drafts: [VRRPInstanceDraft] = []
  private var names: UniqueNames
  private var ignoredScripts: Set<String> = []
  private var ignoredFiles: Set<String> = []
  private var servers: [VirtualServerSummary] = []
  /// Where virtual servers go as they are assembled (`ConfigLoader.load(path:sink:)`); nil keeps
  /// them all in the model (when `keepsVirtualServers`).
  var sink: (any VirtualServerSink)?
  /// Whether servers are still offered to `sink` (see `VirtualServerSink`'s invariant).
  private var offering = true
  private var tookAny = false
  /// A `global_defs` block came after a server `sink` took (built from defaults not yet final).
  private(set) var globalDefsAfterTaken = false
  /// Virtual and real servers read (kept or not).
  private(set) var virtualServerCount = 0
  private(set) var realServerCount = 0

  init(log: DiagnosticLog, hostName: String, interfaces: Set<String>?, keepsVirtualServers: Bool = true) {
    self.log = log
    self.keepsVirtualServers = keepsVirtualServers
    self.interfaces = interfaces
    reader = StatementReader(log: log)
    tracking = VRRPTrackingReader(reader: reader)
    routing = RoutingReader(reader: reader, interfaces: interfaces)
    instanceBuilder = VRRPInstanceBuilder(reader: reader, tracking: tracking, routing: routing)
    serverBuilder = VirtualServerBuilder(reader: reader, checkers: CheckerBuilder(reader: reader))
    globalBuilder = GlobalDefsBuilder(reader: reader)
    defs = GlobalDefs(routerID: hostName)
    configuration = KeeperConfiguration(globalDefs: defs)
    names = UniqueNames(log: log)
  }

  /// Builds the part of the model of one top-level statement.
  mutating func add(_ node: consuming ConfigNode) {
    let outer = log.stage
    log.stage = .assemble
    defer { log.stage = outer }
    switch node.name {
    case "global_defs":
      if tookAny { globalDefsAfterTaken = true }
      globalBuilder.apply(node, to: &defs)
    case "vrrp_script":
      if let script = tracking.script(node, ignored: &ignoredScripts),
        names.claim(script.name, kind: "vrrp_script", at: node)
      {
        configuration.vrrpScripts.append(script)
      }
    case "vrrp_track_process":
      if let process = tracking.trackProcess(node),
        names.claim(process.name, kind: "vrrp_track_process", at: node)
      {
        configuration.vrrpTrackProcesses.append(process)
      }
    // keepalived 2.2 calls the block `track_file` (VRRP and FILE_CHECK share it);
    // `vrrp_track_file` is its older name.
    case "vrrp_track_file", "track_file":
      if let file = tracking.trackFile(node, ignored: &ignoredFiles),
        names.claim(file.name, kind: "track_file", at: node)
      {
        configuration.vrrpTrackFiles.append(file)
      }
    case "vrrp_sync_group":
      if let group = tracking.syncGroup(node), names.claim(group.name, kind: "vrrp_sync_group", at: node) {
        configuration.syncGroups.append(group)
      }
    case "vrrp_instance":
      if let draft = instanceBuilder.draft(node), names.claim(draft.name, kind: "vrrp_instance", at: node) {
        drafts.append(draft)
      }
    case "virtual_server_group":
      if let group = serverBuilder.group(node),
        names.claim(group.name, kind: "virtual_server_group", at: node)
      {
        configuration.virtualServerGroups.append(group)
      }
    case "static_ipaddress":
      for address in instanceBuilder.addresses(node) {
        guard !address.device.isEmpty else {
          log.error("static address \(address.address) needs 'dev IF'", at: address.location)
          continue
        }
        configuration.staticAddresses.append(address)
      }
    case "static_routes": configuration.staticRoutes += routing.routes(node)
    case "static_rules": configuration.staticRules += routing.rules(node)
    case "bfd_instance":
      if let bfd = BFDConfigBuilder(reader: reader).instance(node),
        names.claim(bfd.name, kind: "bfd_instance", at: node)
      {
        configuration.bfdInstances.append(bfd)
      }
    case "virtual_server":
      if let server = serverBuilder.virtualServer(node) {
        let summary = VirtualServerSummary(server)
        virtualServerCount += 1
        realServerCount += server.realServers.count
        // A FILE_CHECK's model is completed in `finish` (its track_file may come later).
        offering = offering && summary.fileChecks.isEmpty
        servers.append(summary)
        guard keepsVirtualServers else { break }
        if offering, let sink {
          switch sink.take(server, globalDefs: defs, groups: configuration.virtualServerGroups) {
          case .taken:
            tookAny = true
          case .takenAndKept:
            tookAny = true
            configuration.virtualServers.append(server)
          case .kept:
            offering = false
            configuration.virtualServers.append(server)
          }
        } else {
          configuration.virtualServers.append(server)
        }
      }
    default:
      reader.reject(node, in: "the top level")
    }
  }

  /// Applies global defaults and runs the checks that span blocks; returns the model (without
  /// virtual servers unless `keepsVirtualServers`).
  mutating func finish() -> KeeperConfiguration {
    let outer = log.stage
    log.stage = .assemble
    defer { log.stage = outer }
    configuration.globalDefs = defs
    configuration.vrrpInstances = drafts.compactMap { finalize($0, defs: defs) }
    let checker = CrossReferenceCheck(
      log: log, interfaces: interfaces,
      ignoredScripts: ignoredScripts.subtracting(configuration.vrrpScripts.map(\.name)),
      ignoredFiles: ignoredFiles.subtracting(configuration.vrrpTrackFiles.map(\.name)))
    checker.check(
      &configuration, servers: servers, drafts: drafts, syncDaemonNode: globalBuilder.syncDaemonNode)
    ScriptSecurityCheck(log: log).check(configuration, servers: servers)
    servers = []
    drafts = []
    return configuration
  }

  /// Applies global defaults and the checks that need the whole instance.
  private func finalize(_ draft: VRRPInstanceDraft, defs: GlobalDefs) -> VRRPInstance? {
    let node = draft.node
    var ok = true
    if draft.interface == nil {
      if !draft.sawInterface {
        log.error("vrrp_instance '\(draft.name)' has no 'interface'", at: node.location)
      }
      ok = false
    }
    if draft.virtualRouterID == nil {
      if !draft.sawVirtualRouterID {
        log.error("vrrp_instance '\(draft.name)' has no 'virtual_router_id'", at: node.location)
      }
      ok = false
    }
    let families = Set(draft.vips.map(\.address.family))
    if families.count > 1 {
      log.error(
        "vrrp_instance '\(draft.name)' mixes IPv4 and IPv6 in virtual_ipaddress; put the other family in virtual_ipaddress_excluded",
        at: node.location)
      ok = false
    }
    if draft.vips.isEmpty && draft.excludedVIPs.isEmpty {
      log.warning("vrrp_instance '\(draft.name)' has no virtual_ipaddress", at: node.location)
    }
    var seenAddresses: [IPAddress: SourceLocation] = [:]
    for vip in draft.vips + draft.excludedVIPs {
      if let first = seenAddresses[vip.address] {
        log.warning("virtual address \(vip.address) is listed twice (first at \(first))", at: vip.location)
      } else {
        seenAddresses[vip.address] = vip.location
      }
    }
    let isIPv6 = families.first == .inet6
    var version = draft.version ?? (isIPv6 ? 3 : defs.vrrpVersion)
    if isIPv6 && version == 2 {
      if draft.version != nil {
        log.error(
          "vrrp_instance '\(draft.name)': VRRP version 2 does not support IPv6; use version 3",
          at: node.location)
        ok = false
      }
      version = 3
    }
    var advert = draft.advertInterval
    if let token = draft.advertToken {
      if version == 2 {
        if advert != advert.rounded() || advert < 1 {
          log.error(
            "advert_int must be whole seconds (1..255) for VRRP version 2, not \(token.text)",
            at: token.location)
          ok = false
        }
      } else if advert > 40.95 {
        log.error(
          "advert_int \(token.text) is out of range 0.01..40.95 for VRRP version 3", at: token.location)
        ok = false
      } else {
        advert = (advert * 100).rounded() / 100
      }
    }
    var authentication = draft.authentication
    if authentication != nil, version == 3, let authNode = draft.authenticationNode {
      log.warning("authentication is not part of VRRP version 3 and is ignored", at: authNode.location)
      authentication = nil
    }
    if let transmit = draft.vmacTransmitNode, draft.vmacName == nil {
      // keepalived: vmac_xmit_base only means something with use_vmac.
      log.warning("vmac_xmit_base without use_vmac has no effect", at: transmit.location)
    }
    guard ok, let interface = draft.interface, let vrid = draft.virtualRouterID else { return nil }
    func withDevice(_ vip: VirtualIPAddress) -> VirtualIPAddress {
      var copy = vip
      if copy.device.isEmpty { copy.device = interface }
      return copy
    }
    var instance = VRRPInstance(
      name: draft.name, initialState: draft.state, interface: interface, virtualRouterID: vrid,
      priority: draft.priority, advertInterval: advert, version: version, preempt: draft.preempt,
      preemptDelay: draft.preemptDelay, virtualIPAddresses: draft.vips.map(withDevice),
      excludedVirtualIPAddresses: draft.excludedVIPs.map(withDevice), virtualRoutes: draft.virtualRoutes,
      virtualRules: draft.virtualRules, unicastSourceIP: draft.unicastSource,
      unicastPeers: draft.unicastPeers, multicastSourceIP: draft.multicastSource,
      authentication: authentication,
      trackInterfaces: draft.trackInterfaces, trackScripts: draft.trackScripts, trackFiles: draft.trackFiles,
      trackProcesses: draft.trackProcesses,
      notify: draft.notify,
      garpMasterDelay: draft.garpMasterDelay ?? defs.vrrpGarpMasterDelay,
      garpMasterRepeat: draft.garpMasterRepeat ?? defs.vrrpGarpMasterRepeat,
      garpMasterRefresh: draft.garpMasterRefresh ?? defs.vrrpGarpMasterRefresh,
      garpMasterRefreshRepeat: draft.garpMasterRefreshRepeat ?? defs.vrrpGarpMasterRefreshRepeat,
      accept: draft.accept,
      vmacName: draft.vmacName.map { $0.isEmpty ? "vrrp.\(vrid)" : $0 },
      vmacTransmitFromBase: draft.vmacTransmitFromBase, syncGroup: nil,
      location: node.location)
    instance.dontTrackPrimary = draft.dontTrackPrimary
    instance.trackBFDs = draft.trackBFDs
    return instance
  }
}

/// Names that must be unique per kind of block.
struct UniqueNames {
  let log: DiagnosticLog
  private var seen: [String: SourceLocation] = [:]

  init(log: DiagnosticLog) {
    self.log = log
  }

  mutating func claim(_ name: String, kind: String, at node: ConfigNode) -> Bool {
    let key = kind + "\u{0}" + name
    if let first = seen[key] {
      log.error("duplicate \(kind) '\(name)' (first defined at \(first))", at: node.location)
      return false
    }
    seen[key] = node.location
    return true
  }
}
