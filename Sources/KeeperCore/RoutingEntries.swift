/// An address with a prefix length: the destination of a route, the `from`/`to` of a rule.
///
/// Invariant: `prefixLength` is at most the family's address length in bits, and the bits past it
/// are whatever was written (the kernel masks them for routes; `ip route` would refuse them).
public struct IPPrefix: Hashable, Sendable, Codable, CustomStringConvertible {
  public var address: IPAddress
  public var prefixLength: UInt8

  public init(address: IPAddress, prefixLength: UInt8) {
    self.address = address
    self.prefixLength = prefixLength
  }

  /// `ADDR[/LEN]`; a bare address is a host prefix. nil when the text is not exactly that.
  public init?(_ text: String) {
    let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    guard let address = IPAddress(String(parts[0])) else { return nil }
    var length = address.maxPrefixLength
    if parts.count == 2 {
      guard let value = Int(parts[1]), (0...address.maxPrefixLength).contains(value) else { return nil }
      length = value
    }
    self.init(address: address, prefixLength: UInt8(length))
  }

  public var family: AddressFamily { address.family }

  public var description: String { "\(address)/\(prefixLength)" }
}

/// One route of `static_routes` or `virtual_routes`, as keepalived installs it over rtnetlink.
///
/// Invariant: every address (destination, `source`, gateways) is of `family`; `gateway` is nil when
/// `nextHops` is not empty; `protocol` is what the route is
/// tagged with in the kernel (keepalived's RTPROT_KEEPALIVED, 18, unless `no_track` chose another).
public struct IPRoute: Hashable, Sendable, Codable, CustomStringConvertible {
  /// RTN_* route types that keepalived.conf accepts before the destination.
  public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
    case unicast, blackhole, unreachable, prohibit, `throw`

    /// RTN_UNICAST 1, RTN_BLACKHOLE 6, RTN_UNREACHABLE 7, RTN_PROHIBIT 8, RTN_THROW 9.
    public var kernelValue: UInt8 {
      switch self {
      case .unicast: 1
      case .blackhole: 6
      case .unreachable: 7
      case .prohibit: 8
      case .throw: 9
      }
    }
  }

  public var destination: IPPrefix
  public var kind: Kind = .unicast
  /// `src ADDR`: the preferred source address (RTA_PREFSRC).
  public var source: IPAddress?
  /// `via ADDR` (or the deprecated `gw`).
  public var gateway: IPAddress?
  /// `nexthop via A [dev IF] [weight N] nexthop ...` (or keepalived's older `via A or B`): a
  /// multipath route (RTA_MULTIPATH).
  public var nextHops: [NextHop] = []
  /// `dev IF` (or `oif`).
  public var device: String?
  /// RT_SCOPE_*; nil is keepalived's default, universe (0).
  public var scope: UInt8?
  /// `table N`; 254 is `main`.
  public var table: UInt32 = 254
  /// `metric N` (also `priority`, `preference`).
  public var metric: UInt32?
  /// RTPROT_*: 18 (keepalived) by default, as keepalived tags the routes it tracks.
  public var `protocol`: UInt8 = 18

  public init(destination: IPPrefix) {
    self.destination = destination
  }

  public var family: AddressFamily { destination.family }

  /// `ip route` style text, for logs and errors.
  public var description: String {
    var words: [String] = []
    if kind != .unicast { words.append(kind.rawValue) }
    words.append(destination.description)
    if let gateway { words += ["via", gateway.description] }
    if let device { words += ["dev", device] }
    if let source { words += ["src", source.description] }
    if table != 254 { words += ["table", String(table)] }
    if let metric { words += ["metric", String(metric)] }
    for hop in nextHops { words += ["nexthop", hop.description] }
    return words.joined(separator: " ")
  }

  /// The RTM_NEWROUTE or RTM_DELROUTE request, laid out as keepalived's netlink_route builds it:
  /// a new route without NLM_F_EXCL (keepalived's "prepend", so an identical route already there
  /// answers EEXIST), a deletion with scope nowhere so the kernel matches any scope.
  /// - Parameter interfaceIndex: resolves `dev` names; nil for an unknown name.
  public func message(
    add: Bool, sequence: UInt32, interfaceIndex: (String) -> UInt32?
  ) -> Result<NetlinkMessage, RoutingEntryError> {
    var header = [UInt8](repeating: 0, count: 12)  // struct rtmsg
    header[0] = UInt8(truncatingIfNeeded: family.kernelValue)
    header[1] = destination.prefixLength
    header[4] = table < 256 ? UInt8(table) : 0  // RT_TABLE_UNSPEC, with RTA_TABLE below
    header[5] = self.protocol
    header[6] = add ? scope ?? 0 : scope ?? 255
    header[7] = add || kind != .unicast ? kind.kernelValue : 0
    var message = NetlinkMessage(
      type: add ? Netlink.newRoute : Netlink.deleteRoute,
      flags: Netlink.request | Netlink.ack | (add ? Netlink.create : 0), sequence: sequence, portID: 0,
      familyHeader: header)
    if table >= 256 { message.put(RouteAttribute.table, u32: table) }
    message.put(RouteAttribute.destination, payload: destination.address.bytes)
    if let source { message.put(RouteAttribute.preferredSource, payload: source.bytes) }
    if let gateway { message.put(RouteAttribute.gateway, payload: gateway.bytes) }
    if let device {
      guard let index = interfaceIndex(device) else { return .failure(.noSuchDevice(device)) }
      message.put(RouteAttribute.outputInterface, u32: index)
    }
    if let metric { message.put(RouteAttribute.priority, u32: metric) }
    if !nextHops.isEmpty {
      // struct rtnexthop { u16 len; u8 flags; u8 hops (weight - 1); s32 ifindex }, then its RTA_GATEWAY.
      var hops: [UInt8] = []
      for hop in nextHops {
        var index: UInt32 = 0
        if let device = hop.device {
          guard let found = interfaceIndex(device) else { return .failure(.noSuchDevice(device)) }
          index = found
        }
        let gatewayLength = hop.gateway.map { 4 + $0.bytes.count } ?? 0
        hops += littleEndianBytes(UInt16(8 + gatewayLength)) + [0, UInt8(hop.weight - 1)]
        hops += littleEndianBytes(index)
        if let gateway = hop.gateway {
          hops += littleEndianBytes(UInt16(gatewayLength)) + littleEndianBytes(RouteAttribute.gateway)
          hops += gateway.bytes
        }
      }
      message.put(RouteAttribute.multipath, payload: hops)
    }
    return .success(message)
  }
}

