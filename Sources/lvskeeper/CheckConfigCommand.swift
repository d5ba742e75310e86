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
    let result = DiagnosticOutput.load(options)
    if timing {
      let elapsed = ContinuousClock.now - started
      let wall = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
      let cpu = Self.processCPUMilliseconds() - cpuStarted
      print("parse+validate: \(String(format: "%.1f", wall)) ms wall, \(String(format: "%.1f", cpu)) ms cpu")
    }
    guard let loaded = result else { throw ExitCode(1) }
    let model = loaded.configuration
    let realServers = model.virtualServers.reduce(0) { $0 + $1.realServers.count }
    print(
      "\(options.config): configuration OK (\(model.vrrpInstances.count) vrrp_instance, "
        + "\(model.virtualServers.count) virtual_server, \(realServers) real_server, "
        + "\(loaded.warnings.count) warning\(loaded.warnings.count == 1 ? "" : "s"))")
  }

  /// CPU time of this process (user + system), for benchmark figures on a shared host.
  static func processCPUMilliseconds() -> Double {
    var spec = timespec()
    guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec) == 0 else { return 0 }
    return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec) / 1e6
  }
}
