import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// The real daemon under a flood of idle and half-sent connections on both listeners, with few
/// descriptors (RLIMIT_NOFILE 256) and real TCP checkers running: the listeners stay within their
/// caps, `status` and `/metrics` still answer, no verdict changes, and every flood connection is
/// closed by the idle timeout or the request deadline.
final class ListenerFloodTests: XCTestCase {
  private var scratch = ""
  private var listeners: [TCPListener] = []
  private var daemon: DaemonProcess?
  private var flood: [Int32] = []

  override func setUpWithError() throws {
    scratch = "/tmp/lvsk-flood-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    for fd in flood { close(fd) }
    daemon?.cleanUp()
    for listener in listeners { listener.close() }
    try? FileManager.default.removeItem(atPath: scratch)
  }

  func testIdleAndHalfSentConnectionsNeitherStarveProbesNorKeepStatusOut() async throws {
    listeners = try (0..<3).map { _ in try TCPListener() }
    for listener in listeners { listener.acceptInBackground() }
    let configPath = scratch + "/flood.conf"
    try DaemonLifecycleTests.config(ports: listeners.map(\.port))
      .write(toFile: configPath, atomically: true, encoding: .utf8)
    let metricsPort = try TestSockets.closedLoopbackPort()
    let openFiles = 256
    let daemon = try DaemonProcess(
      scratch: scratch, name: "flood",
      arguments: ["--dry-run", "--config", configPath, "--metrics-listen", "127.0.0.1:\(metricsPort)"],
      openFiles: openFiles)
    self.daemon = daemon
    try daemon.waitReady()
    try await waitForAllUp(daemon)
    let transitionsBefore = Self.downLines(daemon.log)

    // 500 connections on each listener: half idle, half with a request that never completes.
    for index in 0..<500 {
      let fd = try Self.connectUnix(daemon.socket)
      if index % 2 == 1 { _ = write(fd, "{\"command\":\"sta", 15) }
      flood.append(fd)
    }
    for index in 0..<500 {
      let fd = try Self.connectTCP(metricsPort)
      if index % 2 == 1 {
        let partial = Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8)
        _ = write(fd, partial, partial.count)
      }
      flood.append(fd)
    }

    // Both still answer, and the checkers still probe: nothing went down.
    let status = try await offPool { try daemon.request(.status, timeout: 10) }
    XCTAssertTrue(status.ok, status.error ?? "")
    let metrics = try await offPool { try TestSockets.httpGet(port: metricsPort, path: "/metrics") }
    XCTAssertEqual(metrics.status, 200)
    XCTAssertTrue(
      status.status?.virtualServices.first?.realServers.allSatisfy { $0.health == "up" } ?? false,
      "\(String(describing: status.status))")
    // Both answers came after every flood connection was accepted on the same loops, so the
    // evictions are done: each listener holds at most its cap (ListenerLimits.standard()).
    let cap = min(32, openFiles / 16)
    let held = flood.filter { !Self.isClosedByPeer($0) }.count
    XCTAssertLessThanOrEqual(held, 2 * cap, "each listener keeps at most its cap of \(cap)")

    // Every flood connection is closed by the daemon within the idle timeout / request deadline
    // (3 s / 5 s); the bound here is generous.
    let deadline = ContinuousClock.now + .seconds(30)
    var open = flood.filter { !Self.isClosedByPeer($0) }
    while !open.isEmpty && ContinuousClock.now < deadline {
      var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
      _ = poll(&fds, nfds_t(fds.count), 1000)
      open = open.filter { !Self.isClosedByPeer($0) }
    }
    XCTAssertEqual(open.count, 0, "flood connections still open after 30 s")

    let after = try await offPool { try daemon.request(.status, timeout: 10) }
    XCTAssertTrue(
      after.status?.virtualServices.first?.realServers.allSatisfy { $0.health == "up" } ?? false,
      "\(String(describing: after.status))")
    XCTAssertEqual(Self.downLines(daemon.log), transitionsBefore, daemon.log)
    XCTAssertFalse(daemon.log.contains("Too many open files"), daemon.log)
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(30)), 0, daemon.log)
  }

  private func waitForAllUp(_ daemon: DaemonProcess) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      let report = try await offPool { try daemon.request(.status) }
      let servers = report.status?.virtualServices.first?.realServers ?? []
      if !servers.isEmpty && servers.allSatisfy({ $0.health == "up" && $0.lastCheck != nil }) { return }
      try await Task.sleep(for: .milliseconds(200))
    }
    XCTFail("real servers not all up within 30 s:\n\(daemon.log)")
    throw CancellationError()
  }

  static func downLines(_ log: String) -> Int {
    log.split(separator: "\n").filter { $0.contains(" is DOWN") }.count
  }

  /// True when the peer closed: readable with nothing to read (or an error).
  static func isClosedByPeer(_ fd: Int32) -> Bool {
    var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&pollFD, 1, 0) == 1 else { return false }
    var byte: UInt8 = 0
    return recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) <= 0
  }

  static func connectUnix(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw TestSockets.SocketError("socket") }
    var (address, length) = TestSockets.unixAddress(path)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
    }
    guard connected == 0 else {
      close(fd)
      throw TestSockets.SocketError("connect \(path)")
    }
    return fd
  }

  static func connectTCP(_ port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw TestSockets.SocketError("socket") }
    var address = TestSockets.loopback(port: port)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else {
      close(fd)
      throw TestSockets.SocketError("connect 127.0.0.1:\(port)")
    }
    return fd
  }
}
