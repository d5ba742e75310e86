import Foundation
import Glibc
import NIOCore
import NIOPosix
import XCTest

/// A small TCP server on 127.0.0.1:<random> (or `host`) that misbehaves in one chosen way.
final class MisbehavingServer: @unchecked Sendable {
  enum Behaviour: Sendable {
    /// Accepts and never answers.
    case hang
    /// Answers a valid HTTP response one byte a second.
    case trickle
    /// Resets the connection at once (SO_LINGER 0, then close).
    case reset
    /// Reads the request, then sends this raw response and closes.
    case respond(String)
    /// Sends these raw bytes on connect (e.g. a MySQL greeting), then waits.
    case greet([UInt8])
    /// Reads the request, sends `head`, then body bytes without end until the client closes.
    case endless(head: String)
  }

  let channel: any Channel
  var port: UInt16 { UInt16(channel.localAddress?.port ?? 0) }
  /// The client addresses of accepted connections, in order ("ip" only).
  let peers = PeerLog()

  init(_ behaviour: Behaviour, group: any EventLoopGroup, host: String = "127.0.0.1") throws {
    let peers = self.peers
    channel = try ServerBootstrap(group: group)
      .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
      .serverChannelOption(ChannelOptions.backlog, value: 4096)
      .childChannelInitializer { child in
        peers.append(child.remoteAddress?.ipAddress ?? "?")
        return child.eventLoop.makeCompletedFuture {
          try child.pipeline.syncOperations.addHandler(MisbehavingHandler(behaviour))
        }
      }
      .bind(host: host, port: 0).wait()
  }

  func close() { try? channel.close().wait() }

  static func httpResponse(status: String, body: String) -> String {
    "HTTP/1.0 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
  }

  /// A port on 127.0.0.1 with nothing listening (bound, then closed).
  static func closedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { Glibc.close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    _ = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return UInt16(bigEndian: addr.sin_port)
  }
}

/// A thread-safe list of peer addresses.
final class PeerLog: @unchecked Sendable {
  private let lock = NSLock()
  private var items: [String] = []
  func append(_ s: String) { lock.withLock { items.append(s) } }
  var all: [String] { lock.withLock { items } }
}

private final class MisbehavingHandler: ChannelInboundHandler, @unchecked Sendable {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  let behaviour: MisbehavingServer.Behaviour
  var answered = false

  init(_ behaviour: MisbehavingServer.Behaviour) { self.behaviour = behaviour }

  func channelActive(context: ChannelHandlerContext) {
    switch behaviour {
    case .reset:
      let channel = context.channel
      guard let provider = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
      provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    case .trickle:
      let bytes = Array(MisbehavingServer.httpResponse(status: "200 OK", body: "slow").utf8)
      trickle(bytes[...], channel: context.channel)
    case .greet(let bytes):
      var buffer = context.channel.allocator.buffer(capacity: bytes.count)
      buffer.writeBytes(bytes)
      context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    case .hang, .respond, .endless:
      break
    }
  }

  private func trickle(_ rest: ArraySlice<UInt8>, channel: any Channel) {
    guard let first = rest.first, channel.isActive else { return }
    var buffer = channel.allocator.buffer(capacity: 1)
    buffer.writeInteger(first)
    channel.writeAndFlush(buffer, promise: nil)
    channel.eventLoop.scheduleTask(in: .seconds(1)) { self.trickle(rest.dropFirst(), channel: channel) }
  }

  private func pour(_ channel: any Channel) {
    guard channel.isActive else { return }
    var buffer = channel.allocator.buffer(capacity: 64 << 10)
    buffer.writeRepeatingByte(UInt8(ascii: "x"), count: 64 << 10)
    channel.writeAndFlush(buffer).whenSuccess { self.pour(channel) }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .endless(let head) = behaviour, !answered {
      answered = true
      var buffer = context.channel.allocator.buffer(capacity: head.utf8.count)
      buffer.writeString(head)
      context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
      pour(context.channel)
      return
    }
    guard case .respond(let text) = behaviour, !answered else { return }
    answered = true
    var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
    buffer.writeString(text)
    let channel = context.channel
    context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// Counts this process's open descriptors.
func openDescriptorCount() -> Int {
  (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}
