import KeeperCore

/// A `vrrp_instance` as written, before global defaults and cross checks are applied.
struct VRRPInstanceDraft {
  var name: String
  var node: ConfigNode
  var state: VRRPInitialState = .backup
  var interface: String?
  var interfaceToken: Token?
  var virtualRouterID: Int?
  /// Set when a statement was present, even if its value was rejected (no second "missing" error).
  var sawInterface = false
  var sawVirtualRouterID = false
  var priority = 100
  var advertInterval: Double = 1
  var advertToken: Token?
  var version: Int?
  var preempt = true
  var preemptDelay: Double = 0
  var dontTrackPrimary = false
  var vips: [VirtualIPAddress] = []
  var excludedVIPs: [VirtualIPAddress] = []
  var virtualRoutes: [IPRoute] = []
  var virtualRules: [IPRule] = []
  /// `use_vmac`: nil without it, "" for keepalived's default name.
  var vmacName: String?
  var vmacTransmitFromBase = false
  var vmacTransmitNode: ConfigNode?
  var unicastSource: IPAddress?
  var unicastPeers: [IPAddress] = []
  var multicastSource: IPAddress?
  var authentication: VRRPAuthentication?
  var authenticationNode: ConfigNode?
  var trackInterfaces: [TrackedObject] = []
  var trackInterfaceNodes: [ConfigNode] = []
  var trackScripts: [TrackedObject] = []
  var trackScriptNodes: [ConfigNode] = []
  var trackFiles: [TrackedObject] = []
  var trackFileNodes: [ConfigNode] = []
  var trackProcesses: [TrackedObject] = []
  var trackProcessNodes: [ConfigNode] = []
  var trackBFDs: [TrackedBFD] = []
  var notify = VRRPNotify()
  var garpMasterDelay: Double?
  var garpMasterRepeat: Int?
  var garpMasterRefresh: Double?
  var garpMasterRefreshRepeat: Int?
  var accept = true
}

/// Reads `vrrp_instance NAME { ... }` into a draft.
struct VRRPInstanceBuilder {
  let reader: StatementReader
  let tracking: VRRPTrackingReader
  let routing: RoutingReader
  var log: DiagnosticLog { reader.log }

  func draft(_ node: ConfigNode) -> VRRPInstanceDraft? {
    guard let children = reader.block(node) else { return nil }
    guard reader.expect(node, arguments: 1...1, usage: "vrrp_instance NAME { ... }") else { return nil }
    var draft = VRRPInstanceDraft(name: node.arguments[0].text, node: node)
    for child in children { apply(child, to: &draft) }
    return draft
  }

