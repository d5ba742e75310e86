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
/// Lines are fed one at a time as the preprocessor emits them, and each top-level statement is
/// handed out (`takeStatements`) as soon as it is complete, so a large configuration never holds
/// its lines, its tokens or more than one top-level block of its tree at once.
///
/// Invariant: `frames` are the blocks open at the current token, outermost first, never more than
/// `maxDepth`; a statement is delivered exactly once, after every statement before it.
struct SyntaxParser {
  static let maxDepth = 64

  /// An open block: the statement that opened it and where the statements read in it so far
  /// begin in `openChildren`.
  private struct Frame {
    var opener: ConfigNode
    var childStart: Int
    /// A `{` without a keyword: its block is parsed for errors, then dropped.
    var discarded: Bool
  }

  let log: DiagnosticLog
  private let tokenizer: Tokenizer
  /// The tokens of the line being read (reused from line to line).
  private var lineTokens: [Token] = []
  private var frames: [Frame] = []
  /// The statements read so far in the open blocks, outermost block's first: one buffer reused by
  /// every block, so a block's statements become one exactly sized array when it closes rather
  /// than an array grown statement by statement (several allocations per real server).
  /// Invariant: frame `i`'s statements are `openChildren[frames[i].childStart..<end]`, where end is
  /// the next frame's `childStart` (or the buffer's end for the innermost frame).
  private var openChildren: [ConfigNode] = []
  /// A statement whose line ended without a `{`: the next token decides whether it opens a block.
  private var pending: ConfigNode?
  /// Braces open in a block skipped for nesting deeper than `maxDepth`; 0 when not skipping.
  private var skipping = 0
  /// Complete top-level statements not yet taken.
  private var ready: [ConfigNode] = []

  init(log: DiagnosticLog) {
    self.log = log
    self.tokenizer = Tokenizer(log: log)
  }

  /// Tokenizes and parses one line. Tokenizer errors are logged under the tokenize stage, so they
  /// sort before every parse error (`DiagnosticLog.Stage`).
  mutating func feed(_ line: SourceLine) {
    lineTokens.removeAll(keepingCapacity: true)
    let outer = log.stage
    log.stage = .tokenize
    tokenizer.append(line, to: &lineTokens)
    log.stage = .parse
    var index = 0
    while index < lineTokens.count { index = handle(at: index) }
    log.stage = outer
  }

  /// Ends the input: a statement still waiting for its `{` is complete, and every block still open
  /// is an error at its opener, innermost first.
  mutating func finish() {
    let outer = log.stage
    log.stage = .parse
    defer { log.stage = outer }
    skipping = 0
    if let node = pending.take() { append(node) }
    while !frames.isEmpty {
      let frame = frames.removeLast()
      log.error("unbalanced '{': block '\(frame.opener.name)' is never closed", at: frame.opener.location)
      close(frame)
    }
  }

  /// The top-level statements completed since the last call, in order.
  mutating func takeStatements() -> [ConfigNode] {
    var taken: [ConfigNode] = []
    swap(&taken, &ready)
    return taken
  }

  /// Ends `frame`'s block: its statement, with the statements read in it, joins the enclosing
  /// block (a discarded frame's are dropped).
  private mutating func close(_ frame: consuming Frame) {
    let children = frame.discarded ? nil : Array(openChildren[frame.childStart...])
    openChildren.removeSubrange(frame.childStart...)
    guard let children else { return }
    var node = frame.opener
    node.children = children
    append(node)
  }

  private mutating func append(_ node: consuming ConfigNode) {
    if frames.isEmpty {
      ready.append(node)
    } else {
      openChildren.append(node)
    }
  }

  /// Handles the token at `index` of the current line; returns the index of the next one.
  private mutating func handle(at index: Int) -> Int {
    let token = lineTokens[index]
    if skipping > 0 {
      switch token.kind {
      case .open: skipping += 1
      case .close: skipping -= 1
      case .word: break
      }
      return index + 1
    }
    if var node = pending.take() {
      if token.kind == .open {
        if frames.count + 1 >= Self.maxDepth {
          log.error("blocks nested deeper than \(Self.maxDepth) levels", at: token.location)
          node.children = []
          append(node)
          skipping = 1
        } else {
          frames.append(Frame(opener: node, childStart: openChildren.count, discarded: false))
        }
        return index + 1
      }
      append(node)
    }
    switch token.kind {
    case .close:
      if !frames.isEmpty {
        close(frames.removeLast())
      } else {
        log.error("unbalanced '}': no block is open here", at: token.location)
      }
      return index + 1
    case .open:
      log.error("'{' without a keyword before it", at: token.location)
      if frames.count < Self.maxDepth {
        frames.append(
          Frame(
            opener: ConfigNode(keyword: token, arguments: [], children: []), childStart: openChildren.count,
            discarded: true))
      } else {
        skipping = 1
      }
      return index + 1
    case .word:
      // The arguments are the words after the keyword on its own line: one exact allocation.
      var node = ConfigNode(keyword: token, arguments: [], children: nil)
      var end = index + 1
      while end < lineTokens.count, lineTokens[end].kind == .word { end += 1 }
      if end > index + 1 { node.arguments = Array(lineTokens[(index + 1)..<end]) }
      pending = node
      return end
    }
  }
}
