import Synchronization

/// The monitor's stream of `HealthEvent`s: unbounded, single consumer, finished once.
///
/// Why not `AsyncStream`: its buffer keeps the capacity of its largest backlog for the life of
/// the stream, and a start (or a reload) of N real servers yields N "initial" events at once, so
/// at 10,000 servers it held ~100 bytes per real server for good after they were consumed. Here
/// the consumer takes the whole backlog in one swap and drops it once iterated, so nothing is
/// kept after the consumer catches up.
///
/// Invariants: events come out in the order `yield` was called; after `finish` the backlog is
/// still delivered, then `nil`; a consumer task that is cancelled gets `nil` from then on.
public final class HealthEventQueue: AsyncSequence, Sendable {
  public typealias Element = HealthEvent

  private struct State {
    var pending: [HealthEvent] = []
    var finished = false
    var cancelled = false
    /// The consumer, while it waits for an event.
    var waiter: CheckedContinuation<[HealthEvent]?, Never>?
  }
  private let state = Mutex(State())

  init() {}

  /// Room the queue's own buffer holds (for tests: zero once the consumer has taken a backlog).
  var bufferedCapacity: Int { state.withLock { $0.pending.capacity } }

  /// Appends `event`, or hands it to the waiting consumer. Ignored after `finish`.
  func yield(_ event: HealthEvent) {
    let waiter = state.withLock { s -> CheckedContinuation<[HealthEvent]?, Never>? in
      guard !s.finished else { return nil }
      guard let waiter = s.waiter else {
        s.pending.append(event)
        return nil
      }
      s.waiter = nil
      return waiter
    }
    waiter?.resume(returning: [event])
  }

  /// Ends the sequence after what is pending.
  func finish() {
    let waiter = state.withLock { s -> CheckedContinuation<[HealthEvent]?, Never>? in
      s.finished = true
      defer { s.waiter = nil }
      return s.waiter
    }
    waiter?.resume(returning: nil)
  }

  /// Everything pending (at least one event), waiting for it if need be; nil once finished and
  /// drained, or once the consumer is cancelled.
  fileprivate func take() async -> [HealthEvent]? {
    await withTaskCancellationHandler {
      await withCheckedContinuation { (continuation: CheckedContinuation<[HealthEvent]?, Never>) in
        let now = state.withLock { s -> [HealthEvent]?? in
          if s.cancelled { return .some(nil) }
          if !s.pending.isEmpty {
            defer { s.pending = [] }
            return .some(s.pending)
          }
          if s.finished { return .some(nil) }
          s.waiter = continuation
          return nil
        }
        if let now { continuation.resume(returning: now) }
      }
    } onCancel: {
      let waiter = state.withLock { s -> CheckedContinuation<[HealthEvent]?, Never>? in
        s.cancelled = true
        defer { s.waiter = nil }
        return s.waiter
      }
      waiter?.resume(returning: nil)
    }
  }

  public struct AsyncIterator: AsyncIteratorProtocol {
    fileprivate let queue: HealthEventQueue
    /// The backlog taken last; released as soon as it is iterated.
    private var batch: [HealthEvent] = []
    private var index = 0

    fileprivate init(queue: HealthEventQueue) { self.queue = queue }

    public mutating func next() async -> HealthEvent? {
      if index == batch.count {
        batch = []
        index = 0
        guard let taken = await queue.take() else { return nil }
        batch = taken
      }
      defer { index += 1 }
      return batch[index]
    }
  }

  public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: self) }
}
