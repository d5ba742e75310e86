import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// Bad VRRP packets sent to a real daemon (in a network namespace of its own, VRRP on `lo`) show
/// up per instance and reason in `status --json` and in `lvskeeper_vrrp_dropped_packets_total`,
/// and cost one warning line plus summaries, not one line per packet.
final class VRRPDropCounterTests: XCTestCase {
  private var scratch = ""
  private var namespace = ""
  private var daemon: DaemonProcess?

  override func setUpWithError() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root (network namespace, raw sockets)") }
    guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else {
      throw XCTSkip("/usr/sbin/ip missing (Debian package iproute2)")
    }
    scratch = "/tmp/lvsk-drop-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    namespace = "lvsk-drop-\(getpid())"
    _ = try? shell("/usr/sbin/ip netns del \(namespace)")
    try shell("/usr/sbin/ip netns add \(namespace)")
    try shell("/usr/sbin/ip -n \(namespace) link set lo up")
  }

  override func tearDown() {
    daemon?.cleanUp()
    if !namespace.isEmpty { _ = try? shell("/usr/sbin/ip netns del \(namespace)") }
    try? FileManager.default.removeItem(atPath: scratch)
  }

  static let config = """
    global_defs {
        router_id drops
    }
    vrrp_instance VI_DROP {
        state BACKUP
        interface lo
        virtual_router_id 77
        priority 100
        advert_int 1
        unicast_src_ip 127.0.0.1
        unicast_peer {
            127.0.0.2
        }
        virtual_ipaddress {
            192.0.2.77/32
        }
    }

    """

  func testBadPacketsAreCountedInStatusAndMetricsAndLoggedOncePerReason() async throws {
    let configPath = scratch + "/drops.conf"
    try Self.config.write(toFile: configPath, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "drops",
      arguments: ["--dry-run", "--config", configPath, "--metrics-listen", "127.0.0.1:9651"],
      namespace: namespace)
    self.daemon = daemon
    try daemon.waitReady()

    // From the listed peer (127.0.0.2), so only the fault under test fails the checks.
    try sendAdverts(vrid: 77, authType: 0, ttl: 64, count: 3)  // ttl_not_255
    try sendAdverts(vrid: 77, authType: 1, ttl: 255, count: 40)  // auth_mismatch (we use none)
    try sendAdverts(vrid: 99, authType: 0, ttl: 255, count: 5)  // unknown_vrid: no instance

    let expected: [String: UInt64] = ["ttl_not_255": 3, "auth_mismatch": 40]
    var report: StatusReport?
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
      report = try await offPool { try daemon.request(.status) }.status
      let dropped = report?.vrrpInstances.first?.droppedPackets ?? [:]
      if dropped["auth_mismatch"] == 40 && dropped["ttl_not_255"] == 3
        && report?.vrrpUnmatchedDrops?["unknown_vrid"] == 5
      {
        break
      }
      try await Task.sleep(for: .milliseconds(100))
    }
    let instance = try XCTUnwrap(report?.vrrpInstances.first)
    XCTAssertEqual(instance.name, "VI_DROP")
    XCTAssertEqual(instance.droppedPackets?.filter { expected[$0.key] != nil }, expected, "\(instance)")
    XCTAssertEqual(report?.vrrpUnmatchedDrops?["unknown_vrid"], 5)
    let rendered = StatusRenderer.render(try XCTUnwrap(report))
    XCTAssertTrue(rendered.contains("    dropped 40 auth_mismatch, "), rendered)
    XCTAssertTrue(rendered.contains("dropped, no instance matched: 5 unknown_vrid"), rendered)

    let metrics = try httpGetInNamespace(port: 9651, path: "/metrics")
    XCTAssertTrue(
      metrics.contains(
        "lvskeeper_vrrp_dropped_packets_total{vrrp_instance=\"VI_DROP\",reason=\"auth_mismatch\"} 40"),
      metrics)
    XCTAssertTrue(
      metrics.contains(
        "lvskeeper_vrrp_dropped_packets_total{vrrp_instance=\"VI_DROP\",reason=\"ttl_not_255\"} 3"),
      metrics)
    XCTAssertTrue(
      metrics.contains("lvskeeper_vrrp_dropped_packets_total{vrrp_instance=\"-\",reason=\"unknown_vrid\"} 5"),
      metrics)
    // A later scrape adds only what is new.
    try sendAdverts(vrid: 77, authType: 1, ttl: 255, count: 2)
    var again = ""
    while ContinuousClock.now < deadline + .seconds(10) {
      again = try httpGetInNamespace(port: 9651, path: "/metrics")
      if again.contains("reason=\"auth_mismatch\"} 42") { break }
      try await Task.sleep(for: .milliseconds(100))
    }
    XCTAssertTrue(again.contains("{vrrp_instance=\"VI_DROP\",reason=\"auth_mismatch\"} 42"), again)

    // 42 auth drops: one full warning; the other 41 only in summaries (one per 10 s window; one
    // summary unless the machine was so slow that the last two came in a later window).
    let summaryDeadline = ContinuousClock.now + .seconds(40)
    var summarised = 0
    while summarised < 41 && ContinuousClock.now < summaryDeadline {
      try await Task.sleep(for: .milliseconds(200))
      summarised = Self.summarisedAuthDrops(daemon.log)
    }
    XCTAssertEqual(summarised, 41, daemon.log)
    let full = daemon.log.split(separator: "\n").filter { $0.contains("dropped: auth_mismatch") }
    XCTAssertEqual(full.count, 1, daemon.log)
  }

  /// The drops counted by `VRRP: N more packet(s) dropped (auth_mismatch) in the last 10.0 seconds`.
  static func summarisedAuthDrops(_ log: String) -> Int {
    let pattern = /VRRP: (\d+) more packet\(s\) dropped \(auth_mismatch\) in the last 10\.0 seconds/
    return log.matches(of: pattern).compactMap { Int($0.output.1) }.reduce(0, +)
  }

  /// VRRPv2 adverts for `vrid` (one address, 192.0.2.77) from 127.0.0.2 to 127.0.0.1, inside the
  /// daemon's namespace.
  private func sendAdverts(vrid: UInt8, authType: UInt8, ttl: Int32, count: Int) throws {
    var packet: [UInt8] =
      [0x21, vrid, 100, 1, authType, 1, 0, 0, 192, 0, 2, 77] + [UInt8](repeating: 0, count: 8)
    let checksum = Self.checksum(packet)
    packet[6] = UInt8(checksum >> 8)
    packet[7] = UInt8(checksum & 0xff)
    let fd = try socketInNamespace(AF_INET, Int32(SOCK_RAW.rawValue), 112)
    defer { close(fd) }
    var ttlValue = ttl
    setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &ttlValue, socklen_t(MemoryLayout<Int32>.size))
    var source = TestSockets.loopback(port: 0)
    source.sin_addr.s_addr = UInt32(0x7f00_0002).bigEndian
    let bound = withUnsafePointer(to: &source) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0 else { throw TestSockets.SocketError("bind 127.0.0.2") }
    var destination = TestSockets.loopback(port: 0)
    for _ in 0..<count {
      let sent = withUnsafePointer(to: &destination) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          sendto(fd, packet, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      guard sent == packet.count else { throw TestSockets.SocketError("sendto") }
    }
  }

  private func httpGetInNamespace(port: Int, path: String) throws -> String {
    let fd = try socketInNamespace(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = TestSockets.loopback(port: port)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else { throw TestSockets.SocketError("connect 127.0.0.1:\(port) in \(namespace)") }
    try TestSockets.writeAll(fd, Array("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
    return String(decoding: try TestSockets.readToEnd(fd), as: UTF8.self)
  }

  /// A socket created in the daemon's namespace: a thread of its own enters the namespace
  /// (setns changes only the calling thread), creates the socket and ends; the socket stays there.
  private func socketInNamespace(_ domain: Int32, _ type: Int32, _ proto: Int32) throws -> Int32 {
    let path = "/var/run/netns/\(namespace)"
    let result = NamespaceSocket()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      defer { done.signal() }
      let namespaceFD = open(path, O_RDONLY | O_CLOEXEC)
      guard namespaceFD >= 0 else { return }
      defer { close(namespaceFD) }
      guard Self.enterNetworkNamespace(namespaceFD) else { return }
      result.fd = socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), proto)
    }
    thread.start()
    done.wait()
    guard result.fd >= 0 else { throw TestSockets.SocketError("socket in \(namespace)") }
    return result.fd
  }

  /// setns(2) for CLONE_NEWNET; Glibc's Swift module leaves setns out (it needs _GNU_SOURCE).
  private static func enterNetworkNamespace(_ fd: Int32) -> Bool {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return false }
    let cloneNewNet: Int32 = 0x4000_0000
    return unsafeBitCast(symbol, to: SetNS.self)(fd, cloneNewNet) == 0
  }

  private final class NamespaceSocket: @unchecked Sendable {  // written before `done` is signalled
    var fd: Int32 = -1
  }

  static func checksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    for index in stride(from: 0, to: bytes.count, by: 2) {
      sum += UInt32(bytes[index]) << 8 | UInt32(index + 1 < bytes.count ? bytes[index + 1] : 0)
    }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
  }
}
