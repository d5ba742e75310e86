import NIOCore
import XCTest

@testable import HealthCheck

/// `ProbeWakeups` on a virtual clock: a simulated loop wakes exactly when asked and runs a pass.
final class ProbeWakeupsTests: XCTestCase {
  private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

  private struct Release {
    let index: Int
    let deadline: NIODeadline
    let at: NIODeadline
  }

  /// Drives `wakeups` like `ProbeTimer` does: every requested wake-up becomes a pending loop
  /// task (superseded ones included); `.again` runs at the same instant. Returns the releases and
  /// the number of passes that ran.
  private func drive(
    _ wakeups: inout ProbeWakeups<Int>, firstWake: NIODeadline?, until end: NIODeadline,
    onRelease: (Int, NIODeadline, inout ProbeWakeups<Int>) -> Void = { _, _, _ in }
  ) -> (releases: [Release], passes: Int) {
    var tasks: [NIODeadline] = firstWake.map { [$0] } ?? []
    var releases: [Release] = []
    var passes = 0
    while let next = tasks.min(), next <= end {
      tasks.remove(at: tasks.firstIndex(of: next)!)
      let (due, answer) = wakeups.pass(at: next, firing: next)
      passes += 1
      // Entries released by this pass must include everything that was due at `now`, unless
      // the pass says to continue at once.
      if case .again = answer {
      } else {
        XCTAssertTrue(wakeups.count == 0 || wakeups.nextDueAfter(next), "a pass left a due entry behind")
      }
      for entry in due {
        releases.append(Release(index: entry.payload, deadline: entry.deadline, at: next))
        onRelease(entry.payload, next, &wakeups)
      }
      switch answer {
      case .none: break
      case .at(let wake): tasks.append(wake)
      case .again(let key): tasks.append(key)
      }
    }
    return (releases, passes)
  }

  /// `n` entries due evenly over the second after `t0`, and the earliest wake-up the adds asked for.
  private func spreadOverOneSecond(_ n: Int, granularity: TimeAmount) -> (ProbeWakeups<Int>, NIODeadline?) {
    var wakeups = ProbeWakeups<Int>(granularity: granularity, maxPerPass: 256)
    var firstWake: NIODeadline?
    for i in 0..<n {
      let deadline = t0 + .nanoseconds(Int64(i) * 1_000_000_000 / Int64(n))
      if let wake = wakeups.add(i, at: deadline) { firstWake = min(firstWake ?? wake, wake) }
    }
    return (wakeups, firstWake)
  }

  /// 50,000 checkers at delay_loop 1 s (50,000 starts a second, evenly spread): each start is
  /// released once, never early, at most one granularity late, and the loop wakes about once
  /// per granularity instead of once per start.
  func testReleasesAllDueEntriesAtFiftyThousandPerSecond() {
    let granularity = TimeAmount.milliseconds(2)
    let n = 50_000
    var (wakeups, firstWake) = spreadOverOneSecond(n, granularity: granularity)
    let (releases, passes) = drive(&wakeups, firstWake: firstWake, until: t0 + .seconds(2))
    XCTAssertEqual(releases.count, n)
    XCTAssertEqual(Set(releases.map(\.index)).count, n, "each entry released exactly once")
    XCTAssertEqual(wakeups.count, 0)
    for r in releases {
      XCTAssertGreaterThanOrEqual(r.at, r.deadline, "released before its deadline")
      XCTAssertLessThanOrEqual(r.at - r.deadline, granularity, "released more than one granularity late")
    }
    // One second at 2 ms granularity: ~500 passes (plus the first), not 50,000.
    XCTAssertLessThanOrEqual(passes, 502)
    XCTAssertGreaterThanOrEqual(passes, 490)
  }

