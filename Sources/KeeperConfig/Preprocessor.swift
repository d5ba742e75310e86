import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Turns configuration files into logical lines the way keepalived's reader does: comments are
/// stripped, `include` files are spliced in, `@ID` / `@^ID` lines are kept or dropped against the
/// config id, `$NAME=value` definitions are recorded and `$NAME` / `${NAME}` substituted, and
/// `~SEQ` / `~LST` lines are repeated.
///
/// Invariant: every emitted line carries the file and line (and per-byte columns) it came from.
final class Preprocessor {
  let configID: String
  let log: DiagnosticLog
  let limits: ConfigLimits
  /// The lines emitted so far, when no `sink` takes them.
  private(set) var lines = SourceLines()
  /// Takes each line as it is emitted, in order, instead of `lines`; it runs under the log's
  /// later stages and must leave the log's stage as it found it.
  var sink: ((SourceLine) -> Void)?
  /// The bytes of the raw line being read (see `processRawLine`).
  private var lineBuffer: [UInt8] = []
  /// Lines emitted so far (kept in `lines` or handed to `sink`), against `limits.maxLines`.
  private(set) var emittedLines = 0
  var parameters: [String: [UInt8]] = [:]
  private var pending: (name: String, value: [UInt8], location: SourceLocation)?
  var directoryStack: [String] = []
  /// Canonical paths of the files being read, outermost first (for include loops).
  var fileStack: [String] = []
  /// Work done so far, against `limits`.
  private var emittedBytes = 0
  var bytesRead = 0
  var includedFiles = 0
  private var substitutionCount = 0
  private var expansionBytes = 0
  var repetitionCount = 0
  /// Set when a cap of `limits` is hit: nothing more is read or emitted.
  private(set) var stopped = false

  init(configID: String, log: DiagnosticLog, limits: ConfigLimits = .standard) {
    self.configID = configID
    self.log = log
    self.limits = limits
  }

  /// Reports that `cap` was reached at `location` and stops all further reading.
  func exceeded(_ cap: ConfigCap, at location: SourceLocation) {
    guard !stopped else { return }
    stopped = true
    log.error("configuration too large: \(cap.message); reading stopped", at: location)
  }

  /// Reads `path` (the main file, or an included one) and appends its lines.
  func processFile(path: String, includedFrom: SourceLocation?) {
    guard !stopped else { return }
    let location = includedFrom ?? SourceLocation(file: path, line: 1, column: 1)
    switch RegularFileReader.contents(of: path, limit: limits.maxBytes - bytesRead) {
    case .success(let bytes):
      bytesRead += bytes.count
      processText(bytes, file: path)
    case .failure(.tooLarge):
      exceeded(.bytesRead(limits.maxBytes), at: location)
    case .failure(let failure):
      if includedFrom != nil {
        log.error("cannot read included file '\(path)': \(failure.reason)", at: location)
      } else {
        log.error("cannot read configuration file: \(failure.reason)", at: location)
      }
    }
  }

  /// Appends the lines of `bytes` as if they were the content of `file`.
  func processText(_ bytes: [UInt8], file: String) {
    directoryStack.append((file as NSString).deletingLastPathComponent)
    fileStack.append(Self.canonical(file))
    defer {
      directoryStack.removeLast()
      fileStack.removeLast()
    }
    let fileID = SourceFiles.id(file)
    var lineNumber = 0
    // Lines are handed on as views of the file's bytes (no slice of the array, so no reference
    // count traffic per line); `bytes` is not changed while they are read.
    bytes.withUnsafeBufferPointer { buffer in
      var start = 0
      while start <= buffer.count && !stopped {
        var end = start
        while end < buffer.count && buffer[end] != Byte.newline { end += 1 }
        if start == buffer.count && end == start { break }
        lineNumber += 1
        var rawEnd = end
        if rawEnd > start && buffer[rawEnd - 1] == Byte.carriageReturn { rawEnd -= 1 }
        processRawLine(buffer[start..<rawEnd], fileID: fileID, line: lineNumber)
        start = end + 1
      }
    }
    if let pending, pending.location.file == file, !stopped {
      log.error(
        "multi-line definition of '$\(pending.name)' is not terminated (last line ends with '\\')",
        at: pending.location)
      finishPending()
    }
  }

  private func processRawLine(_ raw: Slice<UnsafeBufferPointer<UInt8>>, fileID: UInt32, line: Int) {
    let content = strippingComment(raw)
    if pending != nil {
      var body = Array(content)
      while let last = body.last, Byte.isSpace(last) { body.removeLast() }
      if body.isEmpty { return }
      let continues = body.last == Byte.backslash
      if continues { body.removeLast() }
      appendPending(body)
      if !continues { finishPending() }
      return
    }
    // The line's bytes go into a buffer kept from line to line: a line is consumed (tokenized,
    // copied or expanded) before the next one is read, so the buffer is unique again by then and
    // 268k lines cost no allocation each (an include read meanwhile just copies it on write).
    lineBuffer.removeAll(keepingCapacity: true)
    lineBuffer.append(contentsOf: content)
    let sourceLine = SourceLine(fileID: fileID, line: line, bytes: lineBuffer, columns: nil)
    if handleInclude(sourceLine) { return }
    processLine(sourceLine, depth: 0, rawLevel: true)
  }

