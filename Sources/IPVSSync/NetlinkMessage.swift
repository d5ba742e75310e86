/// Builds one generic netlink message: `nlmsghdr`, `genlmsghdr`, then attributes, laid out exactly
/// as libnl would (host byte order headers, 4-byte attribute alignment, nests without NLA_F_NESTED).
///
/// Invariant: `bytes` always holds a complete message whose length field is up to date.
struct GenericNetlinkMessage {
  private(set) var bytes: [UInt8] = []

  static let headerLength = 16
  static let genericHeaderLength = 4

  init(family: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32, command: UInt8, version: UInt8) {
    bytes.reserveCapacity(128)
    append(UInt32(0))
    append(family)
    append(flags)
    append(sequence)
    append(portID)
    bytes.append(command)
    bytes.append(version)
    append(UInt16(0))
    updateLength()
  }

  mutating func put(_ type: UInt16, u8 value: UInt8) { put(type, payload: [value]) }
  mutating func put(_ type: UInt16, u16 value: UInt16) { put(type, payload: littleEndianBytes(value)) }
  mutating func put(_ type: UInt16, u32 value: UInt32) { put(type, payload: littleEndianBytes(value)) }
  /// A 16-bit value in network byte order (ports).
  mutating func put(_ type: UInt16, be16 value: UInt16) {
    put(type, payload: [UInt8(value >> 8), UInt8(value & 0xff)])
  }
  /// A NUL-terminated string, as `nla_put_string`.
  mutating func put(_ type: UInt16, string: String) { put(type, payload: Array(string.utf8) + [0]) }

  mutating func put(_ type: UInt16, payload: [UInt8]) {
    append(UInt16(4 + payload.count))
    append(type)
    bytes.append(contentsOf: payload)
    pad()
    updateLength()
  }

  /// Writes a nested attribute whose contents `body` adds.
  mutating func nest(_ type: UInt16, _ body: (inout GenericNetlinkMessage) -> Void) {
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

func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
  (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

/// Netlink constants used here (linux/netlink.h, linux/genetlink.h).
enum Netlink {
  static let request: UInt16 = 0x1
  static let multi: UInt16 = 0x2
  static let ack: UInt16 = 0x4
  static let dump: UInt16 = 0x300
  static let noop: UInt16 = 1
  static let error: UInt16 = 2
  static let done: UInt16 = 3
  static let genlCtrlFamily: UInt16 = 0x10
}

/// One message parsed out of a receive buffer.
struct ReceivedMessage {
  var type: UInt16
  var flags: UInt16
  var sequence: UInt32
  /// Bytes after the 16-byte netlink header.
  var payload: ArraySlice<UInt8>

  /// For NLMSG_ERROR: the (positive) errno, 0 for an ACK.
  var errorCode: Int32? {
    guard type == Netlink.error, payload.count >= 4 else { return nil }
    return -Int32(bitPattern: readLE(payload, at: payload.startIndex, as: UInt32.self))
  }

  /// For NLMSG_ERROR: the sequence number of the request it answers.
  var erroredSequence: UInt32? {
    guard type == Netlink.error, payload.count >= 20 else { return nil }
    return readLE(payload, at: payload.startIndex + 12, as: UInt32.self)
  }

  /// Generic netlink command and attributes of a family message.
  var genericCommand: UInt8? { payload.count >= 4 ? payload[payload.startIndex] : nil }
  var attributes: NetlinkAttributes { NetlinkAttributes(payload.dropFirst(4)) }

  /// Splits a buffer of concatenated netlink messages; stops at the first truncated one.
  static func split(_ buffer: ArraySlice<UInt8>) -> [ReceivedMessage] {
    var result: [ReceivedMessage] = []
    var offset = buffer.startIndex
    while buffer.endIndex - offset >= 16 {
      let length = Int(readLE(buffer, at: offset, as: UInt32.self))
      guard length >= 16, offset + length <= buffer.endIndex else { break }
      result.append(
        ReceivedMessage(
          type: readLE(buffer, at: offset + 4, as: UInt16.self),
          flags: readLE(buffer, at: offset + 6, as: UInt16.self),
          sequence: readLE(buffer, at: offset + 8, as: UInt32.self),
          payload: buffer[(offset + 16)..<(offset + length)]))
      offset += (length + 3) & ~3
    }
    return result
  }
}

func readLE<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, at index: Int, as: T.Type) -> T {
  var value: T = 0
  for i in 0..<(T.bitWidth / 8) { value |= T(bytes[index + i]) << (8 * i) }
  return value
}

/// The attributes of one level of a netlink message, by type (NLA_F_* bits stripped).
///
/// Lookups scan the level's bytes: a level holds at most ~20 attributes, and scanning allocates
/// nothing, where building a dictionary per level cost an allocation and hashing for every
/// destination of a dump (two levels each). As with a dictionary, the last attribute of a type wins.
struct NetlinkAttributes {
  let bytes: ArraySlice<UInt8>

  init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

  subscript(type: UInt16) -> ArraySlice<UInt8>? {
    var found: ArraySlice<UInt8>?
    forEachAttribute { if $0 == type { found = $1 } }
    return found
  }

  /// Calls `body` with each attribute of this level, in order.
  func forEachAttribute(_ body: (UInt16, ArraySlice<UInt8>) -> Void) {
    var offset = bytes.startIndex
    while bytes.endIndex - offset >= 4 {
      let length = Int(readLE(bytes, at: offset, as: UInt16.self))
      let type = readLE(bytes, at: offset + 2, as: UInt16.self) & 0x3fff
      guard length >= 4, offset + length <= bytes.endIndex else { break }
      body(type, bytes[(offset + 4)..<(offset + length)])
      offset += (length + 3) & ~3
    }
  }

  func u8(_ type: UInt16) -> UInt8? { self[type].flatMap { $0.count >= 1 ? $0.first : nil } }
  func u16(_ type: UInt16) -> UInt16? { int(type) }
  func u32(_ type: UInt16) -> UInt32? { int(type) }
  func u64(_ type: UInt16) -> UInt64? { int(type) }
  func be16(_ type: UInt16) -> UInt16? { u16(type).map { $0.byteSwapped } }
  func nested(_ type: UInt16) -> NetlinkAttributes? { self[type].map { NetlinkAttributes($0) } }

  func string(_ type: UInt16) -> String? {
    guard let raw = self[type] else { return nil }
    return String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
  }

  private func int<T: FixedWidthInteger>(_ type: UInt16) -> T? {
    guard let raw = self[type] else { return nil }
    return Self.integer(raw)
  }

  /// A little-endian (host order) integer payload; nil when too short.
  static func integer<T: FixedWidthInteger>(_ raw: ArraySlice<UInt8>) -> T? {
    guard raw.count >= T.bitWidth / 8 else { return nil }
    return readLE(raw, at: raw.startIndex, as: T.self)
  }
}
