import NIOCore
import NIOPosix
import Synchronization
import XCTest

@testable import HealthCheck

/// A MySQL server double speaking only the login exchange, for what MariaDB 10.11 cannot do:
/// caching_sha2_password (MySQL 8's default) with fast auth, full auth and auth switch.
final class FakeMySQLServer: Sendable {
  enum Mode: Sendable {
    /// Greets with caching_sha2_password; correct scramble gets fast-auth (0x01 0x03) then OK.
    case cachingSHA2Fast
    /// caching_sha2_password with a cold cache, as after a MySQL 8 restart: answers 0x01 0x04 and
    /// performs real full authentication over plain TCP (see `FullAuth`).
    case cachingSHA2Full(FullAuth)
    /// Greets with mysql_native_password, then sends an auth switch to caching_sha2_password.
    case switchToCachingSHA2
    /// Greets with mysql_native_password and checks that scramble.
    case native
  }

  /// How the server plays full authentication. It answers a public-key request (a single 0x02)
  /// with AuthMoreData 0x01 + `servedPEM`, decrypts the client's RSA-OAEP blob with `keys`'
  /// private key through `openssl pkeyutl`, XORs it with the scramble and compares the result to
  /// the password + NUL: OK on a match, ERR 1045 otherwise (what MySQL 8's sha2_password.cc does).
  struct FullAuth: Sendable {
    var keys: RSATestKeys
    var servedPEM: String
    /// Greet with mysql_native_password and switch to caching_sha2_password (new nonce) first.
    var switchFirst = false
    /// Close the connection on the public-key request instead of answering it.
    var closeOnKeyRequest = false
  }

  struct Seen: Sendable {
    var user: String?
    var loginPlugin: String?
    var quits = 0
    var badPasswords = 0
    var publicKeyRequests = 0
    /// Every RSA blob the client sent, and what openssl decrypted it to (before the XOR).
    var encryptedPasswords: [[UInt8]] = []
    var decryptedPasswords: [String] = []
    /// Client packets whose sequence number was not the last server packet's + 1 (MySQL answers
    /// those with "Got packets out of order").
    var outOfOrder = 0
  }

  let channel: any Channel
  let seen = Mutex(Seen())
  var port: UInt16 { UInt16(channel.localAddress?.port ?? 0) }
  static let nonce: [UInt8] = Array(1...20)
  static let switchNonce: [UInt8] = Array(41...60)

  init(mode: Mode, password: String, group: any EventLoopGroup) throws {
    let box = SeenBox()
    channel = try ServerBootstrap(group: group)
      .childChannelInitializer { child in
        child.eventLoop.makeCompletedFuture {
          try child.pipeline.syncOperations.addHandler(
            FakeMySQLHandler(mode: mode, password: password, record: box.record))
        }
      }
      .bind(host: "127.0.0.1", port: 0).wait()
    box.owner = self
  }

  func close() { try? channel.close().wait() }

  static func packet(_ payload: [UInt8], seq: UInt8) -> [UInt8] {
    [UInt8(payload.count & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count >> 16), seq] + payload
  }

  static func greeting(plugin: String) -> [UInt8] {
    var p: [UInt8] = [10] + Array("8.0.36-fake".utf8) + [0]
    p += [7, 0, 0, 0] + nonce.prefix(8) + [0]
    let caps: UInt32 = 0x000F_F7FF | 0x0008_0000
    p += [UInt8(caps & 0xff), UInt8(caps >> 8 & 0xff), 33, 2, 0, UInt8(caps >> 16 & 0xff), UInt8(caps >> 24)]
    p += [21] + [UInt8](repeating: 0, count: 10)
    p += nonce.suffix(12) + [0]
    p += Array(plugin.utf8) + [0]
    return p
  }
}

/// Lets the handler report into the server after both exist.
private final class SeenBox: @unchecked Sendable {
  weak var owner: FakeMySQLServer?
  var record: @Sendable ((inout FakeMySQLServer.Seen) -> Void) -> Void {
    { [weak self] change in self?.owner?.seen.withLock { change(&$0) } }
  }
}

