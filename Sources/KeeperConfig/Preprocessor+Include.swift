import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// `include FILE-or-GLOB` and its variants: the named files are spliced in at that line.
///
/// A literal path (no glob characters) must name a readable regular file: anything else is an
/// error. For patterns the variants follow keepalived's parser.c: a pattern that matches nothing is
/// a warning, except that `includew` and `includea` make it an error when it has wildcards
/// (`*`, `?`, `[`), and `includem`, `includeb` and `includea` when it has only braces; `includeb`
/// and `includea` also require every brace alternative to match; a match that is not a regular
/// file is skipped with a warning, an error for `includer` and `includea`. A file that is already
/// being read is an include loop (an error, not a recursion).
extension Preprocessor {
  private static let includePrefix = Array("include".utf8)

  /// keepalived's include_t bits per keyword: R (non-regular match is an error), M (no match
  /// without wildcards is an error), W (no match with wildcards is an error), B (every brace
  /// alternative must match).
  private struct IncludeChecks: OptionSet {
    let rawValue: Int
    static let regular = IncludeChecks(rawValue: 1)
    static let match = IncludeChecks(rawValue: 2)
    static let wildcard = IncludeChecks(rawValue: 4)
    static let braces = IncludeChecks(rawValue: 8)
  }

  private static let includeVariants: [String: IncludeChecks] = [
    "include": [], "includer": [.regular], "includem": [.match], "includew": [.wildcard],
    "includeb": [.braces], "includea": [.regular, .match, .wildcard, .braces],
  ]

  private static var includeKeywords: Set<String> { Set(includeVariants.keys) }

  /// The include keywords, for the keyword catalog.
  static var includeKeywordNames: Set<String> { includeKeywords }

  /// Handles an include line; include detection precedes conditionals and substitution, as in keepalived.
  func handleInclude(_ line: SourceLine) -> Bool {
    // Fast path: most lines do not start with "include".
    guard let start = line.bytes.firstIndex(where: { !Byte.isSpace($0) }),
      line.bytes[start...].starts(with: Self.includePrefix)
    else { return false }
    let words = splitWords(line)
    guard let first = words.first, let checks = Self.includeVariants[first.text] else { return false }
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
      let wildcards = pattern.contains { $0 == "*" || $0 == "?" || $0 == "[" }
      let message = "include pattern '\(words[1].text)' matched no files"
      if wildcards ? checks.contains(.wildcard) : !checks.isDisjoint(with: [.match, .braces]) {
        log.error(message, at: patternLocation)
      } else {
        log.warning(message, at: patternLocation)
      }
      return true
    }
    if checks.contains(.braces), let missing = Self.unmatchedAlternatives(pattern).first {
      log.error(
        "include pattern '\(words[1].text)': alternative '\(missing)' matched no files", at: patternLocation)
      return true
    }
    for match in matches where !stopped {
      if case .notRegular(let kind)? = RegularFileReader.check(match) {
        if checks.contains(.regular) {
          log.error(
            "include pattern matched '\(match)', which is \(kind), not a regular file", at: patternLocation)
        } else {
          log.warning("include pattern matched '\(match)', which is \(kind); skipped", at: patternLocation)
        }
        continue
      }
      include(match, at: patternLocation)
    }
    return true
  }

  /// The brace alternatives of `pattern` that match nothing (glibc's GLOB_BRACE reports only
  /// when all of them do, so the braces are expanded here and each alternative globbed alone).
  private static func unmatchedAlternatives(_ pattern: String) -> [String] {
    expandBraces(pattern).filter { expandGlob($0).isEmpty }
  }

  /// csh-style brace expansion: `a{b,c{d,e}}f` is `abf`, `acdf`, `acef`; a brace without a comma
  /// at its own level is literal.
  static func expandBraces(_ pattern: String) -> [String] {
    let characters = Array(pattern)
    var index = 0
    while index < characters.count {
      guard characters[index] == "{" else {
        index += 1
        continue
      }
      var depth = 0
      var commas: [Int] = []
      var close: Int?
      for position in index..<characters.count {
        switch characters[position] {
        case "{": depth += 1
        case "}":
          depth -= 1
          if depth == 0 { close = position }
        case "," where depth == 1: commas.append(position)
        default: break
        }
        if close != nil { break }
      }
      guard let close, !commas.isEmpty else {
        index += 1
        continue
      }
      let prefix = String(characters[..<index])
      let suffix = String(characters[(close + 1)...])
      let bounds = [index] + commas + [close]
      var result: [String] = []
      for (start, end) in zip(bounds, bounds.dropFirst()) {
        result += expandBraces(prefix + String(characters[(start + 1)..<end]) + suffix)
      }
      return result
    }
    return [pattern]
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
