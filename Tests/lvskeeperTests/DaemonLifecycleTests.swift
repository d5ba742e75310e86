import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// The real daemon binary (`lvskeeper run --dry-run`): it keeps answering during a slow reload,
/// SIGTERM and `stop` finish within the documented bound whatever hangs, and one daemon owns a
/// control socket. Slow and hung parts come from the test hooks in `TestHooks`.
final class DaemonLifecycleTests: XCTestCase {
  private var scratch = ""
  private var listener: TCPListener?
  private var daemons: [DaemonProcess] = []

  override func setUpWithError() throws {
    // Short: sun_path holds 108 bytes.
    scratch = "/tmp/lvsk-life-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    let listener = try TCPListener()
    listener.acceptInBackground()
    self.listener = listener
  }

  override func tearDown() {
    for daemon in daemons { daemon.cleanUp() }
    listener?.close()
    try? FileManager.default.removeItem(atPath: scratch)
  }

  /// One virtual server whose real servers (TCP_CHECK) listen on `ports`.
  static func config(ports: [Int], delayLoop: Int = 1) -> String {
    let servers = ports.map { port in
      """
          real_server 127.0.0.1 \(port) {
              weight 1
              TCP_CHECK {
                  connect_timeout 2
              }
          }

      """
    }
    return """
      global_defs {
          router_id lifecycle-test
      }
      virtual_server 10.20.30.40 80 {
          delay_loop \(delayLoop)
          lb_algo rr
          lb_kind NAT
          protocol TCP

      \(servers.joined())}

      """
  }

  private func start(
    _ name: String, arguments: [String] = [], socket: String? = nil, environment: [String: String] = [:],
    openFiles: Int? = nil
  ) throws -> DaemonProcess {
    let configPath = "\(scratch)/\(name).conf"
    if !FileManager.default.fileExists(atPath: configPath) {
      try Self.config(ports: [try XCTUnwrap(listener).port]).write(
        toFile: configPath, atomically: true, encoding: .utf8)
    }
    let daemon = try DaemonProcess(
      scratch: scratch, name: name, arguments: ["--dry-run", "--config", configPath] + arguments,
      socket: socket, environment: environment, openFiles: openFiles)
    daemons.append(daemon)
    return daemon
  }

  // MARK: a daemon that always answers

