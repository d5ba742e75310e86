import Crypto
import KeeperCore

/// The RFC 2402 IPsec Authentication Header that keepalived puts between the IPv4 header and a VRRPv2
/// advert for `auth_type AH` (keepalived 2.2 `vrrp.c` `vrrp_build_ipsecah` / `vrrp_in_chk_ipsecah`).
/// Invariant: always 24 bytes on the wire: next header 112, payload length 4 (32-bit words minus 2),
/// SPI = the sender's IPv4 source address, a sequence number, and a 96-bit HMAC-MD5 ICV.
public struct AuthenticationHeader: Equatable, Sendable {
  public static let length = 24
  public static let protocolNumber: UInt8 = 51
  public static let icvLength = 12

  public var nextHeader: UInt8
  public var payloadLength: UInt8
  public var spi: [UInt8]
  public var sequence: UInt32
  public var icv: [UInt8]

  public init(nextHeader: UInt8 = 112, payloadLength: UInt8 = 4, spi: [UInt8], sequence: UInt32, icv: [UInt8])
  {
    self.nextHeader = nextHeader
    self.payloadLength = payloadLength
    self.spi = spi
    self.sequence = sequence
    self.icv = icv
  }

  var bytes: [UInt8] {
    [nextHeader, payloadLength, 0, 0] + spi.prefix(4)
      + [
        UInt8(sequence >> 24), UInt8((sequence >> 16) & 0xff), UInt8((sequence >> 8) & 0xff),
        UInt8(sequence & 0xff),
      ]
      + icv.prefix(Self.icvLength)
  }
}

/// Why an IPv4 packet carrying AH was not accepted.
public enum AHError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Shorter than IPv4 header + AH + the 8-byte VRRP header, or lengths that disagree.
  case truncated(length: Int)
  /// Not IPv4, not protocol 51, or an AH whose next header is not VRRP or whose length is not 4.
  case notVRRP(String)
  /// The HMAC-MD5-96 over the packet does not match: wrong `auth_pass` or altered in transit.
  case icvMismatch
  /// keepalived requires the SPI to equal the IPv4 source address.
  case spiMismatch(spi: [UInt8], source: IPAddress)

  public var description: String {
    switch self {
    case .truncated(let length): return "AH packet truncated at \(length) bytes"
    case .notVRRP(let why): return "not an AH-wrapped VRRP advert: \(why)"
    case .icvMismatch: return "AH ICV (HMAC-MD5-96) mismatch: wrong auth_pass or altered packet"
    case .spiMismatch(let spi, let source):
      return "AH SPI \(spi.map { String($0) }.joined(separator: ".")) is not the source \(source)"
    }
  }
}

/// An IPv4 packet as keepalived sends a VRRPv2 advert with AH: 20-byte IPv4 header (TOS 0xc0,
/// no fragment flags, protocol 51), the AH, then the VRRP payload. Invariant: `vrrp` is exactly the
/// bytes after the AH up to the IPv4 total length.
public struct AHPacket: Equatable, Sendable {
  public var source: IPAddress
  public var destination: IPAddress
  public var ttl: UInt8
  public var identification: UInt16
  public var header: AuthenticationHeader
  public var vrrp: [UInt8]

  /// keepalived's key: `auth_pass` truncated to 8 bytes and padded with zeroes (the HMAC would pad it
  /// to the MD5 block size anyway, so the padding does not change the ICV).
  public static func key(_ password: String) -> [UInt8] {
    let bytes = Array(password.utf8.prefix(8))
    return bytes + [UInt8](repeating: 0, count: 8 - bytes.count)
  }

  /// Builds the whole IPv4 packet (header checksum included, although the kernel recomputes it for
  /// IP_HDRINCL sockets) and signs it. `unicast` zeroes the TTL in the ICV input, as keepalived does
  /// for `unicast_peer` instances only.
  public static func seal(
    vrrp: [UInt8], source: IPAddress, destination: IPAddress, identification: UInt16, sequence: UInt32,
    key: [UInt8], unicast: Bool, ttl: UInt8 = 255
  ) -> [UInt8] {
    let total = 20 + AuthenticationHeader.length + vrrp.count
    var packet: [UInt8] = [
      0x45, 0xc0, UInt8(total >> 8), UInt8(total & 0xff), UInt8(identification >> 8),
      UInt8(identification & 0xff), 0, 0, ttl, AuthenticationHeader.protocolNumber, 0, 0,
    ]
    packet += source.bytes + destination.bytes
    packet +=
      AuthenticationHeader(
        spi: source.bytes, sequence: sequence,
        icv: [UInt8](repeating: 0, count: AuthenticationHeader.icvLength)
      ).bytes
    packet += vrrp
    let icv = authenticationValue(packet, headerLength: 20, key: key, unicast: unicast)
    packet.replaceSubrange(32..<44, with: icv)
    let sum = internetChecksum(Array(packet[0..<20]))
    packet[10] = UInt8(sum >> 8)
    packet[11] = UInt8(sum & 0xff)
    return packet
  }