  private func appendPending(_ body: [UInt8]) {
    guard var current = pending else { return }
    let trimmed = body.drop { Byte.isSpace($0) }
    if trimmed.isEmpty { return }
    if !current.value.isEmpty { current.value.append(Byte.newline) }
    current.value.append(contentsOf: body)
    pending = current
  }

  private func finishPending() {
    guard let current = pending else { return }
    parameters[current.name] = current.value
    pending = nil
  }

  /// Appends one finished line, within the caps on lines and bytes.
  private func emit(_ line: SourceLine) {
    guard !stopped else { return }
    guard emittedLines < limits.maxLines else {
      exceeded(.lines(limits.maxLines), at: line.location(at: 0))
      return
    }
    emittedBytes += line.bytes.count + 1
    guard emittedBytes <= limits.maxBytes else {
      exceeded(.bytes(limits.maxBytes), at: line.location(at: 0))
      return
    }
    emittedLines += 1
    if let sink { sink(line) } else { lines.append(line) }
  }

  // MARK: conditionals, definitions, substitution

  func processLine(_ input: SourceLine, depth: Int, rawLevel: Bool) {
    guard !stopped else { return }
    var line = input
    guard applyConditional(&line), let first = line.bytes.firstIndex(where: { !Byte.isSpace($0) }) else {
      return
    }
    if line.bytes[first] == Byte.dollar, defineParameter(line, at: first, rawLevel: rawLevel) { return }
    if line.bytes[first] == Byte.tilde, expandRepetition(line, at: first, depth: depth) { return }
    guard line.bytes.contains(Byte.dollar) else {
      emit(line)
      return
    }
    substituteAndEmit(line, depth: depth)
  }

  /// Keeps or drops an `@ID` / `@^ID` line; a kept line has its prefix blanked so columns stay true.
  private func applyConditional(_ line: inout SourceLine) -> Bool {
    guard let first = line.bytes.firstIndex(where: { !Byte.isSpace($0) }) else { return false }
    guard line.bytes[first] == Byte.at else { return true }
    var end = first + 1
    var negate = false
    if end < line.bytes.count && line.bytes[end] == Byte.caret {
      negate = true
      end += 1
    }
    let idStart = end
    while end < line.bytes.count && !Byte.isSpace(line.bytes[end]) { end += 1 }
    let id = String(decoding: line.bytes[idStart..<end], as: UTF8.self)
    if (id == configID) == negate { return false }
    for index in first..<end { line.bytes[index] = Byte.space }
    return line.bytes.contains { !Byte.isSpace($0) }
  }

  /// `$NAME=value`; only whitespace may precede the `$` and nothing may separate NAME and `=`.
  private func defineParameter(_ line: SourceLine, at dollar: Int, rawLevel: Bool) -> Bool {
    var end = dollar + 1
    guard end < line.bytes.count, Byte.isNameStart(line.bytes[end]) else { return false }
    while end < line.bytes.count && Byte.isNameByte(line.bytes[end]) { end += 1 }
    guard end < line.bytes.count, line.bytes[end] == Byte.equals else { return false }
    let name = String(decoding: line.bytes[(dollar + 1)..<end], as: UTF8.self)
    var value = Array(line.bytes[(end + 1)...])
    while let last = value.last, Byte.isSpace(last) { value.removeLast() }
    if value.last == Byte.backslash {
      value.removeLast()
      guard rawLevel else {
        log.error(
          "multi-line definition of '$\(name)' inside an expansion is not supported",
          at: line.location(at: dollar))
        return true
      }
      pending = (name, [], line.location(at: dollar))
      appendPending(value)
      return true
    }
    parameters[name] = value
    return true
  }

