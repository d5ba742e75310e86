import Crypto
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// HTTP_GET and SSL_GET: each url in turn on its own connection; all must pass. The whole
/// exchange of one url (connect, TLS, request, response) must finish within `connectTimeout`.
struct HTTPProbe: Probe {
  let check: HTTPCheck
  let tls: NIOSSLContext?

  /// One client context for every SSL_GET: TLS without certificate verification, as keepalived.
  static let insecureClientContext: Result<NIOSSLContext, any Error> = Result {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.certificateVerification = .none
    configuration.shutdownTimeout = .seconds(1)
    return try NIOSSLContext(configuration: configuration)
  }

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    if tls == nil {
      // HTTP_GET runs on the check engine, as the monitor's periodic HTTP checkers do.
      switch (TCPCheckEngine.shared, TCPCheckRunner.job(for: .http(check))) {
      case (.failure(let error), _): return loop.makeSucceededFuture(.down(reason: error.description))
      case (_, .failure(let error)?): return loop.makeSucceededFuture(.down(reason: error.description))
      case (.success(let engine), .success(let job)?):
        let promise = loop.makePromise(of: ProbeOutcome.self)
        engine.probeOnce(job) { promise.succeed($0) }
        return promise.futureResult
      case (_, nil): break
      }
    }
    var result = loop.makeSucceededFuture(ProbeOutcome.up(weight: nil))
    for url in check.urls {
      result = result.flatMap { outcome in
        guard outcome.isUp else { return loop.makeSucceededFuture(outcome) }
        return self.exchange(url, on: loop)
      }
    }
    return result
  }

  private func hostHeader(for url: URLCheck) -> String {
    if let host = url.virtualHost ?? check.virtualHost { return host }
    let t = check.target
    let address = t.address.contains(":") ? "[\(t.address)]" : t.address
    return (tls == nil ? t.port == 80 : t.port == 443) ? address : "\(address):\(t.port)"
  }

  private func exchange(_ url: URLCheck, on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    let version: HTTPVersion = check.version == .http11 ? .http1_1 : .http1_0
    var headers = HTTPHeaders()
    headers.add(name: "Host", value: hostHeader(for: url))
    headers.add(name: "User-Agent", value: "lvskeeper")
    headers.add(name: "Connection", value: "close")
    let head = HTTPRequestHead(version: version, method: .GET, uri: url.path, headers: headers)
    let sniHost = check.enableSNI ? check.sniName ?? url.virtualHost ?? check.virtualHost : nil
    let serverName = sniHost.flatMap { $0.split(separator: ":").first.map(String.init) }
      .flatMap { (try? SocketAddress(ipAddress: $0, port: 0)) == nil ? $0 : nil }
    let tls = self.tls
    let maxBody = check.maxBodyBytes
    let exchange = ProbeSocket.exchange(on: loop, target: check.target, timeout: check.connectTimeout) {
      sync, promise in
      if let tls {
        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
      }
      try sync.addHTTPClientHandlers()
      try sync.addHandler(
        HTTPResponseVerifier(request: head, url: url, maxBodyBytes: maxBody, promise: promise))
    }
    return exchange.recover { error in
      if let parserError = error as? HTTPParserError {
        return .down(reason: "\(url.path): bad HTTP response (\(parserError))")
      }
      return .down(reason: "\(url.path): \(ProbeSocket.reason(error))")
    }
  }
}

/// Sends one GET and judges the response: status in the url's set and, when asked, the MD5 of
/// the body. Completes `promise` exactly once (an EventLoopPromise ignores later completions).
final class HTTPResponseVerifier: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPClientResponsePart
  typealias OutboundOut = HTTPClientRequestPart

  private let request: HTTPRequestHead
  private let url: URLCheck
  private let maxBodyBytes: Int
  private let promise: EventLoopPromise<ProbeOutcome>
  private var md5 = Insecure.MD5()
  private var bodyBytes = 0
  private var done = false

  init(request: HTTPRequestHead, url: URLCheck, maxBodyBytes: Int, promise: EventLoopPromise<ProbeOutcome>) {
    self.request = request
    self.url = url
    self.maxBodyBytes = maxBodyBytes
    self.promise = promise
  }

  func channelActive(context: ChannelHandlerContext) {
    context.write(wrapOutboundOut(.head(request)), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    context.fireChannelActive()
  }

  private func finish(_ outcome: ProbeOutcome) {
    guard !done else { return }
    done = true
    promise.succeed(outcome)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !done else { return }
    switch unwrapInboundIn(data) {
    case .head(let head):
      let code = Int(head.status.code)
      if !url.statusCodes.contains(code) {
        finish(.down(reason: "\(url.path): status \(code) not in \(url.statusCodes)"))
      } else if url.digest == nil {
        finish(.up(weight: nil))
      }
    case .body(let buffer):
      bodyBytes += buffer.readableBytes
      if bodyBytes > maxBodyBytes {
        finish(.down(reason: "\(url.path): body larger than \(maxBodyBytes) bytes"))
        return
      }
      buffer.withUnsafeReadableBytes { md5.update(bufferPointer: $0) }
    case .end:
      guard let expected = url.digest else { return finish(.up(weight: nil)) }
      let actual = md5.finalize().map { byte in
        let hex = String(byte, radix: 16)
        return byte < 16 ? "0" + hex : hex
      }.joined()
      finish(
        actual == expected
          ? .up(weight: nil) : .down(reason: "\(url.path): digest \(actual) != expected \(expected)"))
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if !done {
      done = true
      promise.fail(error)
    }
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    if !done {
      done = true
      promise.fail(ProbeError.closedEarly("before the response was complete"))
    }
    context.fireChannelInactive()
  }
}
