/// Builds one netlink request as the kernel reads it: `nlmsghdr`, then the family header (a
/// `genlmsghdr` for generic netlink such as IPVS, an `ifaddrmsg` for rtnetlink addresses), then
/// attributes, laid out exactly as libnl would (host byte order headers, 4-byte attribute alignment,
/// nests without NLA_F_NESTED).
///
/// Invariant: `bytes` always holds a complete message whose length field is up to date.
public struct NetlinkMessage: Sendable {
  public private(set) var bytes: [UInt8] = []

  /// sizeof(struct nlmsghdr).
  public static let headerLength = 16
  /// sizeof(struct genlmsghdr).
  public static let genericHeaderLength = 4

  /// A message of `type` whose family header is `familyHeader` (padded to 4 bytes, NLMSG_ALIGN).
  public init(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, familyHeader: [UInt8]) {
    bytes.reserveCapacity(128)
    append(UInt32(0))
    append(type)
    append(flags)
    append(sequence)
    append(portID)
    bytes.append(contentsOf: familyHeader)
    pad()
    updateLength()
  }

  /// A generic netlink message: `family` is the id the controller resolved (the nlmsghdr type),
  /// followed by `struct genlmsghdr { u8 cmd; u8 version; u16 reserved }`.
  public static func generic(
    family: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, command: UInt8, version: UInt8
  ) -> NetlinkMessage {
    NetlinkMessage(
      type: family, flags: flags, sequence: sequence, portID: portID, familyHeader: [command, version, 0, 0])
  }

  /// An rtnetlink address message (RTM_NEWADDR, RTM_DELADDR) with its `struct ifaddrmsg`.
  public static func interfaceAddress(
    type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, header: InterfaceAddressHeader
  ) -> NetlinkMessage {
    NetlinkMessage(type: type, flags: flags, sequence: sequence, portID: portID, familyHeader: header.bytes)
  }

  public mutating func put(_ type: UInt16, u8 value: UInt8) { put(type, payload: [value]) }
  public mutating func put(_ type: UInt16, u16 value: UInt16) { put(type, payload: littleEndianBytes(value)) }
  public mutating func put(_ type: UInt16, u32 value: UInt32) { put(type, payload: littleEndianBytes(value)) }
  /// A 16-bit value in network byte order (ports).
  public mutating func put(_ type: UInt16, be16 value: UInt16) {
    put(type, payload: [UInt8(value >> 8), UInt8(value & 0xff)])
  }
  /// A NUL-terminated string, as `nla_put_string`.
  public mutating func put(_ type: UInt16, string: String) { put(type, payload: Array(string.utf8) + [0]) }

  public mutating func put(_ type: UInt16, payload: [UInt8]) {
    append(UInt16(4 + payload.count))
    append(type)
    bytes.append(contentsOf: payload)
    pad()
    updateLength()
  }

  /// Writes a nested attribute whose contents `body` adds.
  public mutating func nest(_ type: UInt16, _ body: (inout NetlinkMessage) -> Void) {
    let start = bytes.count
    append(UInt16(0))
    append(type)
    body(&self)
    let length = UInt16(bytes.count - start)
    bytes[start] = UInt8(length & 0xff)
    bytes[start + 1] = UInt8(length >> 8)
    updateLength()
  }

  private mutating func pad() {
    while bytes.count % 4 != 0 { bytes.append(0) }
  }

  private mutating func updateLength() {
    let length = UInt32(bytes.count)
    for i in 0..<4 { bytes[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(i))) }
  }

  private mutating func append<T: FixedWidthInteger>(_ value: T) {
    bytes.append(contentsOf: littleEndianBytes(value))
  }
}

/// `struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index }` (linux/if_addr.h), the family
/// header of rtnetlink address messages.
public struct InterfaceAddressHeader: Sendable, Hashable {
  public var family: AddressFamily
  public var prefixLength: UInt8
  /// IFA_F_* flags that fit in eight bits (IFA_F_NODAD is 0x02).
  public var flags: UInt8
  /// RT_SCOPE_*: 0 universe, 200 site, 253 link, 254 host, 255 nowhere.
  public var scope: UInt8
  public var interfaceIndex: UInt32

  public init(family: AddressFamily, prefixLength: UInt8, flags: UInt8, scope: UInt8, interfaceIndex: UInt32)
  {
    self.family = family
    self.prefixLength = prefixLength
    self.flags = flags
    self.scope = scope
    self.interfaceIndex = interfaceIndex
  }

  public var bytes: [UInt8] {
    [UInt8(truncatingIfNeeded: family.kernelValue), prefixLength, flags, scope]
      + littleEndianBytes(interfaceIndex)
  }
}

/// The bytes of `value` in little-endian (host, on every target we build for) order.
public func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
  (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

/// Netlink constants (linux/netlink.h, linux/genetlink.h, linux/rtnetlink.h, linux/if_addr.h).
public enum Netlink {
  public static let request: UInt16 = 0x1
  public static let multi: UInt16 = 0x2
  public static let ack: UInt16 = 0x4
  public static let dump: UInt16 = 0x300
  /// NLM_F_EXCL and NLM_F_CREATE, the flags of a new object.
  public static let exclusive: UInt16 = 0x200
  public static let create: UInt16 = 0x400
  public static let noop: UInt16 = 1
  public static let error: UInt16 = 2
  public static let done: UInt16 = 3
  public static let genlCtrlFamily: UInt16 = 0x10
  /// RTM_NEWADDR and RTM_DELADDR.
  public static let newAddress: UInt16 = 20
  public static let deleteAddress: UInt16 = 21
  /// RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWRULE and RTM_DELRULE.
  public static let newRoute: UInt16 = 24
  public static let deleteRoute: UInt16 = 25
  public static let newRule: UInt16 = 32
  public static let deleteRule: UInt16 = 33
}

/// IFA_* attribute types of rtnetlink address messages (linux/if_addr.h).
public enum InterfaceAddressAttribute {
  public static let address: UInt16 = 1
  public static let local: UInt16 = 2
  public static let label: UInt16 = 3
  public static let broadcast: UInt16 = 4
}
