import Foundation
import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore
import Logging
import NIOPosix
import XCTest

@testable import lvskeeper

/// The whole daemon in `--dry-run` (IPVS in memory), with real checkers probing loopback ports,
/// the control socket and the systemd notify socket. No VRRP instance, so no raw sockets.
final class DaemonDryRunTests: XCTestCase {
  private var scratch = ""
  private var configPath = ""
  private var listener: TCPListener?

  override func setUpWithError() throws {
    scratch = "/tmp/lvsk-daemon-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    configPath = scratch + "/keepalived.conf"
  }

  override func tearDown() {
    listener?.close()
    try? FileManager.default.removeItem(atPath: scratch)
  }

  /// One virtual server; `open` has a real listener, `quiesced` and `removed` are closed ports.
  /// The checkers keep the default warmup (a random first delay up to delay_loop): with `warmup 0`
  /// HealthMonitor can emit a server's first DOWN before its "initial" UP (see
  /// HealthEventOrderTests), and the daemon would then keep a dead server in the table.
  static func config(open: Int, quiesced: Int, removed: Int, openWeight: Int) -> String {
    func server(_ port: Int, weight: Int, extra: String = "") -> String {
      """
          real_server 127.0.0.1 \(port) {
              weight \(weight)
      \(extra)        TCP_CHECK {
                  connect_timeout 1
                  retry 0
              }
          }

      """
    }
    return """
      global_defs {
          router_id dry-run-test
      }
      virtual_server 10.10.10.10 80 {
          delay_loop 1
          lb_algo rr
          lb_kind NAT
          protocol TCP

      \(server(open, weight: openWeight))\(server(quiesced, weight: 2, extra: "        inhibit_on_failure\n"))\(server(removed, weight: 1))}

      """
  }

  static let service = ServiceKey.inet(address: IPAddress("10.10.10.10")!, port: 80, protocol: .tcp)

