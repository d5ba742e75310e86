import Foundation
import Glibc
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// Runs `body` on a thread of its own that has left for a new network namespace; threads and
/// processes it starts (a TCP engine, an event loop group, `ip`) live there too, so the test can
/// set up interfaces and policy routing without touching the host's network.
func inNewNetworkNamespace(_ body: @escaping @Sendable () throws -> Void) throws {
  final class Outcome: @unchecked Sendable {
    var error: (any Error)?
  }
  let outcome = Outcome()
  let done = DispatchSemaphore(value: 0)
  let thread = Thread {
    defer { done.signal() }
    // unshare(2) with CLONE_NEWNET moves only the calling thread. Glibc's module map does not
    // export unshare, so it is looked up by name.
    let cloneNewNet: Int32 = 0x4000_0000
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "unshare") else {
      outcome.error = XCTSkip("unshare(2) is not available")
      return
    }
    let unshare = unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
    guard unshare(cloneNewNet) == 0 else {
      outcome.error = XCTSkip("unshare(CLONE_NEWNET): \(String(cString: strerror(errno))) (needs root)")
      return
    }
    do { try body() } catch { outcome.error = error }
  }
  thread.start()
  done.wait()
  if let error = outcome.error { throw error }
}

struct CommandFailed: Error, CustomStringConvertible {
  var description: String
}

/// `ip ARGS...` spawned from the calling thread (so in its network namespace) and reaped with
/// waitpid; Foundation's Process is not used because it waits for the child on another thread's
/// notice, which never came for a child of the namespaced thread.
func ip(_ arguments: String) throws {
  let argv = ["ip"] + arguments.split(separator: " ").map(String.init)
  var pointers = argv.map { strdup($0) } + [nil]
  defer { for pointer in pointers { free(pointer) } }
  var pid: pid_t = 0
  let spawned = posix_spawn(&pid, "/usr/sbin/ip", nil, nil, &pointers, environ)
  guard spawned == 0 else {
    throw CommandFailed(description: "posix_spawn ip: \(String(cString: strerror(spawned)))")
  }
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
  guard status == 0 else { throw CommandFailed(description: "ip \(arguments): exit status \(status)") }
}

/// The lab both tests use: d0 (10.77.0.1/24) and d1 (10.78.0.1/24), each one end of a veth pair,
/// and a policy rule that prohibits every packet marked 42 — consulted before the local table, so
/// it applies to local destinations too.
func makeProbeLab() throws {
  try requireTool("/usr/sbin/ip", package: "iproute2")
  try ip("link set lo up")
  for (index, net) in [(0, "10.77.0.1/24"), (1, "10.78.0.1/24")] {
    try ip("link add d\(index) type veth peer name d\(index)p")
    try ip("link set d\(index)p up")
    try ip("link set d\(index) up")
    try ip("addr add \(net) dev d\(index)")
  }
  try ip("rule add pref 10 fwmark 42 prohibit")
  try ip("rule add pref 32765 table local")
  try ip("rule del pref 0")
}

/// keepalived's checker `bind_if` and `fwmark`, observed through what the kernel does with the
/// probe's packets: bound to the device that holds the address, a connect succeeds; bound to
/// another device it goes out that device and times out; marked 42 it meets the prohibit rule.
final class ProbeSocketOptionsTests: XCTestCase {
  func testTCPEngineSocketsCarryDeviceAndMark() throws {
    try inNewNetworkNamespace {
      try makeProbeLab()
      let engine = try TCPCheckEngine.start().get()
      let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
      defer { try? group.syncShutdownGracefully() }
      let server = try MisbehavingServer(.hang, group: group, host: "10.77.0.1")
      defer { server.close() }
      func probe(device: String? = nil, mark: UInt32? = nil) throws -> ProbeOutcome {
        let target = CheckTarget(address: "10.77.0.1", port: server.port, bindInterface: device, fwmark: mark)
        let job = try TCPCheckRunner.job(for: TCPCheck(target: target, connectTimeout: .milliseconds(300)))
          .get()
        final class Box: @unchecked Sendable { var outcome: ProbeOutcome? }
        let box = Box()
        let finished = DispatchSemaphore(value: 0)
        engine.probeOnce(job) { outcome in
          box.outcome = outcome
          finished.signal()
        }
        finished.wait()
        return try XCTUnwrap(box.outcome)
      }
      XCTAssertEqual(try probe(), .up(weight: nil))
      XCTAssertEqual(try probe(device: "d0"), .up(weight: nil))
      XCTAssertEqual(try probe(device: "d1"), .down(reason: "connect timed out after 0.3s"))
      XCTAssertEqual(try probe(device: "nosuch0"), .down(reason: "bind_if nosuch0: No such device"))
      XCTAssertEqual(try probe(mark: 42), .down(reason: "Permission denied"))
      XCTAssertEqual(try probe(mark: 7), .up(weight: nil))
      // Both at once: the mark still keeps the probe from succeeding.
      XCTAssertFalse(try probe(device: "d0", mark: 42).isUp)
    }
  }

  /// The same through HTTP_GET's conversation legs on an engine started in the namespace: the
  /// engine failures carry the url.
  func testConversationProbeSocketsCarryDeviceAndMark() throws {
    try inNewNetworkNamespace {
      try makeProbeLab()
      let engine = try TCPCheckEngine.start().get()
      let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
      defer { try? group.syncShutdownGracefully() }
      let server = try MisbehavingServer(
        .respond(MisbehavingServer.httpResponse(status: "200 OK", body: "ok")), group: group,
        host: "10.77.0.1")
      defer { server.close() }
      func probe(device: String? = nil, mark: UInt32? = nil) throws -> ProbeOutcome {
        let target = CheckTarget(address: "10.77.0.1", port: server.port, bindInterface: device, fwmark: mark)
        let check = HTTPCheck(target: target, urls: [URLCheck(path: "/")], connectTimeout: .milliseconds(300))
        let job = try TCPCheckRunner.job(for: check, tls: false).get()
        let box = OutcomeBox()
        engine.probeOnce(job) { box.set($0) }
        return try box.wait()
      }
      XCTAssertEqual(try probe(), .up(weight: nil))
      XCTAssertEqual(try probe(device: "d0"), .up(weight: nil))
      XCTAssertEqual(try probe(device: "d1"), .down(reason: "/: connect timed out after 0.3s"))
      XCTAssertEqual(try probe(device: "nosuch0"), .down(reason: "/: bind_if nosuch0: No such device"))
      XCTAssertEqual(try probe(mark: 42), .down(reason: "/: Permission denied"))
      XCTAssertEqual(try probe(mark: 7), .up(weight: nil))
    }
  }
}
