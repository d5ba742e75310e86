/// SMTP_CHECK's exchange as a `ProbeConversation`, as keepalived's check_smtp.c runs it: read the
/// greeting banner and require 220, send `HELO <helo_name>` and require 250, send `QUIT` and
/// require a reply (any code: keepalived does not judge it; a close before it is a failure).
///
/// Unlike keepalived, which reads only the first line of a reply (and so fails a multi-line
/// `220-` banner, which RFC 5321 §4.2.1 allows), a reply here is every `ddd-` line up to the
/// `ddd ` line that ends it, and the last line's code is judged.
///
/// Invariants: a reply line longer than `maxLine` bytes (RFC 5321 §4.5.3.1.5's 512, keepalived's
/// SMTP_BUFF_MAX) or a reply of more than `maxReplyLines` lines is a failure, so at most
/// `maxLine` bytes plus one received chunk are held; bytes the server sends after a complete
/// reply and before our next command are dropped (keepalived clears its buffer the same way).
struct SMTPConversation: ProbeConversation {
  static let maxLine = 512
  static let maxReplyLines = 64

  private enum Phase: Equatable { case banner, helo, quit, done }

  private let heloCommand: [UInt8]
  private var phase = Phase.banner
  /// The reply line being read, without its line end.
  private var line: [UInt8] = []
  /// Lines of the reply being read so far (continuation lines included).
  private var replyLines = 0

  init(check: SMTPCheck) {
    heloCommand = Array("HELO \(check.heloName)\r\n".utf8)
  }

  mutating func connected(output: inout [UInt8]) -> ConversationStep { .proceed }

  mutating func received(_ bytes: UnsafeRawBufferPointer, output: inout [UInt8]) -> ConversationStep {
    for byte in bytes {
      guard phase != .done else { return .proceed }
      guard byte == UInt8(ascii: "\n") else {
        guard line.count < Self.maxLine else {
          return finish(.down(reason: "\(what) has a line longer than \(Self.maxLine) bytes"))
        }
        line.append(byte)
        continue
      }
      if line.last == UInt8(ascii: "\r") { line.removeLast() }
      let step = endOfLine(output: &output)
      line.removeAll(keepingCapacity: true)
      if case .finished = step { return step }
    }
    return .proceed
  }

  mutating func closed() -> ProbeOutcome {
    let reason = "connection closed before \(phase == .banner ? "the greeting banner" : "the \(what)")"
    phase = .done
    return .down(reason: reason)
  }

  /// The reply being read, for reasons.
  private var what: String {
    switch phase {
    case .banner, .done: return "greeting banner"
    case .helo: return "reply to HELO"
    case .quit: return "reply to QUIT"
    }
  }

  private mutating func finish(_ outcome: ProbeOutcome) -> ConversationStep {
    phase = .done
    line = []
    return .finished(outcome)
  }

  /// Judges the complete line in `line`.
  private mutating func endOfLine(output: inout [UInt8]) -> ConversationStep {
    guard let (code, last) = Self.parse(line) else {
      return finish(.down(reason: "\(what) is not an SMTP reply: '\(Self.printable(line))'"))
    }
    replyLines += 1
    guard last else {
      guard replyLines < Self.maxReplyLines else {
        return finish(.down(reason: "\(what) runs over \(Self.maxReplyLines) lines"))
      }
      return .proceed
    }
    replyLines = 0
    switch phase {
    case .banner:
      guard code == 220 else { return finish(.down(reason: "bad greeting banner: \(Self.printable(line))")) }
      phase = .helo
      output += heloCommand
      return .proceed
    case .helo:
      guard code == 250 else { return finish(.down(reason: "bad HELO response: \(Self.printable(line))")) }
      phase = .quit
      output += Array("QUIT\r\n".utf8)
      return .proceed
    case .quit:
      return finish(.up(weight: nil))
    case .done:
      return .proceed
    }
  }

  /// A reply line's code and whether it is the reply's last line: three digits, then a space, a
  /// hyphen (more lines follow) or nothing (RFC 5321 §4.2). Nil for anything else.
  static func parse(_ line: [UInt8]) -> (code: Int, last: Bool)? {
    guard line.count >= 3, line[0..<3].allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
    let code = line[0..<3].reduce(0) { $0 * 10 + Int($1 - 0x30) }
    guard line.count > 3 else { return (code, true) }
    switch line[3] {
    case UInt8(ascii: " "): return (code, true)
    case UInt8(ascii: "-"): return (code, false)
    default: return nil
    }
  }

  /// At most 120 bytes of `line` for a reason, control bytes shown as '?'.
  static func printable(_ line: [UInt8]) -> String {
    String(
      decoding: line.prefix(120).map { (0x20..<0x7f).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
  }
}

/// SMTP_CHECK's probes are one connection each, run on the check engine.
extension SMTPCheck: ConversationTemplate {
  var legs: Int { 1 }
  func conversation(leg: Int) -> any ProbeConversation { SMTPConversation(check: self) }
  /// Three replies of at most `SMTPConversation.maxReplyLines` lines of `maxLine` bytes.
  var maxBytesPerLeg: Int { 3 * SMTPConversation.maxReplyLines * SMTPConversation.maxLine }
}