  private func apply(_ node: ConfigNode, to draft: inout VRRPInstanceDraft) {
    if tracking.applyNotify(node, to: &draft.notify) { return }
    switch node.name {
    case "state":
      guard let value = reader.stringValue(node) else { return }
      switch value {
      case "MASTER": draft.state = .master
      case "BACKUP": draft.state = .backup
      default:
        // keepalived: "unknown state, defaulting to BACKUP". Only the first election differs.
        log.warning(
          "state must be MASTER or BACKUP, not '\(value)'; BACKUP is used (as keepalived does)",
          at: node.arguments[0].location)
        draft.state = .backup
      }
    case "interface":
      draft.sawInterface = true
      if let value = reader.stringValue(node) {
        draft.interface = value
        draft.interfaceToken = node.arguments[0]
      }
    case "virtual_router_id":
      draft.sawVirtualRouterID = true
      draft.virtualRouterID = reader.integerValue(node, 1...255) ?? draft.virtualRouterID
    case "priority": draft.priority = reader.integerValue(node, 1...255) ?? draft.priority
    case "advert_int":
      if let value = reader.secondsValue(node, 0.01...255) {
        draft.advertInterval = value
        draft.advertToken = node.arguments[0]
      }
    case "version": draft.version = reader.integerValue(node, 2...3) ?? draft.version
    case "nopreempt":
      if reader.plain(node), reader.expect(node, arguments: 0...0, usage: "nopreempt") {
        draft.preempt = false
      }
    case "preempt":
      if let value = reader.flag(node) { draft.preempt = value }
    case "preempt_delay": draft.preemptDelay = reader.secondsValue(node, 0...1000) ?? draft.preemptDelay
    case "dont_track_primary": draft.dontTrackPrimary = reader.flag(node) ?? draft.dontTrackPrimary
    case "virtual_ipaddress": draft.vips += addresses(node)
    case "virtual_ipaddress_excluded": draft.excludedVIPs += addresses(node)
    case "use_vmac":
      guard reader.plain(node), reader.expect(node, arguments: 0...1, usage: "use_vmac [NAME]") else {
        return
      }
      guard let name = node.arguments.first else {
        draft.vmacName = ""
        return
      }
      if name.text.contains(":") {
        log.error("use_vmac with a MAC address is not supported yet", at: name.location)
      } else if name.text.utf8.count > 15 || name.text.contains("/")
        || name.text.contains(where: \.isWhitespace)
      {
        log.error(
          "VMAC name '\(name.text)' is not a valid interface name (1..15 bytes, no '/')", at: name.location)
      } else {
        draft.vmacName = name.text
      }
    case "vmac_xmit_base":
      if reader.plain(node), reader.expect(node, arguments: 0...0, usage: "vmac_xmit_base") {
        draft.vmacTransmitFromBase = true
        draft.vmacTransmitNode = node
      }
    case "virtual_routes": draft.virtualRoutes += routing.routes(node)
    case "virtual_rules": draft.virtualRules += routing.rules(node)
    case "unicast_src_ip": draft.unicastSource = reader.addressValue(node) ?? draft.unicastSource
    case "mcast_src_ip": draft.multicastSource = reader.addressValue(node) ?? draft.multicastSource
    case "unicast_peer":
      guard let children = reader.block(node) else { return }
      for peer in children {
        guard reader.plain(peer) else { continue }
        if let first = peer.arguments.first {
          log.error(
            "unsupported unicast_peer option '\(first.text)': only the peer address is read",
            at: first.location)
          continue
        }
        if let address = reader.address(peer.keyword) {
          if draft.unicastPeers.contains(address) {
            log.warning("unicast peer \(address) is listed twice", at: peer.location)
          } else {
            draft.unicastPeers.append(address)
          }
        }
      }
    case "authentication":
      draft.authentication = authentication(node) ?? draft.authentication
      draft.authenticationNode = node
    case "track_interface":
      draft.trackInterfaces += tracking.trackedObjects(node, weightRange: -254...254)
      draft.trackInterfaceNodes += node.children ?? []
    case "track_script":
      draft.trackScripts += tracking.trackedObjects(node, weightRange: -253...253)
      draft.trackScriptNodes += node.children ?? []
    case "track_bfd": draft.trackBFDs += BFDConfigBuilder(reader: reader).trackedBFDs(node)
    case "track_file":
      draft.trackFiles += tracking.trackedObjects(node, weightRange: -254...254)
      draft.trackFileNodes += node.children ?? []
    case "track_process":
      draft.trackProcesses += tracking.trackedObjects(node, weightRange: -254...254)
      draft.trackProcessNodes += node.children ?? []
    case "garp_master_delay":
      draft.garpMasterDelay = reader.secondsValue(node, 0...255) ?? draft.garpMasterDelay
    case "garp_master_repeat":
      draft.garpMasterRepeat = reader.integerValue(node, 1...255) ?? draft.garpMasterRepeat
    case "garp_master_refresh":
      draft.garpMasterRefresh = reader.secondsValue(node, 0...86400) ?? draft.garpMasterRefresh
    case "garp_master_refresh_repeat":
      draft.garpMasterRefreshRepeat = reader.integerValue(node, 1...255) ?? draft.garpMasterRefreshRepeat
    case "accept":
      if reader.plain(node), reader.expect(node, arguments: 0...0, usage: "accept") { draft.accept = true }
    case "no_accept":
      // keepalived drops traffic to the addresses of a non-owner master only through the
      // firewall rules of vrrp_iptables/vrrp_nftables, which lvskeeper does not manage.
      log.error(
        "unsupported keyword 'no_accept' in vrrp_instance: lvskeeper does not filter traffic to the virtual addresses (they always accept it, as with 'accept')",
        at: node.location)
    default:
      reader.reject(node, in: "vrrp_instance")
    }
  }

