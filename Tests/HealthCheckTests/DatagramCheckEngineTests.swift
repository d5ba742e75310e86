import Foundation
import Glibc
import NIOPosix
import Synchronization
import XCTest

@testable import HealthCheck

/// PING_CHECK, UDP_CHECK and DNS_CHECK on `DatagramCheckEngine` against real peers: the kernel's
/// ICMP echo in a namespace host (over veth, IPv4 and IPv6, ping and raw sockets), a UDP responder
/// and closed ports (ICMP port unreachable), and Debian's dnsmasq.
final class DatagramCheckEngineTests: XCTestCase {
  var lab: DatagramLab?

  override func tearDown() {
    lab?.tearDown()
    lab = nil
  }

  private func target(_ address: String, _ port: UInt16 = 0) -> CheckTarget {
    CheckTarget(address: address, port: port)
  }

  private func ping(_ address: String, timeout: Duration = .milliseconds(500)) -> CheckerSpec {
    .ping(PingCheck(target: target(address), connectTimeout: timeout))
  }

  /// A namespace host answers ICMP and ICMPv6 echo, with the kernel's ping sockets and with raw
  /// sockets: up; many checkers at once share one socket per family and each gets its own reply;
  /// a blackholed address is down at once, an address nobody has is down at the timeout.
  func testPingSocketsAndRawSocketsAgainstANamespaceHost() throws {
    let lab = try DatagramLab()
    self.lab = lab
    for (mode, raw) in [(ICMPSocketMode.datagramOnly, false), (.rawOnly, true)] {
      let engine = try lab.engine(mode)
      XCTAssertEqual(try probe(ping(DatagramLab.serverV4), on: engine), .up(weight: nil), "\(mode)")
      XCTAssertEqual(try probe(ping(DatagramLab.serverV6), on: engine), .up(weight: nil), "\(mode)")
      XCTAssertEqual(
        try probe(ping("10.78.9.9"), on: engine), .down(reason: "ICMP echo not sent: Invalid argument"),
        "\(mode)")
      let blackhole6 = try probe(ping("fd00:78:9::9"), on: engine)
      XCTAssertFalse(blackhole6.isUp, "\(mode)")
      XCTAssertEqual(
        try probe(ping("10.78.0.99", timeout: .milliseconds(300)), on: engine),
        .down(reason: "no ICMP echo reply within 0.3s"), "\(mode)")

      // 2,000 probes started at once over the two shared sockets, half to the namespace's own
      // loopback (answered within the sendto): every one matched to its reply; the replies to a
      // pass of hundreds of starts must not overflow the socket's buffer.
      let outcomes = Mutex<[ProbeOutcome]>([])
      let group = DispatchGroup()
      let targets = [DatagramLab.serverV4, DatagramLab.serverV6, "127.0.0.1", "::1"]
      for i in 0..<2000 {
        group.enter()
        let job = try XCTUnwrap(
          DatagramCheckRunner.job(for: ping(targets[i % 4], timeout: .seconds(5)))
        ).get()
        engine.probeOnce(job) { outcome in
          outcomes.withLock { $0.append(outcome) }
          group.leave()
        }
      }
      group.wait()
      XCTAssertEqual(outcomes.withLock { $0 }, Array(repeating: .up(weight: nil), count: 2000), "\(mode)")
      let opened = engine.icmpSocketsOpened
      XCTAssertEqual(raw ? opened.ping : opened.raw, 0, "\(mode): the kind of ICMP socket used")
      XCTAssertGreaterThanOrEqual(raw ? opened.raw : opened.ping, 2, "\(mode): one per family at least")
      XCTAssertEqual(engine.openEndpoints, 0, "the shared sockets close with their last probe")
      XCTAssertEqual(engine.activeCount, 0)
    }
  }