/// One path of a multipath route.
///
/// Invariant: `weight` is 1...256 (the kernel keeps `weight - 1` in rtnh_hops).
public struct NextHop: Hashable, Sendable, Codable, CustomStringConvertible {
  public var gateway: IPAddress?
  public var device: String?
  public var weight = 1

  public init(gateway: IPAddress? = nil, device: String? = nil, weight: Int = 1) {
    self.gateway = gateway
    self.device = device
    self.weight = weight
  }

  public var description: String {
    var words: [String] = []
    if let gateway { words += ["via", gateway.description] }
    if let device { words += ["dev", device] }
    if weight != 1 { words += ["weight", String(weight)] }
    return words.joined(separator: " ")
  }
}

/// One rule of `static_rules` or `virtual_rules` (a routing policy rule, `ip rule`).
///
/// Invariant: `from`/`to` are of `family`; `priority` is always set (keepalived gives a rule without
/// one 16384, 16383, ... with a warning); `action` is a table lookup exactly when `table` is set.
public struct IPRule: Hashable, Sendable, Codable, CustomStringConvertible {
  /// FR_ACT_*: what a matching packet gets.
  public enum Action: Hashable, Sendable, Codable {
    case table(UInt32)
    case goto(UInt32)
    case nop, blackhole, unreachable, prohibit

    /// FR_ACT_TO_TBL 1, GOTO 2, NOP 3, BLACKHOLE 6, UNREACHABLE 7, PROHIBIT 8.
    public var kernelValue: UInt8 {
      switch self {
      case .table: 1
      case .goto: 2
      case .nop: 3
      case .blackhole: 6
      case .unreachable: 7
      case .prohibit: 8
      }
    }
  }

  public var family: AddressFamily
  public var from: IPPrefix?
  public var to: IPPrefix?
  public var action: Action
  public var priority: UInt32
  public var fwmark: UInt32?
  public var fwmask: UInt32?
  /// `iif IF` (also `dev`).
  public var inputInterface: String?
  /// `oif IF`.
  public var outputInterface: String?
  /// `not`: the selector is inverted (FIB_RULE_INVERT).
  public var invert = false
  /// `tos N`.
  public var tos: UInt8 = 0
  /// FRA_PROTOCOL: 18 (keepalived), as keepalived tags the rules it tracks.
  public var `protocol`: UInt8 = 18

