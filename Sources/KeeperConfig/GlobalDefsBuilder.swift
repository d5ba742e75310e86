/// Reads `global_defs { ... }` into `GlobalDefs`.
struct GlobalDefsBuilder {
  let reader: StatementReader
  var log: DiagnosticLog { reader.log }

  private var startupTimeout: Double?
  private var shutdownTimeout: Double?

  /// The `lvs_sync_daemon` statement, kept so validation can point at it.
  private(set) var syncDaemonNode: ConfigNode?

  init(reader: StatementReader) {
    self.reader = reader
  }

  mutating func apply(_ node: ConfigNode, to defs: inout GlobalDefs) {
    guard let children = reader.block(node) else { return }
    if !node.arguments.isEmpty {
      log.error("'global_defs' takes no arguments", at: node.arguments[0].location)
    }
    for child in children { applyStatement(child, to: &defs) }
    // The timeouts may stand before or after their scripts.
    if let startupTimeout { defs.startupScript?.timeout = startupTimeout }
    if let shutdownTimeout { defs.shutdownScript?.timeout = shutdownTimeout }
  }

  private mutating func applyStatement(_ node: ConfigNode, to defs: inout GlobalDefs) {
    switch node.name {
    case "router_id":
      if let value = reader.stringValue(node) { defs.routerID = value }
    case "vrrp_version":
      if let value = reader.integerValue(node, 2...3) { defs.vrrpVersion = value }
    case "vrrp_garp_master_delay":
      if let value = reader.secondsValue(node, 0...255) { defs.vrrpGarpMasterDelay = value }
    case "vrrp_garp_master_repeat":
      if let value = reader.integerValue(node, 1...255) { defs.vrrpGarpMasterRepeat = value }
    case "vrrp_garp_master_refresh":
      if let value = reader.secondsValue(node, 0...86400) { defs.vrrpGarpMasterRefresh = value }
    case "vrrp_garp_master_refresh_repeat":
      if let value = reader.integerValue(node, 1...255) { defs.vrrpGarpMasterRefreshRepeat = value }
    case "vrrp_garp_interval":
      if let value = reader.secondsValue(node, 0...1) { defs.vrrpGarpInterval = value }
    case "vrrp_gna_interval":
      if let value = reader.secondsValue(node, 0...1) { defs.vrrpGnaInterval = value }
    case "vrrp_mcast_group4":
      if let value = reader.addressValue(node) {
        if value.family == .inet && value.isMulticast {
          defs.vrrpMcastGroup4 = value
        } else {
          log.error(
            "vrrp_mcast_group4 must be an IPv4 multicast address, not '\(value)'",
            at: node.arguments[0].location)
        }
      }
    case "vrrp_mcast_group6":
      if let value = reader.addressValue(node) {
        if value.family == .inet6 && value.isMulticast {
          defs.vrrpMcastGroup6 = value
        } else {
          log.error(
            "vrrp_mcast_group6 must be an IPv6 multicast address, not '\(value)'",
            at: node.arguments[0].location)
        }
      }
    case "script_user":
      if let value = reader.scriptUser(node) { defs.scriptUser = value }
    case "startup_script", "shutdown_script":
      guard let command = reader.script(node) else { return }
      let timeout = (node.name == "startup_script" ? defs.startupScript : defs.shutdownScript)?.timeout ?? 10
      let script = LifecycleScript(command: command, timeout: timeout, location: node.location)
      if node.name == "startup_script" { defs.startupScript = script } else { defs.shutdownScript = script }
    case "startup_script_timeout", "shutdown_script_timeout":
      guard let value = reader.secondsValue(node, 1...1000) else { return }
      if node.name == "startup_script_timeout" {
        startupTimeout = value
      } else {
        shutdownTimeout = value
      }
    case "enable_script_security":
      if let value = reader.flag(node) { defs.enableScriptSecurity = value }
    case "lvs_sync_daemon":
      if let value = syncDaemon(node) {
        defs.lvsSyncDaemon = value
        syncDaemonNode = node
      }
    case "lvs_timeouts":
      if let value = timeouts(node) { defs.lvsTimeouts = value }
    case "lvs_flush":
      if let value = reader.flag(node) { defs.lvsFlush = value }
    case "lvs_flush_on_stop", "lvs_flush_onstop":
      guard reader.plain(node), reader.expect(node, arguments: 0...1, usage: "lvs_flush_on_stop [VS]") else {
        return
      }
      if let argument = node.arguments.first {
        if argument.text == "VS" {
          defs.lvsFlushOnStop = .virtualServers
        } else {
          log.error("lvs_flush_on_stop accepts only 'VS', not '\(argument.text)'", at: argument.location)
        }
      } else {
        defs.lvsFlushOnStop = .all
      }
    case "lvs_reconcile_interval":
      if let value = reader.secondsValue(node, 1...3600) { defs.lvsReconcileInterval = value }
    case "vrrp_rt_priority":
      if let value = reader.integerValue(node, 1...99) { defs.vrrpRealtimePriority = value }
    case "vrrp_priority":
      if let value = reader.integerValue(node, -20...19) { defs.vrrpNice = value }
    case "vrrp_rlimit_rttime", "vrrp_rlimit_rtime":
      if let value = reader.integerValue(node, 2...Int(Int32.max)) { defs.vrrpRlimitRTTime = value }
    case "vrrp_cpu_affinity":
      guard reader.plain(node), reader.expect(node, arguments: 1...1024, usage: "vrrp_cpu_affinity CPU...")
      else {
        return
      }
      let cpus = node.arguments.compactMap { reader.integer($0, 0...1023, what: "CPU number") }
      if cpus.count == node.arguments.count { defs.vrrpCPUAffinity = cpus }
    case "announce_interface":
      guard let value = reader.stringValue(node) else { return }
      if value.utf8.count > 15 || value.isEmpty || value.contains("/") || value == "." || value == ".." {
        log.error(
          "announce_interface '\(value)' is not a valid interface name (1 to 15 bytes, no '/')",
          at: node.arguments[0].location)
      } else {
        defs.announceInterface = value
      }
    case "announce_table":
      guard let value = reader.integerValue(node, 1...0xffff_fffe) else { return }
      if (253...255).contains(value) {
        log.error(
          "announce_table \(value) is reserved (253 default, 254 main, 255 local); choose another table",
          at: node.arguments[0].location)
      } else {
        defs.announceTable = UInt32(value)
      }
    case "announce_withdraw_delay":
      if let value = reader.secondsValue(node, 0...3600) { defs.announceWithdrawDelay = value }
    case "lvs_sloppy_tcp":
      if let value = reader.flag(node) { defs.lvsSloppyTCP = value }
    case "lvs_sloppy_sctp":
      if let value = reader.flag(node) { defs.lvsSloppySCTP = value }
    case "lvs_conn_reuse_mode":
      if let value = reader.integerValue(node, 0...2) { defs.lvsConnReuseMode = value }
    default:
      reader.reject(node, in: "global_defs")
    }
  }

