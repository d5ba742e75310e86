import Foundation

/// Environment variables that make the daemon slow or stuck on purpose, so tests can show that
/// status, stop and the watchdog keep working when a reload or a part misbehaves. Each is read
/// only on the path it slows (the reload parse, the stop), never at start. Not for production.
enum TestHooks {
  /// `LVSKEEPER_TEST_RELOAD_DELAY=SECONDS`: each reload's parse sleeps this long first (on the
  /// parse thread, as a slow parser would).
  static var reloadDelay: Duration? {
    ProcessInfo.processInfo.environment["LVSKEEPER_TEST_RELOAD_DELAY"].flatMap(Double.init).map {
      SchedulingMath.duration($0)
    }
  }

  /// `LVSKEEPER_TEST_HANG_STOP=checkers`: the health checkers' stop never returns.
  static var checkersHangOnStop: Bool {
    ProcessInfo.processInfo.environment["LVSKEEPER_TEST_HANG_STOP"] == "checkers"
  }

  /// `LVSKEEPER_TEST_HANG_STOP=daemon`: the stop itself wedges (the daemon's actor blocks), so
  /// only the process-wide `ShutdownBound` can end it.
  static var daemonHangsOnStop: Bool {
    ProcessInfo.processInfo.environment["LVSKEEPER_TEST_HANG_STOP"] == "daemon"
  }

  /// Blocks the calling thread for good (a hung part). Not a spin: the semaphore is never signalled.
  static func hangForever() {
    DispatchSemaphore(value: 0).wait()
  }
}
