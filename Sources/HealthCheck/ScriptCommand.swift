/// A command line for misc_path, notify_up and notify_down, executed without a shell unless it
/// needs one. Rule: the string is split into words on blanks, honouring '…' and "…" quotes and
/// backslash escapes; if it contains an unquoted shell metacharacter (| & ; < > ( ) $ ` * ? [ ]
/// ~ { } # or a newline) the whole string runs as `/bin/sh -c STRING` instead.
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

  /// Parses a config string with the rule above. Nil when it holds no word or an unclosed quote.
  public init?(parsing text: String) {
    var words: [String] = []
    var current = ""
    var inWord = false
    var quote: Character? = nil
    var escaped = false
    var needsShell = false
    for ch in text {
      if escaped {
        current.append(ch)
        escaped = false
        inWord = true
        continue
      }
      if let q = quote {
        if ch == q {
          quote = nil
        } else if ch == "\\" && q == "\"" {
          escaped = true
        } else {
          if q == "\"" && (ch == "$" || ch == "`") { needsShell = true }
          current.append(ch)
        }
        continue
      }
      switch ch {
      case "\\":
        escaped = true
      case "'", "\"":
        quote = ch
        inWord = true
      case " ", "\t":
        if inWord {
          words.append(current)
          current = ""
          inWord = false
        }
      default:
        if Self.shellMeta.contains(ch) { needsShell = true }
        current.append(ch)
        inWord = true
      }
    }
    guard quote == nil, !escaped else { return nil }
    if inWord { words.append(current) }
    guard let first = words.first, !first.isEmpty else { return nil }
    if needsShell {
      self.arguments = ["/bin/sh", "-c", text]
      self.usesShell = true
    } else {
      self.arguments = words
      self.usesShell = false
    }
  }

  static let shellMeta: Set<Character> = [
    "|", "&", ";", "<", ">", "(", ")", "$", "`", "*", "?", "[", "]", "~", "{", "}", "#", "\n",
  ]

  public var description: String { arguments.joined(separator: " ") }
}
