import Dispatch
import Foundation
import KeeperCore

/// Runs one `vrrp_script` every `interval` on the script runner and keeps its rise/fall verdict.
/// A run that outlives `timeout` (default `interval`) is killed with its whole process group and
/// counts as a failure; whatever a run leaves in its group is killed when it exits, so a script
/// with a background child keeps its rhythm (`ScriptRun.killGroupOnExit`).
///
/// Invariant: `isUp` only changes through `RiseFall` (starting down, as keepalived's rise count
/// does); at most one run is in flight; nothing is started after `stop()`.
final class ScriptTracker: @unchecked Sendable {  // mutable state under `lock`
  let spec: VRRPScriptSpec
  private let lock = NSLock()
  private var verdict: RiseFall
  /// False until the first run ends (keepalived's INIT), unless `init_fail`.
  private var known: Bool
  private var stopped = false
  private let queue: DispatchQueue
  private let runner: ScriptRunner

  init(spec: VRRPScriptSpec, runner: ScriptRunner = .shared) {
    self.spec = spec
    self.runner = runner
    verdict = RiseFall(rise: spec.rise, fall: spec.fall)
    known = spec.initFail
    queue = DispatchQueue(label: "vrrp_script \(spec.name)")
  }

  /// nil while the script has no result yet and `init_fail` is off: it counts for nothing.
  var isUp: Bool? { lock.withLock { known ? verdict.isUp : nil } }

  func start() { queue.async { self.runOnce() } }

  func stop() { lock.withLock { stopped = true } }

  private func runOnce() {
    guard !lock.withLock({ stopped }) else { return }
    let started = ContinuousClock.now
    let timeout = SecondsDuration.from(spec.timeout ?? spec.interval)
    spec.script.run(timeout: timeout, killGroupOnExit: true, on: runner) { [self] exit in
      lock.withLock {
        _ = verdict.record(success: exit == .exited(0))
        known = true
      }
      let next = started + SecondsDuration.from(spec.interval)
      let wait = max(.zero, next - ContinuousClock.now)
      queue.asyncAfter(deadline: .now() + .nanoseconds(Int(wait / .nanoseconds(1)))) { self.runOnce() }
    }
  }
}

/// keepalived's seconds (possibly fractional) as a Duration.
enum SecondsDuration {
  static func from(_ seconds: Double) -> Duration { .nanoseconds(Int64((seconds * 1e9).rounded())) }
}
