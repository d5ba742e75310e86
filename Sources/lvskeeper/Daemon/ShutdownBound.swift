import Dispatch
import Foundation
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// The last resort of a stop: once armed, the process exits at the bound unless disarmed first,
/// whatever hangs (a part, the daemon's actor, Swift's cooperative pool).
///
/// Invariant: it depends on nothing but a thread of its own and a semaphore, so nothing that can
/// wedge the daemon can keep it from firing. Before exiting it logs the parts still stopping.
final class ShutdownBound: @unchecked Sendable {  // `armed` is guarded by `lock`; the rest is immutable
  private let lock = NSLock()
  private var armed = false
  private let disarmed = DispatchSemaphore(value: 0)
  private let pending: PendingParts
  private let logger: Logger

  init(pending: PendingParts, logger: Logger) {
    self.pending = pending
    self.logger = logger
  }

  /// Starts the clock; a second call does nothing.
  func arm(after limit: Duration) {
    let first = lock.withLock {
      defer { armed = true }
      return !armed
    }
    guard first else { return }
    let thread = Thread { [self] in
      guard disarmed.wait(timeout: .now() + limit.timeInterval) == .timedOut else { return }
      let stuck = pending.names
      logger.critical(
        "stop did not finish within \(limit); still stopping: \(stuck.isEmpty ? "(the daemon itself)" : stuck.joined(separator: ", ")); exiting now"
      )
      fflush(nil)
      _exit(ExitStatus.stopTimedOut)
    }
    thread.name = "lvskeeper.shutdown-bound"
    thread.start()
  }

  /// The stop finished: the process exits on its own.
  func disarm() { disarmed.signal() }
}

/// The parts of a stop that have begun and not finished, by name, for the log line that says
/// what hung.
final class PendingParts: @unchecked Sendable {  // `set` is guarded by `lock`
  private let lock = NSLock()
  private var set: Set<String> = []

  func begin(_ name: String) { lock.withLock { _ = set.insert(name) } }
  func end(_ name: String) { lock.withLock { _ = set.remove(name) } }
  var names: [String] { lock.withLock { set.sorted() } }
}

/// Exit statuses of `lvskeeper run` beyond 0 and 1.
enum ExitStatus {
  /// A part did not stop within the stop timeout (the process exits anyway).
  static let stopTimedOut: Int32 = 3
}
