import Foundation
import KeeperCore
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// The monitor against live loopback servers: shared probes, all-checkers-up, alpha, reload
/// keeping history, and stop.
final class HealthMonitorTests: XCTestCase {
  let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
  override func tearDown() {
    try? group.syncShutdownGracefully()
    try? serverGroup.syncShutdownGracefully()
  }

  let fast = CheckSchedule(delayLoop: .milliseconds(100), retry: 0, delayBeforeRetry: .milliseconds(50))

  func tcp(_ port: UInt16, alpha: Bool = false) -> Checker {
    var s = fast
    s.alpha = alpha
    return Checker(
      .tcp(
        TCPCheck(target: CheckTarget(address: "127.0.0.1", port: port), connectTimeout: .milliseconds(500))),
      schedule: s)
  }

  func next(_ it: inout HealthEventQueue.AsyncIterator) async throws -> HealthEvent {
    let e = await it.next()
    return try XCTUnwrap(e)
  }

  func testItTellsWhetherAListIsTheOneItWatches() throws {
    let closed = try MisbehavingServer.closedPort()
    let monitor = HealthMonitor(group: group)
    defer { monitor.stop() }
    let servers = [
      MonitoredServer(id: RealServerID("vsA/rs1"), checkers: [tcp(closed)]),
      MonitoredServer(id: RealServerID("vsA/rs2"), checkers: [tcp(closed), tcp(closed, alpha: true)]),
    ]
    XCTAssertTrue(monitor.isWatching([]))
    XCTAssertFalse(monitor.isWatching(servers))
    monitor.apply(servers)
    XCTAssertTrue(monitor.isWatching(servers))
    XCTAssertEqual(monitor.servers, servers)
    XCTAssertFalse(monitor.isWatching(servers.reversed()))
    XCTAssertFalse(monitor.isWatching(Array(servers.prefix(1))))
    var changed = servers
    changed[1] = MonitoredServer(id: RealServerID("vsA/rs2"), checkers: [tcp(closed)])
    XCTAssertFalse(monitor.isWatching(changed))
  }

  func testSharedProbesAllUpAlphaAndReloadKeepsHistory() async throws {
    let live = try MisbehavingServer(.hang, group: serverGroup)
    defer { live.close() }
    let closed = try MisbehavingServer.closedPort()
    let monitor = HealthMonitor(group: group)
    defer { monitor.stop() }
    var it = monitor.events.makeAsyncIterator()

    let shared = tcp(live.port)
    let servers = [
      MonitoredServer(id: RealServerID("vsA/rs1"), checkers: [shared]),
      MonitoredServer(id: RealServerID("vsB/rs1"), checkers: [shared]),
      MonitoredServer(id: RealServerID("vsC/rs-mixed"), checkers: [shared, tcp(closed)]),
      MonitoredServer(id: RealServerID("vsD/rs-alpha"), checkers: [tcp(live.port, alpha: true)]),
      MonitoredServer(id: RealServerID("vsE/none"), checkers: []),
    ]
    monitor.apply(servers)
    XCTAssertEqual(monitor.status().probeCount, 3, "one probe per distinct checker")
    var initial: [String: Bool] = [:]
    for _ in 0..<5 {
      let e = try await next(&it)
      XCTAssertEqual(e.reason, "initial")
      initial[e.server.rawValue] = e.isUp
    }
    XCTAssertEqual(
      initial,
      ["vsA/rs1": true, "vsB/rs1": true, "vsC/rs-mixed": true, "vsD/rs-alpha": false, "vsE/none": true])
    var later: [String: Bool] = [:]
    for _ in 0..<2 {
      let e = try await next(&it)
      later[e.server.rawValue] = e.isUp
    }
    XCTAssertEqual(later, ["vsC/rs-mixed": false, "vsD/rs-alpha": true], "mixed goes down, alpha comes up")
    let mixed = try XCTUnwrap(monitor.status().servers.first { $0.id.rawValue == "vsC/rs-mixed" })
    XCTAssertTrue(mixed.reason?.contains("refused") ?? false, "\(mixed)")

    try await Task.sleep(for: .milliseconds(400))
    let probesBefore = try XCTUnwrap(
      monitor.status().servers.first { $0.id.rawValue == "vsA/rs1" }?.checkers.first?.probes)
    XCTAssertGreaterThan(probesBefore, 2)
    // Reload: vsB leaves, vsC loses its failing checker (comes up), the shared probe continues.
    monitor.apply([
      MonitoredServer(id: RealServerID("vsA/rs1"), checkers: [shared]),
      MonitoredServer(id: RealServerID("vsC/rs-mixed"), checkers: [shared]),
    ])
    let afterReload = monitor.status()
    XCTAssertEqual(afterReload.probeCount, 1)
    let kept = try XCTUnwrap(afterReload.servers.first { $0.id.rawValue == "vsA/rs1" }?.checkers.first)
    XCTAssertGreaterThanOrEqual(kept.probes, probesBefore, "history kept across reload")
    XCTAssertEqual(kept.subscribers, 2)
    let e = try await next(&it)
    XCTAssertEqual(e.server.rawValue, "vsC/rs-mixed")
    XCTAssertTrue(e.isUp)
    XCTAssertEqual(e.reason, "reload")

    monitor.stop()
    let end = await it.next()
    XCTAssertNil(end, "events finish after stop")
  }

