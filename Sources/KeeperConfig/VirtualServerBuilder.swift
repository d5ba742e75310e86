import KeeperCore

/// A real server's identity within its virtual server.
private struct RealServerKey: Hashable {
  var address: IPAddress
  var port: Int
}

/// Reads `virtual_server` blocks (with their real servers and checkers) and `virtual_server_group`s.
///
/// Settings are read in two passes so that a virtual or real server's defaults apply to all of its
/// children regardless of statement order, as in keepalived.
struct VirtualServerBuilder {
  let reader: StatementReader
  let checkers: CheckerBuilder
  var log: DiagnosticLog { reader.log }

  func virtualServer(_ node: ConfigNode) -> VirtualServer? {
    guard let children = reader.block(node) else { return nil }
    // With an unreadable key the block is still read, so that its own errors are reported too.
    let parsedKey = key(node)
    let key = parsedKey ?? VirtualServerKey(kind: .fwmark, fwmark: 0)
    var server = VirtualServer(key: key, location: node.location)
    var defaults = CheckerDefaults()
    var protocolNode: ConfigNode?
    var sorry: (address: IPAddress, port: Int, node: ConfigNode)?
    var sorryInhibit = false
    var sorryMethod: ForwardingMethod?
    var realServerNodes: [ConfigNode] = []
    realServerNodes.reserveCapacity(children.count)
    // `sh-port`, `mh-fallback`, ...: kept to check against the scheduler once it is known.
    var namedFlags: [ConfigNode] = []
    for child in children {
      if child.name == "real_server" {
        realServerNodes.append(child)
        continue
      }
      if defaults.apply(child, reader: reader) { continue }
      switch child.name {
      case "lvs_sched", "lb_algo":
        guard let value = reader.stringValue(child) else { continue }
        guard let scheduler = LVSScheduler(rawValue: value) else {
          let names = LVSScheduler.allCases.map(\.rawValue).joined(separator: " ")
          log.error(
            "unknown scheduler '\(value)' (expected one of: \(names))", at: child.arguments[0].location)
          continue
        }
        server.scheduler = scheduler
      case "lvs_method", "lb_kind": server.forwarding = forwardingMethod(child) ?? server.forwarding
      case "protocol":
        guard let value = reader.stringValue(child) else { continue }
        guard let proto = ServiceProtocol(rawValue: value.uppercased()) else {
          log.error("protocol must be TCP, UDP or SCTP, not '\(value)'", at: child.arguments[0].location)
          continue
        }
        server.protocol = proto
        protocolNode = child
      case "persistence_timeout":
        guard reader.plain(child),
          reader.expect(child, arguments: 0...1, usage: "persistence_timeout [SECONDS]")
        else {
          continue
        }
        var timeout = 360
        if let token = child.arguments.first {
          guard let value = reader.integer(token, 1...Int(Int32.max), what: "persistence_timeout") else {
            continue
          }
          timeout = value
        }
        server.persistence = Persistence(timeout: timeout, granularity: server.persistence?.granularity)
      case "persistence_granularity":
        guard let mask = reader.addressValue(child) else { continue }
        var persistence = server.persistence ?? Persistence(timeout: 360, granularity: nil)
        persistence.granularity = mask
        server.persistence = persistence
      case "ops": server.onePacketScheduling = reader.flag(child) ?? server.onePacketScheduling
      case "flag-1", "sh-fallback", "mh-fallback":
        if child.name != "flag-1" { namedFlags.append(child) }
        server.schedulerFlags.flag1 = reader.flag(child) ?? server.schedulerFlags.flag1
      case "flag-2", "sh-port", "mh-port":
        if child.name != "flag-2" { namedFlags.append(child) }
        server.schedulerFlags.flag2 = reader.flag(child) ?? server.schedulerFlags.flag2
      case "flag-3": server.schedulerFlags.flag3 = reader.flag(child) ?? server.schedulerFlags.flag3
      case "ip_family":
        guard let value = reader.stringValue(child) else { continue }
        guard let family = IPAddress.Family(rawValue: value) else {
          log.error("ip_family must be inet or inet6, not '\(value)'", at: child.arguments[0].location)
          continue
        }
        server.ipFamily = family
      case "quorum": server.quorum = reader.integerValue(child, 1...Int(UInt32.max)) ?? server.quorum
      case "hysteresis":
        server.hysteresis = reader.integerValue(child, 0...Int(UInt32.max)) ?? server.hysteresis
      case "quorum_up": server.quorumUp = reader.script(child) ?? server.quorumUp
      case "quorum_down": server.quorumDown = reader.script(child) ?? server.quorumDown
      case "omega": server.omega = reader.flag(child) ?? server.omega
      case "sorry_server":
        guard reader.plain(child), reader.expect(child, arguments: 1...2, usage: "sorry_server IP [PORT]")
        else { continue }
        guard let address = reader.address(child.arguments[0]) else { continue }
        var port = key.port ?? 0
        if child.arguments.count == 2 {
          guard let value = reader.port(child.arguments[1], allowZero: true) else { continue }
          port = value
        }
        sorry = (address, port, child)
      case "sorry_server_inhibit": sorryInhibit = reader.flag(child) ?? sorryInhibit
      case "sorry_server_lvs_method": sorryMethod = forwardingMethod(child) ?? sorryMethod
      case "inhibit_on_failure": server.inhibitOnFailure = reader.flag(child) ?? server.inhibitOnFailure
      case "drain_timeout": server.drainTimeout = reader.secondsValue(child, 0...86400) ?? server.drainTimeout
      case "announce":
        guard let value = reader.flag(child) else { continue }
        if value && key.kind != .address {
          log.error(
            "announce needs a virtual_server IP PORT: a \(key.kind.rawValue) virtual server has no single address to announce",
            at: child.location)
          continue
        }
        server.announce = value
      case "announce_quorum": server.announceQuorum = announceQuorum(child) ?? server.announceQuorum
      default: reader.reject(child, in: "virtual_server")
      }
    }
    // keepalived (check_parser.c lbflags_handler) applies sh-*/mh-* only under their own
    // scheduler and otherwise ignores them with a message: so do we, with a warning. (keepalived
    // looks at the scheduler named before the flag; here statement order does not matter.)
    for flagNode in namedFlags {
      let wanted: LVSScheduler = flagNode.name.hasPrefix("mh-") ? .mh : .sh
      guard server.scheduler != wanted else { continue }
      log.warning(
        "\(flagNode.name) only applies to the \(wanted.rawValue) scheduler, not \(server.scheduler.rawValue) - ignoring",
        at: flagNode.location)
      if flagNode.name.hasSuffix("-fallback") {
        server.schedulerFlags.flag1 = false
      } else {
        server.schedulerFlags.flag2 = false
      }
    }
    server.delayLoop = defaults.delayLoop ?? server.delayLoop
    server.alpha = defaults.alpha ?? false
    server.virtualhost = defaults.virtualhost
    if key.kind == .fwmark, let protocolNode {
      log.warning("protocol is ignored for a fwmark virtual server", at: protocolNode.location)
    }
    if key.kind == .address, key.port == 0, server.persistence == nil {
      log.error(
        "virtual_server without a port must be persistent (set persistence_timeout)", at: node.location)
    }
    if let sorry {
      server.sorryServer = SorryServer(
        address: sorry.address, port: sorry.port, inhibit: sorryInhibit,
        forwarding: sorryMethod ?? server.forwarding)
      checkFamily(
        sorry.address, of: server, method: server.sorryServer?.forwarding ?? server.forwarding, at: sorry.node
      )
    }
    // The first real server node of each address and port, by index: sized once, and a location
    // (a file name to look up and retain) only for an error.
    var seen: [RealServerKey: Int] = [:]
    seen.reserveCapacity(realServerNodes.count)
    server.realServers.reserveCapacity(realServerNodes.count)
    for (index, realNode) in realServerNodes.enumerated() {
      guard let real = realServer(realNode, of: server, defaults: defaults) else { continue }
      let key = RealServerKey(address: real.address, port: real.port)
      if let first = seen[key] {
        log.error(
          "duplicate real server \(real.address.withPort(real.port)) (first defined at \(realServerNodes[first].location))",
          at: realNode.location)
        continue
      }
      seen[key] = index
      server.realServers.append(real)
    }
    return parsedKey == nil ? nil : server
  }

