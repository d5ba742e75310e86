import XCTest

@testable import BFD

/// Two sessions joined by an in-memory link on a simulated clock: every transmit and detection
/// deadline runs in time order, packets arrive `latency` later unless the link is cut.
struct SimulatedLink {
  var sessions: [BFDSession]
  var now: Duration = .zero
  var latency: Duration = .microseconds(200)
  var connected = true
  /// Packets on the wire: (arrival, to, packet).
  var inFlight: [(Duration, Int, BFDControlPacket)] = []
  var sent: [[BFDControlPacket]] = [[], []]
  /// Sessions that went from Init or Up to Down because the detection time passed.
  var expiries = 0
  var jitter = 0.5

  init(_ a: BFDTiming, _ b: BFDTiming) {
    sessions = [
      BFDSession(timing: a, localDiscriminator: 0xA), BFDSession(timing: b, localDiscriminator: 0xB),
    ]
    sessions[0].start(now: .zero)
    sessions[1].start(now: .zero)
  }

  mutating func put(_ packet: BFDControlPacket, from side: Int) {
    sent[side].append(packet)
    if connected { inFlight.append((now + latency, 1 - side, packet)) }
  }

  /// Runs events in time order until `until`.
  mutating func run(until: Duration) {
    while true {
      var next: (Duration, Int, Int)?  // time, kind (0 deliver, 1 transmit, 2 detect), index
      for (i, f) in inFlight.enumerated() where next == nil || f.0 < next!.0 { next = (f.0, 0, i) }
      for side in 0..<2 {
        if let t = sessions[side].transmitDeadline, next == nil || t < next!.0 { next = (t, 1, side) }
        if let t = sessions[side].detectionDeadline, next == nil || t < next!.0 { next = (t, 2, side) }
      }
      guard let (time, kind, index) = next, time <= until else { break }
      now = time
      switch kind {
      case 0:
        let (_, to, packet) = inFlight.remove(at: index)
        _ = sessions[to].receive(packet, now: now, jitter: jitter)
        if let final = sessions[to].takeFinal() { put(final, from: to) }
      case 1:
        let packet = sessions[index].transmit(now: now, jitter: jitter)
        put(packet, from: index)
      default:
        if case .state = sessions[index].expire(now: now) { expiries += 1 }
      }
    }
    now = until
  }
}

final class BFDSessionTests: XCTestCase {
  func testTwoActiveSessionsComeUpAndSpeedUpThroughAPollSequence() {
    var link = SimulatedLink(BFDTiming(), BFDTiming())
    link.run(until: .seconds(3))
    // Once a side advertises min_tx it also sends at that rate: the neighbor, which times it by
    // the advertised value, never sees its detection time pass (keepalived went Down 150 ms after
    // Up when the decrease waited for the Poll Sequence).
    XCTAssertEqual(link.expiries, 0)
    for side in 0..<2 {
      XCTAssertEqual(link.sessions[side].state, .up)
      XCTAssertEqual(link.sessions[side].remoteState, .up)
      XCTAssertTrue(link.sessions[side].reportedUp)
      XCTAssertFalse(link.sessions[side].polling, "the poll sequence completed")
      // max(min_tx 10 ms, neighbor's min_rx 10 ms); detection 5 x 10 ms.
      XCTAssertEqual(link.sessions[side].transmitInterval, 10_000)
      XCTAssertEqual(link.sessions[side].detectionTime, 50_000)
    }
    XCTAssertEqual(link.sessions[0].remoteDiscriminator, 0xB)
    XCTAssertEqual(link.sessions[1].remoteDiscriminator, 0xA)
    // Packets carried P after Up until an F came back, and an F answered each P.
    XCTAssertTrue(link.sent[0].contains { $0.poll && $0.state == .up })
    XCTAssertTrue(link.sent[1].contains { $0.final })
    XCTAssertFalse(link.sent.joined().contains { $0.poll && $0.final })
  }

  func testWhileNotUpPacketsGoAtTheIdleRateAndAdvertiseIdleTx() {
    var passive = BFDTiming()
    passive.passive = true
    var link = SimulatedLink(BFDTiming(), passive)
    link.connected = false
    link.run(until: .milliseconds(4500))
    // Active: one at start, then every idle_tx less at most 25 %: 5 or 6 in 4.5 s, never faster.
    XCTAssertTrue((5...7).contains(link.sent[0].count), "\(link.sent[0].count)")
    XCTAssertTrue(link.sent[0].allSatisfy { $0.desiredMinTx == 1_000_000 && $0.state == .down })
    XCTAssertTrue(link.sent[0].allSatisfy { $0.yourDiscriminator == 0 })
    // Passive: silent until it hears from the neighbor.
    XCTAssertTrue(link.sent[1].isEmpty)
  }

  func testPassiveSessionAnswersAndComesUp() {
    var passive = BFDTiming()
    passive.passive = true
    var link = SimulatedLink(BFDTiming(), passive)
    link.run(until: .seconds(4))
    XCTAssertEqual(link.expiries, 0)
    XCTAssertEqual(link.sessions[0].state, .up)
    XCTAssertEqual(link.sessions[1].state, .up)
  }

