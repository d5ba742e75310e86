import XCTest

@testable import HealthCheck

/// The pure result policy driven by a virtual clock: a table of probe outcomes in, the times
/// of probes and transitions out.
final class CheckPolicyTests: XCTestCase {
  /// Verdicts and checkers with equal schedules share one interned schedule; a different one
  /// gets its own, and equality and hashing still go by the values.
  func testSchedulesAreInterned() {
    let a = CheckSchedule(delayLoop: .seconds(7), retry: 2, rise: 3)
    let b = CheckSchedule(delayLoop: .seconds(7), retry: 2, rise: 3)
    let c = CheckSchedule(delayLoop: .seconds(8), retry: 2, rise: 3)
    XCTAssertTrue(SharedSchedule.interned(a) === SharedSchedule.interned(b))
    XCTAssertFalse(SharedSchedule.interned(a) === SharedSchedule.interned(c))
    XCTAssertEqual(CheckerVerdict(schedule: a), CheckerVerdict(schedule: b))
    XCTAssertNotEqual(CheckerVerdict(schedule: a), CheckerVerdict(schedule: c))
    XCTAssertEqual(CheckerVerdict(schedule: c).schedule, c)
    XCTAssertEqual(Set([CheckerVerdict(schedule: a), CheckerVerdict(schedule: b)]).count, 1)
    let spec = CheckerSpec.tcp(
      TCPCheck(target: CheckTarget(address: "127.0.0.1", port: 1), connectTimeout: .seconds(1)))
    XCTAssertEqual(Checker(spec, schedule: a), Checker(spec, schedule: b))
    XCTAssertNotEqual(Checker(spec, schedule: a), Checker(spec, schedule: c))
    XCTAssertEqual(Checker(spec, schedule: c).schedule, c)
  }

  /// Runs `outcomes` through a verdict, each probe taking `probeTime`, and records
  /// (probe start time in seconds, transition) pairs.
  func simulate(_ schedule: CheckSchedule, _ outcomes: [Bool], probeTime: Duration = .zero)
    -> (starts: [Double], transitions: [(Double, CheckerTransition)], verdict: CheckerVerdict)
  {
    var verdict = CheckerVerdict(schedule: schedule)
    var now = Duration.zero
    var starts: [Double] = []
    var transitions: [(Double, CheckerTransition)] = []
    for up in outcomes {
      starts.append(now.seconds)
      now += probeTime
      let step = verdict.record(up ? .up(weight: nil) : .down(reason: "x"))
      if let t = step.transition { transitions.append((now.seconds, t)) }
      now += step.nextDelay
    }
    return (starts, transitions, verdict)
  }

  struct Case {
    var name: String
    var schedule: CheckSchedule
    var outcomes: [Bool]
    var starts: [Double]
    var transitions: [String]  // "t:up" / "t:down"
    var finalUp: Bool
  }

  func testPolicyTable() {
    let s = { (retry: Int, rise: Int, fall: Int, alpha: Bool) in
      CheckSchedule(
        delayLoop: .seconds(10), retry: retry, delayBeforeRetry: .seconds(2), rise: rise, fall: fall,
        alpha: alpha)
    }
    let cases: [Case] = [
      Case(
        name: "no alpha starts up, stays up", schedule: s(0, 1, 1, false), outcomes: [true, true],
        starts: [0, 10], transitions: [], finalUp: true),
      Case(
        name: "no alpha, one failure without retry goes down", schedule: s(0, 1, 1, false), outcomes: [false],
        starts: [0], transitions: ["0:down"], finalUp: false),
      Case(
        name: "alpha starts down, one success goes up", schedule: s(0, 1, 1, true), outcomes: [true],
        starts: [0], transitions: ["0:up"], finalUp: true),
      Case(
        name: "retry absorbs failures at delay_before_retry", schedule: s(2, 1, 1, false),
        outcomes: [false, false, true, true], starts: [0, 2, 4, 14], transitions: [], finalUp: true),
      Case(
        name: "retries exhausted counts one failure", schedule: s(2, 1, 1, false),
        outcomes: [false, false, false, true], starts: [0, 2, 4, 14], transitions: ["4:down", "14:up"],
        finalUp: true),
      Case(
        name: "fall 3 needs three counted failures", schedule: s(0, 1, 3, false),
        outcomes: [false, false, true, false, false, false], starts: [0, 10, 20, 30, 40, 50],
        transitions: ["50:down"], finalUp: false),
      Case(
        name: "rise 2 with alpha", schedule: s(0, 2, 1, true), outcomes: [true, false, true, true],
        starts: [0, 10, 20, 30], transitions: ["30:up"], finalUp: true),
      Case(
        name: "flapping never transitions with rise 2 fall 2", schedule: s(0, 2, 2, false),
        outcomes: [false, true, false, true, false, true], starts: [0, 10, 20, 30, 40, 50], transitions: [],
        finalUp: true),
      Case(
        name: "retry 1 and fall 2: four failed probes to go down", schedule: s(1, 1, 2, false),
        outcomes: [false, false, false, false], starts: [0, 2, 12, 14], transitions: ["14:down"],
        finalUp: false),
    ]
    for c in cases {
      let r = simulate(c.schedule, c.outcomes)
      XCTAssertEqual(r.starts, c.starts, c.name)
      XCTAssertEqual(
        r.transitions.map { "\(Int($0.0)):\($0.1 == .wentUp ? "up" : "down")" }, c.transitions, c.name)
      XCTAssertEqual(r.verdict.isUp, c.finalUp, c.name)
      XCTAssertFalse(r.verdict.consecutiveFailures > 0 && r.verdict.consecutiveSuccesses > 0, c.name)
    }
  }

