import XCTest

@testable import VRRP

/// A flood of bad packets costs one log line per reason, then one summary per interval.
final class DropLogLimiterTests: XCTestCase {
  func testFirstDropPerReasonIsLoggedThenCountedAndSummarisedOncePerInterval() {
    var limiter = DropLogLimiter(interval: .seconds(10))
    XCTAssertTrue(limiter.record(.authentication, now: .seconds(0)))
    XCTAssertTrue(limiter.record(.ttl, now: .seconds(0)), "each reason has its own window")
    for step in 1...99 {
      XCTAssertFalse(limiter.record(.authentication, now: .milliseconds(step * 50)))
    }
    XCTAssertTrue(limiter.dueSummaries(now: .seconds(9)).isEmpty, "not before the interval")
    let first = limiter.dueSummaries(now: .seconds(10))
    XCTAssertEqual(first.map(\.reason), [.authentication], "ttl had nothing suppressed")
    XCTAssertEqual(first.map(\.count), [99])
    XCTAssertTrue(limiter.dueSummaries(now: .seconds(11)).isEmpty, "one summary per interval")

    // Still flooding: counted into the next summary, not logged one by one.
    XCTAssertFalse(limiter.record(.authentication, now: .seconds(12)))
    XCTAssertFalse(limiter.record(.authentication, now: .seconds(19)))
    XCTAssertTrue(limiter.dueSummaries(now: .seconds(19)).isEmpty)
    XCTAssertEqual(limiter.dueSummaries(now: .seconds(20)).map(\.count), [2])

    // After a quiet interval the next drop is logged in full again.
    XCTAssertTrue(limiter.dueSummaries(now: .seconds(40)).isEmpty)
    XCTAssertTrue(limiter.record(.authentication, now: .seconds(40)))
    XCTAssertTrue(limiter.record(.ttl, now: .seconds(40)))
  }

  func testEveryDropIsLoggedOrSummarisedExactlyOnce() {
    var limiter = DropLogLimiter(interval: .seconds(10))
    var logged: UInt64 = 0
    var summarised: UInt64 = 0
    let reasons: [DropReason] = [.authentication, .ttl, .unknownVRID]
    for tick in 0..<1_000 {
      let now = Duration.milliseconds(tick * 37)
      if limiter.record(reasons[tick % 3], now: now) { logged += 1 }
      summarised += limiter.dueSummaries(now: now).reduce(0) { $0 + $1.count }
    }
    summarised += limiter.dueSummaries(now: .seconds(3_600)).reduce(0) { $0 + $1.count }
    XCTAssertEqual(logged + summarised, 1_000)
    XCTAssertLessThanOrEqual(logged, 3 * 4, "about one full line per reason per window")
  }
}
