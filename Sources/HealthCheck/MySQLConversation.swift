/// MYSQL_CHECK's exchange as a `ProbeConversation`: the server greeting; with a user, the login
/// (mysql_native_password, caching_sha2_password fast and full authentication, auth switch), the
/// optional database, and COM_QUIT after the OK, so a successful check never counts as an
/// aborted connect on the server.
///
/// Invariants: a packet is judged only when complete, whatever the byte split; a server announcing
/// a packet larger than `maxPacket` is refused from its 4-byte header, so at most
/// `maxPacket + 4` bytes plus one received chunk are ever held; after `.finished` nothing else is
/// returned.
struct MySQLConversation: ProbeConversation {
  /// The largest payload read. A greeting is under 128 bytes, an ERR packet under 600, and the
  /// largest thing a login receives, the server's PEM public key, is under 1 KB for 4096 bits.
  static let maxPacket = 16 << 10

  private enum Phase { case greeting, authenticating, awaitingPublicKey, done }

  private let check: MySQLCheck
  private var phase = Phase.greeting
  /// Header and payload bytes of the packet being read (and any that follow it).
  private var buffer: [UInt8] = []
  private var greeting: MySQLProtocol.Greeting?
  private var plugin = "mysql_native_password"
  /// The RSA-encrypted password went out; a second full-authentication request is a server fault.
  private var sentEncryptedPassword = false

  init(check: MySQLCheck) {
    self.check = check
  }

  mutating func connected(output: inout [UInt8]) -> ConversationStep { .proceed }

  mutating func received(_ bytes: UnsafeRawBufferPointer, output: inout [UInt8]) -> ConversationStep {
    guard phase != .done else { return .proceed }
    buffer.append(contentsOf: bytes)
    var consumed = 0
    defer {
      if phase == .done {
        buffer = []
      } else if consumed > 0 {
        buffer.removeFirst(consumed)
      }
    }
    while buffer.count - consumed >= 4 {
      let length =
        Int(buffer[consumed]) | Int(buffer[consumed + 1]) << 8 | Int(buffer[consumed + 2]) << 16
      guard length <= Self.maxPacket else {
        return finish(
          .down(reason: "server announced a packet of \(length) bytes (limit \(Self.maxPacket))"))
      }
      guard buffer.count - consumed >= 4 + length else { break }
      let sequence = buffer[consumed + 3]
      let payload = Array(buffer[(consumed + 4)..<(consumed + 4 + length)])
      consumed += 4 + length
      if case .finished(let outcome) = handle(packet: payload, sequence: sequence, output: &output) {
        return .finished(outcome)
      }
    }
    return .proceed
  }

  mutating func closed() -> ProbeOutcome {
    let what: String
    switch phase {
    case .greeting: what = "before the greeting"
    case .authenticating: what = "during login"
    case .awaitingPublicKey: what = "while waiting for the server's RSA public key"
    case .done: what = "after the verdict"
    }
    phase = .done
    return .down(reason: ProbeError.closedEarly(what).description)
  }

  private mutating func finish(_ outcome: ProbeOutcome) -> ConversationStep {
    phase = .done
    return .finished(outcome)
  }

  private static func append(_ payload: [UInt8], sequence: UInt8, to output: inout [UInt8]) {
    output += [
      UInt8(payload.count & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count >> 16 & 0xff),
      sequence,
    ]
    output += payload
  }

