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

/// The raw-socket TCP_CHECK path: timeouts against a listener that drops SYNs, bind_port and
/// bindto on the wire, an orderly close, and no descriptor left behind under mixed load.
final class TCPConnectProberTests: XCTestCase {
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
    let accepting = try RawListener(backlog: 4096)
    let dropping = try RawListener(backlog: 0)
    defer {
      accepting.close()
      dropping.close()
    }
    dropping.fillAcceptQueue()
    let refused = try MisbehavingServer.closedPort()
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
}