  /// 2,000 periodic PING_CHECKs of loopback addresses whose first probes are due at one instant:
  /// the engine starts 512 per pass and the kernel answers each within its sendto, so the shared
  /// socket is read between starts; every checker's first probe is up (none lost to a full buffer).
  func testSimultaneousPingsOfLoopbackAreAllAnswered() throws {
    let lab = try DatagramLab()
    self.lab = lab
    for mode in [ICMPSocketMode.datagramOnly, .rawOnly] {
      let engine = try lab.engine(mode)
      let downs = ManagedAtomicCounter()
      let schedule = CheckSchedule(delayLoop: .seconds(60), retry: 0)
      let handles = try (0..<2000).map { i in
        let job = try XCTUnwrap(
          DatagramCheckRunner.job(for: ping("127.0.\(i / 250).\(i % 250 + 1)", timeout: .seconds(3)))
        )
        .get()
        return engine.add(
          job, schedule: schedule, after: .milliseconds(200),
          observer: .init(onProbeStart: nil, onTransition: { t, _ in if t == .wentDown { downs.add() } }))
      }
      var probed = 0
      for _ in 0..<1000 where probed < handles.count {
        usleep(10_000)
        probed = engine.snapshots(handles).filter { ($0?.probes ?? 0) >= 1 }.count
      }
      XCTAssertEqual(probed, handles.count, "\(mode)")
      XCTAssertEqual(downs.value, 0, "\(mode): no reply lost")
      handles.forEach(engine.remove)
      XCTAssertEqual(engine.activeCount, 0)
      XCTAssertEqual(engine.openEndpoints, 0)
    }
  }

  private func udp(
    _ port: UInt16, address: String = DatagramLab.serverV4, timeout: Duration = .milliseconds(300),
    payload: [UInt8]? = nil, require: Bool = false, data: [UInt8] = [], mask: [UInt8] = [], min: Int = 0,
    max: Int = 255
  ) -> CheckerSpec {
    .udp(
      UDPCheck(
        target: target(address, port), connectTimeout: timeout, payload: payload, requireReply: require,
        replyData: data, replyMask: mask, minReplyLength: min, maxReplyLength: max))
  }

  /// UDP_CHECK as keepalived's check_udp.c: a reply is up, checked against require_reply's bytes
  /// (X nibbles ignored) and the length bounds; an ICMP port unreachable is down; silence is up
  /// unless a reply is required.
  func testUDPCheckAgainstAResponderAClosedPortAndASilentPort() throws {
    let lab = try DatagramLab()
    self.lab = lab
    try lab.startUDPResponder(port: 7000)
    let engine = try lab.engine(.automatic)
    let up = ProbeOutcome.up(weight: nil)
    // Answered: "01 02 O K" + what was sent (the default payload is keepalived's 32 bytes).
    XCTAssertEqual(try probe(udp(7000), on: engine), up)
    XCTAssertEqual(try probe(udp(7000, require: true), on: engine), up)
    XCTAssertEqual(try probe(udp(7000, address: DatagramLab.serverV6, require: true), on: engine), up)
    XCTAssertEqual(
      try probe(
        udp(7000, payload: [0x68, 0x69], require: true, data: [1, 2, 0x4f, 0x4b, 0x68, 0x69]), on: engine),
      up)
    XCTAssertEqual(
      try probe(udp(7000, require: true, data: [1, 2, 0x4f, 0x4c]), on: engine),
      .down(reason: "reply data differs from require_reply at byte 3"))
    XCTAssertEqual(
      try probe(udp(7000, require: true, data: [1, 0x42, 0x4f], mask: [0, 0xf0, 0]), on: engine), up,
      "an X nibble matches anything")
    XCTAssertEqual(
      try probe(udp(7000, payload: [0x68, 0x69], require: true, min: 7), on: engine),
      .down(reason: "reply of 6 bytes is outside 7...255"))
    XCTAssertEqual(
      try probe(udp(7000, require: true, max: 35), on: engine),
      .down(reason: "reply of 36 bytes is outside 0...35"))
    // Closed port: the server's ICMP port unreachable reaches the connected socket.
    XCTAssertEqual(
      try probe(udp(7002, require: true), on: engine),
      .down(reason: "ICMP port unreachable: Connection refused"))
    XCTAssertEqual(
      try probe(udp(7002, address: DatagramLab.serverV6), on: engine),
      .down(reason: "ICMP port unreachable: Connection refused"))
    // Silent port (read, never answered).
    XCTAssertEqual(try probe(udp(7001), on: engine), up, "no reply required: silence is up")
    XCTAssertEqual(
      try probe(udp(7001, require: true), on: engine), .down(reason: "no UDP reply within 0.3s"))
    XCTAssertEqual(engine.activeCount, 0)
  }

  private func dns(
    _ type: UInt16, _ name: String, address: String = DatagramLab.serverV4, port: UInt16 = 53
  ) -> CheckerSpec {
    .dns(DNSCheck(target: target(address, port), connectTimeout: .milliseconds(500), type: type, name: name))
  }