  /// `announce_quorum P%` (or `P`): a percentage 1...100 of real servers that must be up.
  private func announceQuorum(_ node: ConfigNode) -> Int? {
    guard reader.plain(node), reader.expect(node, arguments: 1...1, usage: "announce_quorum PERCENT%") else {
      return nil
    }
    let token = node.arguments[0]
    let digits = token.text.hasSuffix("%") ? String(token.text.dropLast()) : token.text
    guard let value = Int(digits), (1...100).contains(value) else {
      log.error(
        "announce_quorum must be a percentage from 1% to 100%, not '\(token.text)'", at: token.location)
      return nil
    }
    return value
  }

  private func key(_ node: ConfigNode) -> VirtualServerKey? {
    let usage = "virtual_server IP [PORT] | fwmark N | group NAME { ... }"
    guard reader.expect(node, arguments: 1...2, usage: usage) else { return nil }
    let first = node.arguments[0]
    switch first.text {
    case "fwmark":
      guard node.arguments.count == 2,
        let mark = reader.integer(node.arguments[1], 1...Int(UInt32.max), what: "fwmark")
      else {
        if node.arguments.count < 2 {
          log.error("'fwmark' needs a mark (usage: \(usage))", at: first.location)
        }
        return nil
      }
      return VirtualServerKey(kind: .fwmark, fwmark: UInt32(mark))
    case "group":
      guard node.arguments.count == 2 else {
        log.error("'group' needs a virtual_server_group name (usage: \(usage))", at: first.location)
        return nil
      }
      return VirtualServerKey(kind: .group, group: node.arguments[1].text)
    default:
      guard let address = reader.address(first) else { return nil }
      var port = 0
      if node.arguments.count == 2 {
        guard let value = reader.port(node.arguments[1], allowZero: true) else { return nil }
        port = value
      }
      return VirtualServerKey(kind: .address, address: address, port: port)
    }
  }