  func testCutLinkGoesDownWithinTheDetectionTime() {
    var link = SimulatedLink(BFDTiming(), BFDTiming())
    link.run(until: .seconds(3))
    XCTAssertEqual(link.sessions[0].state, .up)
    link.connected = false
    link.inFlight = []
    let cut = link.now
    let deadline = link.sessions[0].detectionDeadline ?? .zero
    XCTAssertLessThanOrEqual(deadline, cut + .milliseconds(50), "5 x 10 ms after the last packet")
    link.run(until: deadline - .microseconds(1))
    XCTAssertEqual(link.sessions[0].state, .up, "not before the detection time")
    link.run(until: cut + .milliseconds(60))
    for side in 0..<2 {
      XCTAssertEqual(link.sessions[side].state, .down)
      XCTAssertEqual(link.sessions[side].diagnostic, .detectionTimeExpired)
      XCTAssertFalse(link.sessions[side].reportedUp)
      XCTAssertEqual(link.sessions[side].remoteDiscriminator, 0)
    }
    // Reconnected, the sessions come back at the idle rate.
    link.connected = true
    link.run(until: link.now + .seconds(4))
    XCTAssertEqual(link.sessions[0].state, .up)
    XCTAssertTrue(link.sessions[1].reportedUp)
  }

  /// keepalived goes Up first and polls; we go from Init to Up on its packet and answer F carrying
  /// our min_tx. From then on keepalived times us by that min_tx, so we must send at it at once,
  /// not at idle_tx until our own Poll Sequence ends (that made keepalived expire us 150 ms after
  /// Up in bench/bfd.sh).
  func testGoingUpOnTheNeighborsPollSendsAtMinTxAtOnce() throws {
    var session = BFDSession(
      timing: BFDTiming(minRx: 50_000, minTx: 50_000, idleTx: 1_000_000, multiplier: 3),
      localDiscriminator: 0xA)
    session.start(now: .zero)
    _ = session.transmit(now: .zero, jitter: 0)
    _ = session.receive(
      BFDControlPacket(
        state: .down, detectMultiplier: 3, myDiscriminator: 0xB, yourDiscriminator: 0,
        desiredMinTx: 1_000_000,
        requiredMinRx: 50_000), now: .milliseconds(10), jitter: 0)
    XCTAssertEqual(session.state, .initializing)
    _ = session.receive(
      BFDControlPacket(
        state: .up, poll: true, detectMultiplier: 3, myDiscriminator: 0xB, yourDiscriminator: 0xA,
        desiredMinTx: 50_000, requiredMinRx: 50_000), now: .milliseconds(20), jitter: 0)
    XCTAssertEqual(session.state, .up)
    XCTAssertEqual(session.takeFinal()?.desiredMinTx, 50_000)
    XCTAssertEqual(session.transmitInterval, 50_000)
    XCTAssertLessThanOrEqual(try XCTUnwrap(session.transmitDeadline), .milliseconds(70))
  }

  func testNeighborDownTakesUsDownWithDiagnostic3() {
    var session = upSession()
    let change = session.receive(
      BFDControlPacket(
        diagnostic: .detectionTimeExpired, state: .down, detectMultiplier: 5, myDiscriminator: 0xB,
        yourDiscriminator: 0, desiredMinTx: 1_000_000, requiredMinRx: 10_000), now: .seconds(10), jitter: 0)
    XCTAssertEqual(change, .state(from: .up, to: .down))
    XCTAssertEqual(session.diagnostic, .neighborSignaledDown)
    XCTAssertFalse(session.reportedUp)
    XCTAssertEqual(session.advertisedMinTx, 1_000_000, "idle rate outside Up")
  }

  /// keepalived sends its trackers no event when the neighbor is administratively down (RFC 5880
  /// 3.2): the session goes Down, the trackers keep their view.
  func testNeighborAdminDownLeavesTheTrackersUp() {
    var session = upSession()
    let change = session.receive(
      BFDControlPacket(
        diagnostic: .administrativelyDown, state: .adminDown, detectMultiplier: 5, myDiscriminator: 0xB,
        yourDiscriminator: 0xA, desiredMinTx: 1_000_000, requiredMinRx: 10_000), now: .seconds(10), jitter: 0)
    XCTAssertEqual(change, .state(from: .up, to: .down))
    XCTAssertEqual(session.diagnostic, .neighborSignaledDown)
    XCTAssertTrue(session.reportedUp)
  }

  func testPollIsAnsweredWithFinalAtOnce() {
    var session = upSession()
    _ = session.receive(
      BFDControlPacket(
        state: .up, poll: true, detectMultiplier: 3, myDiscriminator: 0xB, yourDiscriminator: 0xA,
        desiredMinTx: 50_000, requiredMinRx: 40_000), now: .seconds(10), jitter: 0)
    let final = session.takeFinal()
    XCTAssertEqual(final?.final, true)
    XCTAssertEqual(final?.poll, false)
    XCTAssertNil(session.takeFinal(), "one F per P")
    // New parameters applied: we send at the neighbor's min_rx, detect at 3 x 50 ms.
    XCTAssertEqual(session.transmitInterval, 40_000)
    XCTAssertEqual(session.detectionTime, 150_000)
  }

  func testJitterKeepsIntervalsBetween75And100Percent() {
    var session = BFDSession(timing: BFDTiming(), localDiscriminator: 1)
    session.start(now: .zero)
    _ = session.transmit(now: .zero, jitter: 1)
    XCTAssertEqual(session.transmitDeadline, .microseconds(750_000))
    _ = session.transmit(now: .zero, jitter: 0)
    XCTAssertEqual(session.transmitDeadline, .microseconds(1_000_000))
    var single = BFDTiming()
    single.multiplier = 1
    var one = BFDSession(timing: single, localDiscriminator: 1)
    one.start(now: .zero)
    _ = one.transmit(now: .zero, jitter: 0)
    XCTAssertEqual(one.transmitDeadline, .microseconds(900_000), "at most 90 % with multiplier 1")
  }

  private func upSession() -> BFDSession {
    var link = SimulatedLink(BFDTiming(), BFDTiming())
    link.run(until: .seconds(3))
    XCTAssertEqual(link.sessions[0].state, .up)
    return link.sessions[0]
  }
}