  func testStatusStopAndWatchdogKeepWorkingDuringASlowReload() async throws {
    // The reload's parse blocks until the test opens the gate: no race with a timer.
    let gate = scratch + "/gate"
    XCTAssertEqual(mkfifo(gate, 0o600), 0)
    let daemon = try start(
      "slow", environment: ["LVSKEEPER_TEST_RELOAD_GATE": gate, "WATCHDOG_USEC": "1000000"])
    try daemon.waitReady()
    let reload = Task { try await offPool { try daemon.request(.reload, timeout: 60) } }
    XCTAssertNotNil(daemon.notification("RELOADING=1"), daemon.log)

    // The reload is parsing and cannot finish: status answers meanwhile, and its last reload is
    // not the one in progress.
    let status = try await offPool { try daemon.request(.status, timeout: 30) }
    XCTAssertTrue(status.ok)
    XCTAssertNil(status.status?.daemon.lastReload, "answered while the reload parses")
    // The watchdog keeps pinging while the reload parses.
    XCTAssertNotNil(daemon.notification("WATCHDOG=1", timeout: .seconds(30)), daemon.log)
    // A second reload meanwhile is refused, not queued.
    let second = try await offPool { try daemon.request(.reload, timeout: 30) }
    XCTAssertFalse(second.ok)
    XCTAssertEqual(second.error, "a reload is already in progress; try again when it has finished")

    // Let the parse go on: the first reload completes.
    let writer = open(gate, O_WRONLY)
    XCTAssertGreaterThanOrEqual(writer, 0)
    close(writer)
    let first: ControlResponse
    do { first = try await reload.value } catch {
      XCTFail("the reload got no answer: \(error); log:\n\(daemon.log)")
      throw error
    }
    XCTAssertTrue(first.ok, first.error ?? "")
    XCTAssertEqual(try daemon.request(.status).status?.daemon.lastReload?.succeeded, true)
    XCTAssertTrue(daemon.log.contains("a reload is already in progress"), daemon.log)

    let stopped = try daemon.request(.stop)
    XCTAssertTrue(stopped.ok)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(30)), 0, daemon.log)
  }

  func testAReloadPastItsDeadlineIsRefusedAndTheConfigKept() async throws {
    let gate = scratch + "/gate"  // never opened: every reload's parse hangs
    XCTAssertEqual(mkfifo(gate, 0o600), 0)
    let daemon = try start(
      "deadline", arguments: ["--reload-timeout", "1"], environment: ["LVSKEEPER_TEST_RELOAD_GATE": gate])
    try daemon.waitReady()
    let refused = try await offPool { try daemon.request(.reload, timeout: 30) }
    XCTAssertFalse(refused.ok)
    XCTAssertTrue(refused.error?.contains("took longer than 1.0 seconds; abandoned") ?? false, "\(refused)")
    let report = try XCTUnwrap(try daemon.request(.status).status)
    XCTAssertEqual(report.daemon.lastReload?.succeeded, false)
    XCTAssertEqual(report.virtualServices.first?.key, "TCP 10.20.30.40:80", "the running config is kept")
    // Abandoned parses do not pile up: with two still running, the next reload is refused at once.
    let secondRefusal = try await offPool { try daemon.request(.reload, timeout: 30) }
    XCTAssertTrue(secondRefusal.error?.contains("took longer than") ?? false, "\(secondRefusal)")
    let capped = try await offPool { try daemon.request(.reload, timeout: 30) }
    XCTAssertFalse(capped.ok)
    XCTAssertTrue(
      capped.error?.hasPrefix(
        "2 earlier reloads are still reading the configuration past their deadline (reload 1 from ")
        ?? false, "\(capped)")
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(30)), 0, daemon.log)
  }

  func testSIGTERMDuringAReloadThatNeverFinishesExitsWithinTheBound() throws {
    let gate = scratch + "/gate"  // never opened: the reload's parse hangs
    XCTAssertEqual(mkfifo(gate, 0o600), 0)
    let daemon = try start(
      "term", arguments: ["--stop-timeout", "2"], environment: ["LVSKEEPER_TEST_RELOAD_GATE": gate])
    try daemon.waitReady()
    daemon.send(SIGHUP)
    XCTAssertNotNil(daemon.notification("RELOADING=1"), daemon.log)
    daemon.send(SIGTERM)
    XCTAssertNotNil(daemon.notification("STOPPING=1"), daemon.log)
    // The bound is --stop-timeout + 5 s; the test allows generously more on a loaded machine.
    let status = daemon.waitExit(timeout: .seconds(30))
    XCTAssertEqual(status, 0, "SIGTERM during a reload: \(daemon.log)")
    XCTAssertFalse(FileManager.default.fileExists(atPath: daemon.socket), "our socket is removed at stop")
  }

  func testStopWithAHungCheckerExitsWithinTheBoundAndSaysWhatHung() throws {
    let daemon = try start(
      "hung", arguments: ["--stop-timeout", "2"], environment: ["LVSKEEPER_TEST_HANG_STOP": "checkers"])
    try daemon.waitReady()
    XCTAssertTrue(try daemon.request(.stop).ok)
    let status = daemon.waitExit(timeout: .seconds(30))
    XCTAssertEqual(status, ExitStatus.stopTimedOut, daemon.log)
    XCTAssertTrue(
      daemon.log.contains("stop: health checkers did not finish within 2.0 seconds; going on without"),
      daemon.log)
  }

  func testASecondSIGTERMDuringAHungStopExitsAtOnce() throws {
    let daemon = try start(
      "insist", arguments: ["--stop-timeout", "120"], environment: ["LVSKEEPER_TEST_HANG_STOP": "checkers"])
    try daemon.waitReady()
    daemon.send(SIGTERM)
    XCTAssertNotNil(daemon.notification("STOPPING=1"), daemon.log)
    daemon.send(SIGTERM)
    // Far below the 120 s stop timeout: the second signal ends it.
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(60)), ExitStatus.stopTimedOut, daemon.log)
    XCTAssertTrue(
      daemon.log.contains("SIGTERM again while stopping: exiting now; still stopping: "),
      daemon.log)
  }

  func testAStopThatWedgesTheDaemonEndsAtTheHardBoundAndSaysSo() throws {
    let daemon = try start(
      "wedged", arguments: ["--stop-timeout", "1"], environment: ["LVSKEEPER_TEST_HANG_STOP": "daemon"])
    try daemon.waitReady()
    daemon.send(SIGTERM)
    // The hard bound is --stop-timeout + 5 s = 6 s; the test allows generously more.
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(40)), ExitStatus.stopTimedOut, daemon.log)
    XCTAssertTrue(daemon.log.contains("stop did not finish within 6.0 seconds"), daemon.log)
    XCTAssertTrue(daemon.log.contains("exiting now"), daemon.log)
  }

  // MARK: one daemon per control socket

  func testASecondDaemonOnTheSameSocketIsRefusedAndDisturbsNothing() throws {
    let first = try start("first")
    try first.waitReady()
    let before = try XCTUnwrap(FileIdentity(path: first.socket))

    let second = try start("second", socket: first.socket)
    XCTAssertEqual(second.waitExit(timeout: .seconds(30)), 1, second.log)
    XCTAssertTrue(
      second.log.contains("another lvskeeper (pid \(first.pid)) is running on \(first.socket)"), second.log)
    XCTAssertEqual(FileIdentity(path: first.socket), before, "the live socket was not replaced")
    XCTAssertEqual(try first.request(.status).status?.daemon.pid, first.pid)
    XCTAssertEqual(
      try String(contentsOfFile: first.socket + ".pid", encoding: .utf8), "\(first.pid)\n")

    first.send(SIGTERM)
    XCTAssertEqual(first.waitExit(timeout: .seconds(30)), 0, first.log)
    XCTAssertFalse(FileManager.default.fileExists(atPath: first.socket))
    XCTAssertFalse(FileManager.default.fileExists(atPath: first.socket + ".pid"))
  }

  /// kill -9 leaves the pid file and the socket behind; the lock goes with the process, so a
  /// restart right away (as the VM lab does) takes over, even if the old process is still exiting.
  func testARestartRightAfterKill9TakesOver() throws {
    let first = try start("killed")
    try first.waitReady()
    first.send(SIGKILL)
    let second = try start("restarted", socket: first.socket)
    try second.waitReady()
    XCTAssertEqual(try second.request(.status).status?.daemon.pid, second.pid)
    XCTAssertEqual(try String(contentsOfFile: first.socket + ".pid", encoding: .utf8), "\(second.pid)\n")
    second.send(SIGTERM)
    XCTAssertEqual(second.waitExit(timeout: .seconds(30)), 0, second.log)
  }

  func testStopLeavesASocketThatIsNotOursAlone() throws {
    let daemon = try start("foreign", arguments: ["--pid-file", "\(scratch)/foreign.lock"])
    try daemon.waitReady()
    XCTAssertTrue(FileManager.default.fileExists(atPath: "\(scratch)/foreign.lock"))
    // Someone puts another file where the socket was.
    let foreign = "\(scratch)/other.sock"
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    try TestSockets.bind(fd, unixPath: foreign)
    XCTAssertEqual(rename(foreign, daemon.socket), 0)
    let theirs = FileIdentity(path: daemon.socket)

    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(30)), 0, daemon.log)
    XCTAssertEqual(FileIdentity(path: daemon.socket), theirs, "stop did not unlink a socket it does not own")
  }
}
