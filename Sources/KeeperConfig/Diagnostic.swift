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
final class DiagnosticLog {
  private(set) var diagnostics: [Diagnostic] = []
  private(set) var errorCount = 0

  func error(_ message: String, at location: SourceLocation) {
    diagnostics.append(Diagnostic(.error, message, at: location))
    errorCount += 1
  }

  func warning(_ message: String, at location: SourceLocation) {
    diagnostics.append(Diagnostic(.warning, message, at: location))
  }

  /// Diagnostics in reading order: grouped by file (in order of first mention), then by line and column.
  var sorted: [Diagnostic] {
    var rank: [String: Int] = [:]
    for diagnostic in diagnostics where rank[diagnostic.file] == nil { rank[diagnostic.file] = rank.count }
    return diagnostics.enumerated().sorted { lhs, rhs in
      let a = (rank[lhs.element.file] ?? 0, lhs.element.line, lhs.element.column, lhs.offset)
      let b = (rank[rhs.element.file] ?? 0, rhs.element.line, rhs.element.column, rhs.offset)
      return a < b
    }.map(\.element)
  }
}
