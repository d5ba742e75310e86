import Foundation
import KeeperCore
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// HTTP_GET and SSL_GET against a real nginx, and the monitor watching it stop and start.
final class NginxTests: XCTestCase {
  static let digestA = "23f292dea8e04ae7f559f2a317e30384"  // md5sum of NginxInstance.bodyA
  static let digestB = "50586737cbe05f7431e80a31b8d7ab7e"
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  override func tearDown() { try? group.syncShutdownGracefully() }

  struct Case {
    var name: String
    var urls: [URLCheck]
    var version = HTTPVersionChoice.http10
    var expectUp: Bool
    var reasonContains = ""
  }

  func testHTTPAndHTTPSAgainstNginx() throws {
    let nginx = try NginxInstance()
    let cases: [Case] = [
      Case(name: "200 on /", urls: [URLCheck(path: "/")], expectUp: true),
      Case(
        name: "404 path", urls: [URLCheck(path: "/missing")], expectUp: false, reasonContains: "status 404"),
      Case(
        name: "404 expected", urls: [URLCheck(path: "/missing", statusCodes: StatusCodeSet(parsing: "404")!)],
        expectUp: true),
      Case(name: "digest match", urls: [URLCheck(path: "/index.html", digest: Self.digestA)], expectUp: true),
      Case(
        name: "digest mismatch", urls: [URLCheck(path: "/index.html", digest: Self.digestB)], expectUp: false,
        reasonContains: "digest"),
      Case(
        name: "virtualhost routes to b",
        urls: [URLCheck(path: "/", digest: Self.digestB, virtualHost: "b.example")], expectUp: true),
      Case(
        name: "virtualhost a is not b",
        urls: [URLCheck(path: "/", digest: Self.digestB, virtualHost: "a.example")], expectUp: false),
      Case(
        name: "HTTP/1.1 digest", urls: [URLCheck(path: "/", digest: Self.digestA)], version: .http11,
        expectUp: true),
      Case(
        name: "all urls must pass", urls: [URLCheck(path: "/"), URLCheck(path: "/nope")], expectUp: false,
        reasonContains: "/nope"),
    ]
    for tls in [false, true] {
      for c in cases {
        let target = CheckTarget(address: "127.0.0.1", port: tls ? nginx.tlsPort : nginx.port)
        let check = HTTPCheck(target: target, urls: c.urls, connectTimeout: .seconds(3), version: c.version)
        let probe = HTTPProbe(check: check, tls: tls)
        let outcome = try probe.run(on: group.next()).wait()
        let name = "\(tls ? "SSL_GET" : "HTTP_GET") \(c.name)"
        XCTAssertEqual(outcome.isUp, c.expectUp, "\(name): \(outcome)")
        if case .down(let reason) = outcome, !c.reasonContains.isEmpty {
          XCTAssertTrue(reason.contains(c.reasonContains), "\(name): \(reason)")
        }
      }
    }
    // Plain HTTP to the TLS port fails (nginx answers 400), TLS to the plain port fails.
    let wrongWay = HTTPProbe(
      check: HTTPCheck(
        target: CheckTarget(address: "127.0.0.1", port: nginx.port), urls: [URLCheck(path: "/")],
        connectTimeout: .seconds(2)),
      tls: true)
    XCTAssertFalse(try wrongWay.run(on: group.next()).wait().isUp)
  }

  /// SSL_GET sends SNI only with enable_sni (keepalived's check_ssl.c), naming sni_name, else the
  /// url's virtualhost, else the checker's; nginx logs the name it received ($ssl_server_name).
  func testSNIIsSentOnlyWhenEnabled() throws {
    let nginx = try NginxInstance()
    let tls = true
    let target = CheckTarget(address: "127.0.0.1", port: nginx.tlsPort)
    struct SNICase {
      var path: String
      var urlHost: String?
      var checkHost: String?
      var enableSNI: Bool
      var sniName: String?
      var logged: String
    }
    let cases = [
      SNICase(path: "/off", urlHost: "b.example", checkHost: nil, enableSNI: false, logged: "- b.example"),
      SNICase(
        path: "/url", urlHost: "b.example", checkHost: "a.example", enableSNI: true,
        logged: "b.example b.example"),
      SNICase(
        path: "/checker", urlHost: nil, checkHost: "a.example", enableSNI: true, logged: "a.example a.example"
      ),
      SNICase(
        path: "/named", urlHost: "b.example", checkHost: nil, enableSNI: true, sniName: "c.example",
        logged: "c.example b.example"),
      SNICase(path: "/nohost", urlHost: nil, checkHost: nil, enableSNI: true, logged: "- 127.0.0.1"),
    ]
    for c in cases {
      let check = HTTPCheck(
        target: target,
        urls: [
          URLCheck(path: c.path, statusCodes: StatusCodeSet(parsing: "200-499")!, virtualHost: c.urlHost)
        ],
        connectTimeout: .seconds(3), virtualHost: c.checkHost, enableSNI: c.enableSNI, sniName: c.sniName)
      let outcome = try HTTPProbe(check: check, tls: tls).run(on: group.next()).wait()
      XCTAssertTrue(outcome.isUp, "\(c.path): \(outcome)")
    }
    XCTAssertEqual(
      nginx.accessLog(lines: cases.count), cases.map { "\(nginx.tlsPort) \($0.logged) \($0.path)" })
  }

