import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// The metrics as Prometheus and Grafana meet them: a real daemon (dry run, in a network namespace
/// of its own: VRRP on `lo`, an HTTP_GET against a real HTTP server that answers after 150 ms) is
/// scraped; `promtool check metrics` accepts the scrape, the known latency lands in its bucket,
/// and every metric the dashboard and the alerts query is in it. The alert rules pass
/// `promtool check rules` and their unit tests (`promtool test rules`).
final class MetricsContractTests: XCTestCase {
  static let promtool = "/usr/bin/promtool"
  static let contrib = CommandLineTests.repositoryRoot + "/contrib"
  private var scratch = ""
  private var namespace = ""
  private var daemon: DaemonProcess?
  private var httpServer: Process?

  override func setUpWithError() throws {
    guard FileManager.default.isExecutableFile(atPath: Self.promtool) else {
      throw XCTSkip("\(Self.promtool) missing: install the Debian package prometheus (scripts/setup-deps)")
    }
    scratch = "/tmp/lvsk-metr-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    daemon?.cleanUp()
    if let httpServer, httpServer.isRunning {
      // SIGKILL: the test process's blocked signals (SIGTERM among them) are inherited.
      kill(httpServer.processIdentifier, SIGKILL)
      httpServer.waitUntilExit()
    }
    if !namespace.isEmpty { _ = try? shell("/usr/sbin/ip netns del \(namespace)") }
    try? FileManager.default.removeItem(atPath: scratch)
  }

  func testAlertRulesPassPromtoolAndTheirUnitTests() throws {
    let rules = try shell(
      "cd \(Self.contrib)/prometheus && \(Self.promtool) check rules lvskeeper-alerts.yml")
    XCTAssertTrue(rules.contains("SUCCESS: 6 rules found"), rules)
    // Split brain and no master, on synthetic series of a pair (fails the shell on any miss).
    let tests = try shell(
      "cd \(Self.contrib)/prometheus && \(Self.promtool) test rules lvskeeper-alerts.test.yml")
    XCTAssertTrue(tests.contains("SUCCESS"), tests)
  }

  static let serverScript = """
    import http.server, sys, time
    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(0.15)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *args):
            pass
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Slow).serve_forever()
    """

  static func config(httpPort: Int) -> String {
    """
    global_defs {
        router_id metrics
    }
    vrrp_instance VI_METRICS {
        state BACKUP
        interface lo
        virtual_router_id 78
        priority 100
        advert_int 1
        unicast_src_ip 127.0.0.1
        unicast_peer {
            127.0.0.2
        }
        virtual_ipaddress {
            192.0.2.78/32
        }
    }
    virtual_server 192.0.2.78 80 {
        delay_loop 1
        lb_algo rr
        lb_kind NAT
        protocol TCP
        alpha
        real_server 127.0.0.1 \(httpPort) {
            weight 1
            HTTP_GET {
                url {
                    path /
                    status_code 200
                }
                connect_timeout 3
            }
        }
    }

    """
  }

  /// One VRRPv2 advert for VRID 78 with simple-password authentication (the instance uses none:
  /// dropped as auth_mismatch), from 127.0.0.2 in the namespace.
  static let badAdvert = """
    import socket
    p = bytearray([0x21, 78, 100, 1, 1, 1, 0, 0, 192, 0, 2, 78] + [0] * 8)
    s = sum((p[i] << 8) | p[i + 1] for i in range(0, len(p), 2))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    p[6], p[7] = ((~s) >> 8) & 0xff, (~s) & 0xff
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    r.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    r.bind(("127.0.0.2", 0))
    r.sendto(bytes(p), ("127.0.0.1", 0))
    """

  private func scrape(port: Int) throws -> String {
    let script =
      "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:\(port)/metrics').read().decode())"
    let file = scratch + "/scrape.py"
    try script.write(toFile: file, atomically: true, encoding: .utf8)
    return try shell("/usr/sbin/ip netns exec \(namespace) python3 \(file)")
  }

  func testScrapePassesPromtoolHasLatencyBucketsAndCoversDashboardAndAlerts() async throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root (network namespace, raw sockets)") }
    namespace = "lvsk-metr-\(getpid())"
    _ = try? shell("/usr/sbin/ip netns del \(namespace)")
    try shell("/usr/sbin/ip netns add \(namespace)")
    try shell("/usr/sbin/ip -n \(namespace) link set lo up")

    let httpPort = 18_000 + Int(getpid() % 1000)
    try Self.serverScript.write(toFile: scratch + "/slow.py", atomically: true, encoding: .utf8)
    let http = Process()
    http.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    http.arguments = ["netns", "exec", namespace, "python3", scratch + "/slow.py", "\(httpPort)"]
    try http.run()
    httpServer = http

