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
    let result = DiagnosticOutput.load(options)
    if timing {
      let elapsed = ContinuousClock.now - started
      let milliseconds =
        Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
      print("parse+validate: \(String(format: "%.1f", milliseconds)) ms")
    }
    guard let loaded = result else { throw ExitCode(1) }
    let model = loaded.configuration
    let realServers = model.virtualServers.reduce(0) { $0 + $1.realServers.count }
    print(
      "\(options.config): configuration OK (\(model.vrrpInstances.count) vrrp_instance, "
        + "\(model.virtualServers.count) virtual_server, \(realServers) real_server, "
        + "\(loaded.warnings.count) warning\(loaded.warnings.count == 1 ? "" : "s"))")
  }
}
