import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Environment variables that make the daemon slow or stuck on purpose, so tests can show that
/// status, stop and the watchdog keep working when a reload or a part misbehaves. Each is read
/// only on the path it slows (the reload parse, the stop), never at start. Not for production.
enum TestHooks {
  /// `LVSKEEPER_TEST_RELOAD_GATE=FIFO`: each reload's parse first opens FIFO for reading, which
  /// blocks in the kernel until the test opens it for writing (as a parse stuck on an include
  /// that is a FIFO would). A gate that is never opened is a parse that never ends.
  static func passReloadGate() {
    guard let path = ProcessInfo.processInfo.environment["LVSKEEPER_TEST_RELOAD_GATE"] else { return }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd >= 0 { close(fd) }
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
