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

/// Builds the statement tree from tokens. A statement runs to the end of its line; a `{` on the
/// same or the next line opens its block; a `}` anywhere closes the innermost block.
/// Unbalanced braces in either direction are errors at the offending brace.
struct SyntaxParser {
  static let maxDepth = 64

  let tokens: [Token]
  let log: DiagnosticLog
  private var position = 0

  init(tokens: [Token], log: DiagnosticLog) {
    self.tokens = tokens
    self.log = log
  }

  mutating func parse() -> [ConfigNode] {
    parseBody(opener: nil, depth: 0)
  }

  private mutating func parseBody(opener: ConfigNode?, depth: Int) -> [ConfigNode] {
    var nodes: [ConfigNode] = []
    while position < tokens.count {
      let token = tokens[position]
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
        while position < tokens.count, tokens[position].kind == .word, !tokens[position].startsLine {
          node.arguments.append(tokens[position])
          position += 1
        }
        if position < tokens.count, tokens[position].kind == .open {
          let brace = tokens[position]
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
    while position < tokens.count && open > 0 {
      switch tokens[position].kind {
      case .open: open += 1
      case .close: open -= 1
      case .word: break
      }
      position += 1
    }
  }
}
