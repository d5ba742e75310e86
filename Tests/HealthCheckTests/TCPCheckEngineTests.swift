import Foundation
import Glibc
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

struct ListenerError: Error { let errnoCode: Int32 }

/// A kernel listening socket that never calls accept() unless asked: with backlog 0 and its
/// accept queue filled, further SYNs are dropped and a connect hangs until the probe's timeout.
final class RawListener {
  let fd: Int32
  let port: UInt16
  private var fillers: [Int32] = []

  init(backlog: Int32) throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw ListenerError(errnoCode: errno) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(fd, backlog) == 0 else {
      let e = errno
      Glibc.close(fd)
      throw ListenerError(errnoCode: e)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    self.fd = fd
    self.port = UInt16(bigEndian: address.sin_port)
  }

  /// Fills the accept queue with connections kept open, so the next SYN is dropped.
  func fillAcceptQueue() {
    for _ in 0..<4 {
      let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      address.sin_port = port.bigEndian
      _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      fillers.append(c)
    }
    usleep(100_000)
  }

  /// Accepts one connection (waiting up to `seconds`): its peer address, port and whether the
  /// peer's close arrived as an orderly EOF (a FIN) rather than a reset.
  func acceptOne(seconds: Int32) -> (address: String, port: UInt16, cleanEOF: Bool)? {
    var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&poller, 1, seconds * 1000) == 1 else { return nil }
    var peer = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let c = withUnsafeMutablePointer(to: &peer) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &length) }
    }
    guard c >= 0 else { return nil }
    defer { Glibc.close(c) }
    var byte: UInt8 = 0
    var readable = pollfd(fd: c, events: Int16(POLLIN), revents: 0)
    _ = poll(&readable, 1, seconds * 1000)
    let n = read(c, &byte, 1)
    let address = String(cString: inet_ntoa(peer.sin_addr))
    return (address, UInt16(bigEndian: peer.sin_port), n == 0)
  }

  func close() {
    for c in fillers { Glibc.close(c) }
    fillers = []
    Glibc.close(fd)
  }
}

