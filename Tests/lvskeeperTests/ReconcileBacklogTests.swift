import IPVSSync
import XCTest

@testable import lvskeeper

/// Background reconcile requests merge while one is queued or running, so N health events cost
/// far fewer than N kernel reads, and none is lost.
final class ReconcileBacklogTests: XCTestCase {
  static func fwm(_ mark: UInt32) -> ServiceKey { .fwmark(mark, family: .inet) }

  func testFirstRequestStartsADrainLaterOnesMerge() {
    var backlog = ReconcileBacklog()
    XCTAssertTrue(backlog.add(scope: [Self.fwm(1)], reason: "rs1 down"), "nothing running: start a drain")
    XCTAssertFalse(backlog.add(scope: [Self.fwm(2)], reason: "rs2 down"))
    XCTAssertFalse(backlog.add(scope: [Self.fwm(1)], reason: "rs3 down"))
    XCTAssertEqual(
      backlog.take(),
      .init(scope: [Self.fwm(1), Self.fwm(2)], reasons: ["rs1 down", "rs2 down", "rs3 down"], count: 3))
    XCTAssertNil(backlog.take(), "drained: the drain ends")
    XCTAssertFalse(backlog.draining)
    XCTAssertTrue(backlog.add(scope: [Self.fwm(3)], reason: "rs4 up"), "a new drain after the last one ended")
  }

  /// A request made while a reconcile runs (it may have read the kernel before the change) is run
  /// after it by the same drain, not dropped and not started twice.
  func testRequestDuringARunningReconcileRunsAfterIt() {
    var backlog = ReconcileBacklog()
    XCTAssertTrue(backlog.add(scope: [Self.fwm(1)], reason: "a"))
    let first = backlog.take()
    XCTAssertEqual(first?.scope, [Self.fwm(1)])
    XCTAssertFalse(backlog.add(scope: [Self.fwm(1)], reason: "b"), "the running drain will pick it up")
    XCTAssertEqual(backlog.take()?.reasons, ["b"])
    XCTAssertNil(backlog.take())
  }

  func testAFullReconcileAbsorbsScopedOnes() {
    var backlog = ReconcileBacklog()
    _ = backlog.add(scope: [Self.fwm(1)], reason: "rs1 down")
    _ = backlog.add(scope: nil, reason: "periodic reconcile (drift repair)")
    _ = backlog.add(scope: [Self.fwm(2)], reason: "rs2 down")
    let request = backlog.take()
    XCTAssertNotNil(request)
    XCTAssertNil(request?.scope, "every service")
  }

  /// 10,000 "initial" health events arriving while the first reconcile runs: two kernel reads in
  /// all, and the log line names how many were merged.
  func testTenThousandEventsBecomeTwoReconciles() {
    var backlog = ReconcileBacklog()
    var drains = 0
    var reconciles: [ReconcileBacklog.Request] = []
    for i in 0..<10_000 {
      if backlog.add(scope: [Self.fwm(1)], reason: "rs\(i) up") { drains += 1 }
      if i == 0, let first = backlog.take() { reconciles.append(first) }
    }
    while let next = backlog.take() { reconciles.append(next) }
    XCTAssertEqual(drains, 1)
    XCTAssertEqual(reconciles.count, 2)
    XCTAssertEqual(reconciles.map(\.count).reduce(0, +), 10_000)
    XCTAssertEqual(reconciles[1].summary, "9999 requests: rs1 up; rs2 up; rs3 up; …")
    XCTAssertEqual(reconciles[0].summary, "rs0 up")
  }
}
