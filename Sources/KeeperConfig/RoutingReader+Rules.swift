import KeeperCore

/// `static_rules` and `virtual_rules` entries (see `RoutingReader`): keepalived 2.2's
/// vrrp_iprule.c words, one action per rule, and its preference numbering for rules without one.
extension RoutingReader {
  func rule(_ words: [Token]) -> IPRule? {
    var family: AddressFamily?
    var from: IPPrefix?
    var to: IPPrefix?
    var action: IPRule.Action?
    var priority: UInt32?
    var fwmark: (UInt32, UInt32?)?
    var inputInterface: String?
    var outputInterface: String?
    var invert = false
    var tos: UInt8 = 0
    var index = 0
    func value() -> Token? {
      guard index + 1 < words.count else {
        log.error("rule option '\(words[index].text)' needs a value", at: words[index].location)
        return nil
      }
      index += 1
      return words[index]
    }
    func sameFamily(_ address: AddressFamily, _ token: Token) -> Bool {
      if let family, family != address {
        log.error("rule mixes IPv4 and IPv6 ('\(token.text)')", at: token.location)
        return false
      }
      family = address
      return true
    }
    func setAction(_ new: IPRule.Action, _ token: Token) -> Bool {
      guard action == nil else {
        log.error(
          "a rule takes one of table, goto, nop, blackhole, unreachable, prohibit; '\(token.text)' is a second",
          at: token.location)
        return false
      }
      action = new
      return true
    }
    while index < words.count {
      let word = words[index]
      switch word.text {
      case "inet", "inet6":
        guard sameFamily(word.text == "inet" ? .inet : .inet6, word) else { return nil }
      case "from", "to":
        guard let token = value() else { return nil }
        guard let prefix = prefix(token, family: family) else {
          log.warning(
            "invalid rule \(word.text) address '\(token.text)': the rule is skipped, as keepalived skips it",
            at: token.location)
          return nil
        }
        guard sameFamily(prefix.family, token) else { return nil }
        if word.text == "from" { from = prefix } else { to = prefix }
      case "table", "lookup":
        guard let token = value(), let number = tableNumber(token) else { return nil }
        guard number != 0 else {
          log.error("table 0 is not valid for a rule", at: token.location)
          return nil
        }
        guard setAction(.table(number), token) else { return nil }
      case "not":
        invert = true
      case "preference", "order", "priority":
        guard let token = value() else { return nil }
        guard let number = UInt32(token.text) else {
          log.error("rule preference must be 0..4294967295, not '\(token.text)'", at: token.location)
          return nil
        }
        priority = number
      case "tos", "dsfield":
        guard let token = value() else { return nil }
        guard let number = Self.unsigned(token.text).flatMap({ UInt8(exactly: $0) }) else {
          log.error("rule tos must be 0..255, not '\(token.text)'", at: token.location)
          return nil
        }
        tos = number
      case "fwmark":
        guard let token = value() else { return nil }
        let parts = token.text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let mark = Self.unsigned(String(parts[0])),
          parts.count == 1 || Self.unsigned(String(parts[1])) != nil
        else {
          log.error(
            "rule fwmark must be MARK[/MASK] (0..4294967295 each), not '\(token.text)'", at: token.location)
          return nil
        }
        fwmark = (mark, parts.count == 2 ? Self.unsigned(String(parts[1])) : nil)
      case "dev", "iif":
        guard let token = value() else { return nil }
        inputInterface = token.text
        warnIfMissing(token)
      case "oif":
        guard let token = value() else { return nil }
        outputInterface = token.text
        warnIfMissing(token)
      case "no_track":
        break  // lvskeeper does not track rules (see README)
      default:
        if Self.unsupportedRuleOptions.contains(word.text) {
          log.error("rule option '\(word.text)' is not supported yet", at: word.location)
          return nil
        }
        var token = word
        if token.text == "type" {
          guard let next = value() else { return nil }
          token = next
        }
        let kind: IPRule.Action
        switch token.text {
        case "goto":
          guard let target = value() else { return nil }
          guard let number = UInt32(target.text) else {
            log.error("rule goto target must be 0..4294967295, not '\(target.text)'", at: target.location)
            return nil
          }
          kind = .goto(number)
        case "nop": kind = .nop
        case "blackhole": kind = .blackhole
        case "unreachable": kind = .unreachable
        case "prohibit": kind = .prohibit
        default:
          log.error("unknown rule option '\(token.text)'", at: token.location)
          return nil
        }
        guard setAction(kind, token) else { return nil }
      }
      index += 1
    }
    guard let action else {
      log.warning(
        "rule has no action (table, goto, nop, blackhole, ...): skipped, as keepalived skips it",
        at: words[0].location)
      return nil
    }
    let ruleFamily = family ?? .inet
    if case .goto(let target) = action {
      guard let priority, priority < target else {
        log.error("a goto rule needs a preference below its target \(target)", at: words[0].location)
        return nil
      }
    }
    let assigned: UInt32
    if let priority {
      assigned = priority
    } else {
      assigned = nextRulePriority[ruleFamily, default: 16384]
      nextRulePriority[ruleFamily] = assigned - 1
      log.warning(
        "rule has no preference; keepalived sets it to \(assigned) and so does lvskeeper (this is probably not what you want)",
        at: words[0].location)
    }
    var rule = IPRule(family: ruleFamily, action: action, priority: assigned)
    rule.from = from
    rule.to = to
    rule.fwmark = fwmark?.0
    rule.fwmask = fwmark?.1
    rule.inputInterface = inputInterface
    rule.outputInterface = outputInterface
    rule.invert = invert
    rule.tos = tos
    return rule
  }
}
