import ScriptLine

/// A command line for misc_path, notify_up and notify_down, executed without a shell unless it
/// needs one, by `ScriptLine`'s rule (the one every lvskeeper script follows).
/// Invariant: `arguments` is non-empty and `arguments[0]` is the program.
public struct ScriptCommand: Hashable, Sendable, CustomStringConvertible {
  public private(set) var arguments: [String]
  public private(set) var usesShell: Bool

  /// An explicit argument vector; never uses a shell. Nil when empty.
  public init?(arguments: [String]) {
    guard let first = arguments.first, !first.isEmpty else { return nil }
    self.arguments = arguments
    self.usesShell = false
  }

  /// Parses a config string with the rule above (`ScriptLine`). Nil when it holds no word or an
  /// unclosed quote.
  public init?(parsing text: String) {
    guard let line = try? ScriptLine(parsing: text) else { return nil }
    self.arguments = line.needsShell ? ScriptLine.shellArgv(text) : line.words
    self.usesShell = line.needsShell
  }

  public var description: String { arguments.joined(separator: " ") }
}
