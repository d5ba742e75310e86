import KeeperCore

/// One configured session (`bfd_instance NAME { ... }`). Invariant (checked by the config loader):
/// `source`, when set, has the family of `neighbor`; `maxHops` is at most `ttl`.
public struct BFDInstanceSpec: Sendable, Equatable, Codable {
  public var name: String
  public var neighbor: IPAddress
  public var source: IPAddress?
  public var timing: BFDTiming
  /// Outgoing TTL (IPv4, default 255) or hop limit (IPv6, default 64): keepalived's `ttl`/`hoplimit`.
  public var ttl: UInt8
  /// `max_hops`: a packet whose TTL was reduced by more than this is dropped (RFC 5881 5, GTSM);
  /// 255 turns the check off.
  public var maxHops: Int

  public init(
    name: String, neighbor: IPAddress, source: IPAddress? = nil, timing: BFDTiming = BFDTiming(),
    ttl: UInt8? = nil, maxHops: Int = 0
  ) {
    self.name = name
    self.neighbor = neighbor
    self.source = source
    self.timing = timing
    self.ttl = ttl ?? (neighbor.isIPv4 ? 255 : 64)
    self.maxHops = min(maxHops, Int(self.ttl))
  }

  /// RFC 5881 section 4: single-hop Control packets go to UDP port 3784.
  public static let controlPort: UInt16 = 3784
}

/// The state of one session as `status` shows it; intervals in microseconds.
public struct BFDSessionStatus: Sendable, Equatable, Codable {
  public var name: String
  public var neighbor: String
  public var state: String
  public var remoteState: String
  public var diagnostic: String
  public var remoteDiagnostic: String
  /// The tracker's view (keepalived's event): what `track_bfd` and `BFD_CHECK` act on.
  public var up: Bool
  public var localDiscriminator: UInt32
  public var remoteDiscriminator: UInt32
  public var transmitInterval: UInt32
  public var detectionTime: UInt64
  public var remoteMinRx: UInt32
  public var remoteMinTx: UInt32
  public var remoteMultiplier: UInt8
  public var packetsIn: UInt64
  public var packetsOut: UInt64
  /// Packets matched to this session but refused: TTL below the GTSM bound.
  public var dropped: UInt64
}

/// Everything the engine shows: its sessions and the datagrams no session could take.
public struct BFDEngineStatus: Sendable, Equatable, Codable {
  public var sessions: [BFDSessionStatus]
  /// Datagrams that were not valid BFD Control packets (RFC 5880 6.8.6 checks), per reason.
  public var malformed: UInt64
  /// Valid packets that matched no session.
  public var unmatched: UInt64

  public init(sessions: [BFDSessionStatus] = [], malformed: UInt64 = 0, unmatched: UInt64 = 0) {
    self.sessions = sessions
    self.malformed = malformed
    self.unmatched = unmatched
  }
}