  private func realServer(_ node: ConfigNode, of server: VirtualServer, defaults vsDefaults: CheckerDefaults)
    -> RealServer?
  {
    guard let children = reader.block(node) else { return nil }
    guard reader.expect(node, arguments: 1...2, usage: "real_server IP [PORT] { ... }") else { return nil }
    // A bad address or port still lets the block be read, so that its own errors are reported too.
    let parsedAddress = reader.address(node.arguments[0])
    var valid = parsedAddress != nil
    let address = parsedAddress ?? server.key.address ?? IPAddress.vrrpMulticast4
    var port = server.key.port ?? 0
    if node.arguments.count == 2 {
      if let value = reader.port(node.arguments[1], allowZero: true) { port = value } else { valid = false }
    }
    var own = CheckerDefaults()
    var real = RealServer(
      address: address, port: port, forwarding: server.forwarding, inhibitOnFailure: server.inhibitOnFailure,
      alpha: server.alpha, delayLoop: server.delayLoop, virtualhost: nil, drainTimeout: server.drainTimeout,
      location: node.location)
    var checkerNodes: [(ConfigNode, HealthCheckSpec.CheckerType)] = []
    for child in children {
      if let type = HealthCheckSpec.CheckerType(rawValue: child.name) {
        checkerNodes.append((child, type))
        continue
      }
      if own.apply(child, reader: reader) { continue }
      switch child.name {
      case "weight": real.weight = reader.integerValue(child, 0...65535) ?? real.weight
      case "lvs_method", "lb_kind": real.forwarding = forwardingMethod(child) ?? real.forwarding
      case "inhibit_on_failure": real.inhibitOnFailure = reader.flag(child) ?? real.inhibitOnFailure
      case "notify_up": real.notifyUp = reader.script(child) ?? real.notifyUp
      case "notify_down": real.notifyDown = reader.script(child) ?? real.notifyDown
      case "uthreshold":
        real.upperThreshold = reader.integerValue(child, 0...Int(UInt32.max)) ?? real.upperThreshold
      case "lthreshold":
        real.lowerThreshold = reader.integerValue(child, 0...Int(UInt32.max)) ?? real.lowerThreshold
      case "drain_timeout": real.drainTimeout = reader.secondsValue(child, 0...86400) ?? real.drainTimeout
      default: reader.reject(child, in: "real_server")
      }
    }
    let inherited = own.over(vsDefaults)
    real.alpha = inherited.alpha ?? false
    real.delayLoop = inherited.delayLoop ?? server.delayLoop
    real.virtualhost = inherited.virtualhost
    if let upper = real.upperThreshold, let lower = real.lowerThreshold, lower > upper {
      log.error("lthreshold \(lower) exceeds uthreshold \(upper)", at: node.location)
    }
    if valid { checkFamily(address, of: server, method: real.forwarding, at: node) }
    for (checkerNode, type) in checkerNodes {
      real.checkers += checkers.checkers(
        checkerNode, type: type, inherited: inherited, realAddress: address, realPort: port,
        vsDelayLoop: server.delayLoop)
    }
    return valid ? real : nil
  }

  /// A non-tunnelled real or sorry server must share the virtual address's family (ipvsadm(8)).
  private func checkFamily(
    _ address: IPAddress, of server: VirtualServer, method: ForwardingMethod, at node: ConfigNode
  ) {
    guard method.kind != .tun, let virtualAddress = server.key.address,
      virtualAddress.family != address.family
    else {
      return
    }
    log.error(
      "\(node.name) \(address) is not of the same address family as virtual server \(virtualAddress) (only TUN may differ)",
      at: node.location)
  }

