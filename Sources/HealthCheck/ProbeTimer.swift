import NIOCore

/// A min-heap of (deadline, sequence) keys with payloads; equal deadlines pop in insertion order.
/// Invariant: `items[i] <= items[2i+1], items[2i+2]` by (deadline, sequence).
struct DeadlineHeap<Payload> {
  private var items: [(deadline: NIODeadline, sequence: UInt64, payload: Payload)] = []
  private var nextSequence: UInt64 = 0

  var count: Int { items.count }
  var earliest: NIODeadline? { items.first?.deadline }
  var earliestEntry: (deadline: NIODeadline, payload: Payload)? {
    items.first.map { ($0.deadline, $0.payload) }
  }

  private func less(_ a: Int, _ b: Int) -> Bool {
    items[a].deadline < items[b].deadline
      || (items[a].deadline == items[b].deadline && items[a].sequence < items[b].sequence)
  }

  mutating func push(_ payload: Payload, at deadline: NIODeadline) {
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
  mutating func popDue(_ now: NIODeadline) -> (deadline: NIODeadline, payload: Payload)? {
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

/// Wakes probe runners on one event loop from its own heap, keeping only one task in NIO's
/// scheduler per loop. NIO cancels a scheduled task by a linear search of its heap, and every
/// probe cancels its connect timeout; with one NIO task per checker that search would cost
/// O(checkers) per probe. Invariant: touched only on `loop`.
final class ProbeTimer: @unchecked Sendable {
  let loop: any EventLoop
  private var heap = DeadlineHeap<@Sendable (NIODeadline) -> Void>()
  private var armed: NIODeadline?

  init(loop: any EventLoop) { self.loop = loop }

  /// Runs `action` on the loop at `deadline` (with the deadline as argument). Call on `loop`.
  func schedule(at deadline: NIODeadline, _ action: @escaping @Sendable (NIODeadline) -> Void) {
    loop.preconditionInEventLoop()
    heap.push(action, at: deadline)
    if armed.map({ deadline < $0 }) ?? true { arm(deadline) }
  }

  private func arm(_ deadline: NIODeadline) {
    armed = deadline
    // A superseded task still fires; it finds nothing due and re-arms for the earliest.
    loop.scheduleTask(deadline: deadline) { self.fire(deadline) }
  }

  /// Due wake-ups started per loop turn; the rest wait for the next turn so that socket events
  /// (connects completing, timeouts) are handled in between and descriptors do not pile up.
  static let batch = 64

  private func fire(_ deadline: NIODeadline) {
    if armed == deadline { armed = nil }
    let now = NIODeadline.now()
    var started = 0
    while started < Self.batch, let due = heap.popDue(now) {
      due.payload(due.deadline)
      started += 1
    }
    if started == Self.batch, let next = heap.earliest, next <= now {
      // More are due: continue after the loop has serviced I/O.
      let resume = NIODeadline.uptimeNanoseconds(0)
      armed = resume
      loop.execute { self.fire(resume) }
    } else if let next = heap.earliest, armed.map({ next < $0 }) ?? true {
      arm(next)
    }
  }
}