  private func syncDaemon(_ node: ConfigNode) -> LVSSyncDaemon? {
    let usage =
      "lvs_sync_daemon INTERFACE [[inst] VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group IP]"
    guard reader.plain(node), reader.expect(node, arguments: 1...Int.max, usage: usage) else { return nil }
    var daemon = LVSSyncDaemon(interface: node.arguments[0].text, vrrpInstance: nil, syncID: 0)
    var index = 1
    let arguments = node.arguments
    var ok = true
    while index < arguments.count {
      let option = arguments[index]
      let valueToken = index + 1 < arguments.count ? arguments[index + 1] : nil
      let takesValue = ["inst", "id", "maxlen", "port", "ttl", "group"].contains(option.text)
      if takesValue && valueToken == nil {
        log.error("'\(option.text)' in lvs_sync_daemon needs a value (usage: \(usage))", at: option.location)
        return nil
      }
      switch option.text {
      case "inst": daemon.vrrpInstance = valueToken?.text
      case "id":
        valueToken.flatMap { reader.integer($0, 0...255, what: "lvs_sync_daemon id") }.map {
          daemon.syncID = $0
        } ?? (ok = false)
      case "maxlen":
        valueToken.flatMap { reader.integer($0, 1...65507, what: "lvs_sync_daemon maxlen") }.map {
          daemon.maxLength = $0
        } ?? (ok = false)
      case "port": valueToken.flatMap { reader.port($0) }.map { daemon.port = $0 } ?? (ok = false)
      case "ttl":
        valueToken.flatMap { reader.integer($0, 1...255, what: "lvs_sync_daemon ttl") }.map {
          daemon.ttl = $0
        } ?? (ok = false)
      case "group":
        if let value = valueToken.flatMap({ reader.address($0) }) {
          if value.isMulticast {
            daemon.group = value
          } else {
            log.error(
              "lvs_sync_daemon group must be a multicast address, not '\(value)'", at: option.location)
            ok = false
          }
        } else {
          ok = false
        }
      default:
        if index == 1 && daemon.vrrpInstance == nil {
          daemon.vrrpInstance = option.text  // 'inst' may be omitted (backward compatibility)
          index += 1
          continue
        }
        log.error("unknown lvs_sync_daemon option '\(option.text)' (usage: \(usage))", at: option.location)
        return nil
      }
      index += 2
    }
    return ok ? daemon : nil
  }

  private func timeouts(_ node: ConfigNode) -> LVSTimeouts? {
    let usage = "lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]"
    guard reader.plain(node), reader.expect(node, arguments: 2...6, usage: usage) else { return nil }
    var result = LVSTimeouts()
    var index = 0
    let arguments = node.arguments
    while index < arguments.count {
      let option = arguments[index]
      guard index + 1 < arguments.count else {
        log.error("'\(option.text)' in lvs_timeouts needs a value (usage: \(usage))", at: option.location)
        return nil
      }
      guard
        let value = reader.integer(
          arguments[index + 1], 1...(Int(Int32.max) / 100), what: "lvs_timeouts \(option.text)")
      else { return nil }
      switch option.text {
      case "tcp": result.tcp = value
      case "tcpfin": result.tcpFin = value
      case "udp": result.udp = value
      default:
        log.error("unknown lvs_timeouts option '\(option.text)' (usage: \(usage))", at: option.location)
        return nil
      }
      index += 2
    }
    return result
  }
}