/// The TCP_CHECK engine: timeouts against a listener that drops SYNs, bind_port and bindto on the
/// wire, an orderly close, periodic checkers' verdicts, and no descriptor or slot left behind
/// under mixed load or when checkers are removed mid-probe.
final class TCPCheckEngineTests: XCTestCase {
  let probeGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)
  override func tearDown() { try? probeGroup.syncShutdownGracefully() }

  func testTimeoutAgainstFullAcceptQueue() throws {
    let listener = try RawListener(backlog: 0)
    defer { listener.close() }
    listener.fillAcceptQueue()
    let target = CheckTarget(address: "127.0.0.1", port: listener.port)
    let clock = ContinuousClock()
    let start = clock.now
    let outcome = try TCPProbe(check: TCPCheck(target: target, connectTimeout: .milliseconds(300)))
      .run(on: probeGroup.next()).wait()
    let elapsed = clock.now - start
    XCTAssertEqual(outcome, .down(reason: "connect timed out after 0.3s"))
    XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(300))
    XCTAssertLessThan(elapsed, .milliseconds(1300))
  }

  /// bindto + bind_port reach the wire, and the probe closes with a FIN, not a reset.
  func testBindPortAndOrderlyClose() throws {
    let listener = try RawListener(backlog: 16)
    defer { listener.close() }
    let free = try RawListener(backlog: 1)
    let sourcePort = free.port
    free.close()
    let target = CheckTarget(
      address: "127.0.0.1", port: listener.port, bindAddress: "127.0.0.8", bindPort: sourcePort)
    let outcome = try TCPProbe(check: TCPCheck(target: target)).run(on: probeGroup.next()).wait()
    XCTAssertEqual(outcome, .up(weight: nil))
    let peer = listener.acceptOne(seconds: 2)
    XCTAssertEqual(peer?.address, "127.0.0.8")
    XCTAssertEqual(peer?.port, sourcePort)
    XCTAssertEqual(peer?.cleanEOF, true, "probe must close with a FIN")
  }

  /// 3,000 probes at once, a third each up, refused and timed out: every outcome is right and
  /// the descriptor count returns to where it started.
  func testMixedOutcomesLeaveNoDescriptors() throws {
    let servers = try ThreeServers()
    defer { servers.close() }
    let (accepting, dropping, refused) = (servers.accepting, servers.dropping, servers.refused)
    let timeout = Duration.milliseconds(200)
    let probes = [accepting.port, refused, dropping.port].map {
      TCPProbe(check: TCPCheck(target: CheckTarget(address: "127.0.0.1", port: $0), connectTimeout: timeout))
    }
    let before = openDescriptorCount()
    var results: [[ProbeOutcome]] = [[], [], []]
    for _ in 0..<2 {
      // The accept queue holds up to 4096; drain what the first round left between rounds.
      let futures = (0..<1500).map { i in (i % 3, probes[i % 3].run(on: probeGroup.next())) }
      for (kind, f) in futures { results[kind].append(try f.wait()) }
      while accepting.acceptOne(seconds: 0) != nil {}
    }
    XCTAssertEqual(results[0].filter { $0 == .up(weight: nil) }.count, 1000)
    XCTAssertEqual(results[1].filter { $0 == .down(reason: "Connection refused") }.count, 1000)
    XCTAssertEqual(results[2].filter { $0 == .down(reason: "connect timed out after 0.2s") }.count, 1000)
    XCTAssertEqual(openDescriptorCount(), before)
  }

  /// A checker removed while its connect hangs gives its descriptor back at once, not at the
  /// connect timeout, and is never heard from again.
  func testRemoveMidProbeClosesAtOnce() throws {
    let engine = try TCPCheckEngine.shared.get()
    let dropping = try RawListener(backlog: 0)
    defer { dropping.close() }
    dropping.fillAcceptQueue()
    let slotsBefore = engine.activeCount
    let before = openDescriptorCount()
    let heard = ManagedAtomicCounter()
    let job = try TCPCheckRunner.job(
      for: TCPCheck(
        target: CheckTarget(address: "127.0.0.1", port: dropping.port), connectTimeout: .seconds(30))
    ).get()
    let handle = engine.add(
      job, schedule: CheckSchedule(delayLoop: .seconds(1), retry: 0), after: .zero,
      observer: .init(onProbeStart: { _ in heard.add() }, onTransition: { _, _ in heard.add() }))
    try waitUntil { openDescriptorCount() == before + 1 }
    XCTAssertEqual(heard.value, 1, "one probe started")
    engine.remove(handle)
    XCTAssertEqual(openDescriptorCount(), before, "the hanging connect is closed by remove")
    XCTAssertEqual(engine.activeCount, slotsBefore)
    XCTAssertNil(engine.snapshots([handle])[0])
    usleep(300_000)
    XCTAssertEqual(heard.value, 1, "nothing reported after remove")
  }

  /// 600 periodic checkers, a third each against an accepting, a refusing and a SYN-dropping
  /// listener: each verdict is right after its first probe (fall 1, no retry), the accepting
  /// ones keep probing every interval, and removing them all leaves no descriptor or slot.
  func testPeriodicCheckersVerdictsAndCleanup() throws {
    let engine = try TCPCheckEngine.shared.get()
    let servers = try ThreeServers()
    defer { servers.close() }
    let (accepting, dropping, refused) = (servers.accepting, servers.dropping, servers.refused)
    let slotsBefore = engine.activeCount
    let before = openDescriptorCount()
    let schedule = CheckSchedule(delayLoop: .milliseconds(100), retry: 0, rise: 1, fall: 1)
    let transitions = TransitionLog()
    let handles = try (0..<600).map { i in
      let port = [accepting.port, refused, dropping.port][i % 3]
      let job = try TCPCheckRunner.job(
        for: TCPCheck(
          target: CheckTarget(address: "127.0.0.1", port: port), connectTimeout: .milliseconds(200))
      ).get()
      return engine.add(
        job, schedule: schedule, after: .milliseconds(Int64(i % 50)),
        observer: .init(onProbeStart: nil, onTransition: { t, _ in transitions.record(i, t) }))
    }
    try waitUntil(seconds: 10) { transitions.count == 400 }
    // Let the accepting ones probe a few more intervals, draining the accept queue meanwhile.
    for _ in 0..<6 {
      usleep(100_000)
      while accepting.acceptOne(seconds: 0) != nil {}
    }
    let snapshots = engine.snapshots(handles)
    for (i, snap) in snapshots.enumerated() {
      let snap = try XCTUnwrap(snap)
      switch i % 3 {
      case 0:
        XCTAssertTrue(snap.verdict.isUp, "accepting #\(i)")
        XCTAssertGreaterThanOrEqual(snap.probes, 4, "accepting #\(i) probes every 100 ms")
      case 1: XCTAssertEqual(snap.verdict.lastOutcome, .down(reason: "Connection refused"))
      default: XCTAssertEqual(snap.verdict.lastOutcome, .down(reason: "connect timed out after 0.2s"))
      }
    }
    XCTAssertEqual(transitions.byChecker.filter { $0.key % 3 == 0 }.count, 0, "accepting never flapped")
    XCTAssertTrue(transitions.byChecker.filter { $0.key % 3 != 0 }.allSatisfy { $0.value == [.wentDown] })
    for handle in handles { engine.remove(handle) }
    XCTAssertEqual(engine.activeCount, slotsBefore)
    while accepting.acceptOne(seconds: 0) != nil {}
    XCTAssertEqual(openDescriptorCount(), before)
  }

  /// What is kept per checker, one per real server at scale, stays at the sizes the layouts
  /// promise (bench/memory-heaptrack.sh measures the whole): the engine slot, the verdict in it,
  /// the job in it, the target in the checker box, and the monitored server.
  func testPerCheckerLayoutsStayCompact() {
    print(
      "slot \(TCPCheckEngine.slotStride), verdict \(MemoryLayout<CheckerVerdict>.stride),",
      "job \(MemoryLayout<TCPCheckJob>.stride), target \(MemoryLayout<CheckTarget>.stride),",
      "server \(MemoryLayout<MonitoredServer>.stride), spec \(MemoryLayout<CheckerSpec>.stride)")
    XCTAssertLessThanOrEqual(TCPCheckEngine.slotStride, 152)
    XCTAssertLessThanOrEqual(MemoryLayout<CheckerVerdict>.stride, 56)
    XCTAssertLessThanOrEqual(MemoryLayout<TCPCheckJob>.stride, 24)
    XCTAssertLessThanOrEqual(MemoryLayout<CheckTarget>.stride, 32)
    // The id (24: its virtual server's shared name, address, port), the checker, the scripts.
    XCTAssertLessThanOrEqual(MemoryLayout<MonitoredServer>.stride, 40)
    XCTAssertLessThanOrEqual(MemoryLayout<TCPCheck>.stride, 40)
  }

  /// The engines' shared failure texts are strerror's, for every errno and beyond the table.
  func testErrnoTextIsStrerror() {
    for code in Int32(-1)...Int32(140) {
      XCTAssertEqual(ErrnoText.text(code), String(cString: strerror(code)), "errno \(code)")
    }
  }

  /// A TCP_CHECK spec holds its settings inline and every other kind out of line, so the checker
  /// box (one per distinct checker) has no room for HTTP_GET's or MYSQL_CHECK's settings.
  func testCheckerSpecIsNoLargerThanATCPCheck() {
    XCTAssertLessThanOrEqual(MemoryLayout<CheckerSpec>.size, MemoryLayout<TCPCheck>.size + 1)
    XCTAssertLessThan(MemoryLayout<CheckerSpec>.size, MemoryLayout<HTTPCheck>.size)
  }

  /// IPv6 targets: up against a listener on ::1, refused once it is closed.
  func testIPv6Target() throws {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    XCTAssertGreaterThanOrEqual(fd, 0)
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    let listening = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
        bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
      }
    }
    XCTAssertTrue(listening)
    let port = UInt16(bigEndian: address.sin6_port)
    let probe = TCPProbe(check: TCPCheck(target: CheckTarget(address: "::1", port: port)))
    XCTAssertEqual(try probe.run(on: probeGroup.next()).wait(), .up(weight: nil))
    Glibc.close(fd)
    XCTAssertEqual(try probe.run(on: probeGroup.next()).wait(), .down(reason: "Connection refused"))
  }

  private func waitUntil(seconds: Double = 5, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
      guard Date() < deadline else { throw WaitTimedOut(seconds: seconds) }
      usleep(10_000)
    }
  }
}

struct WaitTimedOut: Error { let seconds: Double }

/// An accepting listener, one that drops SYNs (full accept queue) and a refusing port.
struct ThreeServers {
  let accepting: RawListener
  let dropping: RawListener
  let refused: UInt16

  init() throws {
    accepting = try RawListener(backlog: 4096)
    dropping = try RawListener(backlog: 0)
    dropping.fillAcceptQueue()
    refused = try MisbehavingServer.closedPort()
  }

  func close() {
    accepting.close()
    dropping.close()
  }
}

/// Transitions reported by the engine thread, per checker.
final class TransitionLog: @unchecked Sendable {
  private let lock = NSLock()
  private var entries: [Int: [CheckerTransition]] = [:]
  func record(_ checker: Int, _ t: CheckerTransition) {
    lock.withLock { entries[checker, default: []].append(t) }
  }
  var byChecker: [Int: [CheckerTransition]] { lock.withLock { entries } }
  var count: Int { lock.withLock { entries.values.reduce(0) { $0 + $1.count } } }
}

final class ManagedAtomicCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var n = 0
  func add() { lock.withLock { n += 1 } }
  var value: Int { lock.withLock { n } }
}
