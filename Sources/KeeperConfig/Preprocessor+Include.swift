import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// `include FILE-or-GLOB` and its variants: the named files are spliced in at that line.
///
/// A literal path (no glob characters) must name a readable regular file: anything else is an
/// error. A pattern that matches nothing is a warning for `include`/`includer` (as keepalived),
/// an error for the others; a match that is not a regular file is skipped with a warning. A file
/// that is already being read is an include loop (an error, not a recursion).
extension Preprocessor {
  private static let includePrefix = Array("include".utf8)

  private static let includeKeywords: Set<String> = [
    "include", "includer", "includem", "includew", "includeb", "includea",
  ]

  /// The include keywords, for the keyword catalog.
  static var includeKeywordNames: Set<String> { includeKeywords }

  /// Handles an include line; include detection precedes conditionals and substitution, as in keepalived.
  func handleInclude(_ line: SourceLine) -> Bool {
    // Fast path: most lines do not start with "include".
    guard let start = line.bytes.firstIndex(where: { !Byte.isSpace($0) }),
      line.bytes[start...].starts(with: Self.includePrefix)
    else { return false }
    let words = splitWords(line)
    guard let first = words.first, Self.includeKeywords.contains(first.text) else { return false }
    let location = line.location(at: first.start)
    guard words.count >= 2 else {
      log.error("'\(first.text)' needs a file name or pattern", at: location)
      return true
    }
    if words.count > 2 {
      log.error(
        "'\(first.text)' takes exactly one file name or pattern", at: line.location(at: words[2].start))
      return true
    }
    let patternLocation = line.location(at: words[1].start)
    var pattern = words[1].text
    if pattern.count >= 2, let quote = pattern.first, quote == "\"" || quote == "'", pattern.last == quote {
      pattern = String(pattern.dropFirst().dropLast())
    }
    if !pattern.hasPrefix("/"), let directory = directoryStack.last, !directory.isEmpty {
      pattern = directory + "/" + pattern
    }
    if directoryStack.count > limits.maxIncludeDepth {
      exceeded(.includeDepth(limits.maxIncludeDepth), at: patternLocation)
      return true
    }
    guard Self.isGlob(pattern) else {
      include(pattern, at: patternLocation)
      return true
    }
    let matches = Self.expandGlob(pattern)
    if matches.isEmpty {
      if first.text == "include" || first.text == "includer" {
        log.warning("include pattern '\(words[1].text)' matched no files", at: patternLocation)
      } else {
        log.error("include pattern '\(words[1].text)' matched no files", at: patternLocation)
      }
      return true
    }
    for match in matches where !stopped {
      if case .notRegular(let kind)? = RegularFileReader.check(match) {
        log.warning("include pattern matched '\(match)', which is \(kind); skipped", at: patternLocation)
        continue
      }
      include(match, at: patternLocation)
    }
    return true
  }

  /// Reads one included file, within the caps on included files and bytes, refusing loops.
  private func include(_ path: String, at location: SourceLocation) {
    if fileStack.contains(Self.canonical(path)) {
      log.error("include loop: '\(path)' is already being read", at: location)
      return
    }
    includedFiles += 1
    guard includedFiles <= limits.maxIncludedFiles else {
      exceeded(.includedFiles(limits.maxIncludedFiles), at: location)
      return
    }
    processFile(path: path, includedFrom: location)
  }

  /// The path with symbolic links and `.`/`..` resolved, or the path itself when that fails.
  static func canonical(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// Whether glob(3) with GLOB_BRACE would treat `pattern` as a pattern rather than a name.
  static func isGlob(_ pattern: String) -> Bool {
    pattern.contains { $0 == "*" || $0 == "?" || $0 == "[" || $0 == "{" }
  }

  /// glob(3) with csh-style braces, sorted like the shell; a pattern with no magic matches itself only if it exists.
  static func expandGlob(_ pattern: String) -> [String] {
    let globBrace: Int32 = 1 << 10  // GLOB_BRACE (GNU extension)
    var result = glob_t()
    defer { globfree(&result) }
    guard glob(pattern, globBrace, nil, &result) == 0 else { return [] }
    var paths: [String] = []
    for index in 0..<Int(result.gl_pathc) {
      if let pointer = result.gl_pathv[index] { paths.append(String(cString: pointer)) }
    }
    return paths
  }
}