  public init(family: AddressFamily, action: Action, priority: UInt32) {
    self.family = family
    self.action = action
    self.priority = priority
  }

  /// `ip rule` style text, for logs and errors.
  public var description: String {
    var words = ["priority", String(priority)]
    if invert { words.append("not") }
    if let from { words += ["from", from.description] }
    if let to { words += ["to", to.description] }
    if let fwmark { words += ["fwmark", fwmask.map { "\(fwmark)/\($0)" } ?? String(fwmark)] }
    if let inputInterface { words += ["iif", inputInterface] }
    if let outputInterface { words += ["oif", outputInterface] }
    switch action {
    case .table(let table): words += ["table", String(table)]
    case .goto(let target): words += ["goto", String(target)]
    case .nop: words.append("nop")
    case .blackhole: words.append("blackhole")
    case .unreachable: words.append("unreachable")
    case .prohibit: words.append("prohibit")
    }
    return words.joined(separator: " ")
  }

  /// The RTM_NEWRULE (NLM_F_CREATE | NLM_F_EXCL, as keepalived) or RTM_DELRULE request.
  public func message(add: Bool, sequence: UInt32) -> NetlinkMessage {
    var header = [UInt8](repeating: 0, count: 12)  // struct fib_rule_hdr
    header[0] = UInt8(truncatingIfNeeded: family.kernelValue)
    header[1] = to?.prefixLength ?? 0
    header[2] = from?.prefixLength ?? 0
    header[3] = tos
    if case .table(let table) = action, table < 256 { header[4] = UInt8(table) }
    header[7] = action.kernelValue
    if invert { header[8] = 0x2 }  // FIB_RULE_INVERT
    var message = NetlinkMessage(
      type: add ? Netlink.newRule : Netlink.deleteRule,
      flags: Netlink.request | Netlink.ack | (add ? Netlink.create | Netlink.exclusive : 0),
      sequence: sequence,
      portID: 0, familyHeader: header)
    if case .table(let table) = action, table >= 256 { message.put(RuleAttribute.table, u32: table) }
    if let from { message.put(RuleAttribute.source, payload: from.address.bytes) }
    if let to { message.put(RuleAttribute.destination, payload: to.address.bytes) }
    message.put(RuleAttribute.priority, u32: priority)
    if let fwmark { message.put(RuleAttribute.fwmark, u32: fwmark) }
    if let fwmask { message.put(RuleAttribute.fwmask, u32: fwmask) }
    if let inputInterface { message.put(RuleAttribute.inputInterfaceName, string: inputInterface) }
    if let outputInterface { message.put(RuleAttribute.outputInterfaceName, string: outputInterface) }
    if case .goto(let target) = action { message.put(RuleAttribute.goto, u32: target) }
    message.put(RuleAttribute.protocol, u8: self.protocol)
    return message
  }
}

/// Why a route or rule could not be turned into a request.
public enum RoutingEntryError: Error, Equatable, Sendable, CustomStringConvertible {
  case noSuchDevice(String)

  public var description: String {
    switch self {
    case .noSuchDevice(let name): "no interface \(name)"
    }
  }
}

/// RTA_* attributes of rtnetlink route messages (linux/rtnetlink.h).
public enum RouteAttribute {
  public static let destination: UInt16 = 1
  public static let outputInterface: UInt16 = 4
  public static let gateway: UInt16 = 5
  public static let priority: UInt16 = 6
  public static let preferredSource: UInt16 = 7
  public static let multipath: UInt16 = 9
  public static let table: UInt16 = 15
}

/// FRA_* attributes of rtnetlink rule messages (linux/fib_rules.h).
public enum RuleAttribute {
  public static let destination: UInt16 = 1
  public static let source: UInt16 = 2
  public static let inputInterfaceName: UInt16 = 3
  public static let goto: UInt16 = 4
  public static let priority: UInt16 = 6
  public static let fwmark: UInt16 = 10
  public static let table: UInt16 = 15
  public static let fwmask: UInt16 = 16
  public static let outputInterfaceName: UInt16 = 17
  public static let `protocol`: UInt16 = 21
}
