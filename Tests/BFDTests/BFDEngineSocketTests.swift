import Foundation
import KeeperCore
import XCTest

@testable import BFD

#if canImport(Glibc)
  import Glibc
#endif

/// The engine's sockets in a network namespace of their own (loopback only): datagrams sent to
/// UDP 3784 are matched, checked and counted as RFC 5880 6.8.6 and RFC 5881 5 (GTSM) ask.
final class BFDEngineSocketTests: XCTestCase {
  private var namespace = ""

  override func setUpWithError() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root (network namespace)") }
    namespace = "lvsk-bfde-\(getpid())"
    _ = run("/usr/sbin/ip netns del \(namespace) 2>/dev/null")
    guard run("/usr/sbin/ip netns add \(namespace) && /usr/sbin/ip -n \(namespace) link set lo up") else {
      throw XCTSkip("cannot create a network namespace")
    }
  }

  override func tearDown() {
    if !namespace.isEmpty { _ = run("/usr/sbin/ip netns del \(namespace)") }
  }

  @discardableResult
  private func run(_ command: String) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    do { try process.run() } catch { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
  }

  /// Runs `body` on a thread that entered the namespace (setns changes only the calling thread);
  /// sockets it creates stay in the namespace.
  private func inNamespace<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let path = "/var/run/netns/\(namespace)"
    let thread = Thread {
      defer { done.signal() }
      let fd = open(path, O_RDONLY | O_CLOEXEC)
      defer { if fd >= 0 { close(fd) } }
      typealias SetNS = @convention(c) (Int32, Int32) -> Int32
      guard fd >= 0, let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns"),
        unsafeBitCast(symbol, to: SetNS.self)(fd, 0x4000_0000) == 0
      else {
        box.result = .failure(CocoaError(.featureUnsupported))
        return
      }
      box.result = Result { try body() }
    }
    thread.start()
    done.wait()
    return try XCTUnwrap(box.result).get()
  }

  /// A UDP socket in the namespace bound to 127.0.0.2 (the session's neighbor).
  private func neighborSocket() throws -> Int32 {
    try inNamespace {
      let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.2")
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      guard fd >= 0, bound == 0 else { throw CocoaError(.featureUnsupported) }
      return fd
    }
  }

  private func send(_ fd: Int32, _ bytes: [UInt8], ttl: Int32) {
    var ttl = ttl
    setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &ttl, socklen_t(MemoryLayout<Int32>.size))
    var to = sockaddr_in()
    to.sin_family = sa_family_t(AF_INET)
    to.sin_port = in_port_t(3784).bigEndian
    to.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = bytes.withUnsafeBytes { buffer in
      withUnsafePointer(to: &to) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
    }
  }

  private func waitFor(_ engine: BFDEngine, _ condition: (BFDEngineStatus) -> Bool) -> BFDEngineStatus {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
      if condition(engine.status) { return engine.status }
      usleep(10_000)
    }
    return engine.status
  }

  func testUnmatchedMalformedAndLowTTLPacketsAreDroppedAndCounted() throws {
    // Passive: the session sends nothing until it hears from 127.0.0.2, so every counted datagram
    // is one this test sent.
    var timing = BFDTiming()
    timing.passive = true
    let spec = BFDInstanceSpec(
      name: "lo", neighbor: try XCTUnwrap(IPAddress("127.0.0.2")), source: IPAddress("127.0.0.1"),
      timing: timing)
    let engine = BFDEngine(instances: [spec])
    try inNamespace { try engine.start() }
    defer { engine.stop() }
    let fd = try neighborSocket()
    defer { close(fd) }
    var down = BFDControlPacket(
      state: .down, detectMultiplier: 3, myDiscriminator: 0x4242, yourDiscriminator: 0,
      desiredMinTx: 1_000_000,
      requiredMinRx: 1_000_000)

    // For a discriminator no session has: unmatched.
    var stranger = down
    stranger.state = .up
    stranger.yourDiscriminator = 0xDEAD_BEEF
    send(fd, stranger.encode(), ttl: 255)
    var status = waitFor(engine) { $0.unmatched == 1 }
    XCTAssertEqual(status.unmatched, 1)

    // Not a BFD packet (too short, then version 0): malformed.
    send(fd, [1, 2, 3], ttl: 255)
    send(fd, [UInt8](repeating: 0, count: 24), ttl: 255)
    status = waitFor(engine) { $0.malformed == 2 }
    XCTAssertEqual(status.malformed, 2)

    // From the neighbor but with TTL 64: one hop or more away, dropped by GTSM (max_hops 0).
    send(fd, down.encode(), ttl: 64)
    status = waitFor(engine) { $0.sessions.first?.dropped == 1 }
    XCTAssertEqual(status.sessions.first?.dropped, 1)
    XCTAssertEqual(status.sessions.first?.packetsIn, 0)
    XCTAssertEqual(status.sessions.first?.state, "Down")

    // With TTL 255 the same packet is taken: the session moves to Init and learns the neighbor.
    down.diagnostic = .none
    send(fd, down.encode(), ttl: 255)
    status = waitFor(engine) { $0.sessions.first?.state == "Init" }
    let session = try XCTUnwrap(status.sessions.first)
    XCTAssertEqual(session.state, "Init")
    XCTAssertEqual(session.packetsIn, 1)
    XCTAssertEqual(session.remoteDiscriminator, 0x4242)
    XCTAssertFalse(session.up)
    XCTAssertEqual(status.malformed, 2)
  }
}

/// A thread's result, written before its semaphore is signalled and read after.
final class ResultBox<T>: @unchecked Sendable {
  var result: Result<T, any Error>?
}