private final class FakeMySQLHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  let mode: FakeMySQLServer.Mode
  let password: String
  let record: @Sendable ((inout FakeMySQLServer.Seen) -> Void) -> Void
  var buffer = ByteBuffer()
  var step = 0
  var lastSentSeq: UInt8 = 0

  init(
    mode: FakeMySQLServer.Mode, password: String,
    record: @escaping @Sendable ((inout FakeMySQLServer.Seen) -> Void) -> Void
  ) {
    self.mode = mode
    self.password = password
    self.record = record
  }

  func send(_ context: ChannelHandlerContext, _ payload: [UInt8], seq: UInt8) {
    var out = context.channel.allocator.buffer(capacity: payload.count + 4)
    out.writeBytes(FakeMySQLServer.packet(payload, seq: seq))
    lastSentSeq = seq
    context.writeAndFlush(wrapOutboundOut(out), promise: nil)
  }

  func channelActive(context: ChannelHandlerContext) {
    let plugin: String
    switch mode {
    case .cachingSHA2Fast: plugin = "caching_sha2_password"
    case .cachingSHA2Full(let full):
      plugin = full.switchFirst ? "mysql_native_password" : "caching_sha2_password"
    case .switchToCachingSHA2, .native: plugin = "mysql_native_password"
    }
    send(context, FakeMySQLServer.greeting(plugin: plugin), seq: 0)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var incoming = unwrapInboundIn(data)
    buffer.writeBuffer(&incoming)
    while buffer.readableBytes >= 4, let h = buffer.getBytes(at: buffer.readerIndex, length: 4) {
      let length = Int(h[0]) | Int(h[1]) << 8 | Int(h[2]) << 16
      guard buffer.readableBytes >= 4 + length else { return }
      buffer.moveReaderIndex(forwardBy: 4)
      handle(context, buffer.readBytes(length: length) ?? [], seq: h[3])
    }
  }

  func handle(_ context: ChannelHandlerContext, _ p: [UInt8], seq: UInt8) {
    // COM_QUIT starts a new command at sequence 0; everything else answers the last packet.
    if !(p == [0x01] && seq == 0) && seq != lastSentSeq &+ 1 {
      record { $0.outOfOrder += 1 }
    }
    if step == 0 {
      step = 1
      // HandshakeResponse41: caps(4) maxpkt(4) charset(1) filler(23) user\0 len auth plugin\0
      var i = 32
      let userEnd = p[i...].firstIndex(of: 0) ?? p.count
      let user = String(decoding: p[i..<userEnd], as: UTF8.self)
      i = userEnd + 1
      let authLength = Int(p[i])
      let auth = Array(p[(i + 1)..<(i + 1 + authLength)])
      i += 1 + authLength
      let pluginEnd = p[i...].firstIndex(of: 0) ?? p.count
      let plugin = String(decoding: p[i..<pluginEnd], as: UTF8.self)
      record {
        $0.user = user
        $0.loginPlugin = plugin
      }
      switch mode {
      case .switchToCachingSHA2:
        sendSwitch(context, seq: seq)
      case .cachingSHA2Full(let full):
        if full.switchFirst {
          sendSwitch(context, seq: seq)
        } else {
          // Cache miss: whatever the scramble, ask for full authentication.
          step = 2
          send(context, [0x01, 0x04], seq: seq + 1)
        }
      case .cachingSHA2Fast:
        answer(
          context, ok: auth == MySQLProtocol.cachingSHA2(password, nonce: FakeMySQLServer.nonce), fast: true,
          seq: seq)
      case .native:
        answer(
          context, ok: auth == MySQLProtocol.nativePassword(password, nonce: FakeMySQLServer.nonce),
          fast: false, seq: seq)
      }
    } else if step == 1, case .switchToCachingSHA2 = mode {
      step = 3
      answer(
        context, ok: p == MySQLProtocol.cachingSHA2(password, nonce: FakeMySQLServer.switchNonce), fast: true,
        seq: seq)
    } else if step == 1, case .cachingSHA2Full = mode {
      step = 2
      send(context, [0x01, 0x04], seq: seq + 1)
    } else if step == 2, case .cachingSHA2Full(let full) = mode {
      fullAuthentication(context, p, seq: seq, full: full)
    } else if p == [0x01] {
      record { $0.quits += 1 }
      context.close(promise: nil)
    }
  }

  func sendSwitch(_ context: ChannelHandlerContext, seq: UInt8) {
    step = 1
    send(
      context, [0xfe] + Array("caching_sha2_password".utf8) + [0] + FakeMySQLServer.switchNonce + [0],
      seq: seq + 1)
  }

  func fullAuthentication(
    _ context: ChannelHandlerContext, _ p: [UInt8], seq: UInt8, full: FakeMySQLServer.FullAuth
  ) {
    if p == [0x02] {
      record { $0.publicKeyRequests += 1 }
      if full.closeOnKeyRequest {
        context.close(promise: nil)
        return
      }
      send(context, [0x01] + Array(full.servedPEM.utf8), seq: seq + 1)
      return
    }
    step = 3
    record { $0.encryptedPasswords.append(p) }
    let nonce = full.switchFirst ? FakeMySQLServer.switchNonce : FakeMySQLServer.nonce
    let expected = password
    let loop = context.eventLoop
    let bound = NIOLoopBound((self, context), eventLoop: loop)
    // openssl runs off the event loop; the verdict goes back onto it.
    DispatchQueue.global().async {
      let decrypted = full.keys.decrypt(p)
      loop.execute {
        let (handler, context) = bound.value
        var ok = false
        if let decrypted {
          let plain = decrypted.enumerated().map { $0.element ^ nonce[$0.offset % nonce.count] }
          let text = String(decoding: plain.dropLast(), as: UTF8.self)
          handler.record { $0.decryptedPasswords.append(text) }
          ok = plain.last == 0 && text == expected
        }
        handler.answer(context, ok: ok, fast: false, seq: seq)
      }
    }
  }

  func answer(_ context: ChannelHandlerContext, ok: Bool, fast: Bool, seq: UInt8) {
    if !ok {
      record { $0.badPasswords += 1 }
      send(context, [0xff, 0x15, 0x04] + Array("#28000Access denied".utf8), seq: seq + 1)
      return
    }
    if fast {
      send(context, [0x01, 0x03], seq: seq + 1)
      send(context, [0x00, 0, 0, 2, 0, 0, 0], seq: seq + 2)
    } else {
      send(context, [0x00, 0, 0, 2, 0, 0, 0], seq: seq + 1)
    }
  }
}