    let configPath = scratch + "/metrics.conf"
    try Self.config(httpPort: httpPort).write(toFile: configPath, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "metrics",
      arguments: [
        "--dry-run", "--config", configPath, "--metrics-listen", "127.0.0.1:9652", "--state-dir",
        scratch + "/state",
      ],
      namespace: namespace)
    self.daemon = daemon
    try daemon.waitReady()

    // Master (no peer), the server up after its first slow probe (alpha: a transition with a latency).
    var metrics = ""
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      metrics = try scrape(port: 9652)
      if metrics.contains("lvskeeper_check_latency_seconds_count 1")
        && metrics.contains("vrrp_instance=\"VI_METRICS\",vrid=\"78\",interface=\"lo\"} 2")
      {
        break
      }
      try await Task.sleep(for: .milliseconds(200))
    }
    // A drained server, a refused reload and a dropped advert: every family the dashboard shows.
    let service = "TCP 192.0.2.78:80"
    let drained = try ControlClient(path: daemon.socket).send(
      ControlRequest(command: .server, service: service, server: "127.0.0.1:\(httpPort)", action: "drain"))
    XCTAssertTrue(drained.ok, "\(drained)")
    try "virtual_server {\n".write(toFile: configPath, atomically: true, encoding: .utf8)
    XCTAssertEqual(try daemon.request(.reload).ok, false)
    try Self.badAdvert.write(toFile: scratch + "/advert.py", atomically: true, encoding: .utf8)
    try shell("/usr/sbin/ip netns exec \(namespace) python3 \(scratch)/advert.py")
    while ContinuousClock.now < deadline + .seconds(10) {
      metrics = try scrape(port: 9652)
      if metrics.contains("reason=\"auth_mismatch\"} 1") { break }
      try await Task.sleep(for: .milliseconds(200))
    }
    try metrics.write(toFile: scratch + "/scrape.txt", atomically: true, encoding: .utf8)

    // promtool's linter: HELP and TYPE on every family, names and units as conventions want.
    let check = try shell("\(Self.promtool) check metrics < \(scratch)/scrape.txt")
    XCTAssertEqual(check.trimmingCharacters(in: .whitespacesAndNewlines), "", check)

    // 150 ms: above the 0.1 bucket, inside 0.25.
    let lines = Set(metrics.split(separator: "\n").map(String.init))
    XCTAssertTrue(lines.contains("lvskeeper_check_latency_seconds_bucket{le=\"0.1\"} 0"), metrics)
    XCTAssertTrue(lines.contains("lvskeeper_check_latency_seconds_bucket{le=\"0.25\"} 1"), metrics)
    XCTAssertTrue(lines.contains("lvskeeper_check_latency_seconds_bucket{le=\"0.0005\"} 0"), metrics)
    XCTAssertTrue(lines.contains("lvskeeper_config_last_reload_successful 0.0"), metrics)
    XCTAssertTrue(
      lines.contains("lvskeeper_real_server_up{service=\"\(service)\",server=\"127.0.0.1:\(httpPort)\"} 1.0"),
      metrics)

    // Every family's HELP is its own text, not the name HelpfulMetricsFactory falls back to.
    for line in lines where line.hasPrefix("# HELP ") {
      let words = line.split(separator: " ", maxSplits: 3).map(String.init)
      XCTAssertTrue(words.count == 4 && words[3] != words[2], "no help text in DaemonMetrics.help: \(line)")
    }

    // Every metric the dashboard and the alerts query is in the scrape.
    let families = Set(
      lines.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }.map(String.init))
    try shell("python3 -m json.tool \(Self.contrib)/grafana/lvskeeper.json >/dev/null")
    let dashboard = try JSONSerialization.jsonObject(
      with: Data(contentsOf: URL(fileURLWithPath: Self.contrib + "/grafana/lvskeeper.json")))
    let expressions = Self.expressions(in: dashboard)
    XCTAssertGreaterThan(expressions.count, 10)
    let alerts = try String(
      contentsOfFile: Self.contrib + "/prometheus/lvskeeper-alerts.yml", encoding: .utf8)
    for (source, text) in expressions.map({ ("dashboard", $0) }) + [("alerts", alerts)] {
      for match in text.matches(of: /lvskeeper_[a-z_]+/) {
        var name = String(match.output)
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
          let base = String(name.dropLast(suffix.count))
          if lines.contains("# TYPE \(base) histogram") { name = base }
        }
        XCTAssertTrue(families.contains(name), "\(source) queries \(name), which the daemon does not export")
      }
    }
  }

  /// Every `expr` in a Grafana dashboard (panels' targets, and the template variables' queries).
  static func expressions(in json: Any) -> [String] {
    if let object = json as? [String: Any] {
      var found: [String] = []
      for (key, value) in object {
        if key == "expr" || key == "definition", let text = value as? String { found.append(text) }
        found += expressions(in: value)
      }
      return found
    }
    if let array = json as? [Any] { return array.flatMap(expressions(in:)) }
    return []
  }
}
