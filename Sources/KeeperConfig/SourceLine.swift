/// One logical configuration line after includes, conditionals and parameter substitution.
///
/// Invariant: when `columns` is present it has one entry per byte of `bytes`, giving the column in
/// the original file that produced the byte; otherwise byte `i` came from column `i + 1`.
struct SourceLine {
  let file: String
  let line: Int
  var bytes: [UInt8]
  var columns: [Int]?

  func column(at index: Int) -> Int {
    if let columns {
      if index < columns.count { return columns[index] }
      return (columns.last ?? 0) + 1
    }
    return index + 1
  }

  func location(at index: Int) -> SourceLocation {
    SourceLocation(file: file, line: line, column: column(at: index))
  }
}

enum Byte {
  static let space: UInt8 = 0x20
  static let tab: UInt8 = 0x09
  static let newline: UInt8 = 0x0A
  static let carriageReturn: UInt8 = 0x0D
  static let doubleQuote: UInt8 = 0x22
  static let singleQuote: UInt8 = 0x27
  static let backslash: UInt8 = 0x5C
  static let hash: UInt8 = 0x23
  static let bang: UInt8 = 0x21
  static let dollar: UInt8 = 0x24
  static let at: UInt8 = 0x40
  static let caret: UInt8 = 0x5E
  static let equals: UInt8 = 0x3D
  static let openBrace: UInt8 = 0x7B
  static let closeBrace: UInt8 = 0x7D
  static let tilde: UInt8 = 0x7E

  static func isSpace(_ byte: UInt8) -> Bool {
    byte == space || byte == tab || byte == carriageReturn || byte == 0x0B || byte == 0x0C
  }

  static func isNameStart(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
  }

  static func isNameByte(_ byte: UInt8) -> Bool {
    isNameStart(byte) || (byte >= 0x30 && byte <= 0x39)
  }
}

/// Removes a `#` or `!` comment that is outside quotes; returns the bytes before it.
func strippingComment(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
  var quote: UInt8? = nil
  var index = bytes.startIndex
  while index < bytes.endIndex {
    let byte = bytes[index]
    if let open = quote {
      if byte == Byte.backslash {
        index += 2
        continue
      }
      if byte == open { quote = nil }
    } else if byte == Byte.doubleQuote || byte == Byte.singleQuote {
      quote = byte
    } else if byte == Byte.hash || byte == Byte.bang {
      return bytes[bytes.startIndex..<index]
    }
    index += 1
  }
  return bytes
}
