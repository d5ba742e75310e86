import KeeperCore

/// `bfd_instance NAME { ... }`: one RFC 5880/5881 single-hop session (keepalived.conf(5), "BFD
/// CONFIGURATION"). Intervals are microseconds (the keywords take milliseconds to 3 decimals).
///
/// Invariant: `minRx`, `minTx` 1 ms...4294967 ms, `idleTx` 1000 ms...4294967 ms, `multiplier`
/// 1...255, `ttl` 1...255 when set, `maxHops` -1...`ttl` (255 turns the TTL check off), `weight`
/// -253...253; `source`, when set, has the family of `neighbor`; (neighbor, source) is unique.
public struct BFDInstance: Codable, Equatable, Sendable {
  public var name: String
  public var neighbor: IPAddress
  public var source: IPAddress?
  public var minRx: UInt32 = 10_000
  public var minTx: UInt32 = 10_000
  public var idleTx: UInt32 = 1_000_000
  public var multiplier: Int = 5
  public var passive = false
  /// `ttl` / `hoplimit`; nil: 255 for IPv4, 64 for IPv6.
  public var ttl: Int?
  public var maxHops: Int = 0
  /// Default weight of `track_bfd` entries that give none (keepalived's `weight N [reverse]`).
  public var weight: Int = 0
  public var weightReverse = false
  /// `vrrp` / `checker`: which parts hear of this session; neither keyword means both.
  public var notifiesVRRP = true
  public var notifiesCheckers = true
  public var location: SourceLocation
}

/// A `track_bfd` entry: `NAME [weight N [reverse|noreverse]]`. Invariant: `weight` is nil when the
/// bfd_instance's own weight applies; `reverse` is nil when its own reverse applies.
public struct TrackedBFD: Codable, Equatable, Sendable {
  public var name: String
  public var weight: Int?
  public var reverse: Bool?
  public var location: SourceLocation
}
