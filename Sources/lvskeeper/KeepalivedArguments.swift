/// Maps keepalived's command line onto lvskeeper subcommands, so `lvskeeper -t -f FILE` behaves like
/// `keepalived -t -f FILE`.
///
/// Invariant: arguments that already start with a subcommand or a help flag pass through unchanged.
enum KeepalivedArguments {
  static let subcommands: Set<String> = [
    "check-config", "dump-config", "run", "status", "reload", "stop", "help",
  ]

  /// Arguments swift-argument-parser handles itself at the root: help, version, and the shell
  /// completion machinery (`--generate-completion-script SHELL`, and `---completion`, which the
  /// generated scripts call back with).
  static let rootOptions: Set<String> = [
    "-h", "--help", "--version", "--generate-completion-script", "---completion",
    "--experimental-dump-help",
  ]

  static func rewrite(_ arguments: [String]) -> [String] {
    guard let first = arguments.first, !subcommands.contains(first), first.hasPrefix("-") else {
      return arguments
    }
    // keepalived's -v/--version prints the version; ArgumentParser spells it --version.
    if first == "-v" { return ["--version"] + arguments.dropFirst() }
    let name = first.split(separator: "=", maxSplits: 1).first.map(String.init) ?? first
    if rootOptions.contains(name) { return arguments }
    var test = false
    var config: String?
    var configID: String?
    var rest: [String] = []
    var index = 0
    func value(after option: String) -> String? {
      if let equals = arguments[index].firstIndex(of: "="), arguments[index].hasPrefix("--") {
        return String(arguments[index][arguments[index].index(after: equals)...])
      }
      guard index + 1 < arguments.count else { return nil }
      index += 1
      return arguments[index]
    }
    while index < arguments.count {
      let argument = arguments[index]
      switch argument {
      case "-t", "--config-test": test = true
      case "-f", "--use-file", "--config": config = value(after: argument)
      case "-i", "--config-id": configID = value(after: argument)
      case "-l", "--log-console", "-D", "--log-detail", "-n", "--dont-fork", "-P", "--vrrp", "-C", "--check":
        break  // keepalived logging/process options: no meaning for lvskeeper's single process.
      default:
        if argument.hasPrefix("--use-file=") {
          config = String(argument.dropFirst("--use-file=".count))
        } else if argument.hasPrefix("--config-id=") {
          configID = String(argument.dropFirst("--config-id=".count))
        } else if argument.hasPrefix("-t") && argument.count > 2 && !argument.hasPrefix("--") {
          // keepalived's optional-argument form -tFILE
          test = true
          config = String(argument.dropFirst(2))
        } else {
          rest.append(argument)
        }
      }
      index += 1
    }
    var rewritten = [test ? "check-config" : "run"]
    if let config { rewritten += ["--config", config] }
    if let configID { rewritten += ["--config-id", configID] }
    return rewritten + rest
  }
}
