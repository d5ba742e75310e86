/// A statement of keepalived.conf: a keyword, its arguments and, for a block, its statements.
///
/// Invariant: `children` is nil for a plain statement and non-nil (possibly empty) for a block.
struct ConfigNode {
  var keyword: Token
  var arguments: [Token]
  var children: [ConfigNode]?

  var name: String { keyword.text }
  var location: SourceLocation { keyword.location }
  var isBlock: Bool { children != nil }
}

/// Builds the statement tree from logical lines. A statement runs to the end of its line; a `{`
/// on the same or the next line opens its block; a `}` anywhere closes the innermost block.
/// Unbalanced braces in either direction are errors at the offending brace.
///
/// Lines are tokenized as the parser reaches them and their bytes released once read, so a large
/// configuration never holds a token array for the whole file beside its lines and its tree.
struct SyntaxParser {
  static let maxDepth = 64

  let log: DiagnosticLog
  private var lines: SourceLines
  private var nextLine = 0
  /// The tokens of the line being read; `position` indexes them.
  private var lineTokens: [Token] = []
  private var position = 0
  private let tokenizer = Tokenizer(log: nil)

  init(lines: SourceLines, log: DiagnosticLog) {
    self.lines = lines
    self.log = log
  }

  /// Parses every line. Tokenizer errors are reported first, as when all lines were tokenized
  /// before parsing (the order of first mention ranks files in `DiagnosticLog.sorted`).
  mutating func parse() -> [ConfigNode] {
    Tokenizer(log: log).reportUnterminatedQuotes(
      in: lines.lines(containing: { $0 == Byte.doubleQuote || $0 == Byte.singleQuote }))
    let nodes = parseBody(opener: nil, depth: 0)
    lines = SourceLines()
    return nodes
  }

  /// The token at `position`, reading further lines when the current one is used up; nil at the end.
  private mutating func current() -> Token? {
    while position == lineTokens.count {
      guard nextLine < lines.count else { return nil }
      lineTokens.removeAll(keepingCapacity: true)
      position = 0
      tokenizer.append(lines[nextLine], to: &lineTokens)
      lines.release(nextLine)
      nextLine += 1
    }
    return lineTokens[position]
  }

  private mutating func parseBody(opener: ConfigNode?, depth: Int) -> [ConfigNode] {
    var nodes: [ConfigNode] = []
    while let token = current() {
      switch token.kind {
      case .close:
        position += 1
        if opener != nil { return nodes }
        log.error("unbalanced '}': no block is open here", at: token.location)
      case .open:
        position += 1
        log.error("'{' without a keyword before it", at: token.location)
        if depth < Self.maxDepth {
          _ = parseBody(opener: ConfigNode(keyword: token, arguments: [], children: []), depth: depth + 1)
        } else {
          skipBlock()
        }
      case .word:
        var node = ConfigNode(keyword: token, arguments: [], children: nil)
        position += 1
        // The arguments are the words after the keyword on its own line: one exact allocation.
        var end = position
        while end < lineTokens.count, lineTokens[end].kind == .word { end += 1 }
        if end > position { node.arguments = Array(lineTokens[position..<end]) }
        position = end
        if let brace = current(), brace.kind == .open {
          position += 1
          if depth + 1 >= Self.maxDepth {
            log.error("blocks nested deeper than \(Self.maxDepth) levels", at: brace.location)
            skipBlock()
            node.children = []
          } else {
            node.children = parseBody(opener: node, depth: depth + 1)
          }
        }
        nodes.append(node)
      }
    }
    if let opener {
      log.error("unbalanced '{': block '\(opener.name)' is never closed", at: opener.location)
    }
    return nodes
  }

  /// Skips to the brace that closes the block just opened, without recursion.
  private mutating func skipBlock() {
    var open = 1
    while open > 0, let token = current() {
      switch token.kind {
      case .open: open += 1
      case .close: open -= 1
      case .word: break
      }
      position += 1
    }
  }
}
