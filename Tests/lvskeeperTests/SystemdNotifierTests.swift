import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// `SystemdNotifier` against a real AF_UNIX datagram socket, as systemd's notify socket is.
final class SystemdNotifierTests: XCTestCase {
  /// A datagram socket bound like systemd's `$NOTIFY_SOCKET`; removed on close.
  final class NotifyListener {
    let fd: Int32
    let path: String

    init(path: String) throws {
      self.path = path
      fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
      guard fd >= 0 else { throw TestSockets.SocketError("socket") }
      do { try TestSockets.bind(fd, unixPath: path) } catch {
        Glibc.close(fd)
        throw error
      }
    }

    /// The next datagram, or nil after `timeout`.
    func receive(timeout: Duration = .seconds(2)) -> String? {
      guard TestSockets.waitReadable(fd, timeout: timeout) else { return nil }
      var buffer = [UInt8](repeating: 0, count: 4096)
      let count = recv(fd, &buffer, buffer.count, 0)
      guard count >= 0 else { return nil }
      return String(decoding: buffer[..<count], as: UTF8.self)
    }

    func close() {
      Glibc.close(fd)
      if !path.hasPrefix("@") { unlink(path) }
    }
  }

  private var scratch = ""

  override func setUpWithError() throws {
    scratch = NSTemporaryDirectory() + "lvskeeper-notify-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(atPath: scratch)
  }

  /// systemd drains its socket at once, but a receiver that does not (here: never) must cost lost
  /// datagrams, not a blocked sender: the watchdog pings from the daemon's actor, and a blocked
  /// send there wedged the whole daemon (found by the slow-reload test, queue length 10).
  func testAFullQueueLosesDatagramsInsteadOfBlockingTheSender() async throws {
    let listener = try NotifyListener(path: scratch + "/full.sock")
    defer { listener.close() }
    let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path])
    let lost = await Deadline.runBlocking(.seconds(30), name: "notify-flood") {
      (0..<100).filter { _ in !notifier.send("WATCHDOG=1") }.count
    }
    let count = try XCTUnwrap(lost, "sending to a full queue blocked")
    XCTAssertGreaterThan(count, 0, "the queue never filled; the test proves nothing")
    XCTAssertEqual(listener.receive(), "WATCHDOG=1", "the first ones arrived")
  }

  func testEveryMessageReachesAFilesystemSocket() throws {
    try assertProtocol(socketPath: scratch + "/notify.sock")
  }

  func testEveryMessageReachesAnAbstractSocket() throws {
    try assertProtocol(socketPath: "@lvskeeper-test-" + UUID().uuidString)
  }

  private func assertProtocol(socketPath: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let listener = try NotifyListener(path: socketPath)
    defer { listener.close() }
    let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "2000000"])
    XCTAssertEqual(notifier.socketPath, socketPath, file: file, line: line)
    XCTAssertEqual(notifier.watchdogInterval, .seconds(2), file: file, line: line)

    notifier.ready(status: "1 VRRP unit(s), master of none")
    XCTAssertEqual(
      listener.receive(), "READY=1\nSTATUS=1 VRRP unit(s), master of none", file: file, line: line)

    var before = timespec()
    clock_gettime(CLOCK_MONOTONIC, &before)
    notifier.reloading()
    var after = timespec()
    clock_gettime(CLOCK_MONOTONIC, &after)
    let reloading = try XCTUnwrap(listener.receive(), file: file, line: line)
    let lines = reloading.split(separator: "\n", omittingEmptySubsequences: false)
    XCTAssertEqual(lines.count, 2, "got \(reloading)", file: file, line: line)
    XCTAssertEqual(lines.first, "RELOADING=1", file: file, line: line)
    let prefix = "MONOTONIC_USEC="
    let usecText = lines.last.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : "" } ?? ""
    XCTAssertTrue(
      !usecText.isEmpty && usecText.allSatisfy(\.isNumber), "got \(reloading)", file: file, line: line)
    // CLOCK_MONOTONIC, as systemd compares it with its own monotonic clock (sd_notify(3)).
    let usec = try XCTUnwrap(UInt64(usecText), file: file, line: line)
    XCTAssertGreaterThanOrEqual(usec, Self.microseconds(before), file: file, line: line)
    XCTAssertLessThanOrEqual(usec, Self.microseconds(after), file: file, line: line)

    notifier.stopping()
    XCTAssertEqual(listener.receive(), "STOPPING=1", file: file, line: line)
    notifier.watchdog()
    XCTAssertEqual(listener.receive(), "WATCHDOG=1", file: file, line: line)
    notifier.status("reload refused: x.conf:1:1: error: boom")
    XCTAssertEqual(
      listener.receive(), "STATUS=reload refused: x.conf:1:1: error: boom", file: file, line: line)
    XCTAssertTrue(notifier.send("EXTEND_TIMEOUT_USEC=5000000"), file: file, line: line)
    XCTAssertEqual(listener.receive(), "EXTEND_TIMEOUT_USEC=5000000", file: file, line: line)
    XCTAssertNil(listener.receive(timeout: .milliseconds(50)), "no stray datagrams", file: file, line: line)
  }

  private static func microseconds(_ time: timespec) -> UInt64 {
    UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec) / 1000
  }

  func testWatchdogFollowsWatchdogPID() {
    let cases: [(name: String, environment: [String: String], expected: Duration?)] = [
      ("this pid", ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid())"], .seconds(2)),
      ("another pid", ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid() + 1)"], nil),
      ("no pid", ["WATCHDOG_USEC": "500000"], .milliseconds(500)),
      ("zero", ["WATCHDOG_USEC": "0"], nil),
      ("garbage", ["WATCHDOG_USEC": "soon"], nil),
      ("unset", [:], nil),
    ]
    for item in cases {
      XCTAssertEqual(
        SystemdNotifier(environment: item.environment).watchdogInterval, item.expected, item.name)
    }
  }

  func testWithoutNotifySocketEverythingIsANoOp() throws {
    // A listener exists, but the notifier is not told about it: nothing may arrive.
    let path = scratch + "/unused.sock"
    let listener = try NotifyListener(path: path)
    defer { listener.close() }
    for environment in [[:], ["NOTIFY_SOCKET": ""]] as [[String: String]] {
      let notifier = SystemdNotifier(environment: environment)
      XCTAssertNil(notifier.socketPath)
      notifier.ready(status: "x")
      notifier.reloading()
      notifier.stopping()
      notifier.watchdog()
      notifier.status("x")
      XCTAssertFalse(notifier.send("READY=1"))
    }
    XCTAssertNil(listener.receive(timeout: .milliseconds(50)))
  }

  func testUnreachableSocketIsReportedNotThrown() {
    let missing = SystemdNotifier(environment: ["NOTIFY_SOCKET": scratch + "/nobody-listens.sock"])
    XCTAssertFalse(missing.send("READY=1"))
    let tooLong = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)])
    XCTAssertFalse(tooLong.send("READY=1"))
  }
}
