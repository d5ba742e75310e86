import NIOCore
import XCTest

@testable import HealthCheck

final class IOCoalescingTests: XCTestCase {
  private let granule = TimeAmount.milliseconds(5)
  private let base = NIODeadline.uptimeNanoseconds(1_000_000_000)

  /// Records `perSecond` events, one at a time and evenly spaced, for `seconds` from `start`.
  private func feed(_ c: inout IOCoalescing, perSecond: Int, seconds: Double, from start: NIODeadline)
    -> NIODeadline
  {
    let step = Int64(1_000_000_000 / perSecond)
    let count = Int(Double(perSecond) * seconds)
    var now = start
    for _ in 0..<count {
      c.record(1, at: now)
      now = now + .nanoseconds(step)
    }
    return now
  }

  /// One probe's own two events (connect ready, response) at 50 probes/s: nothing to share a
  /// wake-up with, so never busy.
  func testLowRateIsNotBusy() {
    var c = IOCoalescing(granule: granule)
    _ = feed(&c, perSecond: 100, seconds: 2, from: base)
    XCTAssertFalse(c.busy)
  }

  /// 1,000 HTTP probes/s (2,000 events/s, ten per granule): busy once a window has passed.
  func testHighRateIsBusy() {
    var c = IOCoalescing(granule: granule)
    _ = feed(&c, perSecond: 2_000, seconds: 0.2, from: base)
    XCTAssertTrue(c.busy)
  }

  /// Events arriving in passes of several count as several; the rate falling off ends busy at the
  /// next closed window, and a long idle gap is not mistaken for a busy window.
  func testBatchesAndFallingRate() {
    var c = IOCoalescing(granule: granule)
    var now = base
    for _ in 0..<40 {
      c.record(4, at: now)  // 4 events per 5 ms pass
      now = now + granule
    }
    XCTAssertTrue(c.busy)
    now = feed(&c, perSecond: 50, seconds: 1, from: now)
    XCTAssertFalse(c.busy)
    c.record(30, at: now + .seconds(10))
    XCTAssertFalse(c.busy, "the window spanning a 10 s gap averages far below two events per granule")
    c.record(1, at: now + .seconds(10) + .milliseconds(60))
    XCTAssertTrue(c.busy, "30 events in 60 ms")
  }
}
