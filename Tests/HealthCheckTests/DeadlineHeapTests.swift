import NIOCore
import XCTest

@testable import HealthCheck

final class DeadlineHeapTests: XCTestCase {
  /// After a burst the storage follows what is queued: at most four times the entries left (and
  /// never below the floor), and every entry still pops in order.
  func testStorageShrinksAfterABurst() {
    var heap = ProbeHeap<Int>()
    let base = NIODeadline.uptimeNanoseconds(1_000_000)
    for i in 0..<20_000 { heap.push(i, at: base + .nanoseconds(Int64(i))) }
    XCTAssertGreaterThanOrEqual(heap.capacity, 20_000)
    var last = -1
    while heap.count > 100, let e = heap.popDue(base + .nanoseconds(20_000)) {
      XCTAssertEqual(e.payload, last + 1)
      last = e.payload
    }
    XCTAssertLessThanOrEqual(heap.capacity, max(4 * heap.count, ProbeHeap<Int>.shrinkFloor))
    for i in 20_000..<20_100 { heap.push(i, at: base + .nanoseconds(Int64(i))) }
    while let e = heap.popDue(base + .nanoseconds(30_000)) {
      XCTAssertEqual(e.payload, last + 1)
      last = e.payload
    }
    XCTAssertEqual(last, 20_099)
  }

  /// Pops come out in deadline order, ties in insertion order, and only when due.
  func testOrderAndDueness() {
    var heap = ProbeHeap<Int>()
    let base = NIODeadline.uptimeNanoseconds(1_000_000)
    var rng = SystemRandomNumberGenerator()
    let offsets = (0..<1000).map { _ in Int64.random(in: 0..<100, using: &rng) }
    for (i, o) in offsets.enumerated() { heap.push(i, at: base + .nanoseconds(o)) }
    XCTAssertNil(heap.popDue(base - .nanoseconds(1)), "nothing due before the earliest")
    var popped: [(Int64, Int)] = []
    while let e = heap.popDue(base + .nanoseconds(100)) {
      popped.append(((e.deadline - base).nanoseconds, e.payload))
    }
    XCTAssertEqual(popped.count, 1000)
    var expected: [(Int64, Int)] = []
    for (index, offset) in offsets.enumerated() { expected.append((offset, index)) }
    expected.sort { a, b in a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }
    XCTAssertEqual(popped.map(\.0), expected.map(\.0))
    XCTAssertEqual(popped.map(\.1), expected.map(\.1))
    XCTAssertEqual(heap.count, 0)
  }
}
