import KeeperCore

/// Reads the entries of `static_routes`, `virtual_routes`, `static_rules` and `virtual_rules`
/// blocks with keepalived.conf(5)'s syntax (one route or rule per line, `ip route` / `ip rule`
/// words).
///
/// Invariants: an entry with an option keepalived knows but lvskeeper does not install is an
/// error naming the option ("not supported yet"); an entry whose address does not parse is
/// skipped with a warning, as keepalived skips it (its own sample has `to 192.168.100./24`); a rule
/// without a preference gets keepalived's 16384, 16383, ... per family, counted over the whole
/// configuration in file order, with keepalived's warning.
final class RoutingReader {
  let reader: StatementReader
  let interfaces: Set<String>?
  /// The preference keepalived gives the next rule without one, per family.
  var nextRulePriority: [AddressFamily: UInt32] = [.inet: 16384, .inet6: 16384]
  var log: DiagnosticLog { reader.log }

  init(reader: StatementReader, interfaces: Set<String>?) {
    self.reader = reader
    self.interfaces = interfaces
  }

  /// Options keepalived's route parser accepts that lvskeeper does not install.
  static let unsupportedRouteOptions: Set<String> = [
    "from", "tos", "dsfield", "onlink", "encap", "expires", "mtu", "hoplimit", "advmss", "rtt", "rttvar",
    "reordering", "window", "cwnd", "ssthresh", "realms", "rto_min", "initcwnd", "initrwnd", "features",
    "quickack", "congctl", "pref", "ttl-propagate", "fastopen_no_cookie", "track_group", "vrf",
    "as", "add", "append",
  ]

  /// Options keepalived's rule parser accepts that lvskeeper does not install.
  static let unsupportedRuleOptions: Set<String> = [
    "realms", "suppress_prefixlength", "sup_pl", "suppress_ifgroup", "sup_group", "tunnel-id", "uidrange",
    "l3mdev", "protocol", "ipproto", "sport", "dport", "track_group",
  ]

  /// Route types keepalived accepts that lvskeeper does not install.
  static let unsupportedRouteTypes: Set<String> = [
    "local", "broadcast", "anycast", "multicast", "nat", "xresolve",
  ]

  func routes(_ node: ConfigNode) -> [IPRoute] {
    guard let children = reader.block(node) else { return [] }
    return children.compactMap { entry in reader.plain(entry) ? route([entry.keyword] + entry.arguments) : nil
    }
  }

  func rules(_ node: ConfigNode) -> [IPRule] {
    guard let children = reader.block(node) else { return [] }
    return children.compactMap { entry in reader.plain(entry) ? rule([entry.keyword] + entry.arguments) : nil
    }
  }

  // MARK: routes

