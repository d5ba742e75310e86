import XCTest

@testable import lvskeeper

/// Drift repair runs every interval while it is cheap, and spaces itself so a costly full read
/// takes at most 2 % of one CPU.
final class DriftRepairBudgetTests: XCTestCase {
  func testCheapTableIsRepairedEveryInterval() {
    let t0 = ContinuousClock.now
    var budget = DriftRepairBudget(interval: .seconds(10))
    XCTAssertTrue(budget.isDue(at: t0), "the first periodic reconcile always runs")
    budget.recordFull(end: t0, cost: .milliseconds(20))
    XCTAssertEqual(budget.spacing, .seconds(10), "20 ms / 2 % = 1 s, below the interval")
    XCTAssertFalse(budget.isDue(at: t0 + .seconds(9)))
    XCTAssertTrue(budget.isDue(at: t0 + .seconds(10)))
  }

  /// 6.5 CPU-s per full read (10,000 destinations under TCG): the next waits 325 s, not 10 s.
  func testCostlyReadIsSpacedToTwoPercent() {
    let t0 = ContinuousClock.now
    var budget = DriftRepairBudget(interval: .seconds(10))
    budget.recordFull(end: t0, cost: .milliseconds(6500))
    XCTAssertEqual(budget.spacing, .seconds(325))
    XCTAssertFalse(budget.isDue(at: t0 + .seconds(324)))
    XCTAssertTrue(budget.isDue(at: t0 + .seconds(325)))
    // Once the table is cheap again (destinations removed), the spacing follows the last cost.
    budget.recordFull(end: t0 + .seconds(325), cost: .milliseconds(10))
    XCTAssertTrue(budget.isDue(at: t0 + .seconds(335)))
  }
}
