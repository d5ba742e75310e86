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