  private func route(_ words: [Token]) -> IPRoute? {
    var family: AddressFamily?
    var destination: IPPrefix?
    var kind = IPRoute.Kind.unicast
    var source: IPAddress?
    var gateway: IPAddress?
    var nextHops: [NextHop] = []
    var device: String?
    var scope: UInt8?
    var table: UInt32 = 254
    var metric: UInt32?
    var proto: (value: UInt8, token: Token)?
    var noTrack = false
    var index = 0
    /// The value after `words[index]`, or an error naming the option.
    func value() -> Token? {
      guard index + 1 < words.count else {
        log.error("route option '\(words[index].text)' needs a value", at: words[index].location)
        return nil
      }
      index += 1
      return words[index]
    }
    func sameFamily(_ address: AddressFamily, _ token: Token) -> Bool {
      if let family, family != address {
        log.error("route mixes IPv4 and IPv6 ('\(token.text)')", at: token.location)
        return false
      }
      family = address
      return true
    }
    while index < words.count {
      let word = words[index]
      switch word.text {
      case "inet", "inet6":
        guard sameFamily(word.text == "inet" ? .inet : .inet6, word) else { return nil }
      case "src":
        guard let token = value() else { return nil }
        guard let address = skippableAddress(token, what: "route src address") else { return nil }
        guard sameFamily(address.family, token) else { return nil }
        source = address
      case "via", "gw":
        if word.text == "gw" {
          log.warning("'gw' for routes is deprecated, use 'via' (keepalived accepts both)", at: word.location)
        }
        guard var token = value() else { return nil }
        if token.text == "inet" || token.text == "inet6" {
          guard sameFamily(token.text == "inet" ? .inet : .inet6, token), let next = value() else {
            return nil
          }
          token = next
        }
        guard let address = skippableAddress(token, what: "route via address") else { return nil }
        guard sameFamily(address.family, token) else { return nil }
        gateway = address
      case "or":
        log.warning(
          "'or' for routes is deprecated in keepalived (use 'nexthop'); installed as a multipath route",
          at: word.location)
        guard let token = value() else { return nil }
        guard let first = gateway, nextHops.isEmpty else {
          log.error("'or' needs exactly one 'via' address before it", at: word.location)
          return nil
        }
        guard let address = skippableAddress(token, what: "route 'or' address") else { return nil }
        guard sameFamily(address.family, token) else { return nil }
        nextHops = [NextHop(gateway: first), NextHop(gateway: address)]
        gateway = nil
      case "nexthop":
        guard nextHops.isEmpty else {
          log.error("a route with 'or' cannot also have 'nexthop'", at: word.location)
          return nil
        }
        // keepalived's parse_nexthops: every word from here on belongs to the next hops.
        guard let hops = self.nextHops(words[index...], family: &family) else { return nil }
        nextHops = hops
        index = words.count
        continue
      case "dev", "oif":
        guard let token = value() else { return nil }
        device = token.text
        warnIfMissing(token)
      case "scope":
        guard let token = value() else { return nil }
        guard let code = Self.scope(token.text) else {
          log.error(
            "route scope must be global, universe, site, link, host, nowhere or 0..255, not '\(token.text)'",
            at: token.location)
          return nil
        }
        scope = code
      case "table":
        guard let token = value(), let number = tableNumber(token) else { return nil }
        table = number
      case "metric", "priority", "preference":
        guard let token = value() else { return nil }
        guard let number = UInt32(token.text) else {
          log.error("route metric must be 0..4294967295, not '\(token.text)'", at: token.location)
          return nil
        }
        metric = number
      case "protocol":
        guard let token = value() else { return nil }
        guard let number = Self.protocolNumber(token.text) else {
          log.error(
            "route protocol must be kernel, boot, static, keepalived or 0..255, not '\(token.text)'",
            at: token.location)
          return nil
        }
        proto = (number, token)
      case "no_track":
        noTrack = true
      case "prepend":
        break  // keepalived's default: the kernel's NLM_F_CREATE without NLM_F_EXCL
      default:
        if Self.unsupportedRouteOptions.contains(word.text) || Self.unsupportedRouteTypes.contains(word.text)
        {
          log.error("route option '\(word.text)' is not supported yet", at: word.location)
          return nil
        }
        var token = word
        if token.text == "to" {
          guard let next = value() else { return nil }
          token = next
        }
        if let type = IPRoute.Kind(rawValue: token.text) {
          kind = type
          guard let next = value() else { return nil }
          token = next
        } else if Self.unsupportedRouteTypes.contains(token.text) {
          log.error("route type '\(token.text)' is not supported yet", at: token.location)
          return nil
        }
        guard let prefix = prefix(token, family: family) else {
          if Self.looksLikeAddress(token.text) {
            log.warning(
              "invalid route destination '\(token.text)': the route is skipped, as keepalived skips it",
              at: token.location)
          } else {
            log.error("unknown route keyword '\(token.text)'", at: token.location)
          }
          return nil
        }
        guard sameFamily(prefix.family, token) else { return nil }
        destination = prefix
      }
      index += 1
    }
    guard let destination else {
      log.error("route has no destination", at: words[0].location)
      return nil
    }
    var route = IPRoute(destination: destination)
    route.kind = kind
    route.source = source
    route.gateway = gateway
    route.nextHops = nextHops
    route.device = device
    route.scope = scope
    route.table = table
    route.metric = metric
    if let proto {
      if noTrack {
        route.protocol = proto.value
      } else if proto.value != 18 {
        log.warning(
          "a route is tagged protocol keepalived (18) unless 'no_track' is given; protocol reset, as keepalived does",
          at: proto.token.location)
      }
    }
    return route
  }

