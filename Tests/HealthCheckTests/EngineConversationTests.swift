import Foundation
import Glibc
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// A line protocol for driving the engine: sends `PING\r\n` on connect, is up on a first line
/// `+PONG`, down on any other line, and down when the peer closes first. Bytes are taken one at a
/// time, so any split works.
private struct PingConversation: ProbeConversation {
  var line: [UInt8] = []
  mutating func connected(output: inout [UInt8]) -> ConversationStep {
    output.append(contentsOf: Array("PING\r\n".utf8))
    return .proceed
  }
  mutating func received(_ bytes: UnsafeRawBufferPointer, output: inout [UInt8]) -> ConversationStep {
    for byte in bytes {
      guard byte == UInt8(ascii: "\n") else {
        line.append(byte)
        continue
      }
      let text = String(decoding: line, as: UTF8.self)
      output.append(contentsOf: Array("QUIT\r\n".utf8))
      return .finished(text.hasPrefix("+PONG") ? .up(weight: nil) : .down(reason: "said \(text)"))
    }
    return .proceed
  }
  mutating func closed() -> ProbeOutcome { .down(reason: "closed before the reply") }
}

private struct PingTemplate: ConversationTemplate {
  var legs: Int
  var maxBytesPerLeg: Int = 1 << 20
  func conversation(leg: Int) -> any ProbeConversation { PingConversation() }
  func describe(failure reason: String, leg: Int) -> String { "leg \(leg): \(reason)" }
}

/// The check engine running conversations against real loopback servers: legs in turn (one
/// connection each), the deadline over connect and exchange, the read cap, resets and refusals
/// with their reasons, and no descriptor or slot left behind.
final class EngineConversationTests: XCTestCase {
  let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  override func tearDown() { try? serverGroup.syncShutdownGracefully() }

  private func probe(port: UInt16, template: PingTemplate, timeout: Duration = .seconds(2)) throws
    -> ProbeOutcome
  {
    let engine = try TCPCheckEngine.shared.get()
    let job = try TCPCheckRunner.job(
      target: CheckTarget(address: "127.0.0.1", port: port), timeout: timeout, template: template
    ).get()
    let result = OutcomeBox()
    engine.probeOnce(job) { result.set($0) }
    return try result.wait()
  }

  func testLegsRunInTurnEachOnItsOwnConnection() throws {
    let server = try MisbehavingServer(.respond("+PONG\r\n"), group: serverGroup)
    defer { server.close() }
    XCTAssertEqual(try probe(port: server.port, template: PingTemplate(legs: 3)), .up(weight: nil))
    XCTAssertEqual(server.peers.all.count, 3, "three legs, three connections")
  }

  func testFirstFailingLegDecidesAndLaterLegsDoNotRun() throws {
    let server = try MisbehavingServer(.respond("-ERR busy\r\n"), group: serverGroup)
    defer { server.close() }
    XCTAssertEqual(
      try probe(port: server.port, template: PingTemplate(legs: 3)), .down(reason: "said -ERR busy\r"))
    XCTAssertEqual(server.peers.all.count, 1)
  }

  func testFailuresTheEngineSeesAreWordedByTheTemplate() throws {
    let hang = try MisbehavingServer(.hang, group: serverGroup)
    let reset = try MisbehavingServer(.reset, group: serverGroup)
    let closing = try MisbehavingServer(.respond(""), group: serverGroup)
    defer { for s in [hang, reset, closing] { s.close() } }
    let refused = try MisbehavingServer.closedPort()
    XCTAssertEqual(
      try probe(port: hang.port, template: PingTemplate(legs: 1), timeout: .milliseconds(300)),
      .down(reason: "leg 0: timed out after 0.3s"))
    XCTAssertEqual(
      try probe(port: refused, template: PingTemplate(legs: 2)), .down(reason: "leg 0: Connection refused"))
    let resetOutcome = try probe(port: reset.port, template: PingTemplate(legs: 1))
    XCTAssertTrue(
      [
        .down(reason: "leg 0: Connection reset by peer"), .down(reason: "leg 0: Broken pipe"),
        .down(reason: "closed before the reply"),
      ].contains(
        resetOutcome), "\(resetOutcome)")
    XCTAssertEqual(
      try probe(port: closing.port, template: PingTemplate(legs: 1)), .down(reason: "closed before the reply")
    )
  }

