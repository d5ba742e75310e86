import Foundation
import IPVSSync
import KeeperCore
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// `lvskeeper server VS RS drain|maint|ready|weight N` end to end: the real daemon binary in
/// `--dry-run` (its in-memory IPVS table is what `status` shows as the kernel weight), real
/// TCP_CHECKs against real loopback listeners, the real `lvskeeper server` client over the control
/// socket, the state file across a restart and a reload, and the metrics endpoint.
final class ServerStateTests: XCTestCase {
  private var scratch = ""
  private var listeners: [TCPListener] = []
  private var daemons: [DaemonProcess] = []

  override func setUpWithError() throws {
    // Short: sun_path holds 108 bytes.
    scratch = "/tmp/lvsk-srv-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    for daemon in daemons { daemon.cleanUp() }
    for listener in listeners { listener.close() }
    try? FileManager.default.removeItem(atPath: scratch)
  }

  static let service = "TCP 10.20.30.41:80"

  /// Two real servers that pass their checks: `a` (weight `weightA`, removed on failure) and `b`
  /// (weight 2, `inhibit_on_failure`: kept at weight 0 on failure).
  static func config(a: Int, b: Int, weightA: Int = 3) -> String {
    """
    virtual_server 10.20.30.41 80 {
        delay_loop 1
        lb_algo wrr
        lb_kind NAT
        protocol TCP
        real_server 127.0.0.1 \(a) {
            weight \(weightA)
            TCP_CHECK {
                connect_timeout 2
            }
        }
        real_server 127.0.0.1 \(b) {
            weight 2
            inhibit_on_failure
            TCP_CHECK {
                connect_timeout 2
            }
        }
    }

    """
  }

  private func listener() throws -> TCPListener {
    let listener = try TCPListener()
    listener.acceptInBackground()
    listeners.append(listener)
    return listener
  }

  private func start(_ name: String, config: String, metricsPort: Int? = nil) throws -> DaemonProcess {
    var arguments = ["--dry-run", "--config", config, "--state-dir", scratch + "/state"]
    if let metricsPort { arguments += ["--metrics-listen", "127.0.0.1:\(metricsPort)"] }
    let daemon = try DaemonProcess(
      scratch: scratch, name: name, arguments: arguments, socket: scratch + "/ctl.sock")
    daemons.append(daemon)
    try daemon.waitReady()
    return daemon
  }

  /// Runs `lvskeeper server WORDS --control-socket ...` as an operator would.
  private func server(_ words: [String]) throws -> CommandLineTests.Outcome {
    try CommandLineTests.runBinary(["server"] + words + ["--control-socket", scratch + "/ctl.sock"])
  }

  private func rows(_ daemon: DaemonProcess) throws -> [String: RealServerStatus] {
    let report = try XCTUnwrap(try daemon.request(.status).status)
    let service = try XCTUnwrap(report.virtualServices.first { $0.key == Self.service })
    return Dictionary(uniqueKeysWithValues: service.realServers.map { ($0.address, $0) })
  }

  /// Polls `status` until `condition` holds (10 s at most, then fails with the rows).
  @discardableResult
  private func waitRows(
    _ daemon: DaemonProcess, file: StaticString = #filePath, line: UInt = #line,
    until condition: ([String: RealServerStatus]) -> Bool
  ) async throws -> [String: RealServerStatus] {
    let deadline = ContinuousClock.now + .seconds(20)
    var current = try rows(daemon)
    while !condition(current) {
      guard ContinuousClock.now < deadline else {
        XCTFail("status did not settle: \(current)\nlog:\n\(daemon.log)", file: file, line: line)
        throw CancellationError()
      }
      try await Task.sleep(for: .milliseconds(100))
      current = try rows(daemon)
    }
    return current
  }

  private var stateFilePath: String { scratch + "/state/" + ServerStateFile.fileName }

