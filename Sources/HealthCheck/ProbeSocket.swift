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
  case noDevice(String)

  var description: String {
    switch self {
    case .badAddress(let a): return "bad address \(a)"
    case .timedOut(let d): return "timed out after \(d.formattedSeconds)"
    case .closedEarly(let what): return "connection closed \(what)"
    case .noDevice(let name): return "bind_if \(name): no such device"
    }
  }
}

/// keepalived's checker `fwmark` (SO_MARK) and `bind_if` (SO_BINDTODEVICE), set on a probe's
/// socket before bind and connect, in keepalived's order (layer4.c: mark, then device).
/// Invariant: `mark` is never 0 (0 means no mark, as in keepalived).
struct ProbeSocketOptions: Sendable, Hashable {
  var device: String?
  var mark: UInt32?

  static let none = ProbeSocketOptions(device: nil, mark: nil)

  init(device: String?, mark: UInt32?) {
    self.device = device
    self.mark = mark == 0 ? nil : mark
  }

  init(_ target: CheckTarget) {
    self.init(device: target.bindInterface, mark: target.fwmark)
  }

  /// Sets the options on `fd`; nil when they are set, else why the probe fails.
  func apply(to fd: Int32) -> String? {
    if var value = mark {
      if setsockopt(fd, SOL_SOCKET, SO_MARK, &value, socklen_t(MemoryLayout<UInt32>.size)) != 0 {
        return "fwmark \(value): \(String(cString: strerror(errno)))"
      }
    }
    if let device {
      let result = device.withCString { name in
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1))
      }
      if result != 0 { return "bind_if \(device): \(String(cString: strerror(errno)))" }
    }
    return nil
  }

  /// SO_BINDTOIFINDEX (Linux 5.7): the device by index, for sockets that take integer options only.
  static let bindToIfIndex: Int32 = 62
}

/// Builds client sockets for probes: connect address, `bindto`, `bind_if`, `fwmark`, and the
/// connect timeout.
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
    // NIO sets integer socket options only: the device goes by index, looked up per probe so
    // that an interface created after the configuration was loaded is found.
    let options = ProbeSocketOptions(target)
    if let mark = options.mark {
      bootstrap = bootstrap.channelOption(
        socketOption(SO_MARK), value: SocketOptionValue(mark))
    }
    if let device = options.device {
      let index = if_nametoindex(device)
      guard index != 0 else { throw ProbeError.noDevice(device) }
      bootstrap = bootstrap.channelOption(
        socketOption(ProbeSocketOptions.bindToIfIndex), value: SocketOptionValue(index))
    }
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

  private static func socketOption(_ name: Int32) -> ChannelOptions.Types.SocketOption {
    ChannelOptions.Types.SocketOption(
      level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: name))
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