  /// Checkers are interned in slots that a reload frees and reuses: the new checker in a reused
  /// slot speaks only for its own servers, and a checker listed twice by one server is one.
  func testReloadReusesFreedSlotsAndCountsADuplicateCheckerOnce() async throws {
    let live = try MisbehavingServer(.hang, group: serverGroup)
    defer { live.close() }
    let closed = try MisbehavingServer.closedPort()
    let monitor = HealthMonitor(group: group)
    defer { monitor.stop() }
    var it = monitor.events.makeAsyncIterator()

    monitor.apply([MonitoredServer(id: RealServerID("old"), checkers: [tcp(live.port), tcp(live.port)])])
    let first = try await next(&it)
    XCTAssertEqual(first.reason, "initial")
    XCTAssertTrue(first.isUp)
    let before = monitor.status()
    XCTAssertEqual(before.probeCount, 1)
    XCTAssertEqual(before.servers.first?.checkers.count, 1, "a checker listed twice is one checker")
    XCTAssertEqual(before.servers.first?.checkers.first?.subscribers, 1)

    // The old checker's slot is freed and taken by the new server's checker.
    monitor.apply([MonitoredServer(id: RealServerID("new"), checkers: [tcp(closed)])])
    let initial = try await next(&it)
    XCTAssertEqual(initial.server.rawValue, "new")
    XCTAssertEqual(initial.reason, "initial")
    let down = try await next(&it)
    XCTAssertEqual(down.server.rawValue, "new")
    XCTAssertFalse(down.isUp)
    XCTAssertTrue(down.reason.contains("refused"), down.reason)
    let after = monitor.status()
    XCTAssertEqual(after.servers.map(\.id.rawValue), ["new"])
    XCTAssertEqual(after.probeCount, 1)
    XCTAssertEqual(after.servers.first?.checkers.first?.checker, tcp(closed))
    XCTAssertEqual(after.servers.first?.reason, down.reason)
  }

  func testDynamicWeightFlowsToEvents() async throws {
    let dir = try makeTempDir("lvsk-weight")
    defer { try? FileManager.default.removeItem(at: dir) }
    let state = dir.appendingPathComponent("code").path
    try "12".write(toFile: state, atomically: true, encoding: .utf8)
    let command = try RunnableScript(parsing: "exit $(cat \(state))")
    let monitor = HealthMonitor(group: group)
    defer { monitor.stop() }
    var it = monitor.events.makeAsyncIterator()
    monitor.apply([
      MonitoredServer(
        id: RealServerID("rs"),
        checkers: [Checker(.misc(MiscCheck(script: command, dynamic: true)), schedule: fast)])
    ])
    _ = try await next(&it)  // initial, weight unknown
    let weighted = try await next(&it)
    XCTAssertEqual(weighted.weight, 10)
    try "4".write(toFile: state, atomically: true, encoding: .utf8)
    let reweighted = try await next(&it)
    XCTAssertEqual(reweighted.weight, 2)
    XCTAssertTrue(reweighted.isUp)
    try "1".write(toFile: state, atomically: true, encoding: .utf8)
    let down = try await next(&it)
    XCTAssertFalse(down.isUp)
    XCTAssertTrue(down.reason.contains("exit status 1"), down.reason)
  }
}