  /// The steady state of the benchmark: each released entry comes back one delay_loop later
  /// (as a probe that finished at once reschedules itself). Every checker starts again 1 s to
  /// 1 s + granularity after its previous start, so no interval is missed.
  func testSteadyRescheduleKeepsEveryIntervalAtFiftyThousandCheckers() {
    let granularity = TimeAmount.milliseconds(2)
    let n = 50_000
    var (wakeups, firstWake) = spreadOverOneSecond(n, granularity: granularity)
    var rearmed: [NIODeadline] = []
    let (releases, _) = drive(&wakeups, firstWake: firstWake, until: t0 + .milliseconds(3_100)) {
      index, now, w in
      if let wake = w.add(index, at: now + .seconds(1)) { rearmed.append(wake) }
    }
    // Re-adding from inside a pass never needs its own wake-up: the pass already armed one.
    XCTAssertEqual(rearmed, [])
    var starts = [[NIODeadline]](repeating: [], count: n)
    for r in releases { starts[r.index].append(r.at) }
    XCTAssertEqual(starts.filter { $0.count < 3 }.count, 0, "a checker started fewer than 3 times in 3.1 s")
    var gaps = Set<Bool>()
    for s in starts {
      for (a, b) in zip(s, s.dropFirst()) {
        gaps.insert(b - a >= .seconds(1) && b - a <= .seconds(1) + granularity)
      }
    }
    XCTAssertEqual(
      gaps, [true], "a start came sooner than 1 s or later than 1 s + granularity after the last")
  }

  /// A backlog (10,000 entries due at once, as after a stall) is released `maxPerPass` at a
  /// time, each pass asking to continue at once, until none is due.
  func testBacklogIsReleasedInPassesThatContinueAtOnce() {
    var wakeups = ProbeWakeups<Int>(granularity: .milliseconds(2), maxPerPass: 256)
    for i in 0..<10_000 { _ = wakeups.add(i, at: t0 - .milliseconds(Int64(i % 7))) }
    var passes = 0
    var released = 0
    var answer = NextWakeup.again(t0)
    while case .again(let key) = answer {
      let result = wakeups.pass(at: t0, firing: key)
      passes += 1
      released += result.due.count
      answer = result.next
    }
    XCTAssertEqual(released, 10_000)
    XCTAssertEqual(passes, (10_000 + 255) / 256)
    XCTAssertEqual(answer, NextWakeup.none)
  }

  /// Isolated entries (far apart) are released exactly at their deadlines: coalescing only
  /// delays an entry that comes within one granularity of the previous release.
  func testIsolatedEntriesAreNotDelayed() {
    let granularity = TimeAmount.milliseconds(2)
    var wakeups = ProbeWakeups<Int>(granularity: granularity, maxPerPass: 256)
    let offsets: [Int64] = [0, 10, 25, 26, 500]  // ms; 26 is within 2 ms of 25
    var firstWake: NIODeadline?
    for (i, o) in offsets.enumerated() {
      if let wake = wakeups.add(i, at: t0 + .milliseconds(o)) { firstWake = min(firstWake ?? wake, wake) }
    }
    let (releases, _) = drive(&wakeups, firstWake: firstWake, until: t0 + .seconds(1))
    XCTAssertEqual(releases.map { ($0.at - t0).nanoseconds / 1_000_000 }, [0, 10, 25, 27, 500])
  }

  /// `add` asks for a wake-up only when nothing armed comes soon enough.
  func testAddArmsOnlyWhenEarlierThanTheArmedWakeup() {
    var wakeups = ProbeWakeups<Int>(granularity: .milliseconds(2), maxPerPass: 256)
    XCTAssertEqual(wakeups.add(0, at: t0 + .milliseconds(100)), t0 + .milliseconds(100))
    XCTAssertNil(wakeups.add(1, at: t0 + .milliseconds(200)), "a later entry rides on the armed wake-up")
    XCTAssertEqual(
      wakeups.add(2, at: t0 + .milliseconds(50)), t0 + .milliseconds(50), "an earlier one re-arms")
    // The superseded wake-up at 100 ms fires after the one at 50 ms: both passes are harmless.
    let first = wakeups.pass(at: t0 + .milliseconds(50), firing: t0 + .milliseconds(50))
    XCTAssertEqual(first.due.map(\.payload), [2])
    XCTAssertEqual(first.next, NextWakeup.at(t0 + .milliseconds(100)))
    let second = wakeups.pass(at: t0 + .milliseconds(100), firing: t0 + .milliseconds(100))
    XCTAssertEqual(second.due.map(\.payload), [0])
    XCTAssertEqual(second.next, NextWakeup.at(t0 + .milliseconds(200)))
  }
}

extension ProbeWakeups {
  /// True when nothing queued is due at `now`.
  fileprivate func nextDueAfter(_ now: NIODeadline) -> Bool {
    earliest.map { $0 > now } ?? true
  }
}