  /// DNS_CHECK against dnsmasq: a name with a record of the type asked is up (A, TXT, MX, over
  /// IPv4 and IPv6); a name that does not exist (NXDOMAIN), a type the name has no record of,
  /// a closed port and a server that never answers are down, each with its reason.
  func testDNSCheckAgainstDnsmasq() throws {
    let lab = try DatagramLab()
    self.lab = lab
    try lab.startDnsmasq()
    try lab.startUDPResponder(port: 7000)
    let engine = try lab.engine(.automatic)
    let up = ProbeOutcome.up(weight: nil)
    XCTAssertEqual(try probe(dns(1, "up.lvsk.test"), on: engine), up)
    XCTAssertEqual(try probe(dns(1, "UP.lvsk.test."), on: engine), up, "case and a final dot do not matter")
    XCTAssertEqual(try probe(dns(1, "up.lvsk.test", address: DatagramLab.serverV6), on: engine), up)
    XCTAssertEqual(try probe(dns(16, "up.lvsk.test"), on: engine), up)
    XCTAssertEqual(try probe(dns(15, "lvsk.test"), on: engine), up)
    XCTAssertEqual(
      try probe(dns(1, "missing.lvsk.test"), on: engine), .down(reason: "DNS answer rcode 3 (NXDOMAIN)"))
    let noRecord = try probe(dns(28, "up.lvsk.test"), on: engine)
    XCTAssertFalse(noRecord.isUp, "\(noRecord)")
    XCTAssertEqual(
      try probe(dns(1, "up.lvsk.test", port: 5399), on: engine),
      .down(reason: "ICMP port unreachable: Connection refused"))
    XCTAssertEqual(
      try probe(dns(1, "up.lvsk.test", port: 7001), on: engine), .down(reason: "no DNS answer within 0.5s"))
    // The responder echoes the query behind 4 bytes: not an answer to it (ignored), so timed out.
    XCTAssertEqual(
      try probe(dns(1, "up.lvsk.test", port: 7000), on: engine), .down(reason: "no DNS answer within 0.5s"))
    XCTAssertEqual(engine.activeCount, 0)
  }

  /// 10,000 probes in bursts of 100 (UDP answered by the responder, pings over the shared ICMP
  /// socket) and 40 to a closed port (ICMP port unreachable, which the kernel may rate-limit)
  /// leave this process's descriptor count where it was.
  func testTenThousandProbesLeaveNoDescriptors() throws {
    let lab = try DatagramLab()
    self.lab = lab
    try lab.startUDPResponder(port: 7000)
    let engine = try lab.engine(.automatic)
    let specs: [CheckerSpec] = [
      udp(7000, timeout: .seconds(5), require: true),
      ping(DatagramLab.serverV4, timeout: .seconds(5)),
      udp(7002, timeout: .seconds(5), require: true),
    ]
    let jobs = try specs.map { try XCTUnwrap(DatagramCheckRunner.job(for: $0)).get() }
    let before = openDescriptorCount()
    let counts = Mutex<[String: Int]>([:])
    for batch in 0..<101 {
      let group = DispatchGroup()
      for i in 0..<(batch < 100 ? 100 : 40) {
        group.enter()
        engine.probeOnce(jobs[batch < 100 ? i % 2 : 2]) { outcome in
          let key: String
          switch outcome {
          case .up: key = "up"
          case .down(let reason): key = reason
          }
          counts.withLock { $0[key, default: 0] += 1 }
          group.leave()
        }
      }
      group.wait()
    }
    // The 40 to a closed port end refused, or (when the kernel's ICMP error rate limit, global
    // and per peer, dropped the port unreachable) timed out: never up, never anything else.
    var seen = counts.withLock { $0 }
    XCTAssertEqual(seen.removeValue(forKey: "up"), 10_000)
    let refused = seen.removeValue(forKey: "ICMP port unreachable: Connection refused") ?? 0
    let silent = seen.removeValue(forKey: "no UDP reply within 5.0s") ?? 0
    XCTAssertEqual(refused + silent, 40)
    XCTAssertGreaterThan(refused, 0)
    XCTAssertEqual(seen, [:])
    XCTAssertEqual(openDescriptorCount(), before)
    XCTAssertEqual(engine.openEndpoints, 0)
    XCTAssertEqual(engine.activeCount, 0)
  }
}

/// A UDP responder on 127.0.0.1 in this process: answers every datagram with "OK" and counts them.
final class LoopbackUDPResponder: @unchecked Sendable {
  let port: UInt16
  private let fd: Int32
  private let received = Mutex(0)
  private let stopped = Mutex(false)
  private let done = DispatchSemaphore(value: 0)

