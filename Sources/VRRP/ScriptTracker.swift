import Foundation

/// Runs one `vrrp_script` every `interval` on its own thread and keeps its rise/fall verdict.
/// Invariant: `isUp` only changes through `RiseFall`; the thread ends after `stop()`.
final class ScriptTracker: @unchecked Sendable {
  let spec: VRRPScriptSpec
  private let lock = NSLock()
  private var verdict: RiseFall
  private var stopped = false

  init(spec: VRRPScriptSpec) {
    self.spec = spec
    verdict = RiseFall(rise: spec.rise, fall: spec.fall)
  }

  var isUp: Bool { lock.withLock { verdict.isUp } }

  func start() {
    let thread = Thread { [self] in self.loop() }
    thread.name = "vrrp_script \(spec.name)"
    thread.start()
  }

  func stop() { lock.withLock { stopped = true } }

  private func loop() {
    let argv = CommandRunner.argv(spec.command, user: spec.user)
    while !lock.withLock({ stopped }) {
      let started = Date()
      let ok = CommandRunner.runChecked(argv, timeout: spec.timeout ?? spec.interval)
      lock.withLock { _ = verdict.record(success: ok) }
      let rest = spec.interval - Date().timeIntervalSince(started)
      var slept = 0.0
      while slept < rest && !lock.withLock({ stopped }) {
        Thread.sleep(forTimeInterval: min(0.05, rest - slept))
        slept += 0.05
      }
    }
  }
}