  func testDryRunDaemonChecksReloadsAndStops() async throws {
    let listener = try TCPListener()
    listener.acceptInBackground()
    self.listener = listener
    let (open, quiesced, removed) = (
      listener.port, try TestSockets.closedLoopbackPort(), try TestSockets.closedLoopbackPort()
    )
    let openRow = "127.0.0.1:\(open)"
    let quiescedRow = "127.0.0.1:\(quiesced)"
    let removedRow = "127.0.0.1:\(removed)"
    try Self.config(open: open, quiesced: quiesced, removed: removed, openWeight: 3)
      .write(toFile: configPath, atomically: true, encoding: .utf8)

    let notifyPath = scratch + "/notify.sock"
    let notifications = try SystemdNotifierTests.NotifyListener(path: notifyPath)
    defer { notifications.close() }

    let loaded = try ConfigLoader().load(path: configPath)
    let options = DaemonOptions(
      configPath: configPath, dryRun: true, controlSocket: scratch + "/run/control.sock",
      stateDirectory: scratch + "/state")
    let daemon = try Daemon(
      options: options, loaded: loaded, logger: Logger(label: "lvskeeper.test"),
      notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": notifyPath]))
    try await daemon.start()
    XCTAssertEqual(
      notifications.receive(),
      "READY=1\nSTATUS=0 VRRP unit(s), master of none; 1 virtual service(s), 3 real server(s) [dry run]")

    // The control socket as `lvskeeper run` wires it.
    let controlGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let control = try await ControlServer.start(path: options.controlSocket, group: controlGroup) {
      request, peer in
      switch request.command {
      case .status: return ControlResponse(ok: true, status: await daemon.statusReport())
      case .reload:
        let outcome = await daemon.reload()
        return ControlResponse(
          ok: outcome.succeeded, error: outcome.succeeded ? nil : outcome.message, message: outcome.message)
      case .server: return await daemon.setServerState(request, peer: peer)
      case .stop: return ControlResponse(ok: true, message: "stopping")
      }
    }

    // 1. Checks settle: the listening port up (after a real probe), both closed ports down, the
    // daemon has handled the down events (the monitor's own status can be a moment ahead) and
    // its background reconcile has applied them (under load it lags the health rows).
    let settled = try await waitForStatus(daemon) { report in
      let rows = Self.rows(report)
      let health = await daemon.monitor.status()
      return rows[openRow]?.health == "up" && rows[quiescedRow]?.health == "down"
        && rows[removedRow]?.health == "down"
        && rows[quiescedRow]?.lastCheck?.succeeded == false && rows[removedRow]?.lastCheck?.succeeded == false
        && Self.openChecker(health, openRow).map { $0.probes >= 1 && $0.isUp } == true
        && rows[quiescedRow]?.kernelWeight == 0 && rows[removedRow]?.kernelWeight == nil
    }
    XCTAssertTrue(settled.daemon.dryRun)
    XCTAssertEqual(settled.daemon.configPath, configPath)
    XCTAssertNil(settled.daemon.lastReload)
    XCTAssertEqual(settled.vrrpInstances, [])
    let service = try XCTUnwrap(settled.virtualServices.first)
    XCTAssertEqual(settled.virtualServices.count, 1)
    XCTAssertEqual(service.key, "TCP 10.10.10.10:80")
    XCTAssertEqual(service.scheduler, "rr")
    XCTAssertTrue(service.inKernel, "dry run: in the in-memory table")
    XCTAssertTrue(service.quorumUp)
    var rows = Self.rows(settled)
    XCTAssertEqual(rows[openRow]?.kernelWeight, 3)
    XCTAssertEqual(rows[quiescedRow]?.kernelWeight, 0, "inhibit_on_failure quiesces to weight 0")
    XCTAssertEqual(rows[quiescedRow]?.configuredWeight, 2)
    XCTAssertNil(
      rows[removedRow]?.kernelWeight, "without inhibit_on_failure a failed server leaves the table")
    XCTAssertEqual(rows[removedRow]?.configuredWeight, 1)
    XCTAssertEqual(rows[quiescedRow]?.lastCheck?.succeeded, false)
    XCTAssertEqual(rows[quiescedRow]?.lastCheck?.checker, "TCP_CHECK")
    XCTAssertEqual(rows[openRow]?.forwarding, "Masq")

    // The status matches the in-memory kernel table exactly.
    let anyKernel = await daemon.kernel
    let kernel = try XCTUnwrap(anyKernel as? InMemoryIPVSKernel, "dry run uses the in-memory kernel")
    let table = try XCTUnwrap(kernel.table.services[Self.service])
    XCTAssertEqual(table.attributes.scheduler, "rr")
    XCTAssertEqual(
      Dictionary(
        uniqueKeysWithValues: table.destinations.map { ("\($0.key)", Int($0.value.attributes.weight)) }),
      [openRow: 3, quiescedRow: 0])

    // Dry run: every operation is listed as not applied.
    let pending = settled.pendingOperations
    XCTAssertFalse(pending.isEmpty)
    XCTAssertTrue(pending.allSatisfy { $0.error == "dry run: not applied" }, "\(pending)")
    let operations = pending.map(\.operation)
    XCTAssertTrue(operations.contains("add service TCP 10.10.10.10:80 sched rr"), "\(operations)")
    XCTAssertTrue(
      operations.contains("edit \(quiescedRow) in TCP 10.10.10.10:80 weight 0 Masq"), "\(operations)")
    XCTAssertTrue(operations.contains("delete \(removedRow) from TCP 10.10.10.10:80"), "\(operations)")
    let rendered = StatusRenderer.render(settled)
    XCTAssertTrue(rendered.contains("(dry run: IPVS changes are not applied)"), rendered)
    XCTAssertTrue(
      rendered.contains("  add service TCP 10.10.10.10:80 sched rr (attempts 0): dry run: not applied"),
      rendered)

    // The same report over the control socket.
    let overSocket = try await Self.send(.status, to: options.controlSocket)
    XCTAssertTrue(overSocket.ok)
    XCTAssertEqual(overSocket.status.map(Self.rows)?[quiescedRow]?.kernelWeight, 0)
    XCTAssertEqual(overSocket.status?.virtualServices.first?.key, "TCP 10.10.10.10:80")

    // 2. A good reload applies only the difference: the new weight, health kept.
    let healthBefore = await daemon.monitor.status()
    let probesBefore = try XCTUnwrap(Self.openChecker(healthBefore, openRow)?.probes)
    let operationsBefore = await daemon.dryRunOperations
    try Self.config(open: open, quiesced: quiesced, removed: removed, openWeight: 7)
      .write(toFile: configPath, atomically: true, encoding: .utf8)
    let reloaded = try await Self.send(.reload, to: options.controlSocket)
    XCTAssertTrue(reloaded.ok, reloaded.error ?? "")
    XCTAssertEqual(reloaded.message, "VRRP unchanged")
    XCTAssertTrue(notifications.receive()?.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") ?? false)
    XCTAssertTrue(notifications.receive()?.hasPrefix("READY=1\nSTATUS=") ?? false)
    let afterReload = await daemon.statusReport()
    XCTAssertEqual(afterReload.daemon.lastReload?.succeeded, true)
    rows = Self.rows(afterReload)
    XCTAssertEqual(rows[openRow]?.configuredWeight, 7)
    XCTAssertEqual(rows[openRow]?.kernelWeight, 7)
    XCTAssertEqual(rows[quiescedRow]?.kernelWeight, 0, "health survives the reload")
    XCTAssertNil(rows[removedRow]?.kernelWeight)
    XCTAssertTrue(
      afterReload.pendingOperations.map(\.operation).contains(
        "edit \(openRow) in TCP 10.10.10.10:80 weight 7 Masq"))
    // Exactly one IPVS operation, and the checker is the same one, its history kept (a weight
    // change leaves every checker as it was, so the reload does not touch the monitor).
    let operationsAfter = await daemon.dryRunOperations
    XCTAssertEqual(
      Array(operationsAfter.dropFirst(operationsBefore.count)),
      ["edit \(openRow) in TCP 10.10.10.10:80 weight 7 Masq"])
    let healthAfter = await daemon.monitor.status()
    let probesAfter = try XCTUnwrap(Self.openChecker(healthAfter, openRow)?.probes)
    XCTAssertGreaterThanOrEqual(probesAfter, probesBefore, "the checker's history survives the reload")

    // 3. A broken file is refused with a file:line:col diagnostic; the running table is kept.
    let broken = Self.config(open: open, quiesced: quiesced, removed: removed, openWeight: 9)
      .replacingOccurrences(of: "    lb_algo rr\n", with: "    lb_algo rr\n    lb_algo_typo {\n")
    try broken.write(toFile: configPath, atomically: true, encoding: .utf8)
    let refused = await daemon.reload()
    XCTAssertFalse(refused.succeeded)
    let diagnostic = try XCTUnwrap(try Regex(#"^(.+):(\d+):(\d+): error: "#).firstMatch(in: refused.message))
    XCTAssertEqual(String(diagnostic.output[1].substring ?? ""), configPath, refused.message)
    let afterRefusal = await daemon.statusReport()
    XCTAssertEqual(afterRefusal.daemon.lastReload, refused)
    XCTAssertEqual(
      Self.rows(afterRefusal)[openRow]?.kernelWeight, 7, "the previous configuration keeps running")
    XCTAssertEqual(Self.rows(afterRefusal)[openRow]?.configuredWeight, 7)
    XCTAssertEqual(kernel.table.services[Self.service]?.destinations.count, 2)
    XCTAssertTrue(notifications.receive()?.hasPrefix("RELOADING=1\n") ?? false)
    XCTAssertEqual(
      notifications.receive(),
      "READY=1\nSTATUS=reload refused: \(refused.message); running the previous configuration")
    XCTAssertTrue(
      StatusRenderer.render(afterRefusal).contains(
        "REFUSED, still running the previous config: \(refused.message)"))

    // 4. Stop finishes (bounded, so a hang fails the test instead of wedging it).
    let stopped = await Daemon.withDeadline(.seconds(20)) { await daemon.stop() }
    XCTAssertTrue(stopped, "Daemon.stop() did not return within 20 s")
    XCTAssertEqual(notifications.receive(), "STOPPING=1")
    XCTAssertEqual(
      kernel.table.services[Self.service]?.destinations.count, 2, "lvs_flush_on_stop off: table left as is")
    await control.close()
    try await controlGroup.shutdownGracefully()
  }

  /// The checker of the server at `row`, as the health monitor reports it.
  static func openChecker(_ status: HealthStatus, _ row: String) -> CheckerStatus? {
    status.servers.first { $0.id.rawValue.hasSuffix("-> \(row)") }?.checkers.first
  }

  static func rows(_ report: StatusReport) -> [String: RealServerStatus] {
    Dictionary(
      report.virtualServices.flatMap(\.realServers).map { ($0.address, $0) },
      uniquingKeysWith: { first, _ in first })
  }

  /// Polls the status every 100 ms for up to 10 s.
  private func waitForStatus(_ daemon: Daemon, until condition: (StatusReport) async -> Bool) async throws
    -> StatusReport
  {
    let deadline = ContinuousClock.now + .seconds(10)
    var report = await daemon.statusReport()
    while await !condition(report) {
      guard ContinuousClock.now < deadline else {
        XCTFail("status did not settle within 10 s:\n\(StatusRenderer.render(report))")
        throw CancellationError()
      }
      try await Task.sleep(for: .milliseconds(100))
      report = await daemon.statusReport()
    }
    return report
  }

  /// `ControlClient` blocks; run it off the cooperative pool.
  static func send(_ command: ControlRequest.Command, to path: String) async throws -> ControlResponse {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        do {
          continuation.resume(returning: try ControlClient(path: path).send(ControlRequest(command: command)))
        } catch {
          continuation.resume(throwing: error)
        }
      }
    }
  }
}
