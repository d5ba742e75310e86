/// A lexical token of keepalived.conf: a word (quotes removed, escapes resolved) or a brace.
///
/// Invariant: `text` is `{` or `}` exactly when `kind` is `.open` or `.close`; a quoted `{` is a word.
struct Token {
  enum Kind {
    case word
    case open
    case close
  }

  // A large configuration holds one token per word: the location is kept as its parts (the
  // file interned as a 32-bit id, 32-bit line and column; ConfigLimits caps both far below 2^31)
  // and the one-byte fields come last, so a token is 32 bytes (64 with a SourceLocation) and a
  // copy touches one reference count (the text's, only when it is not a small string).
  var text: String
  private var fileID: UInt32
  private var line: Int32
  private var column: Int32
  var kind: Kind
  /// True for the first token of a logical line: a statement ends where the next line begins.
  var startsLine: Bool
  var quoted: Bool

  /// A token at byte `index` of `line`.
  init(kind: Kind, text: String, line source: SourceLine, at index: Int, startsLine: Bool, quoted: Bool) {
    self.text = text
    self.fileID = source.fileID
    self.line = Int32(clamping: source.line)
    self.column = Int32(clamping: source.column(at: index))
    self.kind = kind
    self.startsLine = startsLine
    self.quoted = quoted
  }

  var location: SourceLocation {
    SourceLocation(file: SourceFiles.name(fileID), line: Int(line), column: Int(column))
  }
}

/// Splits logical lines into tokens following keepalived's quoting rules: `"` and `'` group
/// whitespace into one word and may join adjacent text (`ab" c"d` is `ab cd`); inside quotes the
/// shell-like escapes of keepalived.conf(5) apply; an unquoted `{` or `}` is always its own token
/// except in an unresolved `${NAME}`.
///
/// Lines are tokenized one at a time as the parser reaches them (no token array for the whole
/// file); a quiet tokenizer (`log` nil) reports nothing.
struct Tokenizer {
  let log: DiagnosticLog?

  /// Appends the tokens of one logical line.
  func append(_ line: SourceLine, to tokens: inout [Token]) {
    let bytes = line.bytes
    var index = 0
    var first = true
    while index < bytes.count {
      let byte = bytes[index]
      if Byte.isSpace(byte) {
        index += 1
        continue
      }
      if byte == Byte.openBrace || byte == Byte.closeBrace {
        tokens.append(
          Token(
            kind: byte == Byte.openBrace ? .open : .close, text: byte == Byte.openBrace ? "{" : "}",
            line: line, at: index, startsLine: first, quoted: false))
        first = false
        index += 1
        continue
      }
      let start = index
      // Fast path: a plain word (no quotes, no `${`) becomes a String straight from the line bytes.
      var plainEnd = index
      while plainEnd < bytes.count {
        let current = bytes[plainEnd]
        if Byte.isSpace(current) || current == Byte.openBrace || current == Byte.closeBrace { break }
        if current == Byte.doubleQuote || current == Byte.singleQuote || current == Byte.dollar {
          plainEnd = -1
          break
        }
        plainEnd += 1
      }
      if plainEnd >= 0 {
        tokens.append(
          Token(
            kind: .word, text: String(decoding: bytes[start..<plainEnd], as: UTF8.self),
            line: line, at: start, startsLine: first, quoted: false))
        first = false
        index = plainEnd
        continue
      }
      var word: [UInt8] = []
      var quoted = false
      wordLoop: while index < bytes.count {
        let current = bytes[index]
        switch current {
        case Byte.doubleQuote, Byte.singleQuote:
          quoted = true
          let quoteStart = index
          index += 1
          var closed = false
          while index < bytes.count {
            let inner = bytes[index]
            if inner == current {
              closed = true
              index += 1
              break
            }
            if inner == Byte.backslash && index + 1 < bytes.count {
              index = unescape(bytes, at: index + 1, into: &word)
              continue
            }
            word.append(inner)
            index += 1
          }
          if !closed {
            log?.error("unterminated quoted string", at: line.location(at: quoteStart))
          }
        case Byte.dollar where index + 1 < bytes.count && bytes[index + 1] == Byte.openBrace:
          // An undefined ${NAME} stays as written (keepalived.conf(5), parameter substitution).
          if let close = bytes[index...].firstIndex(of: Byte.closeBrace) {
            word.append(contentsOf: bytes[index...close])
            index = close + 1
          } else {
            word.append(current)
            index += 1
          }
        case _ where Byte.isSpace(current) || current == Byte.openBrace || current == Byte.closeBrace:
          break wordLoop
        default:
          word.append(current)
          index += 1
        }
      }
      tokens.append(
        Token(
          kind: .word, text: String(decoding: word, as: UTF8.self), line: line, at: start,
          startsLine: first, quoted: quoted))
      first = false
    }
  }

  /// Resolves the escape starting at `index` (just after the backslash); returns the next index.
  private func unescape(_ bytes: [UInt8], at start: Int, into word: inout [UInt8]) -> Int {
    var index = start
    let byte = bytes[index]
    index += 1
    switch byte {
    case 0x61: word.append(0x07)  // \a
    case 0x62: word.append(0x08)  // \b
    case 0x45: word.append(0x1B)  // \E
    case 0x66: word.append(0x0C)  // \f
    case 0x6E: word.append(0x0A)  // \n
    case 0x72: word.append(0x0D)  // \r
    case 0x74: word.append(0x09)  // \t
    case 0x76: word.append(0x0B)  // \v
    case 0x30...0x37:
      var value = Int(byte - 0x30)
      var digits = 1
      while digits < 3, index < bytes.count, (0x30...0x37).contains(bytes[index]) {
        value = value * 8 + Int(bytes[index] - 0x30)
        index += 1
        digits += 1
      }
      word.append(UInt8(truncatingIfNeeded: value))
    case 0x78:  // \xXX
      var value = 0
      var digits = 0
      while index < bytes.count, let digit = hexValue(bytes[index]), digits < 2 {
        value = value * 16 + digit
        index += 1
        digits += 1
      }
      if digits == 0 { word.append(byte) } else { word.append(UInt8(value)) }
    case 0x63 where index < bytes.count:  // \cC
      word.append(bytes[index] & 0x1F)
      index += 1
    default:
      word.append(byte)
    }
    return index
  }

  private func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: return Int(byte - 0x30)
    case 0x41...0x46: return Int(byte - 0x41 + 10)
    case 0x61...0x66: return Int(byte - 0x61 + 10)
    default: return nil
    }
  }
}
