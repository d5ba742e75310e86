import KeeperCore

/// The transport protocol of a virtual service.
public enum ServiceProtocol: String, Codable, Sendable {
  case tcp = "TCP"
  case udp = "UDP"
  case sctp = "SCTP"
}

/// IPVS scheduler names accepted by `lvs_sched` / `lb_algo`.
public enum LVSScheduler: String, Codable, Sendable, CaseIterable {
  case rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos
}

/// `lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
///
/// Invariant: the tunnel fields are set only for `.tun`; `tunnelPort` only for GUE.
public struct ForwardingMethod: Codable, Equatable, Sendable {
  /// IPVS forwarding: masquerading, direct routing or tunnelling.
  public enum Kind: String, Codable, Sendable {
    case nat = "NAT"
    case dr = "DR"
    case tun = "TUN"
  }

  /// Tunnel encapsulation (ipip by default; gue since Linux 5.2, gre since 5.3).
  public enum TunnelType: String, Codable, Sendable {
    case ipip, gue, gre
  }

  /// Checksum handling for GUE/GRE tunnels (Linux 5.3+).
  public enum TunnelChecksum: String, Codable, Sendable {
    case nocsum, csum, remcsum
  }

  public var kind: Kind
  public var tunnelType: TunnelType?
  public var tunnelPort: Int?
  public var tunnelChecksum: TunnelChecksum?

  public static let nat = ForwardingMethod(kind: .nat)
  public static let dr = ForwardingMethod(kind: .dr)

  public init(
    kind: Kind, tunnelType: TunnelType? = nil, tunnelPort: Int? = nil, tunnelChecksum: TunnelChecksum? = nil
  ) {
    self.kind = kind
    self.tunnelType = tunnelType
    self.tunnelPort = tunnelPort
    self.tunnelChecksum = tunnelChecksum
  }
}

/// What a `virtual_server` line names. Invariant: ports 0...65535 (0 = any, persistent only); fwmark >= 1.
public struct VirtualServerKey: Codable, Hashable, Sendable {
  /// Which of the three forms the `virtual_server` line used.
  public enum Kind: String, Codable, Sendable {
    case address
    case fwmark
    case group
  }

  public var kind: Kind
  public var address: IPAddress?
  public var port: Int?
  public var fwmark: UInt32?
  public var group: String?
}

/// Scheduler flags (`flag-1..3`, spelled `sh-fallback`/`mh-fallback` = flag-1 and `sh-port`/`mh-port` = flag-2).
public struct SchedulerFlags: Codable, Equatable, Sendable {
  public var flag1 = false
  public var flag2 = false
  public var flag3 = false
}

/// LVS persistence (`persistence_timeout`, `persistence_granularity`).
///
/// Invariant: `timeout` >= 1 seconds.
public struct Persistence: Codable, Equatable, Sendable {
  /// Seconds; 360 when `persistence_timeout` is given without a value.
  public var timeout: Int
  public var granularity: IPAddress?
}

/// `sorry_server IP [PORT]` with its options.
public struct SorryServer: Codable, Equatable, Sendable {
  public var address: IPAddress
  public var port: Int
  public var inhibit = false
  /// Defaults to the virtual server's method.
  public var forwarding: ForwardingMethod
}

/// `virtual_server_group NAME { IP PORT | IP-range PORT | fwmark N }`.
///
/// Invariant: every range has `first <= last` within one family.
public struct VirtualServerGroup: Codable, Equatable, Sendable {
  /// One member: an address range (a single address has first == last) and port, or a fwmark.
  public struct Member: Codable, Equatable, Sendable {
    public var first: IPAddress?
    public var last: IPAddress?
    public var port: Int?
    public var fwmark: UInt32?
    public var family: IPAddress.Family?
    public var location: SourceLocation
  }

  public var name: String
  public var members: [Member]
  public var location: SourceLocation
}

/// `virtual_server ... { ... }` with real servers and cascaded checker defaults.
///
/// Invariant: real servers are unique by (address, port); quorum >= 1; delay_loop > 0.
public struct VirtualServer: Codable, Equatable, Sendable {
  public var key: VirtualServerKey
  public var scheduler: LVSScheduler = .wlc
  public var schedulerFlags = SchedulerFlags()
  public var forwarding = ForwardingMethod.nat
  public var `protocol`: ServiceProtocol = .tcp
  public var persistence: Persistence?
  public var onePacketScheduling = false
  public var ipFamily: IPAddress.Family?
  public var delayLoop: Double = 60
  public var quorum: Int = 1
  public var hysteresis: Int = 0
  public var quorumUp: ScriptCommand?
  public var quorumDown: ScriptCommand?
  public var sorryServer: SorryServer?
  public var alpha = false
  /// `omega`: when the daemon stops, run `notify_down` of every real server that is up and
  /// `quorum_down` if the quorum is up (keepalived runs them as it clears the virtual server).
  public var omega = false
  public var inhibitOnFailure = false
  public var virtualhost: String?
  /// lvskeeper extension: seconds a real server removed from the configuration keeps weight 0
  /// (draining existing connections) before it is deleted from IPVS.
  public var drainTimeout: Double = 60
  /// lvskeeper extension `announce`: the VIP is routed to this director (docs/scaleout.md) while
  /// this virtual server is at quorum. Only on `virtual_server IP PORT` (a fwmark or group has no
  /// single VIP).
  public var announce = false
  /// lvskeeper extension `announce_quorum P%` (1...100): the VIP is announced only while at least
  /// P percent of the real servers are up; nil asks for at least one.
  public var announceQuorum: Int?
  public var realServers: [RealServer] = []
  public var location: SourceLocation
}

/// `real_server IP [PORT] { ... }`, cascaded from its virtual server.
///
/// Invariant: `weight` 0...65535; thresholds >= 0; checkers inherit unset timing values.
public struct RealServer: Codable, Equatable, Sendable {
  public var address: IPAddress
  /// Defaults to the virtual server's port (0 for fwmark services without one).
  public var port: Int
  public var weight: Int = 1
  public var forwarding: ForwardingMethod
  public var inhibitOnFailure: Bool
  public var alpha: Bool
  public var delayLoop: Double
  public var virtualhost: String?
  public var notifyUp: ScriptCommand?
  public var notifyDown: ScriptCommand?
  public var upperThreshold: Int?
  public var lowerThreshold: Int?
  public var drainTimeout: Double
  public var checkers: [HealthCheckSpec] = []
  public var location: SourceLocation
}
