import Foundation
import ScriptLine

/// Splits keepalived script strings into argv and runs them. Invariant: a command is run through
/// /bin/sh only when it contains shell syntax that argv splitting cannot express.
public enum CommandRunner {
  /// The words of `command` (`ScriptLine`'s rule); nil when a shell is needed or it cannot be split.
  public static func split(_ command: String) -> [String]? {
    guard let line = try? ScriptLine(parsing: command), !line.needsShell else { return nil }
    return line.words
  }

  /// argv for `command` plus `extra` arguments, run as `user` when given (via setpriv). A command
  /// that cannot be split goes to /bin/sh as written, which reports its syntax error.
  public static func argv(_ command: String, extra: [String] = [], user: String? = nil) -> [String] {
    var argv = (try? ScriptLine.argv(command, extra: extra)) ?? ScriptLine.shellArgv(command, extra: extra)
    if let user {
      argv = ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups", "--"] + argv
    }
    return argv
  }

  /// Starts the command without waiting (notify scripts). Returns the launch error, if any.
  @discardableResult
  public static func launch(_ argv: [String]) -> (any Error)? {
    guard let first = argv.first else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: resolve(first))
    process.arguments = Array(argv.dropFirst())
    do {
      try process.run()
      return nil
    } catch {
      return error
    }
  }

  /// Runs the command and reports whether it exited 0 within `timeout` seconds (killed otherwise).
  public static func runChecked(_ argv: [String], timeout: Double?) -> Bool {
    guard let first = argv.first else { return false }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: resolve(first))
    process.arguments = Array(argv.dropFirst())
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return false }
    let deadline = Date().addingTimeInterval(timeout ?? 3600)
    while process.isRunning {
      if Date() > deadline {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
      }
      usleep(5_000)
    }
    return process.terminationReason == .exit && process.terminationStatus == 0
  }

  /// Looks a bare command name up in PATH, as execvp would.
  static func resolve(_ name: String) -> String {
    if name.contains("/") { return name }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
    for directory in path.split(separator: ":") {
      let candidate = "\(directory)/\(name)"
      if access(candidate, X_OK) == 0 { return candidate }
    }
    return name
  }
}
