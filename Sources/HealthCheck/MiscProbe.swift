import KeeperCore
import NIOCore

/// MISC_CHECK as a probe: one run on the script runner (which kills the script's process group at
/// the timeout, and what it left behind when it exits); the verdict comes back on `loop`.
struct MiscProbe: Probe {
  let check: MiscCheck
  var runner: ScriptRunner = .shared

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    let promise = loop.makePromise(of: ProbeOutcome.self)
    let dynamic = check.dynamic
    let timeout = check.timeout
    check.script.run(timeout: timeout, killGroupOnExit: true, on: runner) { exit in
      promise.succeed(Self.outcome(exit, dynamic: dynamic, timeout: timeout))
    }
    return promise.futureResult
  }

  static func outcome(_ exit: ScriptExit, dynamic: Bool, timeout: Duration) -> ProbeOutcome {
    switch exit {
    case .exited(0): return .up(weight: nil)
    case .exited(1): return .down(reason: "exit status 1")
    case .exited(let code) where dynamic: return .up(weight: Int(code) - 2)
    case .exited(let code): return .down(reason: "exit status \(code)")
    case .signalled(let signal): return .down(reason: "killed by signal \(signal)")
    case .timedOut: return .down(reason: "timed out after \(timeout.formattedSeconds), process group killed")
    case .failedToStart(let why): return .down(reason: why)
    }
  }
}
