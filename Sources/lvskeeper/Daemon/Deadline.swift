import Dispatch
import Foundation

/// Waits for work that may never finish, and gives up at a deadline.
///
/// Invariant: the caller gets its answer by the deadline whatever the work does. The work is not
/// awaited by a task group (which would wait for it): it runs detached — async work as a detached
/// task, blocking work on a thread of its own, so a hung `stop()` or parser never holds one of the
/// few threads of Swift's cooperative pool — and whichever of "finished" and "deadline" comes
/// first resumes the caller once. Work that misses its deadline is abandoned, still running.
enum Deadline {
  /// Runs async `body` detached; true when it finished within `limit`.
  static func run(_ limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
    await race(limit, timedOut: false) { finish in
      Task.detached {
        await body()
        finish(true)
      }
    } ?? false
  }

  /// Runs blocking `body` on a new thread named `name`; its result, or nil when `limit` passed first.
  static func runBlocking<T: Sendable>(
    _ limit: Duration, name: String, _ body: @escaping @Sendable () -> T
  ) async -> T? {
    await race(limit, timedOut: nil) { finish in
      let thread = Thread { finish(body()) }
      thread.name = name
      thread.start()
    }
  }

  /// True when every member of `group` left within `limit`.
  static func wait(for group: DispatchGroup, _ limit: Duration) async -> Bool {
    await race(limit, timedOut: false) { finish in
      group.notify(queue: .global()) { finish(true) }
    }
  }

  /// Starts the work with a `finish` callback and a timer that resumes with `timedOut`.
  static func race<T: Sendable>(
    _ limit: Duration, timedOut: T, start: (@escaping @Sendable (T) -> Void) -> Void
  ) async -> T {
    await withCheckedContinuation { continuation in
      let once = ResumeOnce(continuation)
      DispatchQueue.global().asyncAfter(deadline: .now() + limit.timeInterval) { once.resume(timedOut) }
      start { once.resume($0) }
    }
  }
}

/// A continuation resumed by the first of several callers; the others are ignored.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {  // `continuation` is guarded by `lock`
  private let lock = NSLock()
  private var continuation: CheckedContinuation<T, Never>?

  init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = continuation }

  func resume(_ value: T) {
    let waiting = lock.withLock {
      defer { continuation = nil }
      return continuation
    }
    waiting?.resume(returning: value)
  }
}

extension Duration {
  /// Seconds as a `TimeInterval` (Dispatch and Foundation time).
  var timeInterval: TimeInterval {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}