  func testDrainMaintWeightReadyPersistAcrossRestartAndReload() async throws {
    let (la, lb) = (try listener(), try listener())
    let (a, b) = ("127.0.0.1:\(la.port)", "127.0.0.1:\(lb.port)")
    let configPath = scratch + "/lvskeeper.conf"
    try Self.config(a: la.port, b: lb.port).write(toFile: configPath, atomically: true, encoding: .utf8)
    let metricsPort = try TestSockets.closedLoopbackPort()
    var daemon = try start("first", config: configPath, metricsPort: metricsPort)
    try await waitRows(daemon) {
      // Up after a real probe each (not only "up until checked").
      $0[a]?.lastCheck?.succeeded == true && $0[b]?.lastCheck?.succeeded == true && $0[a]?.health == "up"
        && $0[b]?.health == "up" && $0[a]?.kernelWeight == 3 && $0[b]?.kernelWeight == 2
    }

    // drain: weight 0 in the table, the check keeps passing, who and when are shown.
    let drained = try server([Self.service, a, "drain"])
    XCTAssertEqual(drained.status, 0, drained.stderr)
    XCTAssertTrue(drained.stdout.contains("drain (was ready)"), drained.stdout)
    var rows = try await waitRows(daemon) { $0[a]?.kernelWeight == 0 }
    XCTAssertEqual(rows[a]?.health, "up")
    XCTAssertEqual(rows[a]?.admin?.state, .drain)
    XCTAssertEqual(rows[a]?.admin?.by?.uid, getuid())
    XCTAssertNotNil(rows[a]?.admin?.by?.pid)
    XCTAssertNil(rows[b]?.admin)

    // maint, the VS as two words: b (inhibit_on_failure) stays at weight 0 as a failed server
    // would; a (no inhibit) leaves the table, and stays out while its probes keep passing.
    XCTAssertEqual(try server(["TCP", "10.20.30.41:80", b, "maint"]).status, 0)
    XCTAssertEqual(try server([Self.service, a, "maint"]).status, 0)
    rows = try await waitRows(daemon) { $0[a]?.kernelWeight == nil && $0[b]?.kernelWeight == 0 }
    let probeBefore = try XCTUnwrap(rows[a]?.lastCheck)
    rows = try await waitRows(daemon) {
      $0[a]?.lastCheck.map { $0.succeeded && $0.latencyMilliseconds != probeBefore.latencyMilliseconds }
        == true
    }
    XCTAssertNil(rows[a]?.kernelWeight, "a passing check does not bring a server in maint back")
    XCTAssertEqual(rows[a]?.health, "up")
    XCTAssertEqual(rows[b]?.admin?.state, .maint)

    // weight N overrides the configured weight.
    XCTAssertEqual(try server([Self.service, a, "weight", "7"]).status, 0)
    rows = try await waitRows(daemon) { $0[a]?.kernelWeight == 7 }
    XCTAssertEqual(rows[a]?.admin?.weight, 7)

    // Text status names the state, who and when.
    let text = try CommandLineTests.runBinary(["status", "--control-socket", scratch + "/ctl.sock"])
    XCTAssertTrue(text.stdout.contains("[weight 7 by uid \(getuid())"), text.stdout)
    XCTAssertTrue(text.stdout.contains("[maint by uid \(getuid())"), text.stdout)

    // Bad input: a clear error, exit 1 (refused) or 2 (no request), and nothing changes.
    let fileBefore = try String(contentsOfFile: stateFilePath, encoding: .utf8)
    let rowsBefore = try self.rows(daemon)
    let refusals: [([String], Int32, String)] = [
      (["TCP 10.20.30.99:80", a, "drain"], 1, "no virtual service 'TCP 10.20.30.99:80'"),
      (["UDP 10.20.30.41:80", a, "drain"], 1, "no virtual service"),
      ([Self.service, "127.0.0.1:1", "drain"], 1, "no real server '127.0.0.1:1' in TCP 10.20.30.41:80"),
      ([Self.service, "nonsense", "drain"], 1, "no real server 'nonsense'"),
      ([Self.service, a, "weight", "65536"], 1, "weight wants a number from 0 to 65535, got 65536"),
      ([Self.service, a, "weight", "lots"], 2, "weight wants a number from 0 to 65535, got 'lots'"),
      ([Self.service, a, "sleep"], 1, "unknown state 'sleep'"),
      ([Self.service, a], 2, "usage: lvskeeper server VS RS"),
    ]
    for (words, status, message) in refusals {
      let outcome = try server(words)
      XCTAssertEqual(outcome.status, status, "\(words): \(outcome.stderr)")
      XCTAssertTrue(outcome.stderr.contains(message), "\(words): \(outcome.stderr)")
    }
    XCTAssertEqual(try String(contentsOfFile: stateFilePath, encoding: .utf8), fileBefore)
    let rowsAfter = try self.rows(daemon)
    for address in [a, b] {
      XCTAssertEqual(rowsAfter[address]?.admin, rowsBefore[address]?.admin, address)
      XCTAssertEqual(rowsAfter[address]?.kernelWeight, rowsBefore[address]?.kernelWeight, address)
    }

    // Metrics: one series per state, 1 for the current one.
    let metrics = try await MetricsEndpointTests.get(port: metricsPort, path: "/metrics").body
    let labels = "service=\"\(Self.service)\",server=\"\(a)\""
    XCTAssertTrue(
      metrics.contains("lvskeeper_real_server_admin_state{\(labels),state=\"weight\"} 1"), metrics)
    XCTAssertTrue(metrics.contains("lvskeeper_real_server_admin_state{\(labels),state=\"ready\"} 0"), metrics)

    // Restart: the state file brings both states back before the first reconcile.
    _ = try daemon.request(.stop)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0, daemon.log)
    daemon = try start("second", config: configPath)
    rows = try self.rows(daemon)
    XCTAssertEqual(rows[a]?.kernelWeight, 7, "restored before the first reconcile")
    XCTAssertEqual(rows[b]?.kernelWeight, 0)
    XCTAssertEqual(rows[a]?.admin?.weight, 7)
    XCTAssertEqual(rows[b]?.admin?.state, .maint)
    XCTAssertTrue(daemon.log.contains("restored from \(stateFilePath)"), daemon.log)