final class FakeMySQLServerTests: XCTestCase {
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  override func tearDown() { try? group.syncShutdownGracefully() }

  func testCachingSHA2Exchanges() throws {
    struct Case {
      var name: String
      var mode: FakeMySQLServer.Mode
      var password: String
      var expectUp: Bool
      var reasonContains: String
      var expectQuit: Bool
      var expectLoginPlugin: String
    }
    let cases: [Case] = [
      Case(
        name: "caching_sha2 fast auth", mode: .cachingSHA2Fast, password: "secret", expectUp: true,
        reasonContains: "", expectQuit: true, expectLoginPlugin: "caching_sha2_password"),
      Case(
        name: "caching_sha2 wrong password", mode: .cachingSHA2Fast, password: "wrong", expectUp: false,
        reasonContains: "ERR 1045", expectQuit: false, expectLoginPlugin: "caching_sha2_password"),
      Case(
        name: "auth switch to caching_sha2", mode: .switchToCachingSHA2, password: "secret", expectUp: true,
        reasonContains: "", expectQuit: true, expectLoginPlugin: "mysql_native_password"),
      Case(
        name: "native", mode: .native, password: "secret", expectUp: true, reasonContains: "",
        expectQuit: true, expectLoginPlugin: "mysql_native_password"),
    ]
    for c in cases {
      let server = try FakeMySQLServer(mode: c.mode, password: "secret", group: group)
      defer { server.close() }
      let check = MySQLCheck(
        target: CheckTarget(address: "127.0.0.1", port: server.port), connectTimeout: .seconds(2),
        user: "probe",
        password: c.password)
      let seen = try server.probe(
        check, on: group, name: c.name, expectUp: c.expectUp, reasonContains: c.reasonContains,
        expectQuit: c.expectQuit)
      XCTAssertEqual(seen.user, "probe", c.name)
      XCTAssertEqual(seen.loginPlugin, c.expectLoginPlugin, c.name)
    }
  }
}

extension FakeMySQLServer {
  /// Runs one MYSQL_CHECK against this server, asserts its verdict (and the reason when down), waits
  /// for the COM_QUIT that follows a successful login, and returns what the server saw.
  func probe(
    _ check: MySQLCheck, on group: any EventLoopGroup, name: String, expectUp: Bool, reasonContains: String,
    expectQuit: Bool, file: StaticString = #filePath, line: UInt = #line
  ) throws -> Seen {
    let outcome = try EngineProbe(check).run(on: group.next()).wait()
    XCTAssertEqual(outcome.isUp, expectUp, "\(name): \(outcome)", file: file, line: line)
    if case .down(let reason) = outcome {
      XCTAssertTrue(reason.contains(reasonContains), "\(name): \(reason)", file: file, line: line)
    }
    // COM_QUIT arrives just after the verdict; allow it a moment.
    var quits = 0
    for _ in 0..<40 {
      quits = seen.withLock { $0.quits }
      if quits > 0 || !expectQuit { break }
      Thread.sleep(forTimeInterval: 0.05)
    }
    XCTAssertEqual(quits, expectQuit ? 1 : 0, "\(name): COM_QUIT count", file: file, line: line)
    return seen.withLock { $0 }
  }
}
