import ArgumentParser
import Foundation
import KeeperConfig

/// `lvskeeper check-config`: exit 0 when the configuration is valid (warnings on stderr), 1 otherwise.
struct CheckConfigCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check-config",
    abstract: "Check a configuration file; print each problem as FILE:LINE:COL: error|warning: message."
  )

  @OptionGroup var options: ConfigOptions

  @Flag(help: .hidden) var timing = false

  func run() throws {
    let started = ContinuousClock.now
    let cpuStarted = Self.processCPUMilliseconds()
    // The check streams: each virtual server is built, checked and dropped, so the peak memory
    // does not grow with the number of real servers.
    let result = DiagnosticOutput.check(options)
    if timing {
      let elapsed = ContinuousClock.now - started
      let wall = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
      let cpu = Self.processCPUMilliseconds() - cpuStarted
      print("parse+validate: \(String(format: "%.1f", wall)) ms wall, \(String(format: "%.1f", cpu)) ms cpu")
    }
    guard let checked = result else { throw ExitCode(1) }
    print(
      "\(options.config): configuration OK (\(checked.vrrpInstances) vrrp_instance, "
        + "\(checked.virtualServers) virtual_server, \(checked.realServers) real_server, "
        + "\(checked.warnings.count) warning\(checked.warnings.count == 1 ? "" : "s"))")
  }

  /// CPU time of this process (user + system), for benchmark figures on a shared host.
  static func processCPUMilliseconds() -> Double {
    var spec = timespec()
    guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec) == 0 else { return 0 }
    return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec) / 1e6
  }
}