  /// A server that sends more than the cap without ever ending its line fails at the cap.
  func testReadCapEndsAnEndlessReply() throws {
    let server = try MisbehavingServer(
      .respond(String(repeating: "x", count: 300_000)), group: serverGroup)
    defer { server.close() }
    XCTAssertEqual(
      try probe(port: server.port, template: PingTemplate(legs: 1, maxBytesPerLeg: 100_000)),
      .down(reason: "leg 0: response larger than 100000 bytes"))
  }

  /// 3,000 conversations at once against answering, hanging, resetting and refusing servers:
  /// every one ends, and the descriptor count and the engine's slots return to where they were.
  func testManyConversationsLeaveNoDescriptors() throws {
    let engine = try TCPCheckEngine.shared.get()
    let pong = try MisbehavingServer(.respond("+PONG\r\n"), group: serverGroup)
    let hang = try MisbehavingServer(.hang, group: serverGroup)
    let reset = try MisbehavingServer(.reset, group: serverGroup)
    defer { for s in [pong, hang, reset] { s.close() } }
    let ports = [pong.port, hang.port, reset.port, try MisbehavingServer.closedPort()]
    _ = try probe(port: pong.port, template: PingTemplate(legs: 1))
    let slots = engine.activeCount
    let before = openDescriptorCount()
    let outcomes = OutcomeList()
    for i in 0..<3000 {
      let job = try TCPCheckRunner.job(
        target: CheckTarget(address: "127.0.0.1", port: ports[i % 4]),
        timeout: i % 4 == 0 ? .seconds(20) : .milliseconds(300),
        template: PingTemplate(legs: 2)
      ).get()
      engine.probeOnce(job) { outcomes.append(i % 4, $0) }
    }
    let deadline = Date().addingTimeInterval(30)
    while outcomes.count < 3000 && Date() < deadline { usleep(20_000) }
    XCTAssertEqual(outcomes.count, 3000)
    XCTAssertEqual(
      outcomes.ups(kind: 0), 750, "every answering server is up: \(outcomes.downs(kind: 0).prefix(3))")
    XCTAssertEqual(outcomes.ups(kind: 1) + outcomes.ups(kind: 2) + outcomes.ups(kind: 3), 0)
    XCTAssertEqual(engine.activeCount, slots)
    var after = openDescriptorCount()
    for _ in 0..<50 where after > before {
      usleep(100_000)
      after = openDescriptorCount()
    }
    XCTAssertLessThanOrEqual(after, before)
  }
}

/// One outcome handed over from the engine thread.
final class OutcomeBox: @unchecked Sendable {
  private let condition = NSCondition()
  private var outcome: ProbeOutcome?
  func set(_ o: ProbeOutcome) {
    condition.withLock {
      outcome = o
      condition.signal()
    }
  }
  func wait(seconds: Double = 30) throws -> ProbeOutcome {
    try condition.withLock {
      let deadline = Date().addingTimeInterval(seconds)
      while outcome == nil {
        guard condition.wait(until: deadline) else { throw WaitTimedOut(seconds: seconds) }
      }
      return outcome ?? .down(reason: "none")
    }
  }
}

/// Outcomes by kind, from the engine thread.
final class OutcomeList: @unchecked Sendable {
  private let lock = NSLock()
  private var items: [(Int, ProbeOutcome)] = []
  func append(_ kind: Int, _ o: ProbeOutcome) { lock.withLock { items.append((kind, o)) } }
  var count: Int { lock.withLock { items.count } }
  func ups(kind: Int) -> Int { lock.withLock { items.filter { $0.0 == kind && $0.1.isUp }.count } }
  func downs(kind: Int) -> [ProbeOutcome] {
    lock.withLock { items.filter { $0.0 == kind && !$0.1.isUp }.map(\.1) }
  }
}
