import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// `static_ipaddress`, `static_routes`, `static_rules`, `virtual_routes` and `virtual_rules` on a
/// real daemon in a network namespace, with keepalived (Debian's) as the VRRP peer in a second
/// namespace running the same blocks: what lvskeeper installs is read back with `ip route` and
/// `ip rule` and compared, line for line, with what keepalived installs as Master.
final class VRRPRoutingTests: XCTestCase {
  private var scratch = ""
  private var ours = ""
  private var peer = ""
  private var daemon: DaemonProcess?
  private var keepalived: Process?
  static let keepalivedPath = "/usr/sbin/keepalived"

  override func setUpWithError() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root (network namespaces, raw sockets)") }
    for tool in ["/usr/sbin/ip", Self.keepalivedPath]
    where !FileManager.default.isExecutableFile(atPath: tool) {
      XCTFail("\(tool) missing: run scripts/setup-deps (Debian packages iproute2, keepalived)")
      throw CancellationError()
    }
    scratch = "/tmp/lvsk-rt-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    ours = "lvsk-rt-a-\(getpid())"
    peer = "lvsk-rt-b-\(getpid())"
    for ns in [ours, peer] {
      _ = try? shell("/usr/sbin/ip netns del \(ns) 2>/dev/null")
      try shell("/usr/sbin/ip netns add \(ns) && /usr/sbin/ip -n \(ns) link set lo up")
    }
    try shell("/usr/sbin/ip link add veth0 netns \(ours) type veth peer name veth0 netns \(peer)")
    for (ns, host) in [(ours, 1), (peer, 2)] {
      try shell(
        "/usr/sbin/ip -n \(ns) addr add 10.79.0.\(host)/24 dev veth0 && /usr/sbin/ip -n \(ns) link set veth0 up"
      )
    }
  }

  override func tearDown() {
    daemon?.cleanUp()
    if let keepalived, keepalived.isRunning {
      kill(keepalived.processIdentifier, SIGKILL)
      keepalived.waitUntilExit()
    }
    for ns in [ours, peer] where !ns.isEmpty {
      _ = try? shell("/usr/sbin/ip netns pids \(ns) | xargs -r kill -9; /usr/sbin/ip netns del \(ns)")
    }
    try? FileManager.default.removeItem(atPath: scratch)
  }

  /// The same blocks for both peers; `extraStatic` lets a reload change the static routes.
  static func config(
    name: String, state: String, priority: Int, extraStatic: String = "blackhole 10.79.11.0/24 table 100"
  ) -> String {
    """
    global_defs {
        router_id \(name)
    }
    static_ipaddress {
        10.79.9.1/32 dev veth0 scope link
    }
    static_routes {
        10.79.10.0/24 via 10.79.0.3 dev veth0
        \(extraStatic)
    }
    static_rules {
        from 10.79.12.0/24 table 100 priority 1000
    }
    vrrp_instance VI_RT {
        state \(state)
        interface veth0
        virtual_router_id 79
        priority \(priority)
        advert_int 1
        virtual_ipaddress {
            10.79.0.100/24
        }
        virtual_routes {
            src 10.79.0.100 10.79.20.0/24 via 10.79.0.3 dev veth0
            10.79.21.0/24 dev veth0 scope link table 101 metric 7
            10.79.22.0/24 via 10.79.0.3 or 10.79.0.4
            unreachable 10.79.23.0/24 table 101
            10.79.26.0/24 via 192.0.2.1 dev veth0
            10.79.27.0/24 nexthop via 10.79.0.3 dev veth0 weight 2 nexthop via 10.79.0.5
        }
        virtual_rules {
            to 10.79.24.0/24 table 101 priority 1001
            fwmark 0x5/0xff table 101 priority 1002
            from 10.79.25.0/24 iif veth0 prohibit priority 1003
        }
    }

    """
  }

  /// Routes tagged keepalived's protocol in every table, and every rule, as `ip` prints them.
  func routing(_ ns: String) -> String {
    let routes = (try? shell("/usr/sbin/ip -n \(ns) route show table all proto 18")) ?? "?"
    let rules = (try? shell("/usr/sbin/ip -n \(ns) rule show")) ?? "?"
    return routes + "--\n" + rules
  }

  func holdsVIP(_ ns: String, _ address: String = "10.79.0.100") -> Bool {
    ((try? shell("/usr/sbin/ip -n \(ns) -o addr show dev veth0")) ?? "").contains(" \(address)/")
  }

  /// Polls every 50 ms until `condition` holds or `seconds` pass.
  func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(50_000)
    }
    return condition()
  }

  func testRoutesAndRulesFollowMasterStaticOnesStayUntilStopAndMatchKeepalived() throws {
    let configPath = scratch + "/ours.conf"
    try Self.config(name: "ours", state: "MASTER", priority: 100)
      .write(toFile: configPath, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "ours", arguments: ["--dry-run", "--config", configPath], namespace: ours)
    self.daemon = daemon
    try daemon.waitReady()

    // Static entries are there from the start; virtual ones once the instance is Master.
    XCTAssertTrue(holdsVIP(ours, "10.79.9.1"), "static_ipaddress")
    XCTAssertTrue(eventually(10) { holdsVIP(ours) }, "lvskeeper never became Master:\n\(daemon.log)")
    XCTAssertTrue(eventually(5) { routing(ours).contains("10.79.24.0/24") }, routing(ours))
    let ourMaster = routing(ours)
    for expected in [
      "10.79.10.0/24 via 10.79.0.3 dev veth0", "blackhole 10.79.11.0/24 table 100",
      "10.79.20.0/24 via 10.79.0.3 dev veth0 src 10.79.0.100", "10.79.21.0/24 dev veth0 table 101",
      "metric 7", "10.79.22.0/24", "nexthop via 10.79.0.3 dev veth0", "nexthop via 10.79.0.4 dev veth0",
      "10.79.27.0/24", "nexthop via 10.79.0.3 dev veth0 weight 2", "nexthop via 10.79.0.5 dev veth0 weight 1",
      "unreachable 10.79.23.0/24 table 101",
      "1000:\tfrom 10.79.12.0/24 lookup 100", "1001:\tfrom all to 10.79.24.0/24 lookup 101",
      "1002:\tfrom all fwmark 0x5/0xff lookup 101", "1003:\tfrom 10.79.25.0/24 iif veth0 prohibit",
    ] {
      XCTAssertTrue(ourMaster.contains(expected), "missing '\(expected)' in:\n\(ourMaster)")
    }
    // The route the kernel refuses is named in the log; the others went in all the same.
    XCTAssertFalse(ourMaster.contains("10.79.26.0/24"))
    XCTAssertTrue(
      daemon.log.contains("cannot add route 10.79.26.0/24 via 192.0.2.1 dev veth0"), daemon.log)

    // keepalived with a higher priority takes over: our virtual routes and rules go, static stay.
    let peerConfig = scratch + "/peer.conf"
    try Self.config(name: "peer", state: "BACKUP", priority: 200)
      .write(toFile: peerConfig, atomically: true, encoding: .utf8)
    let keepalived = Process()
    keepalived.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    keepalived.arguments = [
      "netns", "exec", peer, Self.keepalivedPath, "-n", "-l", "-D", "--vrrp", "-f", peerConfig, "-p",
      scratch + "/k.pid", "-r", scratch + "/k.vrrp.pid",
    ]
    let keepalivedLog = scratch + "/keepalived.log"
    _ = FileManager.default.createFile(atPath: keepalivedLog, contents: nil)
    keepalived.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: keepalivedLog))
    keepalived.standardError = keepalived.standardOutput
    try keepalived.run()
    self.keepalived = keepalived
    let keepalivedText = { (try? String(contentsOfFile: keepalivedLog, encoding: .utf8)) ?? "" }
    XCTAssertTrue(
      eventually(15) { holdsVIP(peer) && !holdsVIP(ours) }, "no takeover:\n\(keepalivedText())\n\(daemon.log)"
    )
    XCTAssertTrue(eventually(5) { !routing(ours).contains("10.79.24.0/24") }, routing(ours))
    let ourBackup = routing(ours)
    for gone in [
      "10.79.20.0/24", "10.79.21.0/24", "10.79.22.0/24", "10.79.23.0/24", "10.79.27.0/24", "1001:", "1002:",
      "1003:",
    ] {
      XCTAssertFalse(ourBackup.contains(gone), "'\(gone)' left on Backup:\n\(ourBackup)")
    }
    for kept in ["10.79.10.0/24 via 10.79.0.3", "blackhole 10.79.11.0/24 table 100", "1000:"] {
      XCTAssertTrue(ourBackup.contains(kept), "static '\(kept)' gone on Backup:\n\(ourBackup)")
    }
    XCTAssertTrue(holdsVIP(ours, "10.79.9.1"), "static_ipaddress gone on Backup")
    // keepalived installed the same blocks: the kernel's view is the same, line for line.
    XCTAssertTrue(
      eventually(5) { routing(peer) == ourMaster }, "keepalived:\n\(routing(peer))\nlvskeeper:\n\(ourMaster)")

    // A reload swaps one static route: the dropped one goes, the new one comes, the rest stays.
    try Self.config(
      name: "ours", state: "MASTER", priority: 100, extraStatic: "10.79.13.0/24 via 10.79.0.3 dev veth0"
    ).write(toFile: configPath, atomically: true, encoding: .utf8)
    daemon.send(SIGHUP)
    XCTAssertNotNil(daemon.notification("RELOADING=1"))
    XCTAssertNotNil(daemon.notification("READY=1"))
    let reloaded = routing(ours)
    XCTAssertTrue(reloaded.contains("10.79.13.0/24 via 10.79.0.3 dev veth0"), reloaded)
    XCTAssertFalse(reloaded.contains("10.79.11.0/24"), reloaded)
    XCTAssertTrue(reloaded.contains("10.79.10.0/24 via 10.79.0.3 dev veth0"), reloaded)

    // keepalived stops (priority 0 advert): lvskeeper is Master again, with its virtual routes.
    kill(keepalived.processIdentifier, SIGTERM)
    keepalived.waitUntilExit()
    XCTAssertTrue(eventually(10) { holdsVIP(ours) }, daemon.log)
    XCTAssertTrue(eventually(5) { routing(ours).contains("1003:") }, routing(ours))
    XCTAssertTrue(routing(ours).contains("unreachable 10.79.23.0/24 table 101"), routing(ours))
    // keepalived removed its own static and virtual entries at stop.
    XCTAssertFalse(routing(peer).contains("10.79."), routing(peer))

    // lvskeeper stops: everything it installed is gone, static entries included.
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0, daemon.log)
    let after = routing(ours)
    XCTAssertFalse(after.contains("10.79."), "left after stop:\n\(after)")
    XCTAssertFalse(holdsVIP(ours, "10.79.9.1"), "static_ipaddress left after stop")
    XCTAssertFalse(holdsVIP(ours), "VIP left after stop")
  }
}
