import NIOCore

/// TCP_CHECK as a one-shot probe: up when a connection is established within the timeout,
/// closed at once with a plain close() (a FIN). The probe itself runs on `TCPCheckEngine`, as the
/// monitor's periodic TCP checkers do; this adapter serves callers that want one outcome.
struct TCPProbe: Probe {
  let check: TCPCheck
  /// Resolved once per probe object rather than once per run.
  private let job: Result<TCPCheckJob, ProbeError>

  init(check: TCPCheck) {
    self.check = check
    self.job = TCPCheckRunner.job(for: check)
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
