import Foundation
import Glibc
import Synchronization
import XCTest

@testable import HealthCheck

/// Two network namespaces joined by a veth, for PING_CHECK, UDP_CHECK and DNS_CHECK against real
/// peers: the client (`lvdg<pid>c`, 10.78.0.1 and fd00:78::1) runs a test's own
/// `DatagramCheckEngine`, the server (`lvdg<pid>s`, 10.78.0.2 and fd00:78::2) runs the peers. In the
/// client, 10.78.9.9 and fd00:78:9::9 are behind blackhole routes, and ping sockets are open to
/// every group (net.ipv4.ping_group_range is per namespace). Everything the lab starts runs in
/// its namespaces and is killed, and the namespaces deleted, by `tearDown()`.
final class DatagramLab {
  let client: String
  let server: String
  static let serverV4 = "10.78.0.2"
  static let serverV6 = "fd00:78::2"

  init() throws {
    guard geteuid() == 0 else { throw XCTSkipFailure("namespace tests need root") }
    try requireTool("/usr/sbin/ip", package: "iproute2")
    let tag = "lvdg\(getpid())"
    client = "\(tag)c"
    server = "\(tag)s"
    tearDown()
    try sh("ip netns add \(client) && ip netns add \(server)")
    try sh("ip link add veth0 netns \(client) type veth peer name veth0 netns \(server)")
    for (ns, n) in [(client, 1), (server, 2)] {
      try sh("ip -n \(ns) link set lo up")
      try sh("ip -n \(ns) addr add 10.78.0.\(n)/24 dev veth0")
      try sh("ip -n \(ns) addr add fd00:78::\(n)/64 dev veth0 nodad")
      try sh("ip -n \(ns) link set veth0 up")
    }
    // Packets sent before the kernel's link watch activates the veth's queue are dropped: wait
    // until both ends report the link up.
    try sh(
      "for i in $(seq 200); do ip -n \(client) link show veth0 | grep -q 'state UP' && ip -n \(server) link show veth0 | grep -q 'state UP' && exit 0; sleep 0.01; done; exit 1"
    )
    try sh("ip -n \(client) route add blackhole 10.78.9.9/32")
    try sh("ip -n \(client) -6 route add blackhole fd00:78:9::9/128")
    try sh("ip netns exec \(client) sysctl -qw net.ipv4.ping_group_range='0 2147483647'")
    // The kernel rate-limits ICMP errors per peer; the closed-port cases need each answered.
    try sh("ip netns exec \(server) sysctl -qw net.ipv4.icmp_ratelimit=0")
    try sh("ip netns exec \(server) sysctl -qw net.ipv6.icmp.ratelimit=0")
  }

  func tearDown() {
    for ns in [client, server] {
      _ = try? sh("ip netns pids \(ns) 2>/dev/null | xargs -r kill -9; ip netns del \(ns) 2>/dev/null; true")
    }
  }

  /// A new engine whose thread (and so every socket it opens) lives in the client namespace.
  func engine(_ mode: ICMPSocketMode) throws -> DatagramCheckEngine {
    let result = Mutex<Result<DatagramCheckEngine, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    let namespace = client
    let thread = Thread {
      defer { done.signal() }
      let fd = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
      guard fd >= 0, Self.setns(fd, 0x4000_0000) == 0 else {
        result.withLock { $0 = .failure(XCTSkipFailure("setns \(namespace) failed")) }
        return
      }
      close(fd)
      // The engine's thread is created from this one and inherits its namespace.
      let started = DatagramCheckEngine.start(mode: mode).mapError { $0 as any Error }
      result.withLock { $0 = started }
    }
    thread.start()
    done.wait()
    guard let outcome = result.withLock({ $0 }) else { throw XCTSkipFailure("engine thread did not run") }
    return try outcome.get()
  }

  /// setns(2); Glibc's Swift module leaves it out (it needs _GNU_SOURCE).
  static func setns(_ fd: Int32, _ type: Int32) -> Int32 {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else { return -1 }
    return unsafeBitCast(symbol, to: SetNS.self)(fd, type)
  }

  /// Starts `argv` in the server namespace and returns once it printed its first line (ready).
  @discardableResult
  func startServer(_ argv: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = ["netns", "exec", server] + argv
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    var line = Data()
    while !line.contains(0x0a) {
      let chunk = out.fileHandleForReading.availableData
      guard !chunk.isEmpty else { throw XCTSkipFailure("\(argv[0]) exited before it was ready") }
      line.append(chunk)
    }
    return process
  }

  /// A UDP peer in the server namespace on `port` (IPv4 and IPv6): answers every datagram with
  /// 01 02 'O' 'K' followed by the datagram, except on `port + 1`, where it reads and never answers.
  func startUDPResponder(port: Int) throws {
    let script = """
      import socket, sys, select
      socks = []
      for fam, addr in ((socket.AF_INET, "\(Self.serverV4)"), (socket.AF_INET6, "\(Self.serverV6)")):
          for p in (\(port), \(port + 1)):
              s = socket.socket(fam, socket.SOCK_DGRAM)
              s.bind((addr, p))
              socks.append((s, p))
      print("ready", flush=True)
      while True:
          r, _, _ = select.select([s for s, _ in socks], [], [])
          for s, p in socks:
              if s in r:
                  data, peer = s.recvfrom(65535)
                  if p == \(port):
                      s.sendto(b"\\x01\\x02OK" + data, peer)
      """
    try startServer(["python3", "-c", script])
  }

  /// dnsmasq in the server namespace on port 53 of both addresses: `lvsk.test` is local (unknown
  /// names are NXDOMAIN), up.lvsk.test has an A and a TXT record and is lvsk.test's MX.
  func startDnsmasq() throws {
    try requireTool("/usr/sbin/dnsmasq", package: "dnsmasq-base")
    try startServer([
      "sh", "-c",
      "dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces"
        + " --listen-address=\(Self.serverV4) --listen-address=\(Self.serverV6) --port=53 --user=root"
        + " --pid-file= --local=/lvsk.test/ --address=/up.lvsk.test/192.0.2.7"
        + " --txt-record=up.lvsk.test,healthy --mx-host=lvsk.test,up.lvsk.test,10"
        + " & for i in $(seq 100); do ss -Hlun 'sport = :53' | grep -q . && break; sleep 0.05; done; echo ready; wait",
    ])
  }

  @discardableResult
  func sh(_ command: String) throws -> String {
    try runTool("/bin/sh", ["-c", command])
  }
}

/// One probe of `spec` on `engine`, waited for.
func probe(_ spec: CheckerSpec, on engine: DatagramCheckEngine) throws -> ProbeOutcome {
  let job = try XCTUnwrap(DatagramCheckRunner.job(for: spec)).get()
  let result = Mutex<ProbeOutcome?>(nil)
  let done = DispatchSemaphore(value: 0)
  engine.probeOnce(job) { outcome in
    result.withLock { $0 = outcome }
    done.signal()
  }
  done.wait()
  return try XCTUnwrap(result.withLock { $0 })
}
