#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// An address family: the configuration words `inet` / `inet6` (its raw value, and its Codable
/// and text form), and the kernel's `AF_INET` / `AF_INET6` numbers as `kernelValue`.
public enum AddressFamily: String, Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
  case inet
  case inet6

  /// The family of a kernel `AF_*` number, or nil for any other.
  public init?(kernelValue: UInt16) {
    switch Int32(kernelValue) {
    case AF_INET: self = .inet
    case AF_INET6: self = .inet6
    default: return nil
    }
  }

  /// `AF_INET` (2) or `AF_INET6` (10), as netlink headers and attributes carry it.
  public var kernelValue: UInt16 { UInt16(self == .inet ? AF_INET : AF_INET6) }

  /// Length in bytes of an address of this family.
  public var addressLength: Int { self == .inet ? 4 : 16 }

  public var description: String { rawValue }

  /// IPv4 before IPv6, as the kernel numbers them.
  public static func < (lhs: Self, rhs: Self) -> Bool { lhs.kernelValue < rhs.kernelValue }
}

/// An IPv4 or IPv6 address, stored as its network-order bytes: the one address type every module
/// shares (configuration model, VRRP, IPVS).
///
/// Invariant: `bytes` holds exactly 4 (IPv4) or 16 (IPv6) bytes, so the family follows from the length;
/// `description` is the canonical `inet_ntop` text; the order is IPv4 before IPv6, then the bytes as
/// unsigned big-endian numbers (the RFC 5798 6.4.3 tie-break).
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
  /// The address family.
  public typealias Family = AddressFamily

  public let bytes: [UInt8]

  public var family: Family { bytes.count == 4 ? .inet : .inet6 }

  public var isIPv4: Bool { bytes.count == 4 }

  /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (`inet_pton`); nil when the text is not exactly an address.
  public init?(_ text: String) {
    // Dotted quads are parsed here without a C string (one allocation fewer per address of a
    // large configuration); anything they do not accept goes to inet_pton as before.
    if let quad = Self.dottedQuad(text.utf8) {
      bytes = quad
      return
    }
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 {
      bytes = withUnsafeBytes(of: &v4) { Array($0) }
      return
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 {
      bytes = withUnsafeBytes(of: &v6) { Array($0) }
      return
    }
    return nil
  }

  /// glibc's `inet_pton4`, step for step: four decimal octets of at most 255 separated by single
  /// dots, no leading zero, nothing else; nil for anything else (which inet_pton also refuses,
  /// except text that continues after a NUL, left to it).
  static func dottedQuad(_ text: String.UTF8View) -> [UInt8]? {
    // The octets are gathered in one word, so text that is not a dotted quad (IPv6) allocates
    // nothing here.
    var quad: UInt32 = 0
    var octets = 0
    var sawDigit = false
    var current: UInt32 = 0
    for character in text {
      if character >= 0x30 && character <= 0x39 {
        if sawDigit && current == 0 { return nil }
        current = current * 10 + UInt32(character - 0x30)
        if current > 255 { return nil }
        if !sawDigit {
          octets += 1
          if octets > 4 { return nil }
          sawDigit = true
        }
      } else if character == 0x2E && sawDigit {
        if octets == 4 { return nil }
        quad = quad << 8 | current
        sawDigit = false
        current = 0
      } else {
        return nil
      }
    }
    // Four octets and no trailing dot (a dot after the fourth returned above).
    guard octets == 4 else { return nil }
    quad = quad << 8 | current
    return [UInt8(quad >> 24), UInt8(quad >> 16 & 0xFF), UInt8(quad >> 8 & 0xFF), UInt8(quad & 0xFF)]
  }

  /// Builds an address from 4 or 16 network-order bytes; nil for any other length.
  public init?(bytes: some Collection<UInt8>) {
    guard bytes.count == 4 || bytes.count == 16 else { return nil }
    self.bytes = Array(bytes)
  }

  /// Reads an address of `family` from the front of a kernel `union nf_inet_addr` (16 bytes, IPv4 in
  /// the first 4); nil when there are too few bytes.
  public init?(kernelBytes: some Collection<UInt8>, family: Family) {
    guard kernelBytes.count >= family.addressLength else { return nil }
    self.bytes = Array(kernelBytes.prefix(family.addressLength))
  }

  private init(uncheckedBytes: [UInt8]) {
    self.bytes = uncheckedBytes
  }

  /// The 16-byte `union nf_inet_addr` form the kernel (and ipvsadm) exchange.
  public var kernelBytes: [UInt8] { bytes + [UInt8](repeating: 0, count: 16 - bytes.count) }

  public var description: String {
    // IPv4 is inet_ntop's dotted quad; built directly (a small string, no buffer), since the
    // daemon names every real server by it at each load.
    if bytes.count == 4 { return "\(bytes[0]).\(bytes[1]).\(bytes[2]).\(bytes[3])" }
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    let af = isIPv4 ? AF_INET : AF_INET6
    let ok = bytes.withUnsafeBytes { raw in
      inet_ntop(af, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
    }
    guard ok else { return bytes.map(String.init).joined(separator: ".") }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// 224.0.0.18, the IANA VRRP group (RFC 5798 section 5.1.1.2).
  public static let vrrpMulticast4 = IPAddress(uncheckedBytes: [224, 0, 0, 18])
  /// ff02::12, the IANA VRRP group for IPv6 (RFC 5798 section 5.1.2.2).
  public static let vrrpMulticast6 = IPAddress(
    uncheckedBytes: [0xFF, 0x02] + Array(repeating: 0, count: 13) + [0x12])
  /// ff02::1, all IPv6 nodes on the link: where unsolicited neighbour advertisements go (RFC 4861 7.2.6).
  public static let allNodes6 = IPAddress(
    uncheckedBytes: [0xFF, 0x02] + Array(repeating: 0, count: 13) + [1])
  /// 224.0.0.81, the default IPVS sync daemon group.
  public static let ipvsSyncMulticast4 = IPAddress(uncheckedBytes: [224, 0, 0, 81])
  /// 0.0.0.0, the IPv4 unspecified address.
  public static let unspecified4 = IPAddress(uncheckedBytes: [0, 0, 0, 0])

  /// The largest prefix length of this family (32 or 128).
  public var maxPrefixLength: Int { bytes.count * 8 }

  public var isMulticast: Bool {
    isIPv4 ? (bytes[0] & 0xF0) == 0xE0 : bytes[0] == 0xFF
  }

  /// 169.254.0.0/16 or fe80::/10.
  public var isLinkLocal: Bool {
    isIPv4 ? (bytes[0] == 169 && bytes[1] == 254) : (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80)
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

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let address = IPAddress(text) else {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an IP address: \(text)")
    }
    self = address
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