  func testProbeDurationDelaysNextStart() {
    let r = simulate(CheckSchedule(delayLoop: .seconds(5)), [true, true, true], probeTime: .seconds(1))
    XCTAssertEqual(r.starts, [0, 6, 12])
  }

  func testDynamicWeight() {
    var v = CheckerVerdict(schedule: CheckSchedule(alpha: true))
    XCTAssertEqual(v.record(.up(weight: 5)).transition, .wentUp)
    XCTAssertEqual(v.weight, 5)
    XCTAssertNil(v.record(.up(weight: 5)).transition)
    XCTAssertEqual(v.record(.up(weight: 7)).transition, .weightChanged)
    XCTAssertEqual(v.weight, 7)
    XCTAssertEqual(v.record(.down(reason: "x")).transition, nil, "retry 1 absorbs the first failure")
    XCTAssertEqual(v.record(.down(reason: "x")).transition, .wentDown)
  }

  func testWarmupIsWithinBounds() {
    var rng = SystemRandomNumberGenerator()
    let schedule = CheckSchedule(warmup: .seconds(3))
    let delays = (0..<200).map { _ in CheckerVerdict.firstDelay(for: schedule, using: &rng) }
    XCTAssertTrue(delays.allSatisfy { $0 >= .zero && $0 <= .seconds(3) })
    XCTAssertGreaterThan(Set(delays).count, 100, "delays are spread, not constant")
    XCTAssertEqual(CheckerVerdict.firstDelay(for: CheckSchedule(), using: &rng), .zero)
  }

  func testServerVerdictNeedsAllCheckersUp() {
    let a = Checker(
      .tcp(TCPCheck(target: CheckTarget(address: "10.0.0.1", port: 80))), schedule: CheckSchedule())
    let b = Checker(
      .tcp(TCPCheck(target: CheckTarget(address: "10.0.0.1", port: 81))), schedule: CheckSchedule())
    var v = ServerVerdict(checkers: [a: .init(isUp: true), b: .init(isUp: true, weight: 3)])
    XCTAssertTrue(v.isUp)
    XCTAssertEqual(v.weight, 3)
    v.update(b, to: .init(isUp: false, reason: "refused"))
    XCTAssertFalse(v.isUp)
    XCTAssertEqual(v.downReason, "TCP_CHECK 10.0.0.1:81: refused")
    XCTAssertTrue(ServerVerdict(checkers: [:]).isUp, "a server without checkers is up")
  }

  /// `Checker` shares one box between copies: it must still behave as a value.
  func testCheckerIsAValueThoughItsCopiesShareStorage() {
    func tcp(_ port: UInt16) -> CheckerSpec {
      .tcp(TCPCheck(target: CheckTarget(address: "10.0.0.1", port: port)))
    }
    let a = Checker(tcp(80), schedule: CheckSchedule())
    let twin = Checker(tcp(80), schedule: CheckSchedule())
    XCTAssertEqual(a, twin, "built apart, equal by content")
    XCTAssertEqual(a.hashValue, twin.hashValue)
    XCTAssertEqual(Set([a, twin]).count, 1)
    var b = a
    b.spec = tcp(81)
    var c = a
    c.schedule = CheckSchedule(delayLoop: .seconds(5))
    XCTAssertEqual(a.spec, tcp(80), "a copy's change leaves the original alone")
    XCTAssertEqual(a.schedule, CheckSchedule())
    XCTAssertNotEqual(a, b)
    XCTAssertNotEqual(a, c)
    XCTAssertEqual(c.spec, a.spec)
    XCTAssertEqual(Set([a, b, c, twin]).count, 3)
  }
}

extension Duration {
  var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
