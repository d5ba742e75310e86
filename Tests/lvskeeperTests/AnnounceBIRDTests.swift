import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// `announce` end to end against real BIRD 2 (Debian's bird2), no IPVS needed (--dry-run):
///
///   ns D (director): lvskeeper --dry-run, BIRD "director" (learns table 100 from the kernel, exports
///                    it over BGP), two real servers (python3 http.server on 127.0.0.1) with TCP_CHECK
///   ns R (router):   BIRD "router", BGP peer of D
///
/// - a VRRP instance in the same configuration becomes MASTER with its own VIP on the veth;
/// - the VIP appears in D's BIRD (learned from the kernel) and in R's (received over BGP);
/// - one real server stopped: still announced (at least one up, the default); both stopped: withdrawn
///   at R, `status` says "quorum_lost 0 of 2"; one back: announced again;
/// - SIGTERM: R loses the route while lvskeeper still runs (announce_withdraw_delay), then the tun
///   device goes with the process;
/// - SIGKILL: nothing withdraws on purpose, yet the kernel deletes the non-persistent tun with its
///   addresses and routes, and R loses the route.
final class AnnounceBIRDTests: XCTestCase {
  static let bird = "/usr/sbin/bird"
  static let birdc = "/usr/sbin/birdc"
  static let vip = "192.0.2.80"
  private var scratch = ""
  private var nsD = ""
  private var nsR = ""
  private var tun = ""
  private var daemon: DaemonProcess?
  private var servers: [Int: Process] = [:]
  private var birds: [Process] = []

