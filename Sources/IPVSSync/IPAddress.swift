#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// An address family IPVS understands. Raw values are the kernel's `AF_*` numbers.
public enum IPVSAddressFamily: UInt16, Sendable, Hashable, Comparable, CustomStringConvertible {
  case inet = 2
  case inet6 = 10

  /// Length in bytes of an address of this family.
  public var addressLength: Int { self == .inet ? 4 : 16 }

  public var description: String { self == .inet ? "inet" : "inet6" }

  public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An IPv4 or IPv6 address held as its network-order bytes.
///
/// Invariant: `bytes.count` is 4 (IPv4) or 16 (IPv6); the family is derived from the length.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
  public let bytes: [UInt8]

  /// Parses dotted-quad IPv4 or textual IPv6 (`inet_pton`). Returns nil for anything else.
  public init?(_ text: String) {
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

  /// Wraps raw bytes; nil unless there are exactly 4 or 16.
  public init?(bytes: [UInt8]) {
    guard bytes.count == 4 || bytes.count == 16 else { return nil }
    self.bytes = bytes
  }

  /// Reads an address of `family` from the front of a kernel `nf_inet_addr` (16 bytes, v4 in the first 4).
  init?(kernelBytes: ArraySlice<UInt8>, family: IPVSAddressFamily) {
    guard kernelBytes.count >= family.addressLength else { return nil }
    self.bytes = Array(kernelBytes.prefix(family.addressLength))
  }

  public var family: IPVSAddressFamily { bytes.count == 4 ? .inet : .inet6 }

  /// The 16-byte `union nf_inet_addr` form the kernel (and ipvsadm) exchange.
  var kernelBytes: [UInt8] { bytes + [UInt8](repeating: 0, count: 16 - bytes.count) }

  public var description: String {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    let af = family == .inet ? AF_INET : AF_INET6
    let ok = bytes.withUnsafeBytes { raw in
      inet_ntop(af, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
    }
    guard ok else { return bytes.map { String($0) }.joined(separator: ".") }
    let utf8 = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: utf8, as: UTF8.self)
  }

  public static func < (lhs: Self, rhs: Self) -> Bool {
    if lhs.bytes.count != rhs.bytes.count { return lhs.bytes.count < rhs.bytes.count }
    return lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
  }
}