    // ready: back to health-driven.
    XCTAssertEqual(try server([Self.service, b, "ready"]).status, 0)
    rows = try await waitRows(daemon) { $0[b]?.kernelWeight == 2 }
    XCTAssertNil(rows[b]?.admin)

    // A reload that changes a's configuration clears its weight override; one that does not keeps it.
    XCTAssertEqual(try daemon.request(.reload).ok, true)
    XCTAssertEqual(try self.rows(daemon)[a]?.kernelWeight, 7)
    try Self.config(a: la.port, b: lb.port, weightA: 4).write(
      toFile: configPath, atomically: true, encoding: .utf8)
    XCTAssertEqual(try daemon.request(.reload).ok, true)
    rows = try await waitRows(daemon) { $0[a]?.kernelWeight == 4 }
    XCTAssertNil(rows[a]?.admin)
    XCTAssertTrue(daemon.log.contains("weight override cleared: its configuration changed"), daemon.log)
    XCTAssertFalse(try String(contentsOfFile: stateFilePath, encoding: .utf8).contains("\"weight\""))

    // A corrupt state file is ignored with a warning: every server starts health-driven.
    XCTAssertEqual(try server([Self.service, a, "drain"]).status, 0)
    _ = try daemon.request(.stop)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0, daemon.log)
    try "{\"version\": 1, \"servers\": [".write(toFile: stateFilePath, atomically: true, encoding: .utf8)
    daemon = try start("third", config: configPath)
    XCTAssertTrue(daemon.log.contains("not a valid state file"), daemon.log)
    rows = try await waitRows(daemon) { $0[a]?.kernelWeight == 4 && $0[b]?.kernelWeight == 2 }
    XCTAssertNil(rows[a]?.admin)
  }

  // MARK: the parts, without a daemon

  func testCommandWordsMakeOneRequest() throws {
    func request(_ words: [String]) -> ControlRequest? { try? ServerCommand.request(words).get() }
    let drain = ControlRequest(
      command: .server, service: "TCP 10.0.0.1:80", server: "10.0.0.2:80", action: "drain")
    XCTAssertEqual(request(["TCP 10.0.0.1:80", "10.0.0.2:80", "drain"]), drain)
    XCTAssertEqual(request(["TCP", "10.0.0.1:80", "10.0.0.2:80", "drain"]), drain)
    XCTAssertEqual(
      request(["FWM", "7", "[2001:db8::2]:80", "weight", "5"]),
      ControlRequest(
        command: .server, service: "FWM 7", server: "[2001:db8::2]:80", action: "weight", weight: 5))
    XCTAssertNil(request(["TCP 10.0.0.1:80", "drain"]))
    XCTAssertNil(request(["TCP 10.0.0.1:80", "10.0.0.2:80", "weight", "x"]))
  }

  func testServicesAndServersAreFoundAsStatusPrintsThem() throws {
    let v4 = ServiceKey.inet(address: IPAddress("10.0.0.1")!, port: 80, protocol: .tcp)
    let v6 = ServiceKey.inet(address: IPAddress("2001:db8::1")!, port: 53, protocol: .udp)
    let server = RealServerSpec(key: DestinationKey(address: IPAddress("2001:db8::2")!, port: 53))
    let spec = IPVSSpec(services: [
      VirtualServiceSpec(key: v4, attributes: ServiceAttributes(scheduler: "rr", netmask: 0)),
      VirtualServiceSpec(
        key: v6, attributes: ServiceAttributes(scheduler: "rr", netmask: 0), realServers: [server]),
      VirtualServiceSpec(
        key: .fwmark(7, family: .inet), attributes: ServiceAttributes(scheduler: "rr", netmask: 0)),
      VirtualServiceSpec(
        key: .fwmark(7, family: .inet6), attributes: ServiceAttributes(scheduler: "rr", netmask: 0)),
    ])
    func find(_ text: String) -> ServiceKey? {
      guard case .success(let found) = Daemon.findService(text, in: spec) else { return nil }
      return found.key
    }
    XCTAssertEqual(find("TCP 10.0.0.1:80"), v4)
    XCTAssertEqual(find("tcp  10.0.0.1:80"), v4)
    XCTAssertEqual(find("UDP [2001:db8:0::1]:53"), v6, "the address is compared, not its spelling")
    XCTAssertEqual(find(v6.description), v6)
    XCTAssertEqual(find("FWM 7 inet6"), .fwmark(7, family: .inet6))
    XCTAssertEqual(find(ServiceKey.fwmark(7, family: .inet).description), .fwmark(7, family: .inet))
    XCTAssertNil(find("FWM 7"), "ambiguous: both families")
    XCTAssertNil(find("UDP 10.0.0.1:80"))
    XCTAssertNil(find("TCP 10.0.0.1"))
    let service = try Daemon.findService("UDP [2001:db8::1]:53", in: spec).get()
    XCTAssertEqual(Daemon.findServer("[2001:db8::2]:53", in: service)?.key, server.key)
    XCTAssertNil(Daemon.findServer("2001:db8::2:53", in: service), "IPv6 wants brackets")
    XCTAssertNil(Daemon.findServer("[2001:db8::2]:54", in: service))
  }

  func testStateFileRoundTripsAndRefusesGarbage() throws {
    let file = ServerStateFile(directory: scratch + "/state")
    XCTAssertEqual(try file.load(), [], "no file: no states")
    let records = [
      ServerStateRecord(
        service: "TCP 10.0.0.1:80", server: "10.0.0.2:80",
        admin: ServerAdminState(
          state: .weight, weight: 9, by: ControlPeer(uid: 0, pid: 42, user: "root"),
          at: Date(timeIntervalSince1970: 1_800_000_000)))
    ]
    try file.save(records)
    XCTAssertEqual(try file.load(), records)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: scratch + "/state"), [ServerStateFile.fileName],
      "no temporary file left behind")
    try "not json".write(toFile: file.path, atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try file.load()) {
      XCTAssertTrue("\($0)".contains("not a valid state file"), "\($0)")
    }
  }
}
