import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// An IPv4 or IPv6 address, stored as its network-order bytes.
///
/// Invariant: `bytes` holds exactly 4 (IPv4) or 16 (IPv6) bytes; `description` is the canonical text form.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
  /// The address family.
  public enum Family: String, Codable, Sendable {
    case inet
    case inet6
  }

  public let bytes: [UInt8]

  public var family: Family { bytes.count == 4 ? .inet : .inet6 }

  /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text; nil when the text is not exactly an address.
  public init?(_ text: String) {
    if text.contains(":") {
      var storage = in6_addr()
      guard inet_pton(AF_INET6, text, &storage) == 1 else { return nil }
      bytes = withUnsafeBytes(of: &storage) { Array($0) }
    } else {
      var storage = in_addr()
      guard inet_pton(AF_INET, text, &storage) == 1 else { return nil }
      bytes = withUnsafeBytes(of: &storage) { Array($0) }
    }
  }

  /// Builds an address from 4 or 16 network-order bytes.
  public init?(bytes: [UInt8]) {
    guard bytes.count == 4 || bytes.count == 16 else { return nil }
    self.bytes = bytes
  }

  public var description: String {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    let family = bytes.count == 4 ? AF_INET : AF_INET6
    let ok = bytes.withUnsafeBytes { raw in
      inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
    }
    guard ok else { return bytes.map(String.init).joined(separator: ".") }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  init(uncheckedBytes: [UInt8]) {
    self.bytes = uncheckedBytes
  }

  /// 224.0.0.18, the IANA VRRP group (RFC 5798 section 5.1.1.2).
  public static let vrrpMulticast4 = IPAddress(uncheckedBytes: [224, 0, 0, 18])
  /// ff02::12, the IANA VRRP group for IPv6 (RFC 5798 section 5.1.2.2).
  public static let vrrpMulticast6 = IPAddress(
    uncheckedBytes: [0xFF, 0x02] + Array(repeating: 0, count: 13) + [0x12])
  /// 224.0.0.81, the default IPVS sync daemon group.
  public static let ipvsSyncMulticast4 = IPAddress(uncheckedBytes: [224, 0, 0, 81])

  /// The largest prefix length of this family (32 or 128).
  public var maxPrefixLength: Int { bytes.count * 8 }

  public var isMulticast: Bool {
    bytes.count == 4 ? (bytes[0] & 0xF0) == 0xE0 : bytes[0] == 0xFF
  }

  public var isLinkLocal: Bool {
    bytes.count == 4 ? (bytes[0] == 169 && bytes[1] == 254) : (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80)
  }

  public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
    if lhs.bytes.count != rhs.bytes.count { return lhs.bytes.count < rhs.bytes.count }
    return lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
  }

  /// The address `offset` positions after this one, or nil on overflow.
  public func advanced(by offset: UInt64) -> IPAddress? {
    var result = bytes
    var carry = offset
    var index = result.count - 1
    while carry > 0 {
      guard index >= 0 else { return nil }
      let sum = UInt64(result[index]) + (carry & 0xFF)
      result[index] = UInt8(sum & 0xFF)
      carry = (carry >> 8) + (sum >> 8)
      index -= 1
    }
    return IPAddress(bytes: result)
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let address = IPAddress(text) else {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an IP address: \(text)")
    }
    self = address
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