  private mutating func handle(packet p: [UInt8], sequence: UInt8, output: inout [UInt8]) -> ConversationStep
  {
    if p.first == 0xff {
      return finish(.down(reason: MySQLProtocol.describeError(p)))
    }
    switch phase {
    case .greeting:
      let parsed: MySQLProtocol.Greeting
      do {
        parsed = try MySQLProtocol.parseGreeting(p)
      } catch {
        return finish(.down(reason: "bad greeting: \(error)"))
      }
      greeting = parsed
      guard let user = check.user else {
        // No credentials: the greeting alone proves mysqld is serving. See docs/healthcheck.md
        // for what this does to Aborted_connects.
        return finish(.up(weight: nil))
      }
      plugin =
        MySQLProtocol.scramble(password: "", nonce: [], plugin: parsed.authPlugin) == nil
        ? "mysql_native_password" : parsed.authPlugin
      phase = .authenticating
      let login = MySQLProtocol.loginPacket(
        user: user, password: check.password, database: check.database, greeting: parsed, plugin: plugin)
      Self.append(login, sequence: sequence &+ 1, to: &output)
      return .proceed
    case .authenticating:
      switch p.first {
      case 0x00:
        // COM_QUIT (a new command, sequence 0): the server closes without counting an aborted
        // connection. The engine writes it before closing.
        Self.append([0x01], sequence: 0, to: &output)
        return finish(.up(weight: nil))
      case 0xfe:
        var r = MySQLProtocol.Reader(Array(p.dropFirst()))
        let name = r.restAsNulStringKeepingIndex()
        let nonce = Array(r.bytes[r.index...].prefix(20))
        guard let answer = MySQLProtocol.scramble(password: check.password, nonce: nonce, plugin: name) else {
          return finish(.down(reason: "server asked for unsupported auth plugin \(name)"))
        }
        plugin = name
        greeting?.scramble = nonce
        greeting?.authPlugin = name
        Self.append(answer, sequence: sequence &+ 1, to: &output)
        return .proceed
      case 0x01 where p.count >= 2 && plugin == "caching_sha2_password":
        if p[1] == 0x03 { return .proceed }  // fast auth succeeded; OK follows
        guard p[1] == 0x04 else {
          return finish(.down(reason: "unexpected caching_sha2_password state \(p[1])"))
        }
        // Full authentication: the password is not in the server's cache (e.g. first login
        // after a restart). Over plain TCP libmysqlclient RSA-encrypts it with the configured
        // key (--server-public-key-path) or asks the server for its key with a single 0x02
        // (--get-server-public-key), which trusts whoever answers on the network.
        guard !sentEncryptedPassword else {
          return finish(.down(reason: "server asked for caching_sha2_password full authentication twice"))
        }
        if let key = check.serverPublicKey {
          return sendEncryptedPassword(with: key, sequence: sequence &+ 1, output: &output)
        }
        phase = .awaitingPublicKey
        Self.append([0x02], sequence: sequence &+ 1, to: &output)
        return .proceed
      default:
        return finish(.down(reason: "unexpected packet 0x\(String(p.first ?? 0, radix: 16)) during login"))
      }
    case .awaitingPublicKey:
      // AuthMoreData: 0x01 then the PEM text (MySQL sends SPKI "BEGIN PUBLIC KEY").
      guard p.first == 0x01 else {
        return finish(
          .down(
            reason: "expected the server's RSA public key, got packet 0x\(String(p.first ?? 0, radix: 16))"))
      }
      let key: MySQLServerPublicKey
      do {
        key = try MySQLServerPublicKey(pem: String(decoding: p.dropFirst(), as: UTF8.self))
      } catch {
        return finish(.down(reason: "server sent an unusable RSA public key: \(error)"))
      }
      phase = .authenticating
      return sendEncryptedPassword(with: key, sequence: sequence &+ 1, output: &output)
    case .done:
      return .proceed
    }
  }

  private mutating func sendEncryptedPassword(
    with key: MySQLServerPublicKey, sequence: UInt8, output: inout [UInt8]
  ) -> ConversationStep {
    let blob: [UInt8]
    do {
      blob = try key.encryptPassword(check.password, scramble: greeting?.scramble ?? [])
    } catch {
      return finish(.down(reason: "caching_sha2_password full authentication: \(error)"))
    }
    sentEncryptedPassword = true
    Self.append(blob, sequence: sequence, to: &output)
    return .proceed
  }
}

/// MYSQL_CHECK's probes are one connection each, run on the check engine.
extension MySQLCheck: ConversationTemplate {
  var legs: Int { 1 }
  func conversation(leg: Int) -> any ProbeConversation { MySQLConversation(check: self) }
  /// A login is a few packets of at most `MySQLConversation.maxPacket` bytes; past 64 KiB the
  /// server is not speaking MySQL to us.
  var maxBytesPerLeg: Int { 64 << 10 }
}

extension MySQLProtocol.Reader {
  /// Reads a NUL-terminated string and leaves the cursor after the NUL.
  mutating func restAsNulStringKeepingIndex() -> String {
    let end = bytes[index...].firstIndex(of: 0) ?? bytes.count
    defer { index = min(bytes.count, end + 1) }
    return String(decoding: bytes[index..<end], as: UTF8.self)
  }
}
