#if canImport(Glibc)
  import Glibc
#endif

/// An IPv4 or IPv6 address held as its network-order bytes; an IPv4 address always has 4 bytes and an
/// IPv6 address 16.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
  case v4([UInt8])
  case v6([UInt8])

  /// Parses dotted-quad or RFC 4291 text; returns nil for anything else.
  public init?(_ text: String) {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 {
      self = .v4(withUnsafeBytes(of: &v4) { Array($0) })
      return
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 {
      self = .v6(withUnsafeBytes(of: &v6) { Array($0) })
      return
    }
    return nil
  }

  /// Builds an address from raw bytes (4 or 16), or nil for any other length.
  public init?(bytes: some Collection<UInt8>) {
    switch bytes.count {
    case 4: self = .v4(Array(bytes))
    case 16: self = .v6(Array(bytes))
    default: return nil
    }
  }

  public var bytes: [UInt8] {
    switch self {
    case .v4(let b), .v6(let b): return b
    }
  }

  public var isIPv4: Bool {
    if case .v4 = self { return true }
    return false
  }

  /// True for fe80::/10.
  public var isLinkLocal: Bool {
    if case .v6(let b) = self { return b[0] == 0xfe && (b[1] & 0xc0) == 0x80 }
    return false
  }

  public var description: String {
    var buffer = [CChar](repeating: 0, count: 64)
    let family = isIPv4 ? AF_INET : AF_INET6
    let ok = bytes.withUnsafeBytes { raw in
      inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
    }
    guard ok else { return "?" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Orders by family then by bytes as unsigned big-endian numbers (RFC 5798 6.4.3 tie-break).
  public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
    if lhs.isIPv4 != rhs.isIPv4 { return lhs.isIPv4 }
    return lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let address = IPAddress(text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "not an IP address: \(text)"))
    }
    self = address
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }

  /// The VRRP multicast group of the family: 224.0.0.18 or ff02::12.
  public static let vrrpGroupV4 = IPAddress.v4([224, 0, 0, 18])
  public static let vrrpGroupV6 = IPAddress.v6([0xff, 0x02] + [UInt8](repeating: 0, count: 13) + [0x12])
}
