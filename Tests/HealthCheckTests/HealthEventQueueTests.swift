import XCTest

@testable import HealthCheck

final class HealthEventQueueTests: XCTestCase {
  func event(_ i: Int) -> HealthEvent {
    HealthEvent(
      server: RealServerID("rs\(i)"), isUp: i % 2 == 0, weight: nil, reason: "initial", latency: nil)
  }

  /// A start's burst of 10,000 events comes out in order, and once the consumer has taken it the
  /// queue holds no buffer (AsyncStream kept the burst's capacity for good); events after
  /// `finish` are dropped and the backlog before it is still delivered.
  func testBurstInOrderNoBufferKeptThenFinish() async {
    let queue = HealthEventQueue()
    for i in 0..<10_000 { queue.yield(event(i)) }
    XCTAssertGreaterThanOrEqual(queue.bufferedCapacity, 10_000)
    var it = queue.makeAsyncIterator()
    for i in 0..<10_000 {
      let e = await it.next()
      XCTAssertEqual(e?.server.rawValue, "rs\(i)")
    }
    XCTAssertEqual(queue.bufferedCapacity, 0, "the backlog left with the consumer")
    queue.yield(event(1))
    queue.finish()
    queue.yield(event(2))
    let last = await it.next()
    XCTAssertEqual(last?.server.rawValue, "rs1")
    let end = await it.next()
    XCTAssertNil(end)
  }

  /// A consumer waiting for an event gets the next one yielded; a cancelled one gets nil.
  func testWaitingConsumerWakesAndCancelledEnds() async {
    let queue = HealthEventQueue()
    let waiting = Task { () -> String? in
      var it = queue.makeAsyncIterator()
      return await it.next()?.server.rawValue
    }
    // Whether the consumer waits already or not, it gets the event.
    queue.yield(event(7))
    let got = await waiting.value
    XCTAssertEqual(got, "rs7")

    let other = HealthEventQueue()
    let cancelled = Task { () -> HealthEvent? in
      var it = other.makeAsyncIterator()
      return await it.next()
    }
    cancelled.cancel()
    let none = await cancelled.value
    XCTAssertNil(none, "a cancelled consumer ends")
  }
}
