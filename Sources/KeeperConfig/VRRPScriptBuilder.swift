import KeeperCore

/// Reads `vrrp_script`, `vrrp_track_file` and the tracking/notify statements that VRRP instances
/// and sync groups share.
struct VRRPTrackingReader {
  let reader: StatementReader
  var log: DiagnosticLog { reader.log }

  /// A `vrrp_script` without `script` is dropped with a warning, as keepalived does ("No script
  /// set for vrrp_script - removing"); its name goes into `ignored` so that tracking it is a
  /// warning too, not an error.
  func script(_ node: ConfigNode, ignored: inout Set<String>) -> VRRPScript? {
    guard let children = reader.block(node) else { return nil }
    guard reader.expect(node, arguments: 1...1, usage: "vrrp_script NAME { ... }") else { return nil }
    var command: ScriptCommand?
    var interval: Double = 1
    var timeout: Double?
    var weight = 0
    var reverse = false
    var rise = 1
    var fall = 1
    var user: ScriptUser?
    var initFail = false
    for child in children {
      switch child.name {
      case "script": command = reader.commandLine(child) ?? command
      case "interval": interval = reader.secondsValue(child, 0.001...86400) ?? interval
      case "timeout": timeout = reader.secondsValue(child, 0.001...86400) ?? timeout
      case "weight":
        if let (value, isReverse) = weightValue(child, range: -253...253) {
          weight = value
          reverse = isReverse
        }
      case "rise": rise = reader.integerValue(child, 1...Int(Int32.max)) ?? rise
      case "fall": fall = reader.integerValue(child, 1...Int(Int32.max)) ?? fall
      case "user": user = reader.scriptUser(child) ?? user
      case "init_fail": initFail = reader.flag(child) ?? initFail
      default: reader.reject(child, in: "vrrp_script")
      }
    }
    let name = node.arguments[0].text
    guard var command else {
      log.warning(
        "vrrp_script '\(name)' has no 'script' and is ignored (keepalived removes it too)", at: node.location)
      ignored.insert(name)
      return nil
    }
    if let user { command.user = user }
    return VRRPScript(
      name: name, script: command, interval: interval, timeout: timeout ?? interval, weight: weight,
      weightReverse: reverse, rise: rise, fall: fall, initFail: initFail, location: node.location)
  }

  /// A track_file without `file` is dropped with a warning, as keepalived does ("No file set for
  /// track_file - ignoring"); its name goes into `ignored` (tracking it is then a warning).
  func trackFile(_ node: ConfigNode, ignored: inout Set<String>) -> VRRPTrackFile? {
    guard let children = reader.block(node) else { return nil }
    guard reader.expect(node, arguments: 1...1, usage: "vrrp_track_file NAME { ... }") else { return nil }
    let name = node.arguments[0].text
    var result = VRRPTrackFile(name: name, file: "", location: node.location)
    var hasFile = false
    for child in children {
      switch child.name {
      case "file":
        if let value = reader.stringValue(child) {
          result.file = value
          hasFile = true
        }
      case "weight":
        if let (value, reverse) = weightValue(child, range: -254...254) {
          result.weight = value
          result.weightReverse = reverse
        }
      case "init_file":
        guard reader.plain(child),
          reader.expect(child, arguments: 0...2, usage: "init_file [VALUE] [overwrite]")
        else {
          continue
        }
        result.initValue = 0
        for argument in child.arguments {
          if argument.text == "overwrite" {
            result.initOverwrite = true
          } else if let value = reader.integer(
            argument, Int(Int32.min)...Int(Int32.max), what: "init_file value")
          {
            result.initValue = value
          }
        }
      default: reader.reject(child, in: "vrrp_track_file")
      }
    }
    guard hasFile else {
      log.warning(
        "\(node.name) '\(name)' has no 'file' and is ignored (keepalived ignores it too)", at: node.location)
      ignored.insert(name)
      return nil
    }
    return result
  }

  /// `weight N [reverse]`.
  func weightValue(_ node: ConfigNode, range: ClosedRange<Int>) -> (Int, Bool)? {
    guard reader.plain(node), reader.expect(node, arguments: 1...2, usage: "weight N [reverse]") else {
      return nil
    }
    guard let value = reader.integer(node.arguments[0], range, what: "weight") else { return nil }
    if node.arguments.count == 2 {
      guard node.arguments[1].text == "reverse" else {
        log.error(
          "expected 'reverse' after the weight, not '\(node.arguments[1].text)'",
          at: node.arguments[1].location)
        return nil
      }
      return (value, true)
    }
    return (value, false)
  }

