import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// Every checker against servers that hang, trickle, reset, refuse or answer wrongly:
/// the verdict must be right and reached within the timeout plus a generous margin.
final class MisbehavingServerTests: XCTestCase {
  let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  let probeGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

  override func tearDown() {
    try? serverGroup.syncShutdownGracefully()
    try? probeGroup.syncShutdownGracefully()
  }

  enum Kind { case tcp, http, https, mysql, smtp }

  struct Case {
    var name: String
    var server: MisbehavingServer.Behaviour?  // nil: closed port
    var kind: Kind
    var url = URLCheck(path: "/")
    var expectUp: Bool
    /// Fragments of the expected reason, `|`-separated where the wire allows more than one.
    var reasonContains: String
    var maxSeconds: Double
  }

  func testVerdictsAndTimeToVerdict() throws {
    let timeout = Duration.seconds(2)
    let ok = MisbehavingServer.httpResponse(status: "200 OK", body: "hello")
    let helloMD5 = "5d41402abc4b2a76b9719d911017c592"
    let cases: [Case] = [
      Case(
        name: "tcp hang connects", server: .hang, kind: .tcp, expectUp: true, reasonContains: "",
        maxSeconds: 1),
      Case(
        name: "tcp refused", server: nil, kind: .tcp, expectUp: false, reasonContains: "refused",
        maxSeconds: 1),
      Case(
        name: "http hang", server: .hang, kind: .http, expectUp: false, reasonContains: "timed out",
        maxSeconds: 3),
      Case(
        name: "http trickle", server: .trickle, kind: .http, expectUp: false, reasonContains: "timed out",
        maxSeconds: 3),
      Case(
        // The RST can land while the request is still being written; NIO then reports the close
        // (the write's EPIPE), not the reset. Both are the right verdict, reached in time.
        name: "http reset", server: .reset, kind: .http, expectUp: false,
        reasonContains: "reset|connection closed before the response",
        maxSeconds: 1),
      Case(
        name: "http refused", server: nil, kind: .http, expectUp: false, reasonContains: "refused",
        maxSeconds: 1),
      Case(
        name: "http 500", server: .respond(MisbehavingServer.httpResponse(status: "500 Oops", body: "")),
        kind: .http, expectUp: false, reasonContains: "status 500", maxSeconds: 1),
      Case(
        name: "http 200", server: .respond(ok), kind: .http, expectUp: true, reasonContains: "", maxSeconds: 1
      ),
      Case(
        name: "http 500 accepted by list",
        server: .respond(MisbehavingServer.httpResponse(status: "500 Oops", body: "")),
        kind: .http, url: URLCheck(path: "/", statusCodes: StatusCodeSet(parsing: "200 500-503")!),
        expectUp: true, reasonContains: "", maxSeconds: 1),
      Case(
        name: "http digest match", server: .respond(ok), kind: .http,
        url: URLCheck(path: "/", digest: helloMD5),
        expectUp: true, reasonContains: "", maxSeconds: 1),
      Case(
        name: "http wrong body",
        server: .respond(MisbehavingServer.httpResponse(status: "200 OK", body: "bye")),
        kind: .http, url: URLCheck(path: "/", digest: helloMD5), expectUp: false, reasonContains: "digest",
        maxSeconds: 1),
      Case(
        name: "http garbage", server: .respond("SSH-2.0-OpenSSH\r\n"), kind: .http, expectUp: false,
        reasonContains: "bad HTTP response", maxSeconds: 1),
      Case(
        name: "http huge headers",
        server: .respond(
          "HTTP/1.0 200 OK\r\nX-Filler: \(String(repeating: "a", count: 100_000))\r\n\r\nhello"),
        kind: .http, expectUp: false, reasonContains: "response head larger than", maxSeconds: 1),
      Case(
        name: "http endless body, no digest", server: .endless(head: "HTTP/1.0 200 OK\r\n\r\n"), kind: .http,
        expectUp: true, reasonContains: "", maxSeconds: 1),
      Case(
        name: "http endless body with digest", server: .endless(head: "HTTP/1.0 200 OK\r\n\r\n"), kind: .http,
        url: URLCheck(path: "/", digest: helloMD5), expectUp: false, reasonContains: "body larger than",
        maxSeconds: 3),
      Case(
        // 300,000 bytes in one burst: more than one readiness event's read budget (4 x 16 KiB),
        // so the engine must re-register the edge-triggered descriptor to read the rest.
        name: "http large body digest past the per-event read budget",
        server: .respond(
          MisbehavingServer.httpResponse(status: "200 OK", body: String(repeating: "a", count: 300_000))),
        kind: .http, url: URLCheck(path: "/", digest: "92712d77c46f3ee77d7ac6caba4fe2ba"), expectUp: true,
        reasonContains: "",
        maxSeconds: 1),
      Case(
        name: "http chunked body digest",
        server: .respond(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\n\r\n"),
        kind: .http, url: URLCheck(path: "/", digest: helloMD5), expectUp: true, reasonContains: "",
        maxSeconds: 1),
      Case(
        name: "http body to end of stream",
        server: .respond("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"),
        kind: .http, url: URLCheck(path: "/", digest: helloMD5), expectUp: true, reasonContains: "",
        maxSeconds: 1),
      Case(
        name: "http body shorter than its Content-Length",
        server: .respond("HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
        kind: .http, url: URLCheck(path: "/", digest: helloMD5), expectUp: false,
        reasonContains: "closed before the response", maxSeconds: 1),
      Case(
        name: "ssl hang (no ServerHello)", server: .hang, kind: .https, expectUp: false,
        reasonContains: "timed out", maxSeconds: 3),
      Case(
        name: "ssl to a plain HTTP server", server: .respond(ok), kind: .https, expectUp: false,
        reasonContains: "TLS handshake failed", maxSeconds: 1),
      Case(
        name: "ssl reset", server: .reset, kind: .https, expectUp: false,
        reasonContains: "reset|TLS handshake failed|closed", maxSeconds: 1),
      Case(
        name: "mysql hang", server: .hang, kind: .mysql, expectUp: false, reasonContains: "timed out",
        maxSeconds: 3),
      Case(
        name: "mysql reset", server: .reset, kind: .mysql, expectUp: false, reasonContains: "reset",
        maxSeconds: 1),
      Case(
        name: "mysql refused", server: nil, kind: .mysql, expectUp: false, reasonContains: "refused",
        maxSeconds: 1),
      Case(
        name: "mysql ERR greeting (host blocked)",
        server: .greet(
          FakeMySQLServer.packet(
            [0xff, 0x69, 0x04] + Array("Host '127.0.0.1' is blocked because of many connection errors".utf8),
            seq: 0)),
        kind: .mysql, expectUp: false, reasonContains: "ERR 1129", maxSeconds: 1),
      Case(
        name: "mysql not a mysql server", server: .respond(ok), kind: .mysql, expectUp: false,
        reasonContains: "timed out", maxSeconds: 3),
      Case(
        name: "mysql announces a 16 MB packet (refused from its header, nothing buffered)",
        server: .greet([0xff, 0xff, 0xff, 0x00] + [UInt8](repeating: 0x41, count: 256 << 10)), kind: .mysql,
        expectUp: false, reasonContains: "server announced a packet of 16777215 bytes (limit 16384)",
        maxSeconds: 1),
      Case(
        name: "smtp hang", server: .hang, kind: .smtp, expectUp: false, reasonContains: "timed out",
        maxSeconds: 3),
      Case(
        name: "smtp reset", server: .reset, kind: .smtp, expectUp: false,
        reasonContains: "reset|connection closed before the greeting banner", maxSeconds: 1),
      Case(
        name: "smtp refused", server: nil, kind: .smtp, expectUp: false, reasonContains: "refused",
        maxSeconds: 1),
      Case(
        name: "smtp trickle", server: .trickle, kind: .smtp, expectUp: false, reasonContains: "timed out",
        maxSeconds: 3),
      Case(
        name: "smtp endless banner line", server: .greet([UInt8](repeating: 0x78, count: 64 << 10)),
        kind: .smtp,
        expectUp: false, reasonContains: "greeting banner has a line longer than 512 bytes", maxSeconds: 1),
      Case(
        name: "smtp 554 banner", server: .greet(Array("554 5.3.2 go away\r\n".utf8)), kind: .smtp,
        expectUp: false, reasonContains: "bad greeting banner: 554 5.3.2 go away", maxSeconds: 1),
    ]
    for c in cases {
      var server: MisbehavingServer? = nil
      let port: UInt16
      if let behaviour = c.server {
        server = try MisbehavingServer(behaviour, group: serverGroup)
        port = server?.port ?? 0
      } else {
        port = try MisbehavingServer.closedPort()
      }
      defer { server?.close() }
      let target = CheckTarget(address: "127.0.0.1", port: port)
      let probe: any Probe
      switch c.kind {
      case .tcp: probe = TCPProbe(check: TCPCheck(target: target, connectTimeout: timeout))
      case .http:
        probe = HTTPProbe(
          check: HTTPCheck(target: target, urls: [c.url], connectTimeout: timeout), tls: false)
      case .https:
        probe = HTTPProbe(check: HTTPCheck(target: target, urls: [c.url], connectTimeout: timeout), tls: true)
      case .mysql: probe = EngineProbe(MySQLCheck(target: target, connectTimeout: timeout))
      case .smtp: probe = EngineProbe(SMTPCheck(target: target, connectTimeout: timeout))
      }
      let clock = ContinuousClock()
      let start = clock.now
      let outcome = try probe.run(on: probeGroup.next()).wait()
      let elapsed = clock.now - start
      XCTAssertEqual(outcome.isUp, c.expectUp, "\(c.name): \(outcome)")
      if case .down(let reason) = outcome, !c.reasonContains.isEmpty {
        let accepted = c.reasonContains.split(separator: "|").contains { reason.contains($0) }
        XCTAssertTrue(accepted, "\(c.name): reason \(reason)")
      }
      XCTAssertLessThan(elapsed, .milliseconds(Int64(c.maxSeconds * 1000)), "\(c.name): took \(elapsed)")
    }
  }

  /// 10,000 MYSQL_CHECK and SMTP_CHECK probes on the check engine against servers that misbehave
  /// in their protocol (a 16 MB MySQL packet, a 554 banner, an endless banner line), a hanging
  /// server and a closed port, 500 at a time: every probe fails with its reason and the
  /// descriptor count returns to where it started.
  func testEngineConversationsLeaveNoDescriptorAfterTenThousandProbes() throws {
    let huge = try MisbehavingServer(
      .greet([0xff, 0xff, 0xff, 0x00] + [UInt8](repeating: 0x41, count: 4096)), group: serverGroup)
    let banner = try MisbehavingServer(.greet(Array("554 5.3.2 go away\r\n".utf8)), group: serverGroup)
    let endless = try MisbehavingServer(.greet([UInt8](repeating: 0x78, count: 8192)), group: serverGroup)
    let hang = try MisbehavingServer(.hang, group: serverGroup)
    defer { for server in [huge, banner, endless, hang] { server.close() } }
    let refused = try MisbehavingServer.closedPort()
    // The servers answer from one NIO thread, 500 connections at a time: they get time to.
    let timeout = Duration.seconds(5)
    let hangTimeout = Duration.milliseconds(100)
    func target(_ p: UInt16) -> CheckTarget { CheckTarget(address: "127.0.0.1", port: p) }
    let probes: [(EngineProbe, String)] = [
      (
        EngineProbe(MySQLCheck(target: target(huge.port), connectTimeout: timeout)),
        "server announced a packet"
      ),
      (
        EngineProbe(SMTPCheck(target: target(banner.port), connectTimeout: timeout)),
        "bad greeting banner: 554"
      ),
      (
        EngineProbe(SMTPCheck(target: target(endless.port), connectTimeout: timeout)), "longer than 512 bytes"
      ),
      (EngineProbe(MySQLCheck(target: target(hang.port), connectTimeout: hangTimeout)), "timed out"),
      (EngineProbe(SMTPCheck(target: target(refused), connectTimeout: timeout)), "refused"),
    ]
    // Warm up the engine thread (its epoll and wake-up descriptors) before counting.
    _ = try probes[4].0.run(on: probeGroup.next()).wait()
    Thread.sleep(forTimeInterval: 0.5)
    let before = openDescriptorCount()
    var wrongReasons: [String] = []
    for batch in 0..<20 {
      let started = (0..<500).map { i in
        let (probe, reason) = probes[(batch * 500 + i) % probes.count]
        return (probe.run(on: probeGroup.next()), reason)
      }
      for (future, reason) in started {
        let outcome = try future.wait()
        guard case .down(let got) = outcome, got.contains(reason) else {
          wrongReasons.append("\(outcome), wanted \(reason)")
          continue
        }
      }
    }
    XCTAssertEqual(wrongReasons.count, 0, "\(wrongReasons.prefix(5))")
    var after = openDescriptorCount()
    for _ in 0..<50 where after > before {
      Thread.sleep(forTimeInterval: 0.1)
      after = openDescriptorCount()
    }
    XCTAssertLessThanOrEqual(after, before, "descriptors before \(before), after \(after)")
  }

  /// 10,000 probes against hanging and resetting servers, 500 at a time with short timeouts:
  /// the descriptor count returns to where it started.
  func testNoDescriptorLeakAfterTenThousandProbes() throws {
    let hang = try MisbehavingServer(.hang, group: serverGroup)
    let trickle = try MisbehavingServer(.trickle, group: serverGroup)
    let reset = try MisbehavingServer(.reset, group: serverGroup)
    defer { for server in [hang, trickle, reset] { server.close() } }
    let refused = try MisbehavingServer.closedPort()
    let timeout = Duration.milliseconds(100)
    func target(_ p: UInt16) -> CheckTarget { CheckTarget(address: "127.0.0.1", port: p) }
    let probes: [any Probe] = [
      HTTPProbe(
        check: HTTPCheck(target: target(hang.port), urls: [URLCheck(path: "/")], connectTimeout: timeout),
        tls: false),
      HTTPProbe(
        check: HTTPCheck(target: target(trickle.port), urls: [URLCheck(path: "/")], connectTimeout: timeout),
        tls: false),
      EngineProbe(MySQLCheck(target: target(hang.port), connectTimeout: timeout)),
      HTTPProbe(
        check: HTTPCheck(target: target(reset.port), urls: [URLCheck(path: "/")], connectTimeout: timeout),
        tls: false),
      TCPProbe(check: TCPCheck(target: target(refused), connectTimeout: timeout)),
      // SSL_GET: a handshake that never gets an answer, and one the server resets.
      HTTPProbe(
        check: HTTPCheck(target: target(hang.port), urls: [URLCheck(path: "/")], connectTimeout: timeout),
        tls: true),
      HTTPProbe(
        check: HTTPCheck(target: target(reset.port), urls: [URLCheck(path: "/")], connectTimeout: timeout),
        tls: true),
    ]
    // Warm up lazily created descriptors (eventfds, timers, the TLS context) before counting: every
    // kind of probe once, so a first use during the count is not taken for a leak.
    for probe in probes { _ = try probe.run(on: probeGroup.next()).wait() }
    // The servers close their side of the warm-up connections asynchronously; let them settle.
    Thread.sleep(forTimeInterval: 0.5)
    let before = openDescriptorCount()
    var downs = 0
    for batch in 0..<20 {
      let futures = (0..<500).map { i in probes[(batch * 500 + i) % probes.count].run(on: probeGroup.next()) }
      for f in futures where try !f.wait().isUp { downs += 1 }
    }
    XCTAssertEqual(downs, 10_000, "every probe against a misbehaving server must fail")
    // Closes finish asynchronously on the loops; give them a moment.
    var after = openDescriptorCount()
    for _ in 0..<50 where after > before {
      Thread.sleep(forTimeInterval: 0.1)
      after = openDescriptorCount()
    }
    XCTAssertLessThanOrEqual(after, before, "descriptors before \(before), after \(after)")
  }
}

/// connect_ip/connect_port choose where probes go; bindto chooses the source address.
final class ConnectOptionsTests: XCTestCase {
  let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  let probeGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  override func tearDown() {
    try? serverGroup.syncShutdownGracefully()
    try? probeGroup.syncShutdownGracefully()
  }

  /// The server accepts asynchronously: wait (up to 2 s) for a peer beyond the first `after`.
  func waitForPeer(_ server: MisbehavingServer, after: Int) -> String? {
    for _ in 0..<200 {
      let all = server.peers.all
      if all.count > after { return all[after] }
      Thread.sleep(forTimeInterval: 0.01)
    }
    return nil
  }

  func testBindToSetsSourceAddress() throws {
    let server = try MisbehavingServer(
      .respond(MisbehavingServer.httpResponse(status: "200 OK", body: "x")), group: serverGroup)
    defer { server.close() }
    let cases: [(String?, String)] = [
      (nil, "127.0.0.1"), ("127.0.0.7", "127.0.0.7"), ("127.0.0.9", "127.0.0.9"),
    ]
    for (bind, expected) in cases {
      let target = CheckTarget(address: "127.0.0.1", port: server.port, bindAddress: bind)
      var seen = server.peers.all.count
      XCTAssertTrue(try TCPProbe(check: TCPCheck(target: target)).run(on: probeGroup.next()).wait().isUp)
      XCTAssertEqual(waitForPeer(server, after: seen), expected, "TCP bindto \(bind ?? "-")")
      seen = server.peers.all.count
      let http = HTTPProbe(check: HTTPCheck(target: target, urls: [URLCheck(path: "/")]), tls: false)
      XCTAssertTrue(try http.run(on: probeGroup.next()).wait().isUp)
      XCTAssertEqual(waitForPeer(server, after: seen), expected, "HTTP bindto \(bind ?? "-")")
    }
    let badBind = CheckTarget(address: "127.0.0.1", port: server.port, bindAddress: "192.0.2.77")
    let outcome = try TCPProbe(check: TCPCheck(target: badBind)).run(on: probeGroup.next()).wait()
    XCTAssertFalse(outcome.isUp, "binding a non-local address fails: \(outcome)")
  }
}
