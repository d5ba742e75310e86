import Foundation
import XCTest

@testable import lvskeeper

/// `lvskeeper status` output: ipvsadm's layout, with health and the last check on the right.
final class StatusRendererTests: XCTestCase {
  static let at = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14T22:13:20Z

  static func server(
    _ address: String, forwarding: String = "Masq", configured: Int, kernel: Int?, health: String,
    check: CheckStatus? = nil, active: UInt32 = 0, inactive: UInt32 = 0
  ) -> RealServerStatus {
    RealServerStatus(
      address: address, forwarding: forwarding, configuredWeight: configured, kernelWeight: kernel,
      health: health,
      lastCheck: check, activeConnections: active, inactiveConnections: inactive)
  }

  static let report = StatusReport(
    daemon: DaemonStatus(
      pid: 4242, configPath: "/etc/keepalived/keepalived.conf", startedAt: at, dryRun: false,
      lastReload: ReloadOutcome(
        at: at, succeeded: false,
        message: "/etc/keepalived/keepalived.conf:12:5: error: unknown keyword 'weigth'")),
    vrrpInstances: [
      InstanceStatus(
        name: "VI_1", interface: "eth0", virtualRouterID: 51, state: "MASTER", configuredPriority: 150,
        effectivePriority: 130, masterAddress: "192.168.10.2", lastTransitionAt: at,
        lastTransitionReason: "BACKUP -> MASTER at priority 150",
        virtualAddresses: ["192.168.10.100/24", "10.0.0.1/24"],
        droppedPackets: ["ttl_not_255": 2, "auth_mismatch": 17]),
      InstanceStatus(
        name: "VI_2", interface: "eth1", virtualRouterID: 52, state: "BACKUP", configuredPriority: 100,
        effectivePriority: 100, masterAddress: nil, lastTransitionAt: nil, lastTransitionReason: nil,
        virtualAddresses: []),
    ],
    virtualServices: [
      ServiceStatus(
        key: "TCP 192.168.10.100:80", scheduler: "wlc", flags: [], inKernel: true, quorumUp: false,
        sorryServerActive: true,
        realServers: [
          server(
            "10.0.0.11:80", configured: 10, kernel: 10, health: "up",
            check: CheckStatus(
              checker: "HTTP_GET", succeeded: true, reason: "", latencyMilliseconds: 1.5),
            active: 12, inactive: 3),
          server(
            "10.0.0.13:80", configured: 5, kernel: 0, health: "down",
            check: CheckStatus(
              checker: "HTTP_GET", succeeded: false, reason: "connection refused", latencyMilliseconds: 0.4),
            inactive: 7),
          server("10.0.0.12:80", configured: 10, kernel: nil, health: "unknown"),
        ]),
      ServiceStatus(
        key: "TCP 192.168.10.100:3306", scheduler: "rr", flags: ["persistent 600"], inKernel: false,
        quorumUp: true,
        sorryServerActive: false,
        realServers: [
          server("10.0.0.21:3306", forwarding: "Route", configured: 1, kernel: nil, health: "draining")
        ]),
    ],
    pendingOperations: [], vrrpUnmatchedDrops: ["unknown_vrid": 4])

  func testRendersEveryPartInIpvsadmLayout() {
    let lines = StatusRenderer.render(Self.report).components(separatedBy: "\n")
    XCTAssertEqual(
      lines,
      [
        "lvskeeper pid 4242, config /etc/keepalived/keepalived.conf",
        "last reload 2023-11-14T22:13:20Z: REFUSED, still running the previous config: "
          + "/etc/keepalived/keepalived.conf:12:5: error: unknown keyword 'weigth'",
        "",
        "VRRP instances:",
        "  VI_1             MASTER  eth0 vrid 51 prio 130 (configured 150) master 192.168.10.2",
        "    since 2023-11-14T22:13:20Z: BACKUP -> MASTER at priority 150",
        "    vips 192.168.10.100/24 10.0.0.1/24",
        "    dropped 17 auth_mismatch, 2 ttl_not_255",
        "  VI_2             BACKUP  eth1 vrid 52 prio 100",
        "  dropped, no instance matched: 4 unknown_vrid",
        "",
        "IP Virtual Server table (configured by lvskeeper)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health   Last check",
        "TCP 192.168.10.100:80 wlc [quorum down] [sorry server active]",
        "  -> 10.0.0.11:80                 Masq    10     12         3         up       HTTP_GET ok 1.5ms",
        "  -> 10.0.0.13:80                 Masq    0/5    0          7         down     HTTP_GET failed 0.4ms (connection refused)",
        "  -> 10.0.0.12:80                 Masq    -/10   0          0         unknown ",
        "TCP 192.168.10.100:3306 rr (persistent 600) [not in kernel]",
        "  -> 10.0.0.21:3306               Route   -/1    0          0         draining",
        "",
        "Pending IPVS operations: none",
        "",
      ])
  }

