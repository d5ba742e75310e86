import KeeperCore

/// IPVS's address family is the shared one; its `kernelValue` is what `IPVS_*_ATTR_AF` carries.
public typealias IPVSAddressFamily = AddressFamily

/// A transport protocol of a virtual service. Raw values are the `IPPROTO_*` numbers.
public enum IPVSProtocol: UInt16, Sendable, Hashable, Comparable, CustomStringConvertible {
  case tcp = 6
  case udp = 17
  case sctp = 132

  public var description: String {
    switch self {
    case .tcp: "TCP"
    case .udp: "UDP"
    case .sctp: "SCTP"
    }
  }

  public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What identifies a virtual service in the kernel: address/port/protocol, or a firewall mark
/// together with its address family. Two services with equal keys are the same kernel object.
public enum ServiceKey: Sendable, Hashable, Comparable, CustomStringConvertible {
  case inet(address: IPAddress, port: UInt16, protocol: IPVSProtocol)
  case fwmark(UInt32, family: IPVSAddressFamily)

  public var family: IPVSAddressFamily {
    switch self {
    case .inet(let address, _, _): address.family
    case .fwmark(_, let family): family
    }
  }

  public var description: String {
    switch self {
    case .inet(let address, let port, let proto):
      "\(proto) \(address.withPort(port))"
    case .fwmark(let mark, let family): "FWM \(mark) \(family)"
    }
  }

  private var sortKey: (Int, [UInt8], UInt32, UInt16) {
    switch self {
    case .inet(let address, let port, let proto): (0, address.bytes, UInt32(port), proto.rawValue)
    case .fwmark(let mark, let family): (1, [], mark, family.kernelValue)
    }
  }

  public static func < (lhs: Self, rhs: Self) -> Bool {
    let (a, b) = (lhs.sortKey, rhs.sortKey)
    if a.0 != b.0 { return a.0 < b.0 }
    if a.1 != b.1 { return a.1.lexicographicallyPrecedes(b.1) }
    if a.2 != b.2 { return a.2 < b.2 }
    return a.3 < b.3
  }
}

/// Virtual service flags (`IP_VS_SVC_F_*`). The scheduler flags share bits: `sh-fallback` and
/// `mh-fallback` are both `SCHED1`, `sh-port` and `mh-port` both `SCHED2`.
public struct ServiceFlags: OptionSet, Sendable, Hashable {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  public static let persistent = ServiceFlags(rawValue: 0x0001)
  /// Kernel-internal "hashed" marker; reported by dumps, never sent.
  public static let hashed = ServiceFlags(rawValue: 0x0002)
  public static let onePacket = ServiceFlags(rawValue: 0x0004)
  public static let scheduler1 = ServiceFlags(rawValue: 0x0008)
  public static let scheduler2 = ServiceFlags(rawValue: 0x0010)
  public static let scheduler3 = ServiceFlags(rawValue: 0x0020)
  public static let shFallback = scheduler1
  public static let shPort = scheduler2
  public static let mhFallback = scheduler1
  public static let mhPort = scheduler2

  /// The flags lvskeeper manages; sent as the mask of `struct ip_vs_flags`, so a set replaces them all.
  public static let managed: ServiceFlags = [.persistent, .onePacket, .scheduler1, .scheduler2, .scheduler3]
}

/// The settable attributes of a virtual service (everything but its key).
///
/// Invariant: `netmask` is an IPv4 mask in network byte order packed in a UInt32 as the kernel
/// expects (`0xffffffff` = /32) for IPv4 services and a prefix length (1...128) for IPv6 services.
public struct ServiceAttributes: Sendable, Hashable {
  public var scheduler: String
  public var flags: ServiceFlags
  /// Persistence timeout in seconds (0 when not persistent).
  public var timeout: UInt32
  public var netmask: UInt32
  /// Persistence engine name (e.g. "sip"), nil for none.
  public var persistenceEngine: String?

  public init(
    scheduler: String, flags: ServiceFlags = [], timeout: UInt32 = 0, netmask: UInt32,
    persistenceEngine: String? = nil
  ) {
    self.scheduler = scheduler
    self.flags = flags.intersection(.managed)
    self.timeout = timeout
    self.netmask = netmask
    self.persistenceEngine = persistenceEngine
  }

  /// Attributes with the default netmask for `family` (/32 or /128).
  public init(
    scheduler: String, flags: ServiceFlags = [], timeout: UInt32 = 0, family: IPVSAddressFamily,
    persistenceEngine: String? = nil
  ) {
    self.init(
      scheduler: scheduler, flags: flags, timeout: timeout,
      netmask: ServiceAttributes.defaultNetmask(family), persistenceEngine: persistenceEngine)
  }

  public static func defaultNetmask(_ family: IPVSAddressFamily) -> UInt32 {
    family == .inet ? 0xffff_ffff : 128
  }

  /// IPv4 netmask from a prefix length, in the kernel's packed network-order form.
  public static func ipv4Netmask(prefixLength: Int) -> UInt32 {
    let clamped = max(0, min(32, prefixLength))
    let hostOrder: UInt32 = clamped == 0 ? 0 : UInt32.max << UInt32(32 - clamped)
    return hostOrder.bigEndian
  }
}

/// All the kernel schedulers shipped with Linux 6.1.
public enum IPVSScheduler {
  public static let all = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
  ]
}