  /// `NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
  func forwardingMethod(_ node: ConfigNode) -> ForwardingMethod? {
    let usage = "\(node.name) NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]"
    guard reader.plain(node), reader.expect(node, arguments: 1...6, usage: usage) else { return nil }
    let arguments = node.arguments
    guard let kind = ForwardingMethod.Kind(rawValue: arguments[0].text.uppercased()) else {
      log.error(
        "forwarding method must be NAT, DR or TUN, not '\(arguments[0].text)'", at: arguments[0].location)
      return nil
    }
    var method = ForwardingMethod(kind: kind)
    guard kind == .tun else {
      if arguments.count > 1 {
        log.error(
          "unexpected argument '\(arguments[1].text)' after \(kind.rawValue) (usage: \(usage))",
          at: arguments[1].location)
        return nil
      }
      return method
    }
    var index = 1
    while index < arguments.count {
      let token = arguments[index]
      if token.text == "type", index + 1 < arguments.count,
        let type = ForwardingMethod.TunnelType(rawValue: arguments[index + 1].text)
      {
        method.tunnelType = type
        index += 2
        if type == .gue {
          guard index + 1 < arguments.count, arguments[index].text == "port",
            let port = reader.port(arguments[index + 1])
          else {
            log.error("tunnel type gue needs 'port N' (usage: \(usage))", at: token.location)
            return nil
          }
          method.tunnelPort = port
          index += 2
        }
      } else if let checksum = ForwardingMethod.TunnelChecksum(rawValue: token.text) {
        if checksum == .remcsum && method.tunnelType == .gre {
          log.error("remcsum is not available with tunnel type gre", at: token.location)
          return nil
        }
        method.tunnelChecksum = checksum
        index += 1
      } else {
        log.error("unexpected tunnel option '\(token.text)' (usage: \(usage))", at: token.location)
        return nil
      }
    }
    return method
  }

  // MARK: virtual_server_group

  func group(_ node: ConfigNode) -> VirtualServerGroup? {
    guard let children = reader.block(node) else { return nil }
    guard reader.expect(node, arguments: 1...1, usage: "virtual_server_group NAME { ... }") else {
      return nil
    }
    var members: [VirtualServerGroup.Member] = []
    for entry in children {
      guard reader.plain(entry) else { continue }
      if entry.name == "fwmark" {
        guard reader.expect(entry, arguments: 1...2, usage: "fwmark N [inet|inet6]"),
          let mark = reader.integer(entry.arguments[0], 1...Int(UInt32.max), what: "fwmark")
        else { continue }
        var family: IPAddress.Family?
        if entry.arguments.count == 2 {
          guard let value = IPAddress.Family(rawValue: entry.arguments[1].text) else {
            log.error(
              "expected inet or inet6, not '\(entry.arguments[1].text)'", at: entry.arguments[1].location)
            continue
          }
          family = value
        }
        members.append(.init(fwmark: UInt32(mark), family: family, location: entry.location))
        continue
      }
      guard reader.expect(entry, arguments: 0...1, usage: "IP[-RANGE] [PORT]") else { continue }
      guard let (first, last) = addressRange(entry.keyword) else { continue }
      var port = 0
      if let token = entry.arguments.first {
        guard let value = reader.port(token, allowZero: true) else { continue }
        port = value
      }
      members.append(
        .init(first: first, last: last, port: port, family: first.family, location: entry.location))
    }
    return VirtualServerGroup(name: node.arguments[0].text, members: members, location: node.location)
  }

  /// `A.B.C.D`, `A.B.C.D-E` (last component), `A.B.C.D-E.F.G.H`, `A.B.C.D/NN`, and IPv6 equivalents.
  private func addressRange(_ token: Token) -> (IPAddress, IPAddress)? {
    let text = token.text
    if let address = IPAddress(text) { return (address, address) }
    if let slash = text.firstIndex(of: "/"), let base = IPAddress(String(text[..<slash])),
      let prefix = Int(text[text.index(after: slash)...]), (0...base.maxPrefixLength).contains(prefix)
    {
      var low = base.bytes
      var high = base.bytes
      for bit in prefix..<base.maxPrefixLength {
        low[bit / 8] &= ~(0x80 >> UInt8(bit % 8))
        high[bit / 8] |= 0x80 >> UInt8(bit % 8)
      }
      if let first = IPAddress(bytes: low), let last = IPAddress(bytes: high) { return (first, last) }
    }
    if let dash = text.lastIndex(of: "-"), let first = IPAddress(String(text[..<dash])) {
      let tail = String(text[text.index(after: dash)...])
      var last = IPAddress(tail)
      if last == nil {
        let separator: Character = first.family == .inet ? "." : ":"
        let radix = first.family == .inet ? 10 : 16
        if let head = text[..<dash].lastIndex(of: separator), let value = Int(tail, radix: radix),
          value <= (first.family == .inet ? 255 : 0xFFFF)
        {
          last = IPAddress(String(text[...head]) + String(value, radix: radix))
        }
      }
      if let last, last.family == first.family {
        guard first <= last else {
          log.error("address range '\(text)' ends before it starts", at: token.location)
          return nil
        }
        return (first, last)
      }
    }
    log.error("invalid IP address or range '\(text)'", at: token.location)
    return nil
  }
}