  /// Parses an IPv4 packet from a protocol-51 raw socket without verifying it.
  public static func parse(_ packet: [UInt8]) throws(AHError) -> AHPacket {
    guard packet.count >= 20 else { throw .truncated(length: packet.count) }
    guard packet[0] >> 4 == 4 else { throw .notVRRP("IP version \(packet[0] >> 4)") }
    let headerLength = Int(packet[0] & 0x0f) * 4
    let total = Int(packet[2]) << 8 | Int(packet[3])
    guard headerLength >= 20, total <= packet.count, total >= headerLength + AuthenticationHeader.length + 8
    else { throw .truncated(length: packet.count) }
    guard packet[9] == AuthenticationHeader.protocolNumber else { throw .notVRRP("protocol \(packet[9])") }
    let ah = headerLength
    guard packet[ah] == 112 else { throw .notVRRP("AH next header \(packet[ah])") }
    guard packet[ah + 1] == 4 else { throw .notVRRP("AH payload length \(packet[ah + 1])") }
    let sequence = packet[(ah + 8)..<(ah + 12)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    guard let source = IPAddress(bytes: packet[12..<16]), let destination = IPAddress(bytes: packet[16..<20])
    else { throw .truncated(length: packet.count) }
    return AHPacket(
      source: source, destination: destination, ttl: packet[8],
      identification: UInt16(packet[4]) << 8 | UInt16(packet[5]),
      header: AuthenticationHeader(
        nextHeader: packet[ah], payloadLength: packet[ah + 1], spi: Array(packet[(ah + 4)..<(ah + 8)]),
        sequence: sequence, icv: Array(packet[(ah + 12)..<(ah + AuthenticationHeader.length)])),
      vrrp: Array(packet[(ah + AuthenticationHeader.length)..<total]))
  }

  /// Parses and authenticates: the ICV must match under `key` (compared in constant time) and the SPI
  /// must be the source address (keepalived `vrrp_in_chk_ipsecah`). The sequence number is left to
  /// `AHSequenceCounter`, which holds the state.
  public static func open(_ packet: [UInt8], key: [UInt8], unicast: Bool) throws(AHError) -> AHPacket {
    let parsed = try parse(packet)
    let headerLength = Int(packet[0] & 0x0f) * 4
    let total = Int(packet[2]) << 8 | Int(packet[3])
    let expected = authenticationValue(
      Array(packet[0..<total]), headerLength: headerLength, key: key, unicast: unicast)
    var difference: UInt8 = 0
    for (a, b) in zip(expected, parsed.header.icv) { difference |= a ^ b }
    guard difference == 0 else { throw .icvMismatch }
    guard parsed.header.spi == parsed.source.bytes else {
      throw .spiMismatch(spi: parsed.header.spi, source: parsed.source)
    }
    return parsed
  }

  /// HMAC-MD5-96 (RFC 2403) over the packet with the IPv4 mutable fields zeroed (RFC 2402 3.3.3.1.1):
  /// TOS, flags/fragment offset and header checksum always; TTL only for unicast, because keepalived
  /// includes the multicast TTL (255) in the ICV. The identification field is covered. The ICV field
  /// itself counts as zero.
  static func authenticationValue(_ packet: [UInt8], headerLength: Int, key: [UInt8], unicast: Bool)
    -> [UInt8]
  {
    var input = packet
    input[1] = 0
    input[6] = 0
    input[7] = 0
    input[10] = 0
    input[11] = 0
    if unicast { input[8] = 0 }
    let icvStart = headerLength + 12
    for index in icvStart..<(icvStart + AuthenticationHeader.icvLength) { input[index] = 0 }
    var hmac = HMAC<Insecure.MD5>(key: SymmetricKey(data: key))
    hmac.update(data: input)
    return Array(Array(hmac.finalize()).prefix(AuthenticationHeader.icvLength))
  }
}

/// keepalived's single AH sequence counter per instance (`seq_counter_t ipsecah_counter`), shared by
/// sending and receiving. Invariant: `value` only grows, except that a counter that reached
/// 0xFFFFFFFE (`cycled`) restarts at 0 when the instance next becomes Master.
public struct AHSequenceCounter: Equatable, Sendable {
  public private(set) var value: UInt32 = 0
  public private(set) var cycled = false

  public init(value: UInt32 = 0) { self.value = value }

  /// The sequence number of the next advert round (one per round, also with several unicast peers).
  /// keepalived stops incrementing past 0xFFFFFFFD and marks the counter cycled.
  public mutating func next() -> UInt32 {
    if value > 0xFFFF_FFFD {
      cycled = true
    } else {
      value += 1
    }
    return value
  }

  /// Anti-replay: a received number must exceed every number seen or sent so far; it then becomes the
  /// counter, so our next advert continues after the peer's. Accepting clears `cycled` (keepalived
  /// clears it on Backup adverts and on non-zero-priority adverts to a Master; the difference only
  /// matters after 2^32 adverts).
  public mutating func accept(_ received: UInt32) -> Bool {
    guard received > value else { return false }
    value = received
    cycled = false
    return true
  }

  /// A Master that hears a lower-priority advert continues after that advert's number
  /// (keepalived `vrrp_state_master_rx`: "Syncing seq_num").
  public mutating func follow(lowerPriority received: UInt32) {
    value = received &+ 1
    cycled = false
  }

  /// A Master hearing a higher-priority advert clears `cycled` (it will become Backup).
  public mutating func clearCycle() { cycled = false }

  /// Becoming Master with a cycled counter resets it (keepalived `vrrp_state_goto_master`).
  public mutating func becomeMaster() {
    if cycled {
      cycled = false
      value = 0
    }
  }
}
