/// A real server as configured (keepalived `real_server`), before health is applied.
///
/// The fields are declared so that the small ones fill the gaps after the key (10 bytes) and the
/// tunnel (6): 32 bytes instead of 40, one per real server in the IPVS spec.
public struct RealServerSpec: Sendable, Hashable {
  public var key: DestinationKey
  public var forwarding: ForwardingMethod
  /// On failure keep the server at weight 0 instead of removing it.
  public var inhibitOnFailure: Bool
  /// Configured weight (keepalived default 1).
  public var weight: UInt32
  public var tunnel: TunnelSettings
  /// How to treat the server before any health result arrives: keepalived considers servers up at
  /// start unless `alpha` is set (then down), and servers without checkers are always up.
  public var upUntilChecked: Bool
  public var upperThreshold: UInt32
  public var lowerThreshold: UInt32

  public init(
    key: DestinationKey, weight: UInt32 = 1, forwarding: ForwardingMethod = .masquerade,
    tunnel: TunnelSettings = TunnelSettings(), upperThreshold: UInt32 = 0, lowerThreshold: UInt32 = 0,
    inhibitOnFailure: Bool = false, upUntilChecked: Bool = true
  ) {
    self.key = key
    self.weight = weight
    self.forwarding = forwarding
    self.tunnel = tunnel
    self.upperThreshold = upperThreshold
    self.lowerThreshold = lowerThreshold
    self.inhibitOnFailure = inhibitOnFailure
    self.upUntilChecked = upUntilChecked
  }

  var attributes: DestinationAttributes {
    DestinationAttributes(
      forwarding: forwarding, weight: weight, upperThreshold: upperThreshold, lowerThreshold: lowerThreshold,
      tunnel: tunnel)
  }
}

/// keepalived `sorry_server`: replaces the pool while the service is below quorum.
public struct SorryServerSpec: Sendable, Hashable {
  public var key: DestinationKey
  public var weight: UInt32
  public var forwarding: ForwardingMethod
  public var tunnel: TunnelSettings
  /// keepalived `sorry_server_inhibit`: while not in use, keep it at weight 0 instead of removing it.
  public var inhibit: Bool

  public init(
    key: DestinationKey, weight: UInt32 = 1, forwarding: ForwardingMethod = .masquerade,
    tunnel: TunnelSettings = TunnelSettings(), inhibit: Bool = false
  ) {
    self.key = key
    self.weight = weight
    self.forwarding = forwarding
    self.tunnel = tunnel
    self.inhibit = inhibit
  }
}

/// One virtual service lvskeeper owns, as configured.
///
/// Invariant: real server keys are unique within the service.
public struct VirtualServiceSpec: Sendable, Hashable {
  public var key: ServiceKey
  public var attributes: ServiceAttributes
  public var realServers: [RealServerSpec]
  /// Minimum total weight of live real servers (keepalived `quorum`, default 1).
  public var quorum: UInt32
  /// keepalived `hysteresis` (default 0): quorum is gained at quorum+hysteresis, lost below quorum-hysteresis.
  public var hysteresis: UInt32
  public var sorryServer: SorryServerSpec?
  /// How long a real server removed from the configuration may drain (weight 0) before deletion.
  public var drainTimeout: Duration

  public init(
    key: ServiceKey, attributes: ServiceAttributes, realServers: [RealServerSpec] = [], quorum: UInt32 = 1,
    hysteresis: UInt32 = 0, sorryServer: SorryServerSpec? = nil, drainTimeout: Duration = .seconds(60)
  ) {
    self.key = key
    self.attributes = attributes
    self.realServers = realServers
    self.quorum = quorum
    self.hysteresis = hysteresis
    self.sorryServer = sorryServer
    self.drainTimeout = drainTimeout
  }
}

/// Everything IPVSSync is asked to hold in the kernel.
///
/// Invariant: service keys are unique.
public struct IPVSSpec: Sendable, Hashable {
  public var services: [VirtualServiceSpec]
  /// keepalived `lvs_timeouts`; zero fields are left unchanged. nil = never touch.
  public var timeouts: IPVSTimeouts?
  public init(services: [VirtualServiceSpec] = [], timeouts: IPVSTimeouts? = nil) {
    self.services = services
    self.timeouts = timeouts
  }
}

/// The health of one real server as last reported by the checkers.
public enum RealServerHealth: Sendable, Hashable {
  /// Passing; `weight` is a dynamic weight (MISC_CHECK `misc_dynamic`) overriding the configured one.
  case up(weight: UInt32?)
  case down
}

/// Identifies a real server within a service across spec, health and kernel.
public struct RealServerID: Sendable, Hashable, Comparable, CustomStringConvertible {
  public var service: ServiceKey
  public var server: DestinationKey
  public init(service: ServiceKey, server: DestinationKey) {
    self.service = service
    self.server = server
  }
  public var description: String { "\(server) in \(service)" }
  public static func < (lhs: Self, rhs: Self) -> Bool {
    lhs.service != rhs.service ? lhs.service < rhs.service : lhs.server < rhs.server
  }
}

/// A quorum transition of a virtual service; the daemon runs `quorum_up` / `quorum_down` on it.
public struct QuorumEvent: Sendable, Hashable {
  public var service: ServiceKey
  public var up: Bool
  /// Sum of the weights of live real servers when the transition happened.
  public var liveWeight: UInt64
  /// True for the state established at the first evaluation of the service.
  public var initial: Bool
}
