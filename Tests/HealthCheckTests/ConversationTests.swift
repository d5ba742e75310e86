import XCTest

@testable import HealthCheck

/// The stream checkers' conversations fed bytes directly, in every split (whole, one byte at a
/// time, and every two-piece split): the verdict and every byte they answer must not depend on how
/// the server's bytes arrive.
final class ConversationTests: XCTestCase {
  /// What a conversation did with a server's bytes.
  struct Transcript: Equatable {
    var sent: [[UInt8]] = []
    var outcome: ProbeOutcome?
    /// Bytes fed after the verdict (the conversation must ignore them).
    var fedAfterVerdict = 0
  }

  /// Feeds `server` to a fresh conversation in pieces cut at `cuts`, collecting what it sends.
  static func run(
    _ make: () -> any ProbeConversation, server: [UInt8], cuts: [Int], closeAtEnd: Bool = false
  ) -> Transcript {
    var conversation = make()
    var transcript = Transcript()
    var output: [UInt8] = []
    if case .finished(let o) = conversation.connected(output: &output) { transcript.outcome = o }
    if !output.isEmpty { transcript.sent.append(output) }
    var start = 0
    for end in cuts + [server.count] where end > start || end == server.count {
      let piece = Array(server[start..<max(start, end)])
      start = max(start, end)
      if piece.isEmpty { continue }
      if transcript.outcome != nil {
        transcript.fedAfterVerdict += piece.count
        continue
      }
      output.removeAll()
      let step = piece.withUnsafeBytes { conversation.received($0, output: &output) }
      if !output.isEmpty { transcript.sent.append(output) }
      if case .finished(let o) = step { transcript.outcome = o }
    }
    if transcript.outcome == nil, closeAtEnd { transcript.outcome = conversation.closed() }
    return transcript
  }

  /// The transcript whole, one byte at a time and at every two-piece split must agree, except for
  /// how the sent bytes are grouped; returns the whole-buffer one.
  static func agreeOnEverySplit(
    _ make: () -> any ProbeConversation, server: [UInt8], closeAtEnd: Bool = false, name: String,
    file: StaticString = #filePath, line: UInt = #line
  ) -> Transcript {
    let whole = run(make, server: server, cuts: [], closeAtEnd: closeAtEnd)
    var splits: [[Int]] = [Array(0..<server.count)]
    splits += (1..<max(1, server.count)).map { [$0] }
    for cuts in splits {
      let t = run(make, server: server, cuts: cuts, closeAtEnd: closeAtEnd)
      XCTAssertEqual(
        t.outcome, whole.outcome, "\(name): split \(cuts.count == 1 ? "at \(cuts[0])" : "bytewise")",
        file: file, line: line)
      XCTAssertEqual(
        t.sent.joined().map { $0 }, whole.sent.joined().map { $0 }, "\(name): bytes sent", file: file,
        line: line)
    }
    return whole
  }

  static func mysqlPacket(_ payload: [UInt8], seq: UInt8) -> [UInt8] {
    [UInt8(payload.count & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count >> 16), seq] + payload
  }

  // MARK: MySQL

