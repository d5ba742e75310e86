import KeeperCore

/// Reads `bfd_instance` blocks and `track_bfd` blocks with keepalived 2.2's keywords and ranges
/// (keepalived/bfd/bfd_parser.c, vrrp_track.c). Where keepalived reports a configuration error and
/// ignores the value, lvskeeper refuses the configuration at the offending token.
struct BFDConfigBuilder {
  let reader: StatementReader
  var log: DiagnosticLog { reader.log }

  /// keepalived's BFD_MINRX_MAX etc.: UINT32_MAX / 1000 milliseconds.
  static let maxMilliseconds: UInt32 = UInt32.max / 1000
  /// Above this keepalived logs "larger than max sensible".
  static let sensibleMilliseconds: UInt32 = 10_000

  func instance(_ node: ConfigNode) -> BFDInstance? {
    guard let children = reader.block(node) else { return nil }
    guard reader.expect(node, arguments: 1...1, usage: "bfd_instance NAME { neighbor_ip IP ... }") else {
      return nil
    }
    let name = node.arguments[0].text
    // keepalived's BFD_INAME_MAX (32, with the terminating NUL).
    guard name.utf8.count < 32 else {
      log.error("bfd_instance name '\(name)' is longer than 31 characters", at: node.arguments[0].location)
      return nil
    }
    var neighbor: IPAddress?
    var instance = BFDInstance(name: name, neighbor: .unspecified4, location: node.location)
    var sawNeighbor = false
    var maxHopsNode: ConfigNode?
    var ttlNode: ConfigNode?
    var events: Set<String> = []
    for child in children {
      switch child.name {
      case "neighbor_ip", "neighbour_ip":
        sawNeighbor = true
        neighbor = reader.addressValue(child) ?? neighbor
      case "source_ip": instance.source = reader.addressValue(child) ?? instance.source
      case "min_rx": instance.minRx = interval(child, minimum: 1) ?? instance.minRx
      case "min_tx": instance.minTx = interval(child, minimum: 1) ?? instance.minTx
      case "idle_tx": instance.idleTx = interval(child, minimum: 1000) ?? instance.idleTx
      case "multiplier": instance.multiplier = reader.integerValue(child, 1...255) ?? instance.multiplier
      case "passive": instance.passive = reader.flag(child) ?? instance.passive
      case "ttl", "hoplimit":
        ttlNode = child
        instance.ttl = reader.integerValue(child, 1...255) ?? instance.ttl
      case "max_hops":
        maxHopsNode = child
        instance.maxHops = reader.integerValue(child, -1...255) ?? instance.maxHops
      case "weight":
        if let (weight, reverse) = weightValue(child) {
          instance.weight = weight
          instance.weightReverse = reverse
        }
      case "vrrp", "checker":
        if reader.plain(child), reader.expect(child, arguments: 0...0, usage: child.name) {
          events.insert(child.name)
        }
      default: reader.reject(child, in: "bfd_instance")
      }
    }
    if !events.isEmpty {
      instance.notifiesVRRP = events.contains("vrrp")
      instance.notifiesCheckers = events.contains("checker")
    }
    guard let neighbor else {
      if !sawNeighbor { log.error("bfd_instance '\(name)' has no 'neighbor_ip'", at: node.location) }
      return nil
    }
    instance.neighbor = neighbor
    if let source = instance.source, source.family != neighbor.family {
      log.error(
        "bfd_instance '\(name)': source_ip \(source) and neighbor_ip \(neighbor) are not of the same family",
        at: node.location)
      return nil
    }
    let ttl = instance.ttl ?? (neighbor.isIPv4 ? 255 : 64)
    if instance.maxHops > ttl, let maxHopsNode {
      log.error(
        "bfd_instance '\(name)': max_hops \(instance.maxHops) exceeds the \(neighbor.isIPv4 ? "ttl" : "hoplimit") \(ttl)\(ttlNode == nil ? " (default)" : "")",
        at: maxHopsNode.location)
      return nil
    }
    return instance
  }

  /// Milliseconds with up to three decimals (keepalived's microsecond resolution), as microseconds.
  private func interval(_ node: ConfigNode, minimum: UInt32) -> UInt32? {
    guard reader.plain(node), reader.expect(node, arguments: 1...1, usage: "\(node.name) MILLISECONDS") else {
      return nil
    }
    let token = node.arguments[0]
    let parts = token.text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    let whole = parts[0]
    let fraction = parts.count > 1 ? parts[1] : ""
    guard !whole.isEmpty, whole.allSatisfy(\.isASCII), whole.allSatisfy(\.isNumber), fraction.count <= 3,
      parts.count == 1 || !fraction.isEmpty, fraction.allSatisfy({ $0.isASCII && $0.isNumber }),
      let milliseconds = UInt64(whole), milliseconds <= UInt64(Self.maxMilliseconds)
    else {
      log.error(
        "\(node.name) must be milliseconds (up to 3 decimals) in \(minimum)..\(Self.maxMilliseconds), not '\(token.text)'",
        at: token.location)
      return nil
    }
    let micros =
      milliseconds * 1000 + (UInt64(fraction + String(repeating: "0", count: 3 - fraction.count)) ?? 0)
    guard micros >= UInt64(minimum) * 1000, micros <= UInt64(Self.maxMilliseconds) * 1000 else {
      log.error(
        "\(node.name) \(token.text) is out of range \(minimum)..\(Self.maxMilliseconds)", at: token.location)
      return nil
    }
    if micros > UInt64(Self.sensibleMilliseconds) * 1000 {
      log.warning(
        "\(node.name) \(token.text) is larger than the sensible maximum \(Self.sensibleMilliseconds) ms",
        at: token.location)
    }
    return UInt32(micros)
  }