  /// A `track_interface` / `track_script` / `track_file` block: one `NAME [weight N [reverse]]` per line.
  func trackedObjects(_ node: ConfigNode, weightRange: ClosedRange<Int>) -> [TrackedObject] {
    guard let children = reader.block(node) else { return [] }
    var result: [TrackedObject] = []
    for entry in children {
      if entry.isBlock {
        log.error("'\(entry.name)' in \(node.name) does not take a block", at: entry.location)
        continue
      }
      var object = TrackedObject(name: entry.name)
      let arguments = entry.arguments
      if !arguments.isEmpty {
        guard arguments[0].text == "weight", arguments.count >= 2, arguments.count <= 3 else {
          log.error(
            "expected '\(entry.name) [weight N [reverse]]' in \(node.name)", at: arguments[0].location)
          continue
        }
        guard let weight = reader.integer(arguments[1], weightRange, what: "weight") else { continue }
        object.weight = weight
        if arguments.count == 3 {
          guard arguments[2].text == "reverse" else {
            log.error(
              "expected 'reverse' after the weight, not '\(arguments[2].text)'", at: arguments[2].location)
            continue
          }
          object.reverse = true
        }
      }
      if result.contains(where: { $0.name == object.name }) {
        log.warning(
          "'\(object.name)' is tracked twice in \(node.name); the first entry is used", at: entry.location)
        continue
      }
      result.append(object)
    }
    return result
  }

  /// Applies a notify statement; returns false if `node` is not one.
  func applyNotify(_ node: ConfigNode, to notify: inout VRRPNotify) -> Bool {
    switch node.name {
    case "notify": notify.notify = reader.script(node) ?? notify.notify
    case "notify_master": notify.master = reader.script(node) ?? notify.master
    case "notify_backup": notify.backup = reader.script(node) ?? notify.backup
    case "notify_fault": notify.fault = reader.script(node) ?? notify.fault
    case "notify_stop": notify.stop = reader.script(node) ?? notify.stop
    default: return false
    }
    return true
  }

  func syncGroup(_ node: ConfigNode) -> VRRPSyncGroup? {
    guard let children = reader.block(node) else { return nil }
    guard reader.expect(node, arguments: 1...1, usage: "vrrp_sync_group NAME { group { ... } }") else {
      return nil
    }
    var group = VRRPSyncGroup(name: node.arguments[0].text, location: node.location)
    var sawGroup = false
    var sawBareName = false
    for child in children {
      if applyNotify(child, to: &group.notify) { continue }
      switch child.name {
      case "group":
        guard let members = reader.block(child) else { continue }
        sawGroup = true
        for member in members {
          if member.isBlock || !member.arguments.isEmpty {
            log.error("expected one vrrp_instance name per line in group", at: member.location)
          } else if group.instances.contains(member.name) {
            log.warning(
              "vrrp_instance '\(member.name)' is listed twice in sync group '\(group.name)'; the repeat is ignored",
              at: member.location)
          } else {
            group.instances.append(member.name)
          }
        }
      case "track_interface": group.trackInterfaces += trackedObjects(child, weightRange: -254...254)
      case "track_script": group.trackScripts += trackedObjects(child, weightRange: -253...253)
      case "track_file": group.trackFiles += trackedObjects(child, weightRange: -254...254)
      case "track_process": group.trackProcesses += trackedObjects(child, weightRange: -254...254)
      case "track_bfd": group.trackBFDs += BFDConfigBuilder(reader: reader).trackedBFDs(child)
      default:
        if !child.isBlock && child.arguments.isEmpty && !KeywordCatalog.ignored.contains(child.name)
          && !KeywordCatalog.unsupported.contains(child.name)
        {
          sawBareName = true
          log.error(
            "unknown keyword '\(child.name)' in vrrp_sync_group (instance names belong inside 'group { }')",
            at: child.location)
        } else {
          reader.reject(child, in: "vrrp_sync_group")
        }
      }
    }
    if !sawGroup {
      if sawBareName { return nil }
      log.error("vrrp_sync_group '\(group.name)' has no 'group { ... }' of instances", at: node.location)
      return nil
    }
    return group
  }
}
