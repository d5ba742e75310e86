import KeeperCore

/// Why a received VRRP packet was discarded (RFC 5798 7.1, keepalived's checks).
public enum DropReason: String, Sendable, CaseIterable, Codable {
  case ttl = "ttl_not_255"
  case checksum = "bad_checksum"
  case version = "wrong_version"
  case type = "wrong_type"
  case unknownVRID = "unknown_vrid"
  /// Wrong auth type, wrong PASS password, or an AH whose ICV or SPI does not verify.
  case authentication = "auth_mismatch"
  /// An AH sequence number not above the last one seen or sent (keepalived's anti-replay check).
  case replay = "ah_sequence_replay"
  case advertInterval = "advert_interval_mismatch"
  case unlistedPeer = "unlisted_peer"
  case malformed = "malformed"
}

/// Per-reason drop counts plus accepted and sent adverts. Invariant: counts only grow.
public struct VRRPCounters: Sendable, Equatable, Codable {
  public var received: UInt64 = 0
  public var sent: UInt64 = 0
  public var priorityZeroReceived: UInt64 = 0
  public var priorityZeroSent: UInt64 = 0
  public var becameMaster: UInt64 = 0
  /// Informational in v3 (the backup learns the master's interval); a drop in v2.
  public var intervalMismatchSeen: UInt64 = 0
  /// Adverts whose address list differs from ours (keepalived logs and accepts them).
  public var addressListMismatch: UInt64 = 0
  public var dropped: [String: UInt64] = [:]

  public init() {}

  public mutating func drop(_ reason: DropReason) { dropped[reason.rawValue, default: 0] += 1 }
  public func dropped(_ reason: DropReason) -> UInt64 { dropped[reason.rawValue] ?? 0 }
}

/// A packet as the socket edge saw it: the IP-level facts plus the VRRP payload.
public struct ReceivedPacket: Sendable, Equatable {
  public var source: IPAddress
  public var destination: IPAddress
  /// IPv4 TTL or IPv6 hop limit.
  public var hopLimit: UInt8
  public var payload: [UInt8]

  public init(source: IPAddress, destination: IPAddress, hopLimit: UInt8, payload: [UInt8]) {
    self.source = source
    self.destination = destination
    self.hopLimit = hopLimit
    self.payload = payload
  }
}

/// The receive-side expectations of one instance. Invariant: `unicastPeers` empty means multicast,
/// where any source is accepted.
public struct ReceiveExpectation: Sendable, Equatable {
  public var version: VRRPVersion
  public var vrid: UInt8
  /// Our own advert interval in the version's unit (v2 seconds, v3 centiseconds).
  public var advertInterval: UInt16
  public var authentication: VRRPAuthentication
  public var unicastPeers: [IPAddress]
  public var addresses: [IPAddress]
  public var v3ChecksumAsV2: Bool
  /// The HMAC key of an `auth_type AH` instance: its adverts must arrive wrapped in AH (protocol 51).
  public var ahKey: [UInt8]?

  public init(
    version: VRRPVersion, vrid: UInt8, advertInterval: UInt16, authentication: VRRPAuthentication,
    unicastPeers: [IPAddress], addresses: [IPAddress], v3ChecksumAsV2: Bool = false, ahKey: [UInt8]? = nil
  ) {
    self.ahKey = ahKey
    self.version = version
    self.vrid = vrid
    self.advertInterval = advertInterval
    self.authentication = authentication
    self.unicastPeers = unicastPeers
    self.addresses = addresses
    self.v3ChecksumAsV2 = v3ChecksumAsV2
  }
}

/// The verdict on one received packet.
public enum ReceiveVerdict: Sendable, Equatable {
  /// Accepted for the instance at `index` in the expectation list; `intervalMismatch` and
  /// `addressMismatch` are reported for logging.
  case accepted(index: Int, advert: VRRPAdvert, intervalMismatch: Bool, addressMismatch: Bool)
  case dropped(DropReason, detail: String)
}

/// Validates received packets against the instances sharing a socket (RFC 5798 7.1). Pure.
public enum ReceiveFilter {
  public static func judge(_ packet: ReceivedPacket, against instances: [ReceiveExpectation])
    -> ReceiveVerdict
  {
    guard packet.hopLimit == 255 else { return .dropped(.ttl, detail: "ttl \(packet.hopLimit)") }
    guard packet.payload.count >= 8 else {
      return .dropped(.malformed, detail: "\(packet.payload.count) bytes")
    }
    let vrid = packet.payload[1]
    let candidates = instances.indices.filter { instances[$0].vrid == vrid }
    guard let first = candidates.first else { return .dropped(.unknownVRID, detail: "vrid \(vrid)") }
    let advert: VRRPAdvert
    do {
      advert = try VRRPAdvert.decode(
        packet.payload, source: packet.source, destination: packet.destination,
        v3ChecksumAsV2: instances[first].v3ChecksumAsV2)
    } catch {
      switch error {
      case .truncated(let length): return .dropped(.malformed, detail: "truncated at \(length) bytes")
      case .wrongVersion(let v): return .dropped(.version, detail: "version \(v)")
      case .wrongType(let t): return .dropped(.type, detail: "type \(t)")
      case .badChecksum(let got, let want):
        return .dropped(.checksum, detail: "checksum \(hex(got)) expected \(hex(want))")
      }
    }
    guard let index = candidates.first(where: { instances[$0].version == advert.version }) else {
      return .dropped(.version, detail: "version \(advert.version.rawValue) for vrid \(vrid)")
    }
    let expected = instances[index]
    if !expected.unicastPeers.isEmpty && !expected.unicastPeers.contains(packet.source) {
      return .dropped(.unlistedPeer, detail: "source \(packet.source)")
    }
    // An AH instance accepts only AH-wrapped adverts (judgeAuthenticated clears the key once the AH
    // verified); a bare advert claiming auth type 2 proves nothing.
    if expected.ahKey != nil {
      return .dropped(.authentication, detail: "no AH header but auth_type is AH")
    }
    if advert.version == .v2 && advert.authentication != expected.authentication {
      return .dropped(.authentication, detail: "auth type \(advert.authentication.typeCode)")
    }
    let intervalMismatch = advert.advertInterval != expected.advertInterval
    if intervalMismatch && advert.version == .v2 {
      return .dropped(
        .advertInterval, detail: "interval \(advert.advertInterval)s, ours \(expected.advertInterval)s")
    }
    let addressMismatch = Set(advert.addresses) != Set(expected.addresses)
    return .accepted(
      index: index, advert: advert, intervalMismatch: intervalMismatch, addressMismatch: addressMismatch)
  }

  private static func hex(_ value: UInt16) -> String { "0x" + String(value, radix: 16) }
}