  /// `weight N [reverse]`, N in -253...253.
  private func weightValue(_ node: ConfigNode) -> (Int, Bool)? {
    guard reader.plain(node), reader.expect(node, arguments: 1...2, usage: "weight N [reverse]") else {
      return nil
    }
    guard let weight = reader.integer(node.arguments[0], -253...253, what: "weight") else { return nil }
    if node.arguments.count == 2 {
      guard node.arguments[1].text == "reverse" else {
        log.error(
          "expected 'reverse' after the weight, not '\(node.arguments[1].text)'",
          at: node.arguments[1].location)
        return nil
      }
      return (weight, true)
    }
    return (weight, false)
  }

  /// A `track_bfd` block: one `NAME [weight N [reverse|noreverse]]` per line.
  func trackedBFDs(_ node: ConfigNode) -> [TrackedBFD] {
    guard let children = reader.block(node) else { return [] }
    var result: [TrackedBFD] = []
    for entry in children {
      if entry.isBlock {
        log.error("'\(entry.name)' in track_bfd does not take a block", at: entry.location)
        continue
      }
      var tracked = TrackedBFD(name: entry.name, location: entry.location)
      let arguments = entry.arguments
      if !arguments.isEmpty {
        guard arguments[0].text == "weight", arguments.count >= 2, arguments.count <= 3 else {
          log.error(
            "expected '\(entry.name) [weight N [reverse|noreverse]]' in track_bfd", at: arguments[0].location)
          continue
        }
        guard let weight = reader.integer(arguments[1], -253...253, what: "weight") else { continue }
        tracked.weight = weight
        if arguments.count == 3 {
          switch arguments[2].text {
          case "reverse": tracked.reverse = true
          case "noreverse": tracked.reverse = false
          default:
            log.error(
              "expected 'reverse' or 'noreverse' after the weight, not '\(arguments[2].text)'",
              at: arguments[2].location)
            continue
          }
        }
      }
      if result.contains(where: { $0.name == tracked.name }) {
        log.warning(
          "'\(tracked.name)' is tracked twice in track_bfd; the first entry is used", at: entry.location)
        continue
      }
      result.append(tracked)
    }
    return result
  }
}

extension CrossReferenceCheck {
  /// Every `track_bfd` names a bfd_instance that notifies VRRP (keepalived: "track bfd X not
  /// found"); two sessions never share neighbor and source (keepalived: "duplicate ... address").
  func checkBFD(_ configuration: KeeperConfiguration, servers: [VirtualServerSummary]) {
    var byName: [String: BFDInstance] = [:]
    var endpoints: [String: String] = [:]
    for bfd in configuration.bfdInstances {
      byName[bfd.name] = bfd
      let key = "\(bfd.neighbor)|\(bfd.source?.description ?? "")"
      if let other = endpoints[key] {
        log.error(
          "bfd_instance '\(bfd.name)' has the same neighbor_ip\(bfd.source == nil ? "" : " and source_ip") as '\(other)'",
          at: bfd.location)
      } else {
        endpoints[key] = bfd.name
      }
    }
    let tracked =
      configuration.vrrpInstances.flatMap { instance in
        instance.trackBFDs.map { ($0, "vrrp_instance '\(instance.name)'") }
      }
      + configuration.syncGroups.flatMap { group in group.trackBFDs.map { ($0, "sync group '\(group.name)'") }
      }
    for (entry, owner) in tracked {
      guard let bfd = byName[entry.name] else {
        log.error("track_bfd '\(entry.name)' of \(owner) is not a defined bfd_instance", at: entry.location)
        continue
      }
      if !bfd.notifiesVRRP {
        log.error(
          "track_bfd '\(entry.name)' of \(owner): bfd_instance '\(bfd.name)' notifies only 'checker'",
          at: entry.location)
      }
    }
    // BFD_CHECK: the name exists and notifies checkers; a real server watches a session once
    // (keepalived check_bfd.c: "not configured", "RS already monitoring").
    for server in servers {
      for checks in server.bfdChecks {
        var watched: Set<String> = []
        for check in checks {
          let name = check.name
          if let bfd = byName[name] {
            if !bfd.notifiesCheckers {
              log.error(
                "BFD_CHECK '\(name)': bfd_instance '\(name)' notifies only 'vrrp'", at: check.location)
            }
          } else {
            log.error("BFD_CHECK names '\(name)', which is not a defined bfd_instance", at: check.location)
          }
          if !watched.insert(name).inserted {
            log.error("BFD_CHECK '\(name)' is given twice for the same real server", at: check.location)
          }
        }
      }
    }
  }
}
