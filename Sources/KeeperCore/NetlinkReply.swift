/// One message parsed out of a receive buffer.
public struct NetlinkReply: Sendable {
  public var type: UInt16
  public var flags: UInt16
  public var sequence: UInt32
  /// Bytes after the 16-byte netlink header.
  public var payload: ArraySlice<UInt8>

  /// For NLMSG_ERROR: the (positive) errno, 0 for an ACK.
  public var errorCode: Int32? {
    guard type == Netlink.error, payload.count >= 4 else { return nil }
    return -Int32(bitPattern: readLE(payload, at: payload.startIndex, as: UInt32.self))
  }

  /// For NLMSG_ERROR: the sequence number of the request it answers.
  public var erroredSequence: UInt32? {
    guard type == Netlink.error, payload.count >= 20 else { return nil }
    return readLE(payload, at: payload.startIndex + 12, as: UInt32.self)
  }

  /// Generic netlink command and attributes of a family message (after the 4-byte genlmsghdr).
  public var genericCommand: UInt8? { payload.count >= 4 ? payload[payload.startIndex] : nil }
  public var attributes: NetlinkAttributes { NetlinkAttributes(payload.dropFirst(4)) }

  /// Splits a buffer of concatenated netlink messages; stops at the first truncated one.
  public static func split(_ buffer: ArraySlice<UInt8>) -> [NetlinkReply] {
    var result: [NetlinkReply] = []
    var offset = buffer.startIndex
    while buffer.endIndex - offset >= 16 {
      let length = Int(readLE(buffer, at: offset, as: UInt32.self))
      guard length >= 16, offset + length <= buffer.endIndex else { break }
      result.append(
        NetlinkReply(
          type: readLE(buffer, at: offset + 4, as: UInt16.self),
          flags: readLE(buffer, at: offset + 6, as: UInt16.self),
          sequence: readLE(buffer, at: offset + 8, as: UInt32.self),
          payload: buffer[(offset + 16)..<(offset + length)]))
      offset += (length + 3) & ~3
    }
    return result
  }
}

/// Reads a little-endian (host order) integer at `index`; the bytes must be there.
public func readLE<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, at index: Int, as: T.Type) -> T {
  var value: T = 0
  for i in 0..<(T.bitWidth / 8) { value |= T(bytes[index + i]) << (8 * i) }
  return value
}

/// The attributes of one level of a netlink message, by type (NLA_F_* bits stripped).
///
/// Lookups scan the level's bytes: a level holds at most ~20 attributes, and scanning allocates
/// nothing, where building a dictionary per level cost an allocation and hashing for every
/// destination of a dump (two levels each). As with a dictionary, the last attribute of a type wins.
public struct NetlinkAttributes: Sendable {
  public let bytes: ArraySlice<UInt8>

  public init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

  public subscript(type: UInt16) -> ArraySlice<UInt8>? {
    var found: ArraySlice<UInt8>?
    forEachAttribute { if $0 == type { found = $1 } }
    return found
  }

  /// Calls `body` with each attribute of this level, in order.
  public func forEachAttribute(_ body: (UInt16, ArraySlice<UInt8>) -> Void) {
    var offset = bytes.startIndex
    while bytes.endIndex - offset >= 4 {
      let length = Int(readLE(bytes, at: offset, as: UInt16.self))
      let type = readLE(bytes, at: offset + 2, as: UInt16.self) & 0x3fff
      guard length >= 4, offset + length <= bytes.endIndex else { break }
      body(type, bytes[(offset + 4)..<(offset + length)])
      offset += (length + 3) & ~3
    }
  }

  public func u8(_ type: UInt16) -> UInt8? { self[type].flatMap { $0.count >= 1 ? $0.first : nil } }
  public func u16(_ type: UInt16) -> UInt16? { int(type) }
  public func u32(_ type: UInt16) -> UInt32? { int(type) }
  public func u64(_ type: UInt16) -> UInt64? { int(type) }
  public func be16(_ type: UInt16) -> UInt16? { u16(type).map { $0.byteSwapped } }
  public func nested(_ type: UInt16) -> NetlinkAttributes? { self[type].map { NetlinkAttributes($0) } }

  public func string(_ type: UInt16) -> String? {
    guard let raw = self[type] else { return nil }
    return String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
  }

  private func int<T: FixedWidthInteger>(_ type: UInt16) -> T? {
    guard let raw = self[type] else { return nil }
    return Self.integer(raw)
  }

  /// A little-endian (host order) integer payload; nil when too short.
  public static func integer<T: FixedWidthInteger>(_ raw: ArraySlice<UInt8>) -> T? {
    guard raw.count >= T.bitWidth / 8 else { return nil }
    return readLE(raw, at: raw.startIndex, as: T.self)
  }
}
