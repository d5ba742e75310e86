/// ICMP echo packets as PING_CHECK sends and matches them.
///
/// A request is the 8-byte echo header and keepalived's 128-byte payload (check_ping.c:
/// `ICMP_BUFSIZE`, filled with "keepalived check - "), except that its first 12 bytes carry the
/// engine's probe token and serial, so a reply names the probe it answers whatever identifier
/// the kernel put in (ping sockets choose it themselves).
enum ICMPEcho {
  static let headerLength = 8
  static let payloadLength = 128
  static let requestLength = headerLength + payloadLength
  private static let filler = Array("keepalived check - ".utf8)

  /// The probe a reply answers.
  struct Reply: Equatable {
    var identifier: UInt16
    var sequence: UInt16
    var token: UInt64
    var serial: UInt32
  }

  /// Writes an echo request into `buffer[0..<requestLength]`. The checksum is filled in only when
  /// `checksum` is set (raw IPv4); ping sockets and ICMPv6 raw sockets have the kernel compute it.
  static func request(
    into buffer: inout [UInt8], v6: Bool, identifier: UInt16, sequence: UInt16, token: UInt64,
    serial: UInt32, checksum: Bool
  ) {
    buffer[0] = v6 ? 128 : 8
    buffer[1] = 0
    buffer[2] = 0
    buffer[3] = 0
    put16(&buffer, 4, identifier)
    put16(&buffer, 6, sequence)
    for i in 0..<8 { buffer[8 + i] = UInt8(truncatingIfNeeded: token >> (56 - 8 * UInt64(i))) }
    for i in 0..<4 { buffer[16 + i] = UInt8(truncatingIfNeeded: serial >> (24 - 8 * UInt32(i))) }
    for i in 20..<requestLength { buffer[i] = filler[(i - 20) % filler.count] }
    if checksum { put16(&buffer, 2, internetChecksum(buffer, count: requestLength)) }
  }

  /// The echo reply in `bytes`, or nil for anything else (another type, short, not ours).
  /// `ipHeader`: raw IPv4 sockets deliver the IP header first.
  static func reply(_ bytes: UnsafeRawBufferPointer, v6: Bool, ipHeader: Bool) -> Reply? {
    var offset = 0
    if ipHeader {
      guard bytes.count >= 20 else { return nil }
      offset = Int(bytes[0] & 0x0f) * 4
    }
    guard bytes.count >= offset + 20, bytes[offset] == (v6 ? 129 : 0), bytes[offset + 1] == 0 else {
      return nil
    }
    var token: UInt64 = 0
    for i in 0..<8 { token = token << 8 | UInt64(bytes[offset + 8 + i]) }
    var serial: UInt32 = 0
    for i in 0..<4 { serial = serial << 8 | UInt32(bytes[offset + 16 + i]) }
    return Reply(
      identifier: get16(bytes, offset + 4), sequence: get16(bytes, offset + 6), token: token, serial: serial)
  }

  /// RFC 1071's ones' complement sum, as it goes on the wire (big-endian).
  static func internetChecksum(_ buffer: [UInt8], count: Int) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i + 1 < count {
      sum += UInt32(buffer[i]) << 8 | UInt32(buffer[i + 1])
      i += 2
    }
    if i < count { sum += UInt32(buffer[i]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(truncatingIfNeeded: sum)
  }
}

/// UDP_CHECK's reply rule (keepalived check_udp.c): with `require_reply`, the reply's length must
/// lie in [min, max] and its first bytes match the configured ones, nibbles masked by `X` ignored.
struct UDPReplyRule: Hashable, Sendable {
  var data: [UInt8]
  /// 0x0f/0xf0/0xff where a nibble is a wildcard; empty when none is.
  var mask: [UInt8]
  var minLength: Int
  var maxLength: Int

  /// Nil when the reply passes, else why not. Only min(length, data.count) bytes are compared,
  /// as keepalived does.
  func failure(_ reply: UnsafeRawBufferPointer, length: Int) -> String? {
    if length < minLength || length > maxLength {
      return "reply of \(length) bytes is outside \(minLength)...\(maxLength)"
    }
    for i in 0..<min(length, data.count, reply.count) {
      let ignore = i < mask.count ? mask[i] : 0
      if (reply[i] ^ data[i]) & ~ignore != 0 { return "reply data differs from require_reply at byte \(i)" }
    }
    return nil
  }
}

/// DNS_CHECK's query and the judgement of an answer.
///
/// The query is keepalived's (check_dns.c: one question, RD set, class IN). An answer counts only
/// when its id and question are the query's and QR is set (anything else is ignored, as keepalived
/// ignores a foreign id); it is up when RCODE is 0 and the answer section holds a record of the
/// type asked (keepalived stops at RCODE; an empty NOERROR answer, NODATA, is down here).
enum DNSMessage {
  static let maxMessage = 768

