import KeeperCore

/// VRRP protocol version: 2 (RFC 3768, interval in seconds) or 3 (RFC 5798, interval in centiseconds).
public enum VRRPVersion: UInt8, Sendable, Codable {
  case v2 = 2
  case v3 = 3
}

/// VRRPv2 authentication carried in an advert; v3 adverts always carry `.none`. A password is stored
/// padded with zeroes to exactly 8 bytes, as keepalived sends it.
public enum VRRPAuthentication: Equatable, Sendable {
  case none
  case password([UInt8])
  /// IPsec AH (auth type 2): the advert's own 8 authentication bytes are zero; the key and the
  /// signature live in the `AuthenticationHeader` around it (see `AHPacket`).
  case ah

  /// keepalived truncates `auth_pass` to 8 bytes and pads it with zeroes.
  public static func password(_ text: String) -> VRRPAuthentication {
    let bytes = Array(text.utf8.prefix(8))
    return .password(bytes + [UInt8](repeating: 0, count: 8 - bytes.count))
  }

  var typeCode: UInt8 {
    switch self {
    case .none: return 0
    case .password: return 1
    case .ah: return 2
    }
  }
}

/// Why a VRRP payload could not be decoded.
public enum AdvertDecodeError: Error, Equatable, Sendable {
  case truncated(length: Int)
  case wrongVersion(UInt8)
  case wrongType(UInt8)
  case badChecksum(received: UInt16, computed: UInt16)
}

/// A VRRP advertisement (the only VRRP packet type). Invariant: `advertInterval` is in the unit of
/// `version` (v2 seconds, 8 bits; v3 centiseconds, 12 bits) and every address has the same family.
public struct VRRPAdvert: Equatable, Sendable {
  public var version: VRRPVersion
  public var vrid: UInt8
  public var priority: UInt8
  public var advertInterval: UInt16
  public var addresses: [IPAddress]
  public var authentication: VRRPAuthentication

  public init(
    version: VRRPVersion, vrid: UInt8, priority: UInt8, advertInterval: UInt16, addresses: [IPAddress],
    authentication: VRRPAuthentication = .none
  ) {
    self.version = version
    self.vrid = vrid
    self.priority = priority
    self.advertInterval = advertInterval
    self.addresses = addresses
    self.authentication = authentication
  }

  /// The advert interval as a duration regardless of version.
  public var interval: Duration {
    version == .v2 ? .seconds(Int(advertInterval)) : .milliseconds(Int(advertInterval) * 10)
  }

  /// Serialises the advert, computing the checksum. For v3 the checksum covers the RFC 5798 5.2.8
  /// pseudo-header (source, destination, protocol 112, length), for IPv4 too, as keepalived does by
  /// default; `v3ChecksumAsV2` drops it for IPv4, like keepalived's `v3_checksum_as_v2`.
  public func encode(source: IPAddress, destination: IPAddress, v3ChecksumAsV2: Bool = false) -> [UInt8] {
    var out: [UInt8] = [
      (version.rawValue << 4) | 1, vrid, priority, UInt8(truncatingIfNeeded: addresses.count),
    ]
    if version == .v2 {
      out += [authentication.typeCode, UInt8(truncatingIfNeeded: advertInterval), 0, 0]
    } else {
      out += [UInt8((advertInterval >> 8) & 0x0f), UInt8(truncatingIfNeeded: advertInterval), 0, 0]
    }
    for address in addresses { out += address.bytes }
    if version == .v2 {
      if case .password(let pass) = authentication {
        out += pass.prefix(8) + [UInt8](repeating: 0, count: max(0, 8 - pass.count))
      } else {
        out += [UInt8](repeating: 0, count: 8)
      }
    }
    let sum = Self.checksum(
      out, source: source, destination: destination, version: version, v3ChecksumAsV2: v3ChecksumAsV2)
    out[6] = UInt8(sum >> 8)
    out[7] = UInt8(sum & 0xff)
    return out
  }

  /// Parses a VRRP payload (the bytes after the IP header) and verifies its checksum. `isIPv6` picks
  /// the address length, since the payload does not carry the family.
  public static func decode(
    _ bytes: [UInt8], source: IPAddress, destination: IPAddress, v3ChecksumAsV2: Bool = false
  ) throws(AdvertDecodeError) -> VRRPAdvert {
    guard bytes.count >= 8 else { throw .truncated(length: bytes.count) }
    let versionNumber = bytes[0] >> 4
    guard let version = VRRPVersion(rawValue: versionNumber) else { throw .wrongVersion(versionNumber) }
    guard bytes[0] & 0x0f == 1 else { throw .wrongType(bytes[0] & 0x0f) }
    let count = Int(bytes[3])
    let addressLength = source.isIPv4 ? 4 : 16
    let authLength = version == .v2 ? 8 : 0
    let needed = 8 + count * addressLength + authLength
    guard bytes.count >= needed else { throw .truncated(length: bytes.count) }
    let packet = Array(bytes.prefix(needed))
    var zeroed = packet
    zeroed[6] = 0
    zeroed[7] = 0
    let computed = checksum(
      zeroed, source: source, destination: destination, version: version, v3ChecksumAsV2: v3ChecksumAsV2)
    let received = UInt16(packet[6]) << 8 | UInt16(packet[7])
    guard computed == received else { throw .badChecksum(received: received, computed: computed) }
    var addresses: [IPAddress] = []
    for index in 0..<count {
      let start = 8 + index * addressLength
      if let address = IPAddress(bytes: packet[start..<start + addressLength]) { addresses.append(address) }
    }
    let interval: UInt16
    var authentication = VRRPAuthentication.none
    if version == .v2 {
      interval = UInt16(packet[5])
      switch packet[4] {
      case 1: authentication = .password(Array(packet[(needed - 8)..<needed]))
      case 2: authentication = .ah
      default: authentication = .none
      }
    } else {
      interval = (UInt16(packet[4] & 0x0f) << 8) | UInt16(packet[5])
    }
    return VRRPAdvert(
      version: version, vrid: packet[1], priority: packet[2], advertInterval: interval, addresses: addresses,
      authentication: authentication)
  }

  /// RFC 1071 checksum of the message, preceded for v3 by the pseudo-header of RFC 5798 5.2.8.
  static func checksum(
    _ message: [UInt8], source: IPAddress, destination: IPAddress, version: VRRPVersion, v3ChecksumAsV2: Bool
  ) -> UInt16 {
    var data: [UInt8] = []
    if version == .v3 && !(source.isIPv4 && v3ChecksumAsV2) {
      let length = message.count
      if source.isIPv4 {
        data = source.bytes + destination.bytes + [0, 112, UInt8(length >> 8), UInt8(length & 0xff)]
      } else {
        data = source.bytes + destination.bytes
        data += [0, 0, UInt8(length >> 8), UInt8(length & 0xff), 0, 0, 0, 112]
      }
    }
    data += message
    return internetChecksum(data)
  }
}

/// The RFC 1071 ones'-complement sum of 16-bit words.
func internetChecksum(_ data: [UInt8]) -> UInt16 {
  var sum: UInt32 = 0
  var index = 0
  while index + 1 < data.count {
    sum += UInt32(data[index]) << 8 | UInt32(data[index + 1])
    index += 2
  }
  if index < data.count { sum += UInt32(data[index]) << 8 }
  while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
  return ~UInt16(sum)
}