  private func authentication(_ node: ConfigNode) -> VRRPAuthentication? {
    guard let children = reader.block(node) else { return nil }
    var type: VRRPAuthentication.Kind?
    var password: String?
    for child in children {
      switch child.name {
      case "auth_type":
        guard let value = reader.stringValue(child) else { continue }
        guard let kind = VRRPAuthentication.Kind(rawValue: value) else {
          log.error("auth_type must be PASS or AH, not '\(value)'", at: child.arguments[0].location)
          continue
        }
        type = kind
      case "auth_pass":
        guard let value = reader.stringValue(child) else { continue }
        if value.utf8.count > 8 {
          log.warning(
            "auth_pass is longer than 8 characters; only the first 8 are used",
            at: child.arguments[0].location)
          password = String(decoding: value.utf8.prefix(8), as: UTF8.self)
        } else {
          password = value
        }
      default: reader.reject(child, in: "authentication")
      }
    }
    guard let type else {
      log.error("authentication block has no 'auth_type'", at: node.location)
      return nil
    }
    guard let password, !password.isEmpty else {
      log.error("authentication block has no 'auth_pass'", at: node.location)
      return nil
    }
    return VRRPAuthentication(type: type, password: password)
  }

  /// One address per line: `ADDR[/PFX] [brd X] [dev IF] [scope S] [label L]`.
  func addresses(_ node: ConfigNode) -> [VirtualIPAddress] {
    guard let children = reader.block(node) else { return [] }
    var result: [VirtualIPAddress] = []
    for entry in children {
      guard reader.plain(entry) else { continue }
      if let address = virtualAddress(entry) { result.append(address) }
    }
    return result
  }

  private func virtualAddress(_ entry: ConfigNode) -> VirtualIPAddress? {
    let text = entry.keyword.text
    let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    guard let address = IPAddress(String(parts[0])) else {
      log.error("invalid IP address '\(text)'", at: entry.location)
      return nil
    }
    var prefix = address.maxPrefixLength
    if parts.count == 2 {
      guard let value = Int(parts[1]), (0...address.maxPrefixLength).contains(value) else {
        log.error("invalid prefix length '/\(parts[1])' for \(address)", at: entry.location)
        return nil
      }
      prefix = value
    }
    var vip = VirtualIPAddress(address: address, prefixLength: prefix, device: "", location: entry.location)
    var index = 0
    let arguments = entry.arguments
    while index < arguments.count {
      let option = arguments[index]
      guard index + 1 < arguments.count else {
        log.error("'\(option.text)' needs a value in virtual address '\(text)'", at: option.location)
        return nil
      }
      let value = arguments[index + 1]
      switch option.text {
      case "brd", "broadcast":
        guard let broadcast = reader.address(value, what: "broadcast address") else { return nil }
        vip.broadcast = broadcast
      case "dev": vip.device = value.text
      case "scope":
        let scopes = ["global", "site", "link", "host", "nowhere"]
        guard scopes.contains(value.text) || Int(value.text).map({ (0...255).contains($0) }) == true else {
          log.error(
            "scope must be one of \(scopes.joined(separator: "|")) or 0..255, not '\(value.text)'",
            at: value.location)
          return nil
        }
        vip.scope = value.text
      case "label": vip.label = value.text
      default:
        log.error(
          "unsupported virtual address option '\(option.text)' (supported: brd, dev, scope, label)",
          at: option.location)
        return nil
      }
      index += 2
    }
    return vip
  }
}
