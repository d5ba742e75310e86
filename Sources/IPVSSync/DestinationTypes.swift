import KeeperCore

/// How IPVS forwards packets to a real server (`IP_VS_CONN_F_*` forwarding values).
public enum ForwardingMethod: UInt32, Sendable, Hashable, CustomStringConvertible {
  case masquerade = 0
  case localNode = 1
  case tunnel = 2
  case directRoute = 3

  public var description: String {
    switch self {
    case .masquerade: "Masq"
    case .localNode: "Local"
    case .tunnel: "Tunnel"
    case .directRoute: "Route"
    }
  }
}

/// Tunnel encapsulation of a tunnel-forwarded real server (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
public enum TunnelType: UInt8, Sendable, Hashable {
  case ipip = 0
  case gue = 1
  case gre = 2
}

/// Tunnel checksum options (`IP_VS_TUNNEL_ENCAP_FLAG_*`); `nocsum` is the empty set.
public struct TunnelFlags: OptionSet, Sendable, Hashable {
  public let rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  public static let nocsum: TunnelFlags = []
  public static let csum = TunnelFlags(rawValue: 1 << 0)
  public static let remcsum = TunnelFlags(rawValue: 1 << 1)
}

/// Tunnel settings; only meaningful when forwarding is `.tunnel`. `port` is used by GUE only.
public struct TunnelSettings: Sendable, Hashable {
  public var type: TunnelType
  public var port: UInt16
  public var flags: TunnelFlags
  public init(type: TunnelType = .ipip, port: UInt16 = 0, flags: TunnelFlags = .nocsum) {
    self.type = type
    self.port = port
    self.flags = flags
  }
}

/// What identifies a real server inside one virtual service.
public struct DestinationKey: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var address: IPAddress
  public var port: UInt16
  public init(address: IPAddress, port: UInt16) {
    self.address = address
    self.port = port
  }

  public var description: String {
    address.withPort(port)
  }

  public static func < (lhs: Self, rhs: Self) -> Bool {
    lhs.address != rhs.address ? lhs.address < rhs.address : lhs.port < rhs.port
  }
}

/// The settable attributes of a destination (real server) in the kernel.
///
/// Invariant: the address family of the destination is that of its key's address; a family that
/// differs from the service's is only accepted by the kernel for tunnel forwarding.
public struct DestinationAttributes: Sendable, Hashable {
  public var forwarding: ForwardingMethod
  public var weight: UInt32
  public var upperThreshold: UInt32
  public var lowerThreshold: UInt32
  /// Compared only when `forwarding == .tunnel`; the kernel reports ipip/0/nocsum otherwise.
  public var tunnel: TunnelSettings

  public init(
    forwarding: ForwardingMethod = .masquerade, weight: UInt32 = 1, upperThreshold: UInt32 = 0,
    lowerThreshold: UInt32 = 0, tunnel: TunnelSettings = TunnelSettings()
  ) {
    self.forwarding = forwarding
    self.weight = weight
    self.upperThreshold = upperThreshold
    self.lowerThreshold = lowerThreshold
    self.tunnel = tunnel
  }

  /// True when programming `other` over `self` would change nothing in the kernel.
  func isEquivalent(to other: DestinationAttributes) -> Bool {
    forwarding == other.forwarding && weight == other.weight && upperThreshold == other.upperThreshold
      && lowerThreshold == other.lowerThreshold && (forwarding != .tunnel || tunnel == other.tunnel)
  }
}

/// Traffic counters the kernel keeps per service and per destination (the 64-bit `STATS64` set).
public struct IPVSStats: Sendable, Hashable {
  public var connections: UInt64 = 0
  public var inPackets: UInt64 = 0
  public var outPackets: UInt64 = 0
  public var inBytes: UInt64 = 0
  public var outBytes: UInt64 = 0
  public var connectionRate: UInt64 = 0
  public var inPacketRate: UInt64 = 0
  public var outPacketRate: UInt64 = 0
  public var inByteRate: UInt64 = 0
  public var outByteRate: UInt64 = 0
  public init() {}
}
