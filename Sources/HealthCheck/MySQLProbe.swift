import NIOCore
import NIOPosix

/// MYSQL_CHECK: greeting, then (with a user) login and COM_QUIT, all within `connectTimeout`.
/// A login that completes and quits never counts as an aborted connect on the server.
struct MySQLProbe: Probe {
  let check: MySQLCheck

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    let user = check.user
    let password = check.password
    let key = check.serverPublicKey
    let database = check.database
    return ProbeSocket.exchange(on: loop, target: check.target, timeout: check.connectTimeout) {
      pipeline, promise in
      try pipeline.addHandler(
        MySQLLoginHandler(
          user: user, password: password, serverPublicKey: key, database: database, promise: promise))
    }.recover { .down(reason: ProbeSocket.reason($0)) }
  }
}

/// Speaks the client side of the MySQL handshake far enough to judge the server.
final class MySQLLoginHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private enum Phase { case greeting, authenticating, awaitingPublicKey, quitting, done }

  private let user: String?
  private let password: String
  private let serverPublicKey: MySQLServerPublicKey?
  private let database: String?
  private let promise: EventLoopPromise<ProbeOutcome>
  private var phase = Phase.greeting
  private var buffer = ByteBuffer()
  private var greeting: MySQLProtocol.Greeting?
  private var plugin = "mysql_native_password"
  /// The RSA-encrypted password went out; a second full-authentication request is a server fault.
  private var sentEncryptedPassword = false

  init(
    user: String?, password: String, serverPublicKey: MySQLServerPublicKey? = nil, database: String? = nil,
    promise: EventLoopPromise<ProbeOutcome>
  ) {
    self.user = user
    self.password = password
    self.serverPublicKey = serverPublicKey
    self.database = database
    self.promise = promise
  }

  private func finish(_ outcome: ProbeOutcome) {
    guard phase != .done else { return }
    phase = .done
    promise.succeed(outcome)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var incoming = unwrapInboundIn(data)
    buffer.writeBuffer(&incoming)
    while phase != .done, phase != .quitting, buffer.readableBytes >= 4 {
      guard let header = buffer.getBytes(at: buffer.readerIndex, length: 4) else { return }
      let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16
      guard buffer.readableBytes >= 4 + length else { return }
      buffer.moveReaderIndex(forwardBy: 4)
      let payload = buffer.readBytes(length: length) ?? []
      handle(packet: payload, sequence: header[3], context: context)
    }
  }

  private func send(_ payload: [UInt8], sequence: UInt8, context: ChannelHandlerContext) -> EventLoopFuture<
    Void
  > {
    var out = context.channel.allocator.buffer(capacity: payload.count + 4)
    out.writeBytes([
      UInt8(payload.count & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count >> 16), sequence,
    ])
    out.writeBytes(payload)
    return context.writeAndFlush(wrapOutboundOut(out))
  }

  private func handle(packet p: [UInt8], sequence: UInt8, context: ChannelHandlerContext) {
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
      guard let user else {
        // No credentials: the greeting alone proves mysqld is serving. See docs/healthcheck.md
        // for what this does to Aborted_connects.
        return finish(.up(weight: nil))
      }
      plugin =
        MySQLProtocol.scramble(password: "", nonce: [], plugin: parsed.authPlugin) == nil
        ? "mysql_native_password" : parsed.authPlugin
      phase = .authenticating
      let login = MySQLProtocol.loginPacket(
        user: user, password: password, database: database, greeting: parsed, plugin: plugin)
      let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
      send(login, sequence: sequence &+ 1, context: context).whenFailure { bound.value.fail($0) }
    case .authenticating:
      switch p.first {
      case 0x00:
        phase = .quitting
        // COM_QUIT: the server closes without counting an aborted connection.
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        send([0x01], sequence: 0, context: context).whenComplete { _ in bound.value.finish(.up(weight: nil)) }
      case 0xfe:
        var r = MySQLProtocol.Reader(Array(p.dropFirst()))
        let name = r.restAsNulStringKeepingIndex()
        let nonce = Array(r.bytes[r.index...].prefix(20))
        guard let answer = MySQLProtocol.scramble(password: password, nonce: nonce, plugin: name) else {
          return finish(.down(reason: "server asked for unsupported auth plugin \(name)"))
        }
        plugin = name
        if let g = greeting {
          greeting = .init(
            serverVersion: g.serverVersion, connectionID: g.connectionID, scramble: nonce,
            capabilities: g.capabilities, authPlugin: name)
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        send(answer, sequence: sequence &+ 1, context: context).whenFailure { bound.value.fail($0) }
      case 0x01 where p.count >= 2 && plugin == "caching_sha2_password":
        if p[1] == 0x03 { return }  // fast auth succeeded; OK follows
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
        if let serverPublicKey {
          return sendEncryptedPassword(with: serverPublicKey, sequence: sequence &+ 1, context: context)
        }
        phase = .awaitingPublicKey
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        send([0x02], sequence: sequence &+ 1, context: context).whenFailure { bound.value.fail($0) }
      default:
        finish(.down(reason: "unexpected packet 0x\(String(p.first ?? 0, radix: 16)) during login"))
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
      sendEncryptedPassword(with: key, sequence: sequence &+ 1, context: context)
    case .quitting, .done:
      return
    }
  }

  private func sendEncryptedPassword(
    with key: MySQLServerPublicKey, sequence: UInt8, context: ChannelHandlerContext
  ) {
    let blob: [UInt8]
    do {
      blob = try key.encryptPassword(password, scramble: greeting?.scramble ?? [])
    } catch {
      return finish(.down(reason: "caching_sha2_password full authentication: \(error)"))
    }
    sentEncryptedPassword = true
    let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
    send(blob, sequence: sequence, context: context).whenFailure { bound.value.fail($0) }
  }

  private func fail(_ error: any Error) {
    guard phase != .done else { return }
    phase = .done
    promise.fail(error)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    fail(error)
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    switch phase {
    case .greeting: fail(ProbeError.closedEarly("before the greeting"))
    case .authenticating: fail(ProbeError.closedEarly("during login"))
    case .awaitingPublicKey: fail(ProbeError.closedEarly("while waiting for the server's RSA public key"))
    case .quitting, .done: break
    }
    context.fireChannelInactive()
  }
}

extension MySQLProtocol.Reader {
  /// Reads a NUL-terminated string and leaves the cursor after the NUL.
  mutating func restAsNulStringKeepingIndex() -> String {
    let end = bytes[index...].firstIndex(of: 0) ?? bytes.count
    defer { index = min(bytes.count, end + 1) }
    return String(decoding: bytes[index..<end], as: UTF8.self)
  }
}