  init() throws {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    self.fd = fd
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    guard bound else { throw XCTSkipFailure("bind 127.0.0.1: \(String(cString: strerror(errno)))") }
    port = UInt16(bigEndian: address.sin_port)
    var wait = timeval(tv_sec: 0, tv_usec: 100_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    Thread { [self] in
      var buffer = [UInt8](repeating: 0, count: 2048)
      var peer = sockaddr_in()
      while !stopped.withLock({ $0 }) {
        var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &peer) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            recvfrom(fd, &buffer, buffer.count, 0, $0, &peerLength)
          }
        }
        guard n >= 0 else { continue }
        received.withLock { $0 += 1 }
        _ = withUnsafePointer(to: &peer) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, "OK", 2, 0, $0, peerLength) }
        }
      }
      done.signal()
    }.start()
  }

  var count: Int { received.withLock { $0 } }

  func stop() {
    stopped.withLock { $0 = true }
    done.wait()
    close(fd)
  }
}

/// The monitor runs datagram checkers on the process's `DatagramCheckEngine`: one probe per
/// distinct checker however many servers share it, and each failure's reason in `status`.
final class DatagramMonitorTests: XCTestCase {
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  override func tearDown() { try? group.syncShutdownGracefully() }

  func testSharedDatagramCheckersProbeOnceAndReportReasons() async throws {
    let responder = try LoopbackUDPResponder()
    defer { responder.stop() }
    let closed = try MisbehavingServer.closedPort()
    let schedule = CheckSchedule(delayLoop: .milliseconds(100), retry: 0)
    func checker(_ spec: CheckerSpec) -> Checker { Checker(spec, schedule: schedule) }
    let target = { (port: UInt16) in CheckTarget(address: "127.0.0.1", port: port) }
    let shared = checker(
      .udp(UDPCheck(target: target(responder.port), requireReply: true, replyData: [0x4f, 0x4b])))
    let ping = checker(.ping(PingCheck(target: target(0))))
    let refused = checker(.udp(UDPCheck(target: target(closed), requireReply: true)))
    let dns = checker(.dns(DNSCheck(target: target(closed), type: 1, name: "example.test")))
    let monitor = HealthMonitor(group: group)
    defer { monitor.stop() }
    monitor.apply([
      MonitoredServer(id: RealServerID("vsA/rs1"), checkers: [shared, ping]),
      MonitoredServer(id: RealServerID("vsB/rs1"), checkers: [shared]),
      MonitoredServer(id: RealServerID("vsC/rs1"), checkers: [shared, refused]),
      MonitoredServer(id: RealServerID("vsD/rs1"), checkers: [dns]),
    ])
    XCTAssertEqual(monitor.status().probeCount, 4, "one probe per distinct checker")
    var it = monitor.events.makeAsyncIterator()
    var down: Set<String> = []
    while down.count < 2, let event = await it.next() {
      if !event.isUp { down.insert(event.server.rawValue) }
    }
    XCTAssertEqual(down, ["vsC/rs1", "vsD/rs1"])
    // Wait until the shared checker has probed a few times, then compare with what the server saw.
    var probes = 0
    for _ in 0..<400 where probes < 5 {
      try await Task.sleep(for: .milliseconds(50))
      probes = monitor.status().servers.first { $0.id.rawValue == "vsB/rs1" }?.checkers.first?.probes ?? 0
    }
    let status = monitor.status()
    let seen = responder.count
    let counted = try XCTUnwrap(status.servers.first { $0.id.rawValue == "vsB/rs1" }?.checkers.first?.probes)
    XCTAssertTrue(
      (counted...counted + 1).contains(seen), "server saw \(seen) datagrams for \(counted) probes")
    let reasons = Dictionary(uniqueKeysWithValues: status.servers.map { ($0.id.rawValue, $0.reason) })
    XCTAssertEqual(reasons["vsA/rs1"] ?? nil, nil)
    XCTAssertEqual(
      reasons["vsC/rs1"] ?? nil, "UDP_CHECK 127.0.0.1:\(closed): ICMP port unreachable: Connection refused")
    XCTAssertEqual(
      reasons["vsD/rs1"] ?? nil, "DNS_CHECK 127.0.0.1:\(closed): ICMP port unreachable: Connection refused")
    XCTAssertTrue(status.servers.first { $0.id.rawValue == "vsA/rs1" }?.isUp ?? false)
  }
}