  /// The query for `name` and `type` with id 0 (the engine writes each probe's id), or nil when
  /// the name has an empty label or one longer than 63 bytes or is longer than 255 bytes.
  static func query(name: String, type: UInt16) -> [UInt8]? {
    var message: [UInt8] = [0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
    guard let encoded = encodeName(name) else { return nil }
    message += encoded
    message += [UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
    return message
  }

  /// `name` as wire labels ending in the root label; "" and "." are the root.
  static func encodeName(_ name: String) -> [UInt8]? {
    var labels = name.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
    if labels.last?.isEmpty == true { labels.removeLast() }
    if labels.count == 1 && labels[0].isEmpty { labels = [] }
    var out: [UInt8] = []
    for label in labels {
      guard (1...63).contains(label.count) else { return nil }
      out.append(UInt8(label.count))
      out += label
    }
    out.append(0)
    return out.count <= 255 ? out : nil
  }

  /// What an answer means for the probe.
  enum Judgement: Equatable {
    /// Not the answer to this query (short, another id, not a response, another question).
    case ignore
    case outcome(ProbeOutcome)
  }

  /// Judges `reply` against `query` as sent with id `id`.
  static func judge(_ reply: UnsafeRawBufferPointer, query: UnsafeRawBufferPointer, id: UInt16) -> Judgement {
    guard reply.count >= 12, query.count >= 12, get16(reply, 0) == id, reply[2] & 0x80 != 0
    else { return .ignore }
    let rcode = Int(reply[3] & 0x0f)
    let questionLength = query.count - 12
    let qdcount = Int(get16(reply, 4))
    if qdcount > 0 {
      guard qdcount == 1, reply.count >= 12 + questionLength else { return .ignore }
      for i in 0..<questionLength where fold(reply[12 + i]) != fold(query[12 + i]) {
        return .ignore
      }
    }
    if rcode != 0 {
      return .outcome(.down(reason: "DNS answer rcode \(rcode) (\(rcodeName(rcode)))"))
    }
    guard qdcount == 1 else { return .outcome(.down(reason: "DNS answer without the question")) }
    let type = get16(query, query.count - 4)
    var offset = 12 + questionLength
    for _ in 0..<Int(get16(reply, 6)) {
      guard let afterName = skipName(reply, offset), afterName + 10 <= reply.count else {
        return .outcome(.down(reason: "DNS answer is malformed"))
      }
      let rrType = get16(reply, afterName)
      let length = Int(get16(reply, afterName + 8))
      if rrType == type { return .outcome(.up(weight: nil)) }
      offset = afterName + 10 + length
    }
    return .outcome(.down(reason: "DNS answer has no \(typeName(type)) record"))
  }

  static let types: [(name: String, code: UInt16)] = [
    ("A", 1), ("NS", 2), ("CNAME", 5), ("SOA", 6), ("MX", 15), ("TXT", 16), ("AAAA", 28),
  ]

  static func typeName(_ code: UInt16) -> String { types.first { $0.code == code }?.name ?? "type \(code)" }

  private static func rcodeName(_ rcode: Int) -> String {
    switch rcode {
    case 1: "FORMERR"
    case 2: "SERVFAIL"
    case 3: "NXDOMAIN"
    case 4: "NOTIMP"
    case 5: "REFUSED"
    default: "error"
    }
  }

  /// The offset after the (possibly compressed) name at `offset`, or nil if it runs off the end.
  private static func skipName(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int? {
    var offset = start
    while offset < bytes.count {
      let length = Int(bytes[offset])
      if length == 0 { return offset + 1 }
      if length & 0xc0 == 0xc0 { return offset + 2 <= bytes.count ? offset + 2 : nil }
      guard length & 0xc0 == 0 else { return nil }
      offset += 1 + length
    }
    return nil
  }

  private static func fold(_ byte: UInt8) -> UInt8 { (0x41...0x5a).contains(byte) ? byte | 0x20 : byte }
}

private func put16(_ buffer: inout [UInt8], _ offset: Int, _ value: UInt16) {
  buffer[offset] = UInt8(value >> 8)
  buffer[offset + 1] = UInt8(value & 0xff)
}

private func get16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
  UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}
