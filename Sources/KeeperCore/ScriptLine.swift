/// A configured command line (`misc_path`, `notify_up`, `notify*`, `vrrp_script`'s `script`) split
/// the one way lvskeeper runs every script: into words on blanks, honouring '…' and "…" quotes and
/// backslash escapes (a backslash inside "…" escapes the next character; inside '…' it is literal).
/// A line with shell syntax outside single quotes (| & ; < > ( ) $ ` * ? [ ] ~ { } or a newline;
/// inside double quotes $ and ` count) cannot be expressed as words and needs `/bin/sh -c`.
/// `#` is not shell syntax here: keepalived passes `#word` to the script as it is, and so do we.
///
/// Invariant: `words` is non-empty and `words[0]` is non-empty.
public struct ScriptLine: Hashable, Sendable {
  public let words: [String]
  /// True when the line must run as `/bin/sh -c LINE`; `words` is then only what a split gives.
  public let needsShell: Bool

  /// Characters that need a shell when they stand outside quotes.
  public static let shellSyntax: Set<Character> = [
    "|", "&", ";", "<", ">", "(", ")", "$", "`", "*", "?", "[", "]", "~", "{", "}", "\n",
  ]

  /// Why a line cannot be run.
  public enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case unclosedQuote(Character)
    case trailingBackslash

    public var description: String {
      switch self {
      case .empty: return "empty command"
      case .unclosedQuote(let quote): return "unclosed \(quote) quote in command"
      case .trailingBackslash: return "command ends with a backslash"
      }
    }
  }

  /// Splits `text` with the rule above.
  public init(parsing text: String) throws(Problem) {
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
      if let open = quote {
        if ch == open {
          quote = nil
        } else if ch == "\\" && open == "\"" {
          escaped = true
        } else {
          if open == "\"" && (ch == "$" || ch == "`") { needsShell = true }
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
        if inWord { words.append(current) }
        current = ""
        inWord = false
      default:
        if Self.shellSyntax.contains(ch) { needsShell = true }
        current.append(ch)
        inWord = true
      }
    }
    if let quote { throw .unclosedQuote(quote) }
    if escaped { throw .trailingBackslash }
    if inWord { words.append(current) }
    guard let first = words.first, !first.isEmpty else { throw .empty }
    self.words = words
    self.needsShell = needsShell
  }

  /// The argument vector to execute: the words, or `/bin/sh -c TEXT` when a shell is needed.
  /// `extra` arguments are appended (as "$@" of the shell line when there is one).
  public static func argv(_ text: String, extra: [String] = []) throws(Problem) -> [String] {
    let line = try ScriptLine(parsing: text)
    return line.needsShell ? shellArgv(text, extra: extra) : line.words + extra
  }

  /// `/bin/sh -c TEXT`, with `extra` arguments as the line's "$@" ("$0" is the shell's name).
  public static func shellArgv(_ text: String, extra: [String] = []) -> [String] {
    extra.isEmpty ? ["/bin/sh", "-c", text] : ["/bin/sh", "-c", text + " \"$@\"", "sh"] + extra
  }
}
