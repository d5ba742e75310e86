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

/// `lvskeeper server VS RS drain|maint|ready|weight N`: an operator's runtime state for one real
/// server (HAProxy's `set server ... state`). Exit status: 0 applied; 1 refused by the daemon (an
/// unknown service or server, state or weight: nothing changed); 2 no answer (the daemon is not
/// running) or the words do not form a request.
struct ServerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "server",
    abstract:
      "Drain, maintain, reweight or ready one real server at run time (kept across reload and restart).",
    discussion: """
      VS is written as status prints it ("TCP 10.0.0.1:80" or TCP 10.0.0.1:80, "FWM 7"); RS as ADDR:PORT \
      ([2001:db8::2]:80). drain: weight 0, connections finish, checks continue. maint: out of the pool as \
      a failed server would be (removed, or weight 0 with inhibit_on_failure), checks continue, no script \
      runs. weight N (0-65535): this weight while the checks pass, until ready or a reload that changes \
      the server. ready: back to the checks' verdict. The command acts on one daemon: on a director pair \
      run it on both. Exit status: 0 applied; 1 refused by the daemon (nothing changed); 2 no answer, or \
      the words are not a request.
      """)

  @OptionGroup var control: ControlOptions
  @Argument(help: "VS RS drain|maint|ready|weight N") var words: [String] = []

  /// The request the words make, or why they make none.
  static func request(_ words: [String]) -> Result<ControlRequest, ValidationError> {
    let usage = ValidationError("usage: lvskeeper server VS RS drain|maint|ready|weight N")
    var rest = words.flatMap { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
    var weight: Int?
    if rest.count >= 2, rest[rest.count - 2].lowercased() == "weight" {
      guard let n = Int(rest[rest.count - 1]) else {
        return .failure(
          ValidationError("weight wants a number from 0 to 65535, got '\(rest[rest.count - 1])'"))
      }
      weight = n
      rest.removeLast()
    }
    guard rest.count >= 4, let action = rest.popLast(), let server = rest.popLast() else {
      return .failure(usage)
    }
    return .success(
      ControlRequest(
        command: .server, service: rest.joined(separator: " "), server: server, action: action, weight: weight
      ))
  }

  func run() throws {
    let request: ControlRequest
    switch Self.request(words) {
    case .failure(let error):
      DiagnosticOutput.standardError("lvskeeper: \(error.message)")
      throw ExitCode(2)
    case .success(let made): request = made
    }
    let response: ControlResponse
    do {
      response = try ControlClient(path: control.controlSocket).send(request)
    } catch {
      DiagnosticOutput.standardError("lvskeeper: \(error)")
      throw ExitCode(2)
    }
    guard response.ok else {
      DiagnosticOutput.standardError("lvskeeper: server: \(response.error ?? "refused")")
      throw ExitCode(1)
    }
    print(response.message ?? "ok")
  }
}
