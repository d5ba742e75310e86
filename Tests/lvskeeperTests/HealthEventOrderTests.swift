import Foundation
import HealthCheck
import Logging
import NIOPosix
import XCTest

/// The order of `HealthMonitor.events`, which the daemon trusts: it applies each event's verdict
/// to the IPVS table in stream order, so a stale event that arrives last wins for good.
final class HealthEventOrderTests: XCTestCase {
  /// A probe that fails at once (a refused loopback connection takes well under a millisecond) must
  /// never put its DOWN on the stream before the server's "initial" UP: the daemon would restore the
  /// dead server's weight and never hear of it again, because events come only on changes. This
  /// failed in 5 of 5 runs before HealthMonitor yielded its events under its state lock.
  func testInitialEventNeverOvertakesTheFirstProbe() async throws {
    // The race is narrow; several fresh monitors make it show in most runs.
    var overtaken: [String] = []
    for round in 0..<12 {
      overtaken += try await overtakenServers(round: round)
    }
    XCTAssertEqual(overtaken, [], "DOWN arrived before \"initial\" UP, so the last word was a stale UP")
  }

  /// Servers whose event sequence was not "initial" then DOWN.
  private func overtakenServers(round: Int) async throws -> [String] {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let monitor = HealthMonitor(
      group: group, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    var servers: [MonitoredServer] = []
    for index in 0..<30 {
      let port = try TestSockets.closedLoopbackPort()
      let check = TCPCheck(
        target: CheckTarget(address: "127.0.0.1", port: UInt16(port)), connectTimeout: .seconds(1))
      servers.append(
        MonitoredServer(
          id: RealServerID("round \(round) server \(index)"),
          checkers: [
            Checker(.tcp(check), schedule: CheckSchedule(delayLoop: .seconds(60), warmup: .zero, retry: 0))
          ]))
    }
    monitor.apply(servers)

    // Each server gets exactly two events: "initial" (up, no result yet) and then its DOWN.
    // Stopping the monitor finishes the stream, so a missing event cannot hang the test.
    let watchdog = Task {
      try await Task.sleep(for: .seconds(10))
      monitor.stop()
    }
    var events: [RealServerID: [HealthEvent]] = [:]
    var received = 0
    for await event in monitor.events {
      events[event.server, default: []].append(event)
      received += 1
      if received == servers.count * 2 { break }
    }
    watchdog.cancel()
    monitor.stop()
    try await group.shutdownGracefully()

    var overtaken: [String] = []
    for server in servers {
      let sequence = events[server.id] ?? []
      XCTAssertEqual(sequence.count, 2, "\(server.id)")
      if sequence.first?.reason != "initial" || sequence.last?.isUp != false {
        overtaken.append(server.id.rawValue)
      }
    }
    return overtaken
  }
}
