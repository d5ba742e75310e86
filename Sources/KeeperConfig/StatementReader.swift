import KeeperCore

/// Reads typed values out of statements, reporting every problem at the offending token.
///
/// Invariant: a method that returns nil has logged exactly one error explaining why.
struct StatementReader {
  let log: DiagnosticLog

  /// Rejects a keyword the enclosing block does not define: ignored ones warn, unsupported and
  /// unknown ones are errors.
  func reject(_ node: ConfigNode, in context: String) {
    let name = node.name
    if KeywordCatalog.unsupportedCheckers.contains(name) {
      log.error(
        "unsupported checker '\(name)': lvskeeper cannot run this health check (supported: \(KeywordCatalog.supportedCheckers))",
        at: node.location)
    } else if let reason = KeywordCatalog.unsupportedReasons[name] {
      log.error("unsupported keyword '\(name)' in \(context): \(reason)", at: node.location)
    } else if KeywordCatalog.unsupported.contains(name) {
      log.error(
        "unsupported keyword '\(name)' in \(context): lvskeeper does not implement it", at: node.location)
    } else if KeywordCatalog.ignored.contains(name) {
      log.warning("keyword '\(name)' in \(context) is ignored by lvskeeper", at: node.location)
    } else {
      log.error("unknown keyword '\(name)' in \(context)", at: node.location)
    }
  }

  /// Checks the argument count; `usage` shows the expected form. It is built only for an error:
  /// every statement of a large configuration passes here.
  @discardableResult
  func expect(_ node: ConfigNode, arguments range: ClosedRange<Int>, usage: @autoclosure () -> String) -> Bool
  {
    if node.arguments.count < range.lowerBound {
      log.error("'\(node.name)' is missing its argument (usage: \(usage()))", at: node.location)
      return false
    }
    if node.arguments.count > range.upperBound {
      log.error(
        "unexpected argument '\(node.arguments[range.upperBound].text)' to '\(node.name)' (usage: \(usage()))",
        at: node.arguments[range.upperBound].location)
      return false
    }
    return true
  }

  /// A statement that must not open a block.
  func plain(_ node: ConfigNode) -> Bool {
    if node.isBlock {
      log.error("'\(node.name)' does not take a block", at: node.location)
      return false
    }
    return true
  }

  /// A statement that must open a block; returns its statements.
  func block(_ node: ConfigNode) -> [ConfigNode]? {
    guard let children = node.children else {
      log.error("'\(node.name)' needs a block: \(node.name) ... { ... }", at: node.location)
      return nil
    }
    return children
  }

  func integer(_ token: Token, _ range: ClosedRange<Int>, what: String) -> Int? {
    guard let value = Int(token.text) else {
      log.error("\(what) must be an integer, not '\(token.text)'", at: token.location)
      return nil
    }
    guard range.contains(value) else {
      log.error(
        "\(what) \(value) is out of range \(range.lowerBound)..\(range.upperBound)", at: token.location)
      return nil
    }
    return value
  }

  func seconds(_ token: Token, _ range: ClosedRange<Double>, what: String) -> Double? {
    guard let value = Double(token.text), value.isFinite, token.text.first != "+" else {
      log.error("\(what) must be a number of seconds, not '\(token.text)'", at: token.location)
      return nil
    }
    guard range.contains(value) else {
      log.error(
        "\(what) \(token.text) is out of range \(format(range.lowerBound))..\(format(range.upperBound))",
        at: token.location)
      return nil
    }
    return value
  }

  func address(_ token: Token, what: String = "IP address") -> IPAddress? {
    guard let address = IPAddress(token.text) else {
      log.error("invalid \(what) '\(token.text)'", at: token.location)
      return nil
    }
    return address
  }

  func port(_ token: Token, allowZero: Bool = false) -> Int? {
    integer(token, (allowZero ? 0 : 1)...65535, what: "port")
  }

  /// `keyword INT` in `range`.
  func integerValue(_ node: ConfigNode, _ range: ClosedRange<Int>) -> Int? {
    guard plain(node), expect(node, arguments: 1...1, usage: "\(node.name) INTEGER") else { return nil }
    return integer(node.arguments[0], range, what: node.name)
  }

  /// `keyword SECONDS` in `range`.
  func secondsValue(_ node: ConfigNode, _ range: ClosedRange<Double>) -> Double? {
    guard plain(node), expect(node, arguments: 1...1, usage: "\(node.name) SECONDS") else { return nil }
    return seconds(node.arguments[0], range, what: node.name)
  }

  func addressValue(_ node: ConfigNode) -> IPAddress? {
    guard plain(node), expect(node, arguments: 1...1, usage: "\(node.name) IP") else { return nil }
    return address(node.arguments[0])
  }

  func stringValue(_ node: ConfigNode) -> String? {
    guard plain(node), expect(node, arguments: 1...1, usage: "\(node.name) STRING") else { return nil }
    return node.arguments[0].text
  }

  /// A flag: `keyword` alone means true; `keyword BOOL` (on|off|true|false|yes|no) sets it.
  func flag(_ node: ConfigNode) -> Bool? {
    guard plain(node), expect(node, arguments: 0...1, usage: "\(node.name) [on|off]") else { return nil }
    guard let token = node.arguments.first else { return true }
    switch token.text.lowercased() {
    case "on", "true", "yes": return true
    case "off", "false", "no": return false
    default:
      log.error("'\(node.name)' expects on|off|true|false|yes|no, not '\(token.text)'", at: token.location)
      return nil
    }
  }

  /// `keyword SCRIPT [USER [GROUP]]`: a quoted string is one command line, split into argv.
  func script(_ node: ConfigNode) -> ScriptCommand? {
    guard plain(node), expect(node, arguments: 1...3, usage: "\(node.name) \"COMMAND ARGS\" [USER [GROUP]]")
    else { return nil }
    return makeScript(command: node.arguments[0], user: Array(node.arguments.dropFirst()))
  }

  /// `keyword WORDS...`: the whole remainder is the command line (vrrp_script `script`, `misc_path`).
  func commandLine(_ node: ConfigNode) -> ScriptCommand? {
    guard plain(node), expect(node, arguments: 1...Int.max, usage: "\(node.name) \"COMMAND ARGS\"") else {
      return nil
    }
    if node.arguments.count == 1 { return makeScript(command: node.arguments[0], user: []) }
    let argv = node.arguments.map(\.text)
    return ScriptCommand(command: argv.joined(separator: " "), argv: argv, user: nil)
  }

  func scriptUser(_ node: ConfigNode) -> ScriptUser? {
    guard plain(node), expect(node, arguments: 1...2, usage: "\(node.name) USER [GROUP]") else { return nil }
    return ScriptUser(
      user: node.arguments[0].text, group: node.arguments.count > 1 ? node.arguments[1].text : nil)
  }

  private func makeScript(command: Token, user: [Token]) -> ScriptCommand? {
    let argv: [String]
    do {
      argv = try ScriptLine.argv(command.text)
    } catch {
      log.error(error.description, at: command.location)
      return nil
    }
    let scriptUser = user.first.map { ScriptUser(user: $0.text, group: user.count > 1 ? user[1].text : nil) }
    return ScriptCommand(command: command.text, argv: argv, user: scriptUser)
  }

  private func format(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }
}