  func testRealServerColumnsLineUpUnderTheHeader() throws {
    let lines = StatusRenderer.render(Self.report).components(separatedBy: "\n")
    let header = try XCTUnwrap(lines.first { $0.hasPrefix("  -> RemoteAddress") })
    let rows = lines.filter { $0.hasPrefix("  -> ") && $0 != header }
    XCTAssertEqual(rows.count, 4)
    for column in ["Forward", "Weight", "ActiveConn", "InActConn", "Health"] {
      let offset = try XCTUnwrap(header.range(of: column)).lowerBound.utf16Offset(in: header)
      for row in rows {
        let index = row.index(row.startIndex, offsetBy: offset)
        XCTAssertNotEqual(row[index], " ", "\(column) starts a field in: \(row)")
        XCTAssertEqual(row[row.index(before: index)], " ", "\(column) is preceded by a space in: \(row)")
      }
    }
  }

  func testDryRunAppliedReloadAndPendingOperations() {
    var report = Self.report
    report.daemon.dryRun = true
    report.daemon.lastReload = ReloadOutcome(at: Self.at, succeeded: true, message: "VRRP unchanged")
    report.vrrpInstances = []
    report.vrrpUnmatchedDrops = [:]
    report.virtualServices = []
    report.pendingOperations = [
      OperationStatus(operation: "add service TCP 10.0.0.1:80", error: "dry run: not applied", attempts: 0),
      OperationStatus(operation: "edit destination 10.0.0.11:80", error: nil, attempts: 3),
    ]
    let text = StatusRenderer.render(report)
    XCTAssertEqual(
      text.components(separatedBy: "\n"),
      [
        "lvskeeper pid 4242, config /etc/keepalived/keepalived.conf (dry run: IPVS changes are not applied)",
        "last reload 2023-11-14T22:13:20Z: applied: VRRP unchanged",
        "",
        "VRRP instances:",
        "  (none)",
        "",
        "IP Virtual Server table (configured by lvskeeper)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health   Last check",
        "",
        "Pending IPVS operations:",
        "  add service TCP 10.0.0.1:80 (attempts 0): dry run: not applied",
        "  edit destination 10.0.0.11:80 (attempts 3)",
        "",
      ])
  }

  func testReportSurvivesTheJSONOfStatusJson() throws {
    let data = try ControlCoding.encoder(pretty: true).encode(Self.report)
    XCTAssertEqual(try ControlCoding.decoder().decode(StatusReport.self, from: data), Self.report)
    let text = String(decoding: data, as: UTF8.self)
    XCTAssertTrue(text.contains("\"startedAt\" : \"2023-11-14T22:13:20Z\""), text)
    XCTAssertTrue(text.contains("\"auth_mismatch\" : 17"), text)
    XCTAssertTrue(text.contains("\"vrrpUnmatchedDrops\" : {"), text)
  }

  /// A newer `lvskeeper status` reads the answer of an older daemon, which has no drop counters.
  func testAnAnswerWithoutDropCountersStillDecodes() throws {
    var old = Self.report
    old.vrrpUnmatchedDrops = nil
    for index in old.vrrpInstances.indices { old.vrrpInstances[index].droppedPackets = nil }
    let data = try ControlCoding.encoder().encode(old)
    XCTAssertFalse(String(decoding: data, as: UTF8.self).contains("ropped"))
    XCTAssertEqual(try ControlCoding.decoder().decode(StatusReport.self, from: data), old)
  }

  /// Announced VIPs and the IPVS sysctls (docs/scaleout.md): text and JSON say each VIP's state
  /// and why.
  func testAnnouncementsAndSysctlsInTextAndJSON() throws {
    var report = Self.report
    report.announcements = [
      AnnouncementStatus(
        vip: "192.0.2.10", interface: "lvsk-announce", table: 100, state: "announced",
        reasonCode: "at_quorum",
        reason: "at quorum (4 of 4 real servers up)", since: Self.at),
      AnnouncementStatus(
        vip: "192.0.2.11", interface: "lvsk-announce", table: 100, state: "withdrawn",
        reasonCode: "quorum_lost",
        reason: "quorum lost (TCP 192.0.2.11:80: 0 of 2 real servers up, live weight 0)", since: Self.at),
    ]
    report.ipvsSysctls = ["sloppy_tcp": 1, "conn_reuse_mode": 0]
    let text = StatusRenderer.render(report)
    XCTAssertTrue(
      text.contains(
        "Announced VIPs:\n  192.0.2.10           ANNOUNCED dev lvsk-announce table 100 since 2023-11-14T22:13:20Z: at quorum (4 of 4 real servers up)\n"
      ), text)
    XCTAssertTrue(
      text.contains(
        "192.0.2.11           WITHDRAWN dev lvsk-announce table 100 since 2023-11-14T22:13:20Z: quorum lost"),
      text)
    XCTAssertTrue(text.contains("IPVS sysctls: conn_reuse_mode=0 sloppy_tcp=1\n"), text)
    let data = try ControlCoding.encoder(pretty: true).encode(report)
    XCTAssertEqual(try ControlCoding.decoder().decode(StatusReport.self, from: data), report)
    let json = String(decoding: data, as: UTF8.self)
    XCTAssertTrue(json.contains("\"reasonCode\" : \"quorum_lost\""), json)
    XCTAssertTrue(json.contains("\"state\" : \"withdrawn\""), json)
  }
}
