import Foundation

/// Splits keepalived script strings into argv and runs them. Invariant: a command is run through
/// /bin/sh only when it contains shell syntax that argv splitting cannot express.
public enum CommandRunner {
  /// Characters that need a shell (pipes, redirections, expansions, separators).
  static let shellSyntax: Set<Character> = ["|", "&", ";", "<", ">", "$", "`", "*", "?", "(", ")", "~", "\n"]

  /// Splits on blanks, honouring single and double quotes and backslash escapes; nil when a shell
  /// is needed or quotes are unbalanced.
  public static func split(_ command: String) -> [String]? {
    var words: [String] = []
    var current = ""
    var inWord = false
    var quote: Character?
    var escaped = false
    for ch in command {
      if escaped {
        current.append(ch)
        escaped = false
        continue
      }
      if let q = quote {
        if ch == q {
          quote = nil
        } else if ch == "\\" && q == "\"" {
          escaped = true
        } else {
          current.append(ch)
        }
        continue
      }
      if ch == "\\" {
        escaped = true
        inWord = true
      } else if ch == "'" || ch == "\"" {
        quote = ch
        inWord = true
      } else if ch == " " || ch == "\t" {
        if inWord { words.append(current) }
        current = ""
        inWord = false
      } else if shellSyntax.contains(ch) {
        return nil
      } else {
        current.append(ch)
        inWord = true
      }
    }
    if quote != nil || escaped { return nil }
    if inWord { words.append(current) }
    return words.isEmpty ? nil : words
  }

  /// argv for `command` plus `extra` arguments, run as `user` when given (via setpriv).
  public static func argv(_ command: String, extra: [String] = [], user: String? = nil) -> [String] {
    var argv: [String]
    if let words = split(command) {
      argv = words + extra
    } else {
      // "$0" is the shell's name; the extra arguments become "$@" of the script.
      argv = ["/bin/sh", "-c", command + (extra.isEmpty ? "" : " \"$@\""), "sh"] + extra
    }
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
