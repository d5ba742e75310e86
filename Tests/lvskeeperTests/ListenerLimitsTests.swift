import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// The listener policy on a real control socket with small limits: at the cap the oldest
/// connection still waiting for its request makes room, one being answered never does, and a
/// connection that stays silent or trickles is closed.
final class ListenerLimitsTests: XCTestCase {
  private var scratch = ""
  private var group: MultiThreadedEventLoopGroup?
  private var held: [Int32] = []

  override func setUpWithError() throws {
    scratch = "/tmp/lvsk-lim-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  }

  override func tearDown() async throws {
    for fd in held { close(fd) }
    try await group?.shutdownGracefully()
    try? FileManager.default.removeItem(atPath: scratch)
  }

  /// A server whose `reload` answers only when `release` is signalled (an answer in progress);
  /// `entered` is signalled as each reload is taken up (its request was read whole).
  private func server(
    limits: ListenerLimits, release: DispatchSemaphore,
    entered: DispatchSemaphore = DispatchSemaphore(value: 0)
  ) async throws -> ControlServer {
    try await ControlServer.start(path: scratch + "/ctl.sock", group: try XCTUnwrap(group), limits: limits) {
      request, _ in
      if request.command == .reload {
        entered.signal()
        _ = await Deadline.runBlocking(.seconds(60), name: "held-answer") { release.wait() }
      }
      return ControlResponse(ok: true, message: "\(request.command)")
    }
  }

  private func connect(_ path: String) throws -> Int32 {
    let fd = try ListenerFloodTests.connectUnix(path)
    held.append(fd)
    return fd
  }

  /// Waits (bounded) until the server closed `fd`.
  private func waitClosed(_ fd: Int32, within bound: Duration = .seconds(20)) -> Bool {
    let deadline = ContinuousClock.now + bound
    while ContinuousClock.now < deadline {
      guard TestSockets.waitReadable(fd, timeout: .milliseconds(500)) else { continue }
      return ListenerFloodTests.isClosedByPeer(fd)
    }
    return false
  }

  func testAtTheCapTheOldestWaitingConnectionMakesRoomAndAnAnswerInProgressIsKept() async throws {
    let (release, entered) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
    var limits = ListenerLimits(connectionCap: 3)
    limits.idleTimeout = .seconds(60)
    limits.requestDeadline = .seconds(60)
    let control = try await server(limits: limits, release: release, entered: entered)

    // Slot 1: a request being answered (held by the handler).
    let answering = try connect(control.path)
    try TestSockets.writeAll(answering, Array("{\"command\":\"reload\"}\n".utf8))
    let first = try await offPool { entered.wait(timeout: .now() + 20) == .success }
    XCTAssertTrue(first, "the first reload was not taken up")
    // Slots 2 and 3: idle.
    let idle1 = try connect(control.path)
    let idle2 = try connect(control.path)
    // A status request arrives at the cap: idle1, the oldest waiting one, makes room.
    let status = try await offPool {
      try ControlClient(path: control.path).send(ControlRequest(command: .status))
    }
    XCTAssertEqual(status.message, "status")
    XCTAssertTrue(waitClosed(idle1), "the oldest idle connection was evicted")
    XCTAssertFalse(ListenerFloodTests.isClosedByPeer(idle2))
    XCTAssertFalse(ListenerFloodTests.isClosedByPeer(answering), "an answer in progress is never evicted")

    // With every slot answering, a new connection is closed at once.
    try TestSockets.writeAll(idle2, Array("{\"command\":\"reload\"}\n".utf8))
    let third = try connect(control.path)
    try TestSockets.writeAll(third, Array("{\"command\":\"reload\"}\n".utf8))
    // Every request read whole before the next connection arrives (the loop may take a new
    // connection before a pending read otherwise).
    let taken = try await offPool {
      (0..<2).allSatisfy { _ in entered.wait(timeout: .now() + 20) == .success }
    }
    XCTAssertTrue(taken, "the second and third reloads were not taken up")
    let extra = try connect(control.path)
    XCTAssertTrue(waitClosed(extra), "no slot free: closed at once")
    // `lvskeeper status` says so instead of "not valid JSON".
    let refused = try await offPool { () -> String in
      do {
        _ = try ControlClient(path: control.path).send(ControlRequest(command: .status))
        return "answered"
      } catch { return "\(error)" }
    }
    XCTAssertEqual(
      refused,
      "control socket: the daemon closed the connection without answering (all control connections busy, or stopping)"
    )
    for _ in 0..<3 { release.signal() }
    let answer = String(decoding: try TestSockets.readToEnd(answering), as: UTF8.self)
    XCTAssertTrue(answer.contains("\"message\":\"reload\""), answer)
    await control.close()
  }

  func testSilentAndTricklingClientsAreClosedButASlowAnswerIsNot() async throws {
    let release = DispatchSemaphore(value: 0)
    var limits = ListenerLimits(connectionCap: 8)
    limits.idleTimeout = .seconds(1)
    limits.requestDeadline = .seconds(2)
    let control = try await server(limits: limits, release: release)

    let silent = try connect(control.path)
    let trickling = try connect(control.path)
    let slowAnswer = try connect(control.path)
    try TestSockets.writeAll(slowAnswer, Array("{\"command\":\"reload\"}\n".utf8))
    // One byte every 400 ms: not idle for the idle timeout (1 s), but never complete.
    var trickleClosed = false
    for byte in Array("{\"command\":\"status\"}".utf8) {
      if ListenerFloodTests.isClosedByPeer(trickling) {
        trickleClosed = true
        break
      }
      _ = withUnsafePointer(to: byte) { write(trickling, $0, 1) }
      try await Task.sleep(for: .milliseconds(400))
    }
    XCTAssertTrue(trickleClosed || waitClosed(trickling), "the request deadline closes a trickle")
    XCTAssertTrue(waitClosed(silent), "the idle timeout closes a silent client")
    // The answer in progress outlives both timeouts.
    XCTAssertFalse(ListenerFloodTests.isClosedByPeer(slowAnswer))
    release.signal()
    let answer = String(decoding: try TestSockets.readToEnd(slowAnswer), as: UTF8.self)
    XCTAssertTrue(answer.contains("\"ok\":true"), answer)
    await control.close()
  }
}