  func testMySQLGreetingOnlyAndLoginInEverySplit() throws {
    let target = CheckTarget(address: "127.0.0.1", port: 3306)
    let greeting = Self.mysqlPacket(FakeMySQLServer.greeting(plugin: "mysql_native_password"), seq: 0)
    let ok = Self.mysqlPacket([0x00, 0, 0, 2, 0, 0, 0], seq: 2)

    let anonymous = MySQLCheck(target: target)
    let t1 = Self.agreeOnEverySplit(
      { anonymous.conversation(leg: 0) }, server: greeting, name: "greeting only")
    XCTAssertEqual(t1.outcome, .up(weight: nil))
    XCTAssertEqual(t1.sent, [], "no user: nothing is sent")

    let check = MySQLCheck(target: target, user: "probe", password: "secret", database: "shop")
    let t2 = Self.agreeOnEverySplit(
      { check.conversation(leg: 0) }, server: greeting + ok, name: "native login")
    XCTAssertEqual(t2.outcome, .up(weight: nil))
    let parsed = try MySQLProtocol.parseGreeting(FakeMySQLServer.greeting(plugin: "mysql_native_password"))
    let login = MySQLProtocol.loginPacket(
      user: "probe", password: "secret", database: "shop", greeting: parsed, plugin: "mysql_native_password")
    XCTAssertEqual(
      Array(t2.sent.joined()), Self.mysqlPacket(login, seq: 1) + Self.mysqlPacket([0x01], seq: 0),
      "login, then COM_QUIT")

    // caching_sha2_password fast auth: 0x01 0x03 then OK, in one read or many.
    let sha = Self.mysqlPacket(FakeMySQLServer.greeting(plugin: "caching_sha2_password"), seq: 0)
    let fast = Self.mysqlPacket([0x01, 0x03], seq: 2) + Self.mysqlPacket([0x00, 0, 0, 2, 0, 0, 0], seq: 3)
    let t3 = Self.agreeOnEverySplit({ check.conversation(leg: 0) }, server: sha + fast, name: "fast auth")
    XCTAssertEqual(t3.outcome, .up(weight: nil))
    XCTAssertEqual(Array(t3.sent.joined().suffix(5)), Self.mysqlPacket([0x01], seq: 0), "COM_QUIT last")
  }

  func testMySQLFailuresAndBounds() throws {
    let target = CheckTarget(address: "127.0.0.1", port: 3306)
    let check = MySQLCheck(target: target, user: "probe", password: "secret")
    let greeting = Self.mysqlPacket(FakeMySQLServer.greeting(plugin: "mysql_native_password"), seq: 0)
    struct Case {
      var name: String
      var server: [UInt8]
      var close = false
      var reason: String
    }
    let cases = [
      Case(
        name: "ERR instead of a greeting",
        server: Self.mysqlPacket([0xff, 0x69, 0x04] + Array("Host blocked".utf8), seq: 0),
        reason: "ERR 1129: Host blocked"),
      Case(
        name: "access denied",
        server: greeting + Self.mysqlPacket([0xff, 0x15, 0x04] + Array("#28000Access denied".utf8), seq: 2),
        reason: "ERR 1045: Access denied"),
      Case(
        name: "16 MB packet announced: refused from its header",
        server: [0xff, 0xff, 0xff, 0x00], reason: "server announced a packet of 16777215 bytes (limit 16384)"),
      Case(
        name: "oversized packet after the greeting", server: greeting + [0x01, 0x40, 0x00, 0x02],
        reason: "server announced a packet of 16385 bytes"),
      Case(name: "not MySQL", server: Self.mysqlPacket([9, 1, 2], seq: 0), reason: "bad greeting"),
      Case(
        name: "closed before the greeting", server: [0x10, 0x00], close: true,
        reason: "connection closed before the greeting"),
      Case(
        name: "closed during login", server: greeting, close: true, reason: "connection closed during login"),
      Case(
        name: "unsupported plugin switch",
        server: greeting
          + Self.mysqlPacket([0xfe] + Array("client_ed25519".utf8) + [0] + Array(1...32), seq: 2),
        reason: "server asked for unsupported auth plugin client_ed25519"),
    ]
    for c in cases {
      let t = Self.agreeOnEverySplit(
        { check.conversation(leg: 0) }, server: c.server, closeAtEnd: c.close, name: c.name)
      guard case .down(let reason) = t.outcome else {
        XCTFail("\(c.name): \(String(describing: t.outcome))")
        continue
      }
      XCTAssertTrue(reason.contains(c.reason), "\(c.name): \(reason)")
    }
    // The refusal comes from the header: a server streaming 16 MB is cut off after 4 bytes.
    var conversation = check.conversation(leg: 0)
    var output: [UInt8] = []
    let header: [UInt8] = [0xff, 0xff, 0xff, 0x00]
    let step = header.withUnsafeBytes { conversation.received($0, output: &output) }
    guard case .finished(.down) = step else { return XCTFail("\(step)") }
  }

