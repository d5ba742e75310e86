import Glibc
import NIOCore

/// TCP_CHECK: up when a connection is established within the timeout; closed at once with a
/// plain close() (a FIN, as with the NIO channel it replaces). Drives a raw non-blocking socket
/// and hands in-progress connects to `TCPConnectProber`. Invariant: every socket it opens is
/// closed here or owned by the prober, which closes it.
struct TCPProbe: Probe {
  let check: TCPCheck
  /// Parsed once per checker rather than once per probe.
  private let endpoints: Result<(remote: SocketAddress, local: SocketAddress?), ProbeError>

  init(check: TCPCheck) {
    self.check = check
    self.endpoints = Result {
      let remote = try ProbeSocket.remoteAddress(check.target)
      return (remote, try ProbeSocket.localAddress(check.target))
    }.mapError { $0 as? ProbeError ?? .badAddress(check.target.address) }
    // Start the prober (its thread, epoll and eventfd descriptors) with the first checker.
    _ = TCPConnectProber.shared
  }

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    let prober: TCPConnectProber
    let remote: SocketAddress
    let local: SocketAddress?
    switch (TCPConnectProber.shared, endpoints) {
    case (.failure(let error), _): return loop.makeSucceededFuture(.down(reason: error.description))
    case (_, .failure(let error)): return loop.makeSucceededFuture(.down(reason: error.description))
    case (.success(let p), .success(let e)): (prober, remote, local) = (p, e.remote, e.local)
    }
    let family = remote.protocol.rawValue
    let fd = socket(family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return loop.makeSucceededFuture(.down(reason: Self.errnoReason(errno))) }
    if let local {
      var one: Int32 = 1
      _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
      let rc = local.withSockAddr { address, length in bind(fd, address, socklen_t(length)) }
      if rc != 0 {
        let e = errno
        close(fd)
        return loop.makeSucceededFuture(.down(reason: Self.errnoReason(e)))
      }
    }
    let rc = remote.withSockAddr { address, length in connect(fd, address, socklen_t(length)) }
    if rc == 0 {
      close(fd)
      return loop.makeSucceededFuture(.up(weight: nil))
    }
    let e = errno
    guard e == EINPROGRESS else {
      close(fd)
      return loop.makeSucceededFuture(.down(reason: Self.errnoReason(e)))
    }
    let promise = loop.makePromise(of: ProbeOutcome.self)
    prober.watch(fd, promise: promise, timeout: check.connectTimeout)
    return promise.futureResult
  }

  private static func errnoReason(_ code: Int32) -> String { String(cString: strerror(code)) }
}