  /// `nexthop [via [inet|inet6] ADDR] [dev IF] [weight 1..256] nexthop ...` to the end of the entry.
  private func nextHops(_ words: ArraySlice<Token>, family: inout AddressFamily?) -> [NextHop]? {
    var hops: [NextHop] = []
    var index = words.startIndex
    func value() -> Token? {
      guard index + 1 < words.endIndex else {
        log.error("nexthop option '\(words[index].text)' needs a value", at: words[index].location)
        return nil
      }
      index += 1
      return words[index]
    }
    while index < words.endIndex {
      let word = words[index]
      switch word.text {
      case "nexthop": hops.append(NextHop())
      case "via":
        guard var token = value() else { return nil }
        if token.text == "inet" || token.text == "inet6" {
          guard let next = value() else { return nil }
          token = next
        }
        guard let address = skippableAddress(token, what: "nexthop address") else { return nil }
        if let family, family != address.family {
          log.error("route mixes IPv4 and IPv6 ('\(token.text)')", at: token.location)
          return nil
        }
        family = address.family
        hops[hops.count - 1].gateway = address
      case "dev":
        guard let token = value() else { return nil }
        warnIfMissing(token)
        hops[hops.count - 1].device = token.text
      case "weight":
        guard let token = value() else { return nil }
        guard let weight = Int(token.text), (1...256).contains(weight) else {
          log.error("nexthop weight must be 1..256, not '\(token.text)'", at: token.location)
          return nil
        }
        hops[hops.count - 1].weight = weight
      case "onlink", "encap", "realms", "as":
        log.error("nexthop option '\(word.text)' is not supported yet", at: word.location)
        return nil
      default:
        log.error("route has trailing words after its nexthops: '\(word.text)'", at: word.location)
        return nil
      }
      index += 1
    }
    return hops
  }

  // MARK: values

  /// An address, or nil with keepalived's outcome: a warning and the entry skipped.
  func skippableAddress(_ token: Token, what: String) -> IPAddress? {
    guard let address = IPAddress(token.text) else {
      log.warning(
        "invalid \(what) '\(token.text)': the entry is skipped, as keepalived skips it", at: token.location)
      return nil
    }
    return address
  }

  /// `ADDR[/LEN]`, or `default`/`any`/`all` (the whole family's space).
  func prefix(_ token: Token, family: AddressFamily?) -> IPPrefix? {
    if ["default", "any", "all"].contains(token.text) {
      let zero = family == .inet6 ? IPAddress("::") : IPAddress("0.0.0.0")
      return zero.map { IPPrefix(address: $0, prefixLength: 0) }
    }
    return IPPrefix(token.text)
  }

  func tableNumber(_ token: Token) -> UInt32? {
    switch token.text {
    case "main": return 254
    case "local": return 255
    case "default": return 253
    default:
      guard let number = UInt32(token.text) else {
        log.error(
          "routing table must be main, local, default or a number, not '\(token.text)' (names from rt_tables are not supported yet)",
          at: token.location)
        return nil
      }
      return number
    }
  }

  func warnIfMissing(_ token: Token) {
    guard let interfaces, !interfaces.contains(token.text) else { return }
    log.warning("interface '\(token.text)' does not exist on this host", at: token.location)
  }

  static func scope(_ text: String) -> UInt8? {
    switch text {
    case "global", "universe": return 0
    case "site": return 200
    case "link": return 253
    case "host": return 254
    case "nowhere": return 255
    default: return UInt8(text)
    }
  }

  static func protocolNumber(_ text: String) -> UInt8? {
    switch text {
    case "kernel": return 2
    case "boot": return 3
    case "static": return 4
    case "keepalived": return 18
    default: return UInt8(text)
    }
  }

  /// strtoul(…, 0): decimal, 0x hex or 0 octal.
  static func unsigned(_ text: String) -> UInt32? {
    if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt32(text.dropFirst(2), radix: 16) }
    if text.count > 1 && text.hasPrefix("0") { return UInt32(text.dropFirst(), radix: 8) }
    return UInt32(text)
  }

  /// Digits, dots, colons and a slash: meant as an address, even if it is not a valid one.
  static func looksLikeAddress(_ text: String) -> Bool {
    !text.isEmpty && text.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" || $0 == "/" }
      && text.contains(where: \.isNumber)
  }
}
