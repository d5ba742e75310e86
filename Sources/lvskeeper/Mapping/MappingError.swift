import KeeperConfig

/// A configuration that parsed and validated but that a part cannot run, named by its source position.
struct MappingError: Error, CustomStringConvertible {
  var location: SourceLocation?
  var message: String

  var description: String {
    guard let location else { return "error: \(message)" }
    return "\(location.file):\(location.line):\(location.column): error: \(message)"
  }
}
