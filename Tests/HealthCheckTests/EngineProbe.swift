import NIOCore

@testable import HealthCheck

/// One probe of a checker that runs on the check engine (MYSQL_CHECK, SMTP_CHECK), made the way
/// the monitor makes them (`TCPCheckRunner.job(for:)`, then the process's `TCPCheckEngine`), with
/// its outcome completing a future on `loop`, so tests can run batches of probes at once.
struct EngineProbe: Probe {
  let spec: CheckerSpec
  init(_ check: MySQLCheck) { spec = .mysql(check) }
  init(_ check: SMTPCheck) { spec = .smtp(check) }

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    let promise = loop.makePromise(of: ProbeOutcome.self)
    switch (TCPCheckEngine.shared, TCPCheckRunner.job(for: spec)) {
    case (.success(let engine), .success(let job)?): engine.probeOnce(job) { promise.succeed($0) }
    case (.failure(let error), _): promise.succeed(.down(reason: error.description))
    case (_, .failure(let error)?): promise.succeed(.down(reason: error.description))
    case (_, nil): promise.succeed(.down(reason: "\(spec) does not run on the check engine"))
    }
    return promise.futureResult
  }
}
