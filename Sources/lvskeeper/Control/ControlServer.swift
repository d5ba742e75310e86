import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
  import Glibc
#endif

/// The daemon's end of the control socket: one JSON request line in, one JSON response line out.
///
/// Invariant: only root can connect. The socket file is created mode 0600 in a directory that is
/// mode 0700, and connecting to a Unix socket needs write permission on it.
final class ControlServer: Sendable {
  /// Answers one request; the peer is nil only when the kernel would not say who connected.
  typealias Handler = @Sendable (ControlRequest, ControlPeer?) async -> ControlResponse

  private let channel: any Channel
  let path: String
  /// The socket file this server put at `path`; `close` unlinks only that file, never one that
  /// replaced it.
  private let identity: FileIdentity?

  private init(channel: any Channel, path: String, identity: FileIdentity?) {
    self.channel = channel
    self.path = path
    self.identity = identity
  }

  /// Listens at `path`. The listener and all its connections run on one loop of `group`, where
  /// their `ConnectionTable` lives.
  static func start(
    path: String, group: any EventLoopGroup, limits: ListenerLimits = .standard(),
    handler: @escaping Handler
  ) async throws -> ControlServer {
    let directory = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    // Bound in a private 0700 directory, made 0600 there, then renamed into place: the socket is
    // never reachable with looser permissions, and the process umask (shared with every thread
    // and with scripts forked meanwhile) is never touched.
    var template = Array("\(directory)/.lvskXXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in
      buffer.baseAddress.map { mkdtemp($0) != nil } ?? false
    }
    guard made else {
      throw ControlServerError(what: "cannot create a staging directory in \(directory)", errnoCode: errno)
    }
    let staging = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { rmdir(staging) }
    let staged = staging + "/s"
    let loop = group.next()
    let table = NIOLoopBoundBox.makeBoxSendingValue(
      ConnectionTable(cap: limits.connectionCap), eventLoop: loop)
    let channel = try await ServerBootstrap(group: loop)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let pipeline = channel.pipeline.syncOperations
          if try pipeline.addListenerLimits(limits, table: table, channel: channel) {
            try pipeline.addHandler(ControlConnectionHandler(handler: handler))
          }
        }
      }
      .bind(unixDomainSocketPath: staged)
      .get()
    guard chmod(staged, 0o600) == 0, rename(staged, path) == 0 else {
      let e = errno
      unlink(staged)
      try? await channel.close()
      throw ControlServerError(what: "cannot put the control socket at \(path)", errnoCode: e)
    }
    return ControlServer(channel: channel, path: path, identity: FileIdentity(path: path))
  }

  /// Stops listening and removes the socket file, if the file at `path` is still ours.
  func close() async {
    try? await channel.close()
    if let identity, FileIdentity(path: path) == identity { unlink(path) }
  }
}

/// Why the control socket could not be set up.
struct ControlServerError: Error, CustomStringConvertible {
  let what: String
  let errnoCode: Int32
  var description: String { "\(what): \(String(cString: strerror(errnoCode)))" }
}

/// `struct ucred` of `<sys/socket.h>`, which Glibc's Swift module hides behind `_GNU_SOURCE`:
/// the kernel's layout (pid, uid, gid), read with `getsockopt(SO_PEERCRED)`.
struct PeerCredentials: Sendable {
  var pid: Int32 = 0
  var uid: UInt32 = 0
  var gid: UInt32 = 0
}

extension ControlPeer {
  init(_ credentials: PeerCredentials) {
    var user: String?
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 4096)
    if getpwuid_r(credentials.uid, &entry, &buffer, buffer.count, &result) == 0, let found = result {
      user = String(cString: found.pointee.pw_name)
    }
    self.init(uid: credentials.uid, pid: credentials.pid, user: user)
  }
}

/// Reads one newline-terminated request, answers it, closes the connection.
private final class ControlConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  /// Requests are a few dozen bytes; anything longer is refused rather than buffered without end.
  private static let maximumRequestBytes = 4096
  /// `SO_PEERCRED` (17 on Linux, `<asm-generic/socket.h>`).
  fileprivate static let peerCredentialsOption = NIOBSDSocket.Option(rawValue: 17)
  private let handler: ControlServer.Handler
  private var received: [UInt8] = []
  private var answered = false

  init(handler: @escaping ControlServer.Handler) { self.handler = handler }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !answered else { return }
    var buffer = unwrapInboundIn(data)
    received += buffer.readBytes(length: buffer.readableBytes) ?? []
    if let newline = received.firstIndex(of: UInt8(ascii: "\n")) {
      answered = true
      context.triggerUserOutboundEvent(RequestComplete(), promise: nil)
      respond(context: context, line: Array(received[..<newline]))
    } else if received.count > Self.maximumRequestBytes {
      answered = true
      reply(context: context, .failure("request longer than \(Self.maximumRequestBytes) bytes"))
    }
  }

  private func respond(context: ChannelHandlerContext, line: [UInt8]) {
    guard let request = try? ControlCoding.decoder().decode(ControlRequest.self, from: Data(line)) else {
      reply(
        context: context, .failure("malformed request; expected {\"command\":\"status|reload|stop|server\"}"))
      return
    }
    let handler = self.handler
    let promise = context.eventLoop.makePromise(of: ControlResponse.self)
    let credentials: EventLoopFuture<PeerCredentials>? = (context.channel as? any SocketOptionProvider)?
      .unsafeGetSocketOption(level: NIOBSDSocket.OptionLevel.socket, name: Self.peerCredentialsOption)
    let peerFuture: EventLoopFuture<ControlPeer?> =
      credentials.map { $0.map { Optional(ControlPeer($0)) }.recover { _ in nil } }
      ?? context.eventLoop.makeSucceededFuture(nil)
    peerFuture.whenSuccess { peer in
      promise.completeWithTask { await handler(request, peer) }
    }
    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    promise.futureResult.whenSuccess { response in
      let (this, context) = loopBound.value
      this.reply(context: context, response)
    }
  }

  private func reply(context: ChannelHandlerContext, _ response: ControlResponse) {
    var bytes = (try? ControlCoding.encoder().encode(response)) ?? Data("{\"ok\":false}".utf8)
    bytes.append(UInt8(ascii: "\n"))
    let buffer = context.channel.allocator.buffer(bytes: bytes)
    context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { [channel = context.channel] _ in
      channel.close(promise: nil)
    }
  }
}
