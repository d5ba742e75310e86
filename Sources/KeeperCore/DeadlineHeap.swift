/// A min-heap of (deadline, sequence) keys with payloads; equal deadlines pop in insertion order.
/// Generic over the clock's instant, so the check engines (NIO deadlines) and the BFD engine
/// (monotonic `Duration`s) share one heap. Inlinable: it sits on those engines' hot paths.
/// Invariant: `items[i] <= items[2i+1], items[2i+2]` by (deadline, sequence).
public struct DeadlineHeap<Deadline: Comparable, Payload> {
  @usableFromInline var items: [(deadline: Deadline, sequence: UInt64, payload: Payload)] = []
  @usableFromInline var nextSequence: UInt64 = 0

  @inlinable public init() {}

  @inlinable public var count: Int { items.count }
  @inlinable public var earliest: Deadline? { items.first?.deadline }
  @inlinable public var earliestEntry: (deadline: Deadline, payload: Payload)? {
    items.first.map { ($0.deadline, $0.payload) }
  }

  @inlinable func less(_ a: Int, _ b: Int) -> Bool {
    items[a].deadline < items[b].deadline
      || (items[a].deadline == items[b].deadline && items[a].sequence < items[b].sequence)
  }

  @inlinable public mutating func push(_ payload: Payload, at deadline: Deadline) {
    items.append((deadline, nextSequence, payload))
    nextSequence &+= 1
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard less(child, parent) else { break }
      items.swapAt(child, parent)
      child = parent
    }
  }

  /// Removes and returns the earliest entry if it is due at `now`.
  @inlinable public mutating func popDue(_ now: Deadline) -> (deadline: Deadline, payload: Payload)? {
    guard let first = items.first, first.deadline <= now else { return nil }
    let last = items.removeLast()
    if !items.isEmpty {
      items[0] = last
      var parent = 0
      while true {
        let left = 2 * parent + 1
        let right = left + 1
        var smallest = parent
        if left < items.count && less(left, smallest) { smallest = left }
        if right < items.count && less(right, smallest) { smallest = right }
        if smallest == parent { break }
        items.swapAt(parent, smallest)
        parent = smallest
      }
    }
    return (first.deadline, first.payload)
  }
}
