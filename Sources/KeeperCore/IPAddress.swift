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

/// An IPv4 or IPv6 address: the one address type every module shares (configuration model, VRRP,
/// IPVS).
///
/// Stored in one word: an IPv4 address inline (no allocation: a large configuration holds one per
/// real server), an IPv6 address in a shared 16-byte box. Invariant: `bytes` is exactly 4 (IPv4) or
/// 16 (IPv6) network-order bytes; `description` is the canonical `inet_ntop` text; the order is
/// IPv4 before IPv6, then the bytes as unsigned big-endian numbers (the RFC 5798 6.4.3 tie-break).
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
  /// The address family.
  public typealias Family = AddressFamily

  /// An IPv6 address as two big-endian halves.
  private final class V6: Sendable {
    let high: UInt64
    let low: UInt64
    init(high: UInt64, low: UInt64) {
      self.high = high
      self.low = low
    }
  }
  private enum Storage: Sendable {
    /// The address as a big-endian number (10.0.0.1 is 0x0A00_0001).
    case v4(UInt32)
    case v6(V6)
  }
  private let storage: Storage

  /// The network-order bytes: 4 for IPv4, 16 for IPv6 (a new array each time).
  public var bytes: [UInt8] {
    switch storage {
    case .v4(let value): return Self.bigEndianBytes(UInt64(value), count: 4)
    case .v6(let box): return Self.bigEndianBytes(box.high, count: 8) + Self.bigEndianBytes(box.low, count: 8)
    }
  }

  public var family: Family { isIPv4 ? .inet : .inet6 }

  public var isIPv4: Bool {
    if case .v4 = storage { return true }
    return false
  }

  private init(v4 value: UInt32) { storage = .v4(value) }

  /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (`inet_pton`); nil when the text is not exactly an address.
  public init?(_ text: String) {
    // Dotted quads are parsed here without a C string (one allocation fewer per address of a
    // large configuration); anything they do not accept goes to inet_pton as before.
    if let quad = Self.dottedQuad(text.utf8) {
      self.init(v4: quad)
      return
    }
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 {
      self.init(v4: UInt32(bigEndian: v4.s_addr))
      return
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 {
      self.init(uncheckedBytes: withUnsafeBytes(of: &v6) { Array($0) })
      return
    }
    return nil
  }

  /// glibc's `inet_pton4`, step for step: four decimal octets of at most 255 separated by single
  /// dots, no leading zero, nothing else; nil for anything else (which inet_pton also refuses,
  /// except text that continues after a NUL, left to it).
  static func dottedQuad(_ text: String.UTF8View) -> UInt32? {
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
    return quad << 8 | current
  }

  /// Builds an address from 4 or 16 network-order bytes; nil for any other length.
  public init?(bytes: some Collection<UInt8>) {
    guard bytes.count == 4 || bytes.count == 16 else { return nil }
    self.init(uncheckedBytes: Array(bytes))
  }

  /// Reads an address of `family` from the front of a kernel `union nf_inet_addr` (16 bytes, IPv4 in
  /// the first 4); nil when there are too few bytes.
  public init?(kernelBytes: some Collection<UInt8>, family: Family) {
    guard kernelBytes.count >= family.addressLength else { return nil }
    self.init(uncheckedBytes: Array(kernelBytes.prefix(family.addressLength)))
  }

  /// From exactly 4 or 16 network-order bytes.
  private init(uncheckedBytes bytes: [UInt8]) {
    func number(_ slice: ArraySlice<UInt8>) -> UInt64 { slice.reduce(0) { $0 << 8 | UInt64($1) } }
    if bytes.count == 4 {
      storage = .v4(UInt32(number(bytes[...])))
    } else {
      storage = .v6(V6(high: number(bytes[0..<8]), low: number(bytes[8..<16])))
    }
  }

  private static func bigEndianBytes(_ value: UInt64, count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(count - 1 - $0))) }
  }

  /// The 16-byte `union nf_inet_addr` form the kernel (and ipvsadm) exchange.
  public var kernelBytes: [UInt8] {
    let bytes = bytes
    return bytes + [UInt8](repeating: 0, count: 16 - bytes.count)
  }

  public var description: String {
    // IPv4 is inet_ntop's dotted quad; built directly (a small string, no buffer), since the
    // daemon names every real server by it at each load.
    if case .v4(let value) = storage {
      return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }
    let bytes = bytes
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    let ok = bytes.withUnsafeBytes { raw in
      inet_ntop(AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
    }
    guard ok else { return bytes.map(String.init).joined(separator: ":") }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  public static func == (lhs: IPAddress, rhs: IPAddress) -> Bool {
    switch (lhs.storage, rhs.storage) {
    case (.v4(let a), .v4(let b)): a == b
    case (.v6(let a), .v6(let b)): a === b || (a.high == b.high && a.low == b.low)
    default: false
    }
  }

  public func hash(into hasher: inout Hasher) {
    switch storage {
    case .v4(let value):
      hasher.combine(value)
    case .v6(let box):
      hasher.combine(box.high)
      hasher.combine(box.low)
    }
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

  /// The address with a port as ipvsadm and keepalived write it: `10.0.0.2:80`, `[2001:db8::2]:80`.
  public func withPort(_ port: some BinaryInteger) -> String {
    isIPv4 ? "\(self):\(port)" : "[\(self)]:\(port)"
  }

  /// The largest prefix length of this family (32 or 128).
  public var maxPrefixLength: Int { isIPv4 ? 32 : 128 }

  public var isMulticast: Bool {
    switch storage {
    case .v4(let value): value >> 28 == 0xE
    case .v6(let box): box.high >> 56 == 0xFF
    }
  }

  /// 169.254.0.0/16 or fe80::/10.
  public var isLinkLocal: Bool {
    switch storage {
    case .v4(let value): value >> 16 == 0xA9FE
    case .v6(let box): box.high >> 54 == 0xFE80 >> 6
    }
  }

  public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
    switch (lhs.storage, rhs.storage) {
    case (.v4(let a), .v4(let b)): a < b
    case (.v6(let a), .v6(let b)): (a.high, a.low) < (b.high, b.low)
    case (.v4, .v6): true
    case (.v6, .v4): false
    }
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
