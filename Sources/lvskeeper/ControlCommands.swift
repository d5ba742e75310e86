import ArgumentParser
import Foundation

/// Options of the commands that talk to a running daemon.
struct ControlOptions: ParsableArguments {
  @Option(help: "The daemon's control socket.")
  var controlSocket = ControlCoding.defaultSocketPath

  func send(_ command: ControlRequest.Command) throws -> ControlResponse {
    do {
      return try ControlClient(path: controlSocket).send(ControlRequest(command: command))
    } catch {
      DiagnosticOutput.standardError("lvskeeper: \(error)")
      throw ExitCode(2)
    }
  }
}

/// `lvskeeper status [--json]`: VRRP, the IPVS table with health, pending operations.
struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show VRRP state, virtual services, real server health and pending IPVS operations.")

  @OptionGroup var control: ControlOptions
  @Flag(help: "Print the report as JSON.") var json = false

  func run() throws {
    let response = try control.send(.status)
    guard response.ok, let report = response.status else {
      DiagnosticOutput.standardError("lvskeeper: \(response.error ?? "no status in the answer")")
      throw ExitCode(1)
    }
    if json {
      let data = try ControlCoding.encoder(pretty: true).encode(report)
      print(String(decoding: data, as: UTF8.self))
    } else {
      print(StatusRenderer.render(report), terminator: "")
    }
  }
}

/// `lvskeeper reload`: the same as SIGHUP, but waits for and prints the outcome.
struct ReloadCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reload", abstract: "Reload the configuration (checked first; a bad one changes nothing).")

  @OptionGroup var control: ControlOptions

  func run() throws {
    let response = try control.send(.reload)
    if response.ok {
      print("reloaded: \(response.message ?? "")")
    } else {
      DiagnosticOutput.standardError("lvskeeper: reload refused: \(response.error ?? "unknown error")")
      throw ExitCode(1)
    }
  }
}

/// `lvskeeper stop`: the same as SIGTERM.
struct StopCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop the daemon.")

  @OptionGroup var control: ControlOptions

  func run() throws {
    let response = try control.send(.stop)
    print(response.message ?? (response.ok ? "stopping" : response.error ?? "failed"))
  }
}
