/// A min-heap of (deadline, sequence) keys with payloads; equal deadlines pop in insertion order.
/// Generic over the clock's instant, so the check engines (NIO deadlines) and the BFD engine
/// (monotonic `Duration`s) share one heap. Inlinable: it sits on those engines' hot paths.
/// Invariant: `items[i] <= items[2i+1], items[2i+2]` by (deadline, sequence); once the storage
/// exceeds `shrinkFloor` entries it is never more than four times what is queued after a pop.
public struct DeadlineHeap<Deadline: Comparable, Payload> {
  /// Capacity below which the storage is never copied down (24 KB of entries at most).
  public static var shrinkFloor: Int { 1024 }

  @usableFromInline var items: [(deadline: Deadline, sequence: UInt64, payload: Payload)] = []
  @usableFromInline var nextSequence: UInt64 = 0

  @inlinable public init() {}

  @inlinable public var count: Int { items.count }
  /// Entries the storage holds room for.
  @inlinable public var capacity: Int { items.capacity }
  @inlinable public var earliest: Deadline? { items.first?.deadline }
  @inlinable public var earliestEntry: (deadline: Deadline, payload: Payload)? {
    items.first.map { ($0.deadline, $0.payload) }
  }

  /// Room for `count` entries in one allocation (a start of N checkers pushes N at once; grown by
  /// doubling the storage would end up to twice that).
  @inlinable public mutating func reserveCapacity(_ count: Int) { items.reserveCapacity(count) }

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
    // A burst (every checker of a start due at once, each leaving a stale timeout entry) leaves
    // the array at its peak capacity for good: at 10,000 checkers ~120 bytes each across the two
    // heaps of an engine. Copied down to twice what is queued once it is a quarter full, so the
    // next growth is again count steps away (amortised O(1)).
    if items.capacity > Self.shrinkFloor && items.count < items.capacity / 4 {
      var smaller: [(deadline: Deadline, sequence: UInt64, payload: Payload)] = []
      smaller.reserveCapacity(items.count * 2)
      smaller.append(contentsOf: items)
      items = smaller
    }
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
