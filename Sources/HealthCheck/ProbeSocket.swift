import Glibc
import NIOCore
import NIOPosix

/// Something that probes a server once and says what it found; never fails its future
/// (every error becomes `.down(reason:)`).
protocol Probe: Sendable {
  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome>
}

/// Why a probe could not reach a verdict by talking to the server.
enum ProbeError: Error, CustomStringConvertible {
  case badAddress(String)
  case timedOut(Duration)
  case closedEarly(String)

  var description: String {
    switch self {
    case .badAddress(let a): return "bad address \(a)"
    case .timedOut(let d): return "timed out after \(d.formattedSeconds)"
    case .closedEarly(let what): return "connection closed \(what)"
    }
  }
}

/// Builds client sockets for probes: connect address, `bindto`, and the connect timeout.
enum ProbeSocket {
  static func remoteAddress(_ target: CheckTarget) throws -> SocketAddress {
    do {
      return try SocketAddress(ipAddress: target.address, port: Int(target.port))
    } catch {
      throw ProbeError.badAddress(target.address)
    }
  }

  /// The `bindto`/`bind_port` source address, or nil when neither is set.
  static func localAddress(_ target: CheckTarget) throws -> SocketAddress? {
    guard target.bindAddress != nil || target.bindPort != nil else { return nil }
    do {
      let family = target.address.contains(":") ? "::" : "0.0.0.0"
      return try SocketAddress(ipAddress: target.bindAddress ?? family, port: Int(target.bindPort ?? 0))
    } catch {
      throw ProbeError.badAddress(target.bindAddress ?? "")
    }
  }

  static func bootstrap(on loop: any EventLoop, target: CheckTarget, timeout: Duration) throws
    -> ClientBootstrap
  {
    var bootstrap = ClientBootstrap(group: loop)
      .connectTimeout(.nanoseconds(max(1, timeout.nanoseconds)))
      .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
    if let local = try localAddress(target) {
      bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1).bind(
        to: local)
    }
    return bootstrap
  }

  /// Connects to `target` with the handlers `install` adds, under one deadline of `timeout` for the
  /// whole exchange (connect, request, answer), and closes the channel when the handlers complete
  /// the promise. A target that cannot be resolved or bound is `.down` at once; any other failure
  /// fails the returned future, for the caller to word.
  static func exchange(
    on loop: any EventLoop, target: CheckTarget, timeout: Duration,
    install:
      @escaping @Sendable (ChannelPipeline.SynchronousOperations, EventLoopPromise<ProbeOutcome>) throws ->
      Void
  ) -> EventLoopFuture<ProbeOutcome> {
    let address: SocketAddress
    let bootstrap: ClientBootstrap
    do {
      address = try remoteAddress(target)
      bootstrap = try self.bootstrap(on: loop, target: target, timeout: timeout)
    } catch {
      return loop.makeSucceededFuture(.down(reason: reason(error)))
    }
    let promise = loop.makePromise(of: ProbeOutcome.self)
    let deadline = loop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
      promise.fail(ProbeError.timedOut(timeout))
    }
    let connect = bootstrap.channelInitializer { channel in
      channel.eventLoop.makeCompletedFuture { try install(channel.pipeline.syncOperations, promise) }
    }.connect(to: address)
    connect.whenFailure { promise.fail($0) }
    // The deadline closes a channel that is still talking (a trickling server).
    promise.futureResult.whenComplete { _ in
      deadline.cancel()
      connect.whenSuccess { $0.close(promise: nil) }
    }
    return promise.futureResult
  }

  /// Describes an error for a reason string, naming connection refusal and timeouts plainly.
  static func reason(_ error: any Error) -> String {
    switch error {
    case let e as ProbeError: return e.description
    case is ChannelError:
      if case ChannelError.connectTimeout(let t) = error {
        return "connect timed out after \(Double(t.nanoseconds) / 1e9)s"
      }
      return "\(error)"
    case let e as IOError: return String(cString: strerror(e.errnoCode))
    case let e as NIOConnectionError:
      if let first = e.connectionErrors.first { return reason(first.error) }
      return "connect failed"
    default: return "\(error)"
    }
  }
}

extension Duration {
  var formattedSeconds: String {
    let ms = nanoseconds / 1_000_000
    return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(Double(ms) / 1000)s"
  }
}
