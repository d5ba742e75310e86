import Synchronization

/// One logical configuration line after includes, conditionals and parameter substitution.
///
/// Invariant: when `columns` is present it has one entry per byte of `bytes`, giving the column in
/// the original file that produced the byte; otherwise byte `i` came from column `i + 1`.
struct SourceLine {
  /// The file, interned (`SourceFiles`): what the line's tokens keep.
  let fileID: UInt32
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

  var file: String { SourceFiles.name(fileID) }

  func location(at index: Int) -> SourceLocation {
    SourceLocation(file: file, line: line, column: column(at: index))
  }
}

/// The names of configuration files, interned: a token keeps a 4-byte id instead of the name
/// (a String: 16 bytes and a reference count operation per copy, for every token of a large file).
///
/// Invariant: append-only; an id names the same file for the life of the process. Only distinct
/// names are added, so loading and reloading the same files adds nothing after the first load.
enum SourceFiles {
  private struct Table {
    var names: [String] = []
    var ids: [String: UInt32] = [:]
  }
  private static let table = Mutex(Table())

  /// The id of `name`, added on first use.
  static func id(_ name: String) -> UInt32 {
    table.withLock { t in
      if let id = t.ids[name] { return id }
      let id = UInt32(t.names.count)
      t.names.append(name)
      t.ids[name] = id
      return id
    }
  }

  /// The name `id` was given for; an id not from `id(_:)` names no file ("").
  static func name(_ id: UInt32) -> String {
    table.withLock { t in Int(id) < t.names.count ? t.names[Int(id)] : "" }
  }
}

/// The logical lines of a configuration in order, stored compactly: in chunks of `chunkSize`
/// lines, each chunk one byte buffer holding its lines' bytes back to back and a 20-byte record per
/// line, so a line costs its bytes and its record, not an array of its own. A load streams its
/// lines into the parser instead (`Preprocessor.sink`); these hold the lines of a preprocessor
/// without a sink.
///
/// Invariant: line `i` is record `i % chunkSize` of chunk `i / chunkSize`; every chunk but the
/// last holds exactly `chunkSize` lines.
struct SourceLines {
  static let chunkSize = 4096
  private struct Record {
    var start: UInt32
    var count: UInt32
    var line: Int32
    var fileID: UInt32
    /// Index into the chunk's `columns`, or -1: byte `i` came from column `i + 1`.
    var columns: Int32
  }
  private struct Chunk {
    var bytes: [UInt8] = []
    var records: [Record] = []
    var columns: [[Int]] = []
  }
  private(set) var count = 0
  private var chunks: [Chunk] = []

  mutating func append(_ line: SourceLine) {
    if count % Self.chunkSize == 0 {
      var chunk = Chunk()
      chunk.records.reserveCapacity(Self.chunkSize)
      chunks.append(chunk)
    }
    let last = chunks.count - 1
    var columns: Int32 = -1
    if let lineColumns = line.columns {
      columns = Int32(chunks[last].columns.count)
      chunks[last].columns.append(lineColumns)
    }
    chunks[last].records.append(
      Record(
        start: UInt32(chunks[last].bytes.count), count: UInt32(line.bytes.count),
        line: Int32(clamping: line.line), fileID: line.fileID, columns: columns))
    chunks[last].bytes.append(contentsOf: line.bytes)
    count += 1
  }

  /// Line `index` as a `SourceLine` of its own.
  subscript(index: Int) -> SourceLine {
    let (chunk, offset) = index.quotientAndRemainder(dividingBy: Self.chunkSize)
    let record = chunks[chunk].records[offset]
    let start = Int(record.start)
    return SourceLine(
      fileID: record.fileID, line: Int(record.line),
      bytes: Array(chunks[chunk].bytes[start..<(start + Int(record.count))]),
      columns: record.columns < 0 ? nil : chunks[chunk].columns[Int(record.columns)])
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
func strippingComment<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) -> Bytes.SubSequence
where Bytes.Index == Int {
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
  return bytes[...]
}