  override func setUpWithError() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root (network namespaces, tun)") }
    for tool in [Self.bird, Self.birdc, "/usr/bin/python3", "/usr/sbin/ip"]
    where !FileManager.default.isExecutableFile(atPath: tool) {
      XCTFail("\(tool) missing: run scripts/setup-deps (Debian packages bird2, python3, iproute2)")
      throw CancellationError()
    }
    scratch = "/tmp/lvsk-ann-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    nsD = "lvsk-annd-\(getpid())"
    nsR = "lvsk-annr-\(getpid())"
    tun = "lvska\(getpid() % 100_000)"
    for ns in [nsD, nsR] {
      _ = try? shell("/usr/sbin/ip netns del \(ns) 2>/dev/null")
      try shell("/usr/sbin/ip netns add \(ns)")
      try shell("/usr/sbin/ip -n \(ns) link set lo up")
    }
    try shell("/usr/sbin/ip link add vd netns \(nsD) type veth peer name vr netns \(nsR)")
    try shell("/usr/sbin/ip -n \(nsD) addr add 10.81.0.1/24 dev vd")
    try shell("/usr/sbin/ip -n \(nsR) addr add 10.81.0.2/24 dev vr")
    try shell("/usr/sbin/ip -n \(nsD) link set vd up")
    try shell("/usr/sbin/ip -n \(nsR) link set vr up")
    try startBIRD(nsD, "director", Self.directorBIRD)
    try startBIRD(nsR, "router", Self.routerBIRD)
  }

  override func tearDown() {
    daemon?.cleanUp()
    for server in servers.values where server.isRunning { kill(server.processIdentifier, SIGKILL) }
    for bird in birds where bird.isRunning { kill(bird.processIdentifier, SIGKILL) }
    for ns in [nsD, nsR] where !ns.isEmpty {
      _ = try? shell("/usr/sbin/ip netns pids \(ns) | xargs -r kill -9; /usr/sbin/ip netns del \(ns)")
    }
    try? FileManager.default.removeItem(atPath: scratch)
  }

  /// The director's BIRD: the example of etc/bird-director.conf, reduced to one peer.
  static let directorBIRD = """
    router id 10.81.0.1;
    ipv4 table lvsk4;
    protocol device { scan time 60; }
    protocol kernel lvsk_learn {
      ipv4 { table lvsk4; import all; export none; };
      kernel table 100;
      learn;
      scan time 60;
    }
    protocol bgp upstream {
      local 10.81.0.1 as 65001;
      neighbor 10.81.0.2 as 65000;
      ipv4 { table lvsk4; import none; export all; };
    }

    """

  static let routerBIRD = """
    router id 10.81.0.2;
    protocol device { scan time 60; }
    protocol bgp director {
      local 10.81.0.2 as 65000;
      neighbor 10.81.0.1 as 65001;
      ipv4 { import all; export none; };
    }

    """

  func config(withdrawDelay: Double, table: Int = 100) -> String {
    """
    global_defs {
      router_id annd
      announce_interface \(tun)
      announce_table \(table)
      announce_withdraw_delay \(withdrawDelay)
    }
    vrrp_instance VI_COEXIST {
      state MASTER
      interface vd
      virtual_router_id 81
      priority 150
      advert_int 1
      virtual_ipaddress {
        10.81.0.100/24
      }
    }
    virtual_server \(Self.vip) 80 {
      lb_algo mh
      lb_kind DR
      protocol TCP
      announce
      real_server 127.0.0.1 18081 {
        TCP_CHECK {
          connect_timeout 1
          delay_loop 1
        }
      }
      real_server 127.0.0.1 18082 {
        TCP_CHECK {
          connect_timeout 1
          delay_loop 1
        }
      }
    }

    """
  }

  /// BIRD in the foreground (`-f`), a child the test owns and kills (a daemonizing BIRD would be
  /// reparented and could only be found again through its pid file).
  private func startBIRD(_ ns: String, _ name: String, _ text: String) throws {
    let path = "\(scratch)/\(name).conf"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = ["netns", "exec", ns, Self.bird, "-f", "-c", path, "-s", "\(scratch)/\(name).ctl"]
    let log = "\(scratch)/\(name).log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    birds.append(process)
  }

  private func startServer(_ port: Int) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = [
      "netns", "exec", nsD, "/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", String(port),
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    servers[port] = process
  }

  private func stopServer(_ port: Int) {
    guard let process = servers.removeValue(forKey: port) else { return }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  /// `birdc show route` of one BIRD, all tables.
  private func routes(_ name: String) -> String {
    (try? shell("\(Self.birdc) -s \(scratch)/\(name).ctl show route all table all")) ?? ""
  }

  private func routerHasVIP() -> Bool { routes("router").contains("\(Self.vip)/32") }

  private func interfaceExists() -> Bool {
    (try? shell("/usr/sbin/ip -n \(nsD) link show \(tun)")) != nil
  }

  /// Polls `condition` every 50 ms for up to `seconds`.
  private func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(50_000)
    }
    return condition()
  }

  /// The lines of D's metrics endpoint that start with `prefix` (fetched inside D by python3).
  private func metrics(_ prefix: String) -> [String] {
    let fetch =
      "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9661/metrics').read().decode())"
    let text = (try? shell("/usr/sbin/ip netns exec \(nsD) /usr/bin/python3 -c \"\(fetch)\"")) ?? ""
    return text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
  }

  private func announcement(_ daemon: DaemonProcess) -> AnnouncementStatus? {
    (try? daemon.request(.status))?.status?.announcements?.first
  }

  private func startDaemon(_ name: String, withdrawDelay: Double) throws -> DaemonProcess {
    let path = "\(scratch)/\(name).conf"
    try config(withdrawDelay: withdrawDelay).write(toFile: path, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: name,
      arguments: ["--dry-run", "--config", path, "--metrics-listen", "127.0.0.1:9661"], namespace: nsD)
    self.daemon = daemon
    try daemon.waitReady()
    return daemon
  }

  func testVIPFollowsQuorumAndLeavesWithTheDaemon() throws {
    try startServer(18081)
    try startServer(18082)
    let daemon = try startDaemon("first", withdrawDelay: 5)
    XCTAssertTrue(interfaceExists(), "no \(tun) in \(nsD):\n\(daemon.log)")
    let addresses = try shell("/usr/sbin/ip -n \(nsD) addr show dev \(tun)")
    XCTAssertTrue(addresses.contains("inet \(Self.vip)/32"), addresses)

    // Announced: in the kernel's table 100, learned by the director's BIRD, received by the router.
    XCTAssertTrue(
      eventually(20) { routerHasVIP() }, "router never got the VIP:\n\(routes("router"))\n\(daemon.log)")
    let kernelRoute = try shell("/usr/sbin/ip -n \(nsD) route show table 100 proto 250")
    XCTAssertTrue(kernelRoute.contains("\(Self.vip) dev \(tun)"), kernelRoute)
    XCTAssertTrue(routes("director").contains("lvsk_learn"), routes("director"))
    XCTAssertTrue(routes("router").contains("via 10.81.0.1"), routes("router"))
    XCTAssertEqual(announcement(daemon)?.state, "announced")
    XCTAssertTrue(daemon.log.contains("announce: \(Self.vip) ANNOUNCED"), daemon.log)
    let gauge = "lvskeeper_announce_state{vip=\"\(Self.vip)\"}"
    XCTAssertTrue(metrics(gauge).first?.hasPrefix(gauge + " 1") ?? false, "\(metrics("lvskeeper_announce"))")

    // VRRP and announcement in one configuration: the instance owns its VIP on vd, the announced
    // VIP stays on the tun.
    XCTAssertTrue(
      eventually(20) { (try? daemon.request(.status))?.status?.vrrpInstances.first?.state == "MASTER" },
      daemon.log)
    XCTAssertTrue(
      eventually(10) {
        (try? shell("/usr/sbin/ip -n \(nsD) addr show dev vd"))?.contains("10.81.0.100/24") == true
      })
    XCTAssertFalse(try shell("/usr/sbin/ip -n \(nsD) addr show dev vd").contains(Self.vip))

    // One real server down: one of two is still enough (the default watermark).
    stopServer(18081)
    XCTAssertTrue(
      eventually(20) { announcement(daemon)?.reason.contains("1 of 2") == true },
      "\(String(describing: announcement(daemon)))")
    XCTAssertEqual(announcement(daemon)?.state, "announced")
    XCTAssertTrue(routerHasVIP())

    // Both down: withdrawn, and the router loses it.
    stopServer(18082)
    XCTAssertTrue(
      eventually(20) { !routerHasVIP() }, "router kept the VIP:\n\(routes("router"))\n\(daemon.log)")
    let withdrawn = announcement(daemon)
    XCTAssertEqual(withdrawn?.state, "withdrawn")
    XCTAssertEqual(withdrawn?.reasonCode, "quorum_lost")
    XCTAssertTrue(
      withdrawn?.reason.contains("0 of 2 real servers up") == true, "\(String(describing: withdrawn))")
    XCTAssertTrue(daemon.log.contains("announce: \(Self.vip) WITHDRAWN (quorum lost"), daemon.log)
    XCTAssertTrue(metrics(gauge).first?.hasPrefix(gauge + " 0") ?? false, "\(metrics("lvskeeper_announce"))")
    XCTAssertFalse(
      metrics("lvskeeper_announce_transitions_total").filter { $0.contains("state=\"withdrawn\"") }.isEmpty,
      "\(metrics("lvskeeper_announce"))")
    XCTAssertTrue(interfaceExists(), "the VIP address stays for local delivery while withdrawn")

    // One back: announced again.
    try startServer(18082)
    XCTAssertTrue(eventually(20) { routerHasVIP() }, "not announced again:\n\(daemon.log)")

    // The operator drains the only server up (`lvskeeper server ... drain`): withdrawn as if it
    // had failed, though its checker still passes; `ready`: announced again.
    func server(_ action: String) throws -> ControlResponse {
      try ControlClient(path: daemon.socket, timeoutSeconds: 10).send(
        ControlRequest(
          command: .server, service: "TCP \(Self.vip):80", server: "127.0.0.1:18082", action: action))
    }
    XCTAssertEqual(try server("drain").ok, true, daemon.log)
    XCTAssertTrue(
      eventually(20) { !routerHasVIP() }, "router kept the VIP of a drained service:\n\(daemon.log)")
    XCTAssertEqual(announcement(daemon)?.reasonCode, "quorum_lost")
    XCTAssertEqual(try server("ready").ok, true, daemon.log)
    XCTAssertTrue(eventually(20) { routerHasVIP() }, "not announced again after ready:\n\(daemon.log)")

    // A reload of the same configuration keeps the route: no withdraw, no new announcement.
    let before = daemon.log.utf8.count
    daemon.send(SIGHUP)
    XCTAssertNotNil(daemon.notification("RELOADING=1"), daemon.log)
    XCTAssertNotNil(daemon.notification("READY=1"), daemon.log)
    let sinceReload = String(decoding: daemon.log.utf8.dropFirst(before), as: UTF8.self)
    XCTAssertTrue(sinceReload.contains("reload: applied"), sinceReload)
    XCTAssertFalse(
      sinceReload.contains("announce: \(Self.vip)"), "the reload flapped the VIP:\n\(sinceReload)")
    XCTAssertTrue(routerHasVIP())
    XCTAssertEqual(announcement(daemon)?.state, "announced")

    // announce_table 101 by reload: the route moves out of the table BIRD learns (the router
    // loses the VIP, the kernel holds it in 101); back to 100: announced again.
    let path = "\(scratch)/first.conf"
    try config(withdrawDelay: 5, table: 101).write(toFile: path, atomically: true, encoding: .utf8)
    daemon.send(SIGHUP)
    XCTAssertTrue(
      eventually(20) { !routerHasVIP() }, "router kept the VIP after the table moved:\n\(daemon.log)")
    XCTAssertTrue(
      eventually(10) {
        (try? shell("/usr/sbin/ip -n \(nsD) route show table 101 proto 250"))?.contains(Self.vip) == true
      })
    XCTAssertEqual(try shell("/usr/sbin/ip -n \(nsD) route show table 100 proto 250"), "")
    try config(withdrawDelay: 5).write(toFile: path, atomically: true, encoding: .utf8)
    daemon.send(SIGHUP)
    XCTAssertTrue(eventually(20) { routerHasVIP() }, "not announced again in table 100:\n\(daemon.log)")

    // SIGTERM: withdrawn first, while lvskeeper still runs (and the tun still holds the VIP).
    daemon.send(SIGTERM)
    XCTAssertTrue(eventually(20) { !routerHasVIP() }, "router kept the VIP after SIGTERM")
    XCTAssertTrue(daemon.process.isRunning, "lvskeeper exited before the withdraw delay:\n\(daemon.log)")
    XCTAssertTrue(interfaceExists(), "tun gone before the withdraw delay ended")
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(30)), 0, daemon.log)
    XCTAssertFalse(interfaceExists(), "tun survived the daemon")
    XCTAssertTrue(daemon.log.contains("WITHDRAWN (shutting down)"), daemon.log)

    // SIGKILL: nobody withdraws, the kernel does (the tun is not persistent).
    let second = try startDaemon("second", withdrawDelay: 5)
    XCTAssertTrue(eventually(20) { routerHasVIP() }, "second daemon never announced:\n\(second.log)")
    second.send(SIGKILL)
    XCTAssertNotNil(second.waitExit(timeout: .seconds(10)))
    XCTAssertTrue(
      eventually(20) { !routerHasVIP() }, "router kept the VIP of a killed daemon:\n\(routes("router"))")
    XCTAssertFalse(interfaceExists(), "tun survived kill -9")
  }

  /// The shipped example (etc/bird-director.conf) is a configuration BIRD itself accepts.
  func testShippedBIRDExampleParses() throws {
    let path = ShippedConfigs.directory + "/bird-director.conf"
    let output = try shell("\(Self.bird) -p -c \(path)")
    XCTAssertFalse(output.lowercased().contains("error"), output)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    XCTAssertTrue(text.contains("kernel table 100;"), "the example must learn the default announce_table")
    XCTAssertTrue(text.contains("protocol device"), "the example needs interface events (kill -9 withdraws)")
  }
}
