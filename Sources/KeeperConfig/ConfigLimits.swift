/// Caps on the work of reading one configuration, so that a hostile or mistaken file (includes
/// that include each other, a parameter that doubles at every level, nested `~SEQ`) ends in an
/// error within a fraction of a second and bounded memory, instead of running for minutes.
///
/// Invariant: every cap is checked before the work it bounds is done (a file's size before it is
/// read, an expansion's size before the line is built, a sequence's length before it is
/// generated), and the first cap hit stops all further reading. The values are far above real
/// configurations: `bench/config-parse.sh` (1,000 virtual servers x 50 real servers, 306k lines,
/// about 7 MB) uses under a third of the line cap and a ninth of the byte cap.
struct ConfigLimits: Sendable {
  /// Logical lines after includes, conditionals, parameters and repetition.
  var maxLines = 1_000_000
  /// Bytes of those lines, and separately bytes read from files.
  var maxBytes = 64 << 20
  /// Files opened through `include` (counting a file each time it is included).
  var maxIncludedFiles = 10_000
  /// Includes nested inside includes.
  var maxIncludeDepth = 16
  /// Bytes of one line after parameter substitution (a multi-line parameter counts as one line).
  var maxLineBytes = 1 << 20
  /// Parameter substitutions in one line.
  var maxSubstitutionsPerLine = 10_000
  /// Parameter substitutions in the whole configuration.
  var maxSubstitutions = 500_000
  /// Bytes added by parameter substitution in the whole configuration.
  var maxExpansionBytes = 32 << 20
  /// Parameters expanding to parameters, and `~SEQ`/`~LST` inside `~SEQ`/`~LST`.
  var maxExpansionDepth = 32
  /// Lines repeated by `~SEQ`, `~SEQx` and `~LST` in the whole configuration.
  var maxRepetitions = 200_000

  static let standard = ConfigLimits()
}

/// A cap of `ConfigLimits` that was reached; names itself in the error.
enum ConfigCap {
  case lines(Int)
  case bytes(Int)
  case bytesRead(Int)
  case includedFiles(Int)
  case includeDepth(Int)
  case lineBytes(Int)
  case substitutionsPerLine(Int)
  case substitutions(Int)
  case expansionBytes(Int)
  case expansionDepth(Int)
  case repetitions(Int)

  var message: String {
    switch self {
    case .lines(let n): return "more than \(n) lines after includes and expansion (cap: expanded lines)"
    case .bytes(let n): return "more than \(n) bytes after includes and expansion (cap: expanded bytes)"
    case .bytesRead(let n): return "more than \(n) bytes read from configuration files (cap: bytes read)"
    case .includedFiles(let n): return "more than \(n) files included (cap: included files)"
    case .includeDepth(let n): return "includes nested deeper than \(n) levels (cap: include depth)"
    case .lineBytes(let n):
      return "parameter substitution makes a line longer than \(n) bytes (cap: expanded line bytes)"
    case .substitutionsPerLine(let n):
      return
        "more than \(n) parameter substitutions in one line (cap: substitutions per line; recursive definition?)"
    case .substitutions(let n): return "more than \(n) parameter substitutions (cap: substitutions)"
    case .expansionBytes(let n):
      return "parameter substitution adds more than \(n) bytes (cap: expansion bytes)"
    case .expansionDepth(let n):
      return "parameters or ~SEQ/~LST nested deeper than \(n) levels (cap: expansion depth)"
    case .repetitions(let n): return "~SEQ/~LST repeat more than \(n) lines (cap: repetitions)"
    }
  }
}
