import NIOCore

/// HTTP_GET and SSL_GET as a one-shot probe: each url in turn on its own connection, all must
/// pass, each url's whole exchange (connect, TLS, request, response) within `connectTimeout`.
/// The probe runs on `TCPCheckEngine` as an `HTTPConversation` per url, as the monitor's periodic
/// HTTP checkers do; this adapter serves callers that want one outcome.
struct HTTPProbe: Probe {
  let check: HTTPCheck
  let tls: Bool
  /// Resolved once per probe object rather than once per run.
  private let job: Result<TCPCheckJob, ProbeError>

  init(check: HTTPCheck, tls: Bool) {
    self.check = check
    self.tls = tls
    self.job = TCPCheckRunner.job(for: check, tls: tls)
  }

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    switch (TCPCheckEngine.shared, job) {
    case (.failure(let error), _): return loop.makeSucceededFuture(.down(reason: error.description))
    case (_, .failure(let error)): return loop.makeSucceededFuture(.down(reason: error.description))
    case (.success(let engine), .success(let job)):
      let promise = loop.makePromise(of: ProbeOutcome.self)
      engine.probeOnce(job) { promise.succeed($0) }
      return promise.futureResult
    }
  }
}

extension HTTPTemplate {
  /// The SNI SSL_GET sends for `url`: only with `enable_sni` (keepalived's check_ssl.c), naming
  /// `sni_name`, else the url's virtualhost, else the checker's, without a port; never an IP
  /// literal.
  static func serverName(url: URLCheck, check: HTTPCheck) -> String? {
    guard check.enableSNI, let host = check.sniName ?? url.virtualHost ?? check.virtualHost,
      let name = host.split(separator: ":").first.map(String.init)
    else { return nil }
    return (try? SocketAddress(ipAddress: name, port: 0)) == nil ? name : nil
  }
}