  private func substituteAndEmit(_ input: SourceLine, depth: Int) {
    var line = input
    var index = 0
    var substitutions = 0
    while index < line.bytes.count {
      guard line.bytes[index] == Byte.dollar, let reference = parameterReference(in: line.bytes, at: index)
      else {
        index += 1
        continue
      }
      guard let value = resolve(reference, line: line, at: index) else {
        index = reference.end
        continue
      }
      // Every cap is checked before the longer line is built.
      let location = line.location(at: index)
      substitutions += 1
      substitutionCount += 1
      expansionBytes += value.count
      let newLength = line.bytes.count - (reference.end - index) + value.count
      if substitutions > limits.maxSubstitutionsPerLine {
        return exceeded(.substitutionsPerLine(limits.maxSubstitutionsPerLine), at: location)
      }
      if substitutionCount > limits.maxSubstitutions {
        return exceeded(.substitutions(limits.maxSubstitutions), at: location)
      }
      if expansionBytes > limits.maxExpansionBytes {
        return exceeded(.expansionBytes(limits.maxExpansionBytes), at: location)
      }
      if newLength > limits.maxLineBytes { return exceeded(.lineBytes(limits.maxLineBytes), at: location) }
      var columns = line.columns ?? (0..<line.bytes.count).map { $0 + 1 }
      let column = line.column(at: index)
      line.bytes.replaceSubrange(index..<reference.end, with: value)
      columns.replaceSubrange(index..<reference.end, with: repeatElement(column, count: value.count))
      line.columns = columns
      if value.contains(Byte.newline) {
        splitAndProcess(line, depth: depth)
        return
      }
    }
    // A parameter may expand to a conditional prefix ($IF_MAIN=@main in keepalived.conf(5)).
    if substitutions > 0, line.bytes.first(where: { !Byte.isSpace($0) }) == Byte.at {
      guard applyConditional(&line) else { return }
    }
    emit(line)
  }

  private func splitAndProcess(_ line: SourceLine, depth: Int) {
    guard depth < limits.maxExpansionDepth else {
      return exceeded(.expansionDepth(limits.maxExpansionDepth), at: line.location(at: 0))
    }
    var start = 0
    while start <= line.bytes.count && !stopped {
      var end = start
      while end < line.bytes.count && line.bytes[end] != Byte.newline { end += 1 }
      let piece = SourceLine(
        fileID: line.fileID, line: line.line, bytes: Array(line.bytes[start..<end]),
        columns: line.columns.map { Array($0[start..<end]) })
      processLine(piece, depth: depth + 1, rawLevel: false)
      start = end + 1
    }
  }

  struct ParameterReference {
    var name: String
    var arguments: [String]
    var end: Int
  }

  /// `$NAME` followed by whitespace or end of line, or `${NAME}` / `${NAME ARGS}` anywhere.
  private func parameterReference(in bytes: [UInt8], at dollar: Int) -> ParameterReference? {
    let next = dollar + 1
    guard next < bytes.count else { return nil }
    if bytes[next] == Byte.openBrace {
      guard let close = bytes[next...].firstIndex(of: Byte.closeBrace) else { return nil }
      let inner = String(decoding: bytes[(next + 1)..<close], as: UTF8.self)
      let parts = inner.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
      guard let name = parts.first else { return nil }
      return ParameterReference(name: name, arguments: Array(parts.dropFirst()), end: close + 1)
    }
    guard Byte.isNameStart(bytes[next]) else { return nil }
    var end = next
    while end < bytes.count && Byte.isNameByte(bytes[end]) { end += 1 }
    guard end == bytes.count || Byte.isSpace(bytes[end]) else { return nil }
    return ParameterReference(
      name: String(decoding: bytes[next..<end], as: UTF8.self), arguments: [], end: end)
  }

  private func resolve(_ reference: ParameterReference, line: SourceLine, at index: Int) -> [UInt8]? {
    switch reference.name {
    case "_PWD": return Array((directoryStack.last ?? ".").utf8)
    case "_INSTANCE": return Array(configID.utf8)
    case "_HASH": return [Byte.hash]
    case "_BANG": return [Byte.bang]
    case "_RANDOM":
      let bounds = reference.arguments.compactMap { Int($0) }
      let low = bounds.count >= 1 ? bounds[0] : 0
      let high = bounds.count >= 2 ? bounds[1] : 32767
      guard low <= high else {
        log.error("${_RANDOM \(low) \(high)}: minimum exceeds maximum", at: line.location(at: index))
        return nil
      }
      return Array(String(Int.random(in: low...high)).utf8)
    default:
      return parameters[reference.name]
    }
  }
}

/// A whitespace-separated word of a line (quotes kept), with its byte offset.
struct LineWord {
  var text: String
  var start: Int
}

func splitWords(_ line: SourceLine) -> [LineWord] {
  var words: [LineWord] = []
  var index = 0
  let bytes = line.bytes
  while index < bytes.count {
    while index < bytes.count && Byte.isSpace(bytes[index]) { index += 1 }
    guard index < bytes.count else { break }
    let start = index
    var quote: UInt8? = nil
    while index < bytes.count {
      let byte = bytes[index]
      if let open = quote {
        if byte == open { quote = nil }
      } else if byte == Byte.doubleQuote || byte == Byte.singleQuote {
        quote = byte
      } else if Byte.isSpace(byte) {
        break
      }
      index += 1
    }
    words.append(LineWord(text: String(decoding: bytes[start..<index], as: UTF8.self), start: start))
  }
  return words
}
