/// A position in a configuration file: 1-based line and column (columns count bytes).
///
/// Invariant: `line >= 1` and `column >= 1`; `file` is the path as it was opened.
public struct SourceLocation: Codable, Hashable, Sendable, CustomStringConvertible {
  public var file: String
  public var line: Int
  public var column: Int

  public init(file: String, line: Int, column: Int) {
    self.file = file
    self.line = max(1, line)
    self.column = max(1, column)
  }

  public var description: String { "\(file):\(line):\(column)" }
}

/// How serious a diagnostic is: an error makes the configuration unusable, a warning does not.
public enum Severity: String, Codable, Sendable {
  case error
  case warning
}

/// One message about the configuration, anchored at the token it concerns.
///
/// Invariant: `description` is exactly `FILE:LINE:COL: error|warning: message`.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible, Codable {
  public var location: SourceLocation
  public var severity: Severity
  public var message: String

  public init(_ severity: Severity, _ message: String, at location: SourceLocation) {
    self.location = location
    self.severity = severity
    self.message = message
  }

  public var file: String { location.file }
  public var line: Int { location.line }
  public var column: Int { location.column }

  public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// The failure of a configuration load: every diagnostic found, in source order of discovery.
///
/// Invariant: `errors` is never empty.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
  /// All diagnostics, errors and warnings, in the order they were found.
  public let diagnostics: [Diagnostic]

  public init(diagnostics: [Diagnostic]) {
    self.diagnostics = diagnostics
  }

  public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
  public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }

  public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Collects diagnostics while a configuration is read; one per load, never shared.
///
/// The stages of a load (preprocessing, tokenizing, parsing, assembling) run interleaved, a line
/// or a block at a time, but diagnostics are ordered as if each stage had finished before the next
/// began: every diagnostic carries the stage that was current when it was logged, and `sorted`
/// ranks by stage before the order of logging. Invariant: within one stage, diagnostics are
/// logged in the order the whole-file pipeline would log them.
final class DiagnosticLog {
  /// A stage of a load, in the order a whole-file pipeline runs them.
  enum Stage: UInt8, Comparable {
    case preprocess
    case tokenize
    case parse
    case assemble

    static func < (lhs: Stage, rhs: Stage) -> Bool { lhs.rawValue < rhs.rawValue }
  }

  private(set) var diagnostics: [Diagnostic] = []
  private var stages: [Stage] = []
  private(set) var errorCount = 0
  /// The stage diagnostics are logged under.
  var stage: Stage = .preprocess

  func error(_ message: String, at location: SourceLocation) {
    diagnostics.append(Diagnostic(.error, message, at: location))
    stages.append(stage)
    errorCount += 1
  }

  func warning(_ message: String, at location: SourceLocation) {
    diagnostics.append(Diagnostic(.warning, message, at: location))
    stages.append(stage)
  }

  /// Runs `body` with `stage` current, then restores the stage that was current before.
  func during<T>(_ stage: Stage, _ body: () throws -> T) rethrows -> T {
    let outer = self.stage
    self.stage = stage
    defer { self.stage = outer }
    return try body()
  }

  /// The diagnostics of stages up to `last`, sorted as `sorted` sorts them.
  func sorted(through last: Stage) -> [Diagnostic] {
    sort(diagnostics.indices.filter { stages[$0] <= last })
  }

  /// Diagnostics in reading order: grouped by file (in order of first mention, stage by stage),
  /// then by line and column; at one position, by stage, then in the order they were logged.
  var sorted: [Diagnostic] { sort(Array(diagnostics.indices)) }

  private func sort(_ indices: [Int]) -> [Diagnostic] {
    let ordered = indices.sorted { (stages[$0], $0) < (stages[$1], $1) }
    var rank: [String: Int] = [:]
    for index in ordered where rank[diagnostics[index].file] == nil {
      rank[diagnostics[index].file] = rank.count
    }
    return ordered.enumerated().sorted { lhs, rhs in
      let (l, r) = (diagnostics[lhs.element], diagnostics[rhs.element])
      return (rank[l.file] ?? 0, l.line, l.column, lhs.offset) < (
        rank[r.file] ?? 0, r.line, r.column, rhs.offset
      )
    }.map { diagnostics[$0.element] }
  }
}