  // MARK: SMTP

  static func smtp(_ lines: String...) -> [UInt8] { Array(lines.map { $0 + "\r\n" }.joined().utf8) }

  func testSMTPDialogueInEverySplit() {
    let check = SMTPCheck(target: CheckTarget(address: "127.0.0.1", port: 25), heloName: "foo.bar.com")
    let server = Self.smtp(
      "220-mx.example ESMTP", "220-second line of the banner", "220 last", "250 mx.example Hello foo.bar.com",
      "221 2.0.0 bye")
    let t = Self.agreeOnEverySplit({ check.conversation(leg: 0) }, server: server, name: "multi-line banner")
    XCTAssertEqual(t.outcome, .up(weight: nil))
    XCTAssertEqual(Array(t.sent.joined()), Array("HELO foo.bar.com\r\nQUIT\r\n".utf8))

    // Bare LF line ends and a bare code are replies too; any reply to QUIT is up (keepalived).
    let lf = Array("220\n250 ok\n500 whatever\n".utf8)
    XCTAssertEqual(
      Self.agreeOnEverySplit({ check.conversation(leg: 0) }, server: lf, name: "LF only").outcome,
      .up(weight: nil))
    // Without helo_name, keepalived's SMTP_DEFAULT_HELO.
    let plain = SMTPCheck(target: check.target)
    let greeted = Self.run({ plain.conversation(leg: 0) }, server: Self.smtp("220 hi"), cuts: [])
    XCTAssertEqual(greeted.sent, [Array("HELO smtpchecker.keepalived.org\r\n".utf8)])
  }

  func testSMTPFailuresAndBounds() {
    let check = SMTPCheck(target: CheckTarget(address: "127.0.0.1", port: 25))
    struct Case {
      var name: String
      var server: [UInt8]
      var close = false
      var reason: String
    }
    let cases = [
      Case(
        name: "554 banner", server: Self.smtp("554 5.7.1 no service"),
        reason: "bad greeting banner: 554 5.7.1 no service"),
      Case(
        name: "multi-line 554 banner", server: Self.smtp("554-go away", "554 really"),
        reason: "bad greeting banner: 554 really"),
      Case(
        name: "HELO refused", server: Self.smtp("220 hi", "550 not you"),
        reason: "bad HELO response: 550 not you"),
      Case(
        name: "not SMTP", server: Self.smtp("HTTP/1.0 200 OK"),
        reason: "greeting banner is not an SMTP reply: 'HTTP/1.0 200 OK'"),
      Case(name: "bad separator", server: Self.smtp("220xhello"), reason: "is not an SMTP reply"),
      Case(
        name: "line of 600 bytes", server: Array(("220 " + String(repeating: "x", count: 600)).utf8),
        reason: "greeting banner has a line longer than 512 bytes"),
      Case(
        name: "endless continuation",
        server: Array(repeating: Array("220-more\r\n".utf8), count: 70).flatMap { $0 },
        reason: "greeting banner runs over 64 lines"),
      Case(
        name: "closed before the banner", server: [], close: true,
        reason: "connection closed before the greeting banner"),
      Case(
        name: "closed before the HELO reply", server: Self.smtp("220 hi"), close: true,
        reason: "connection closed before the reply to HELO"),
      Case(
        name: "closed before the QUIT reply (keepalived: read failure)",
        server: Self.smtp("220 hi", "250 ok"),
        close: true, reason: "connection closed before the reply to QUIT"),
      Case(
        name: "half a banner, then closed", server: Array("220 mx.exa".utf8), close: true,
        reason: "connection closed before the greeting banner"),
    ]
    for c in cases {
      let t = Self.agreeOnEverySplit(
        { check.conversation(leg: 0) }, server: c.server, closeAtEnd: c.close, name: c.name)
      guard case .down(let reason) = t.outcome else {
        XCTFail("\(c.name): \(String(describing: t.outcome))")
        continue
      }
      XCTAssertTrue(reason.contains(c.reason), "\(c.name): \(reason)")
    }
  }
}