  /// keepalived's fast_recovery checks a recovering checker's urls back to back instead of one per
  /// delay_loop; lvskeeper always does: one probe requests every url, in order, and is up.
  func testEveryURLIsCheckedInOnePass() throws {
    let nginx = try NginxInstance()
    let target = CheckTarget(address: "127.0.0.1", port: nginx.port)
    let urls = ["/", "/index.html", "/"].map { URLCheck(path: $0) }
    let probe = HTTPProbe(
      check: HTTPCheck(target: target, urls: urls, connectTimeout: .seconds(3)), tls: false)
    XCTAssertEqual(try probe.run(on: group.next()).wait(), .up(weight: nil))
    XCTAssertEqual(
      nginx.accessLog(lines: 3).map { $0.split(separator: " ").last.map(String.init) },
      ["/", "/index.html", "/"])
  }

  /// The monitor sees nginx go away and come back, through retry and rise/fall, with events
  /// for every subscriber of the shared probe, and runs notify scripts.
  func testMonitorFollowsNginxStopAndStart() async throws {
    let nginx = try NginxInstance()
    let marks = try makeTempDir("lvsk-notify")
    defer { try? FileManager.default.removeItem(at: marks) }
    let schedule = CheckSchedule(
      delayLoop: .milliseconds(200), retry: 1, delayBeforeRetry: .milliseconds(100), rise: 2, fall: 1)
    let http = Checker(
      .http(
        HTTPCheck(
          target: CheckTarget(address: "127.0.0.1", port: nginx.port),
          urls: [URLCheck(path: "/", digest: Self.digestA)], connectTimeout: .seconds(1))),
      schedule: schedule)
    let tcp = Checker(
      .tcp(
        TCPCheck(target: CheckTarget(address: "127.0.0.1", port: nginx.tlsPort), connectTimeout: .seconds(1))),
      schedule: schedule)
    let monitor = HealthMonitor(group: group)
    let vs1 = MonitoredServer(
      id: RealServerID("vs1/rs"), checkers: [http, tcp],
      notifyUp: try RunnableScript(parsing: "/usr/bin/touch \(marks.appendingPathComponent("up").path)"),
      notifyDown: try RunnableScript(parsing: "/usr/bin/touch \(marks.appendingPathComponent("down").path)"))
    let vs2 = MonitoredServer(id: RealServerID("vs2/rs"), checkers: [http])
    monitor.apply([vs1, vs2])
    XCTAssertEqual(monitor.status().probeCount, 2, "vs2 shares vs1's HTTP probe")
    var iterator = monitor.events.makeAsyncIterator()
    var initial: [String: Bool] = [:]
    for _ in 0..<2 {
      let next = await iterator.next()
      let e = try XCTUnwrap(next)
      XCTAssertEqual(e.reason, "initial")
      initial[e.server.rawValue] = e.isUp
    }
    XCTAssertEqual(initial, ["vs1/rs": true, "vs2/rs": true], "without alpha servers start up")

    try await Task.sleep(for: .milliseconds(500))
    let clock = ContinuousClock()
    var start = clock.now
    nginx.stop()
    var downs: Set<String> = []
    while downs.count < 2 {
      let next = await iterator.next()
      let e = try XCTUnwrap(next)
      XCTAssertFalse(e.isUp, "\(e)")
      downs.insert(e.server.rawValue)
    }
    // fall 1 with one retry: at most delay_loop + delay_before_retry + probe time, plus margin.
    XCTAssertLessThan(clock.now - start, .seconds(3))
    let status = monitor.status()
    XCTAssertFalse(status.servers.contains { $0.isUp })
    XCTAssertNotNil(status.servers.first?.reason)

    try nginx.start()
    start = clock.now
    var ups: Set<String> = []
    while ups.count < 2 {
      let next = await iterator.next()
      let e = try XCTUnwrap(next)
      XCTAssertTrue(e.isUp, "\(e)")
      XCTAssertNotNil(e.latency)
      ups.insert(e.server.rawValue)
    }
    XCTAssertLessThan(clock.now - start, .seconds(3), "rise 2 at delay_loop 0.2 s")
    for _ in 0..<40 where !FileManager.default.fileExists(atPath: marks.appendingPathComponent("up").path) {
      try await Task.sleep(for: .milliseconds(50))
    }
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: marks.appendingPathComponent("down").path), "notify_down ran")
    XCTAssertTrue(
      FileManager.default.fileExists(atPath: marks.appendingPathComponent("up").path), "notify_up ran")
    monitor.stop()
  }
}
