import ArgumentParser
import KeeperConfig

/// `lvskeeper run`: loads the configuration; the daemon itself is wired by the coordinator.
struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run the director with a configuration file."
  )

  @OptionGroup var options: ConfigOptions

  func run() async throws {
    guard DiagnosticOutput.load(options) != nil else { throw ExitCode(1) }
    DiagnosticOutput.standardError(
      "lvskeeper: configuration \(options.config) is valid, but the daemon cannot run yet "
        + "(VRRP, health checks and IPVS are not wired into this build)")
    throw ExitCode(2)
  }
}
