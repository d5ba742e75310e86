import Crypto

/// The pieces of the MySQL client/server protocol a health check needs, as pure functions:
/// the greeting, the login packet, auth scrambles, and ERR packets.
enum MySQLProtocol {
  static let clientLongPassword: UInt32 = 0x1
  static let clientLongFlag: UInt32 = 0x4
  static let clientConnectWithDB: UInt32 = 0x8
  static let clientProtocol41: UInt32 = 0x200
  static let clientTransactions: UInt32 = 0x2000
  static let clientSecureConnection: UInt32 = 0x8000
  static let clientPluginAuth: UInt32 = 0x80000

  /// The server's initial handshake packet (protocol 10).
  struct Greeting: Equatable {
    var serverVersion: String
    var connectionID: UInt32
    var scramble: [UInt8]
    var capabilities: UInt32
    var authPlugin: String
  }

  enum DecodeError: Error, Equatable, CustomStringConvertible {
    case truncated(String)
    case unsupportedProtocol(UInt8)

    var description: String {
      switch self {
      case .truncated(let what): return "truncated \(what)"
      case .unsupportedProtocol(let v): return "unsupported handshake protocol \(v)"
      }
    }
  }

  /// Parses a greeting payload (without the 4-byte packet header).
  static func parseGreeting(_ p: [UInt8]) throws -> Greeting {
    var r = Reader(p)
    let proto = try r.byte("protocol version")
    guard proto == 10 else { throw DecodeError.unsupportedProtocol(proto) }
    let version = try r.nulString("server version")
    let connectionID = try r.uint32("connection id")
    var scramble = try r.bytes(8, "auth data 1")
    _ = try r.byte("filler")
    var caps = UInt32(try r.uint16("capabilities"))
    var plugin = "mysql_native_password"
    if r.remaining > 0 {
      _ = try r.byte("charset")
      _ = try r.uint16("status")
      caps |= UInt32(try r.uint16("capabilities 2")) << 16
      let authLength = Int(try r.byte("auth data length"))
      _ = try r.bytes(10, "reserved")
      if caps & clientSecureConnection != 0 {
        let part2 = max(13, authLength - 8)
        let rest = try r.bytes(part2, "auth data 2")
        // The last byte of part 2 is a NUL terminator, not scramble.
        scramble += rest.prefix(part2 - 1)
      }
      if caps & clientPluginAuth != 0, r.remaining > 0 {
        plugin = r.restAsNulString()
      }
    }
    return Greeting(
      serverVersion: version, connectionID: connectionID, scramble: scramble, capabilities: caps,
      authPlugin: plugin)
  }

  /// An ERR packet payload (first byte 0xFF) as "ERR code: message".
  static func describeError(_ p: [UInt8]) -> String {
    guard p.count >= 3 else { return "ERR packet" }
    let code = UInt16(p[1]) | UInt16(p[2]) << 8
    var text = Array(p.dropFirst(3))
    if text.first == UInt8(ascii: "#"), text.count >= 6 { text.removeFirst(6) }
    return "ERR \(code): \(String(decoding: text, as: UTF8.self))"
  }

  /// HandshakeResponse41 for `user`, answering with `plugin`'s scramble of `password`, and asking
  /// for `database` when given.
  static func loginPacket(
    user: String, password: String, database: String? = nil, greeting: Greeting, plugin: String
  ) -> [UInt8] {
    let wanted =
      clientLongPassword | clientLongFlag | clientProtocol41 | clientTransactions | clientSecureConnection
      | clientPluginAuth | (database == nil ? 0 : clientConnectWithDB)
    let caps = wanted & (greeting.capabilities | clientProtocol41)
    var out: [UInt8] = []
    out += le32(caps)
    out += le32(16 << 20)
    out.append(33)  // utf8_general_ci
    out += [UInt8](repeating: 0, count: 23)
    out += Array(user.utf8) + [0]
    let auth = scramble(password: password, nonce: greeting.scramble, plugin: plugin) ?? []
    out.append(UInt8(auth.count))
    out += auth
    if let database, caps & clientConnectWithDB != 0 { out += Array(database.utf8) + [0] }
    if caps & clientPluginAuth != 0 { out += Array(plugin.utf8) + [0] }
    return out
  }

  /// The auth response for a plugin, or nil for a plugin this client cannot speak.
  static func scramble(password: String, nonce: [UInt8], plugin: String) -> [UInt8]? {
    switch plugin {
    case "mysql_native_password": return nativePassword(password, nonce: nonce)
    case "caching_sha2_password": return cachingSHA2(password, nonce: nonce)
    default: return nil
    }
  }

  /// SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))); empty for an empty password.
  static func nativePassword(_ password: String, nonce: [UInt8]) -> [UInt8] {
    guard !password.isEmpty else { return [] }
    let stage1 = Array(Insecure.SHA1.hash(data: Array(password.utf8)))
    let stage2 = Array(Insecure.SHA1.hash(data: stage1))
    let mix = Array(Insecure.SHA1.hash(data: Array(nonce.prefix(20)) + stage2))
    return zip(stage1, mix).map { $0 ^ $1 }
  }

  /// SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce); empty for an empty password.
  static func cachingSHA2(_ password: String, nonce: [UInt8]) -> [UInt8] {
    guard !password.isEmpty else { return [] }
    let m1 = Array(SHA256.hash(data: Array(password.utf8)))
    let m2 = Array(SHA256.hash(data: m1))
    let m3 = Array(SHA256.hash(data: m2 + Array(nonce.prefix(20))))
    return zip(m1, m3).map { $0 ^ $1 }
  }

  /// caching_sha2_password full authentication over plain TCP, before RSA: the password with its
  /// NUL terminator, XORed with the 20-byte scramble repeated (libmysqlclient's `xor_string`,
  /// whose loop runs to and including `to_len`, so the NUL is XORed too).
  static func fullAuthPlaintext(password: String, scramble: [UInt8]) -> [UInt8] {
    let nonce = Array(scramble.prefix(20))
    let plain = Array(password.utf8) + [0]
    guard !nonce.isEmpty else { return plain }
    return plain.enumerated().map { $0.element ^ nonce[$0.offset % nonce.count] }
  }

  static func le32(_ v: UInt32) -> [UInt8] {
    [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24 & 0xff)]
  }

  /// A bounds-checked cursor over a payload.
  struct Reader {
    let bytes: [UInt8]
    var index = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var remaining: Int { bytes.count - index }

    mutating func byte(_ what: String) throws -> UInt8 {
      guard remaining >= 1 else { throw DecodeError.truncated(what) }
      defer { index += 1 }
      return bytes[index]
    }
    mutating func bytes(_ n: Int, _ what: String) throws -> [UInt8] {
      guard remaining >= n else { throw DecodeError.truncated(what) }
      defer { index += n }
      return Array(bytes[index..<index + n])
    }
    mutating func uint16(_ what: String) throws -> UInt16 {
      let b = try bytes(2, what)
      return UInt16(b[0]) | UInt16(b[1]) << 8
    }
    mutating func uint32(_ what: String) throws -> UInt32 {
      let b = try bytes(4, what)
      return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
    mutating func nulString(_ what: String) throws -> String {
      guard let end = bytes[index...].firstIndex(of: 0) else { throw DecodeError.truncated(what) }
      defer { index = end + 1 }
      return String(decoding: bytes[index..<end], as: UTF8.self)
    }
    mutating func restAsNulString() -> String {
      let end = bytes[index...].firstIndex(of: 0) ?? bytes.count
      defer { index = bytes.count }
      return String(decoding: bytes[index..<end], as: UTF8.self)
    }
  }
}
