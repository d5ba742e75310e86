import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// `use_vmac` and `vmac_xmit_base` on a real daemon in a network namespace, with keepalived
/// (Debian's, also with `use_vmac`) as the peer in a second one, both directions: the Master's
/// adverts leave with the virtual MAC 00:00:5e:00:01:VRID (tshark on the other side), the VIP
/// sits on the macvlan and the Master answers ARP for it with the virtual MAC (tshark).
final class VRRPVirtualMACTests: XCTestCase {
  private var scratch = ""
  private var ours = ""
  private var peer = ""
  private var daemon: DaemonProcess?
  private var keepalived: Process?
  static let keepalivedPath = "/usr/sbin/keepalived"
  static let tshark = "/usr/bin/tshark"
  static let virtualMAC = "00:00:5e:00:01:50"  // VRID 80

  override func setUpWithError() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root (network namespaces, raw sockets)") }
    for tool in ["/usr/sbin/ip", Self.keepalivedPath, Self.tshark]
    where !FileManager.default.isExecutableFile(atPath: tool) {
      XCTFail("\(tool) missing: run scripts/setup-deps (Debian packages iproute2, keepalived, tshark)")
      throw CancellationError()
    }
    scratch = "/tmp/lvsk-vmac-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    ours = "lvsk-vm-a-\(getpid())"
    peer = "lvsk-vm-b-\(getpid())"
    for ns in [ours, peer] {
      _ = try? shell("/usr/sbin/ip netns del \(ns) 2>/dev/null")
      try shell("/usr/sbin/ip netns add \(ns) && /usr/sbin/ip -n \(ns) link set lo up")
    }
    try shell("/usr/sbin/ip link add veth0 netns \(ours) type veth peer name veth0 netns \(peer)")
    for (ns, host) in [(ours, 1), (peer, 2)] {
      // No duplicate-address detection: the link-local addresses (IPv6 adverts' sources) are
      // usable at once, so keepalived does not start in FAULT for lack of one.
      try shell("/usr/sbin/ip netns exec \(ns) sysctl -qw net.ipv6.conf.veth0.accept_dad=0")
      try shell(
        "/usr/sbin/ip -n \(ns) addr add 10.80.0.\(host)/24 dev veth0 && /usr/sbin/ip -n \(ns) link set veth0 up"
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

  static func config(
    name: String, state: String, priority: Int, extra: String = "", vip: String = "10.80.0.100/24"
  ) -> String {
    """
    global_defs {
        router_id \(name)
    }
    vrrp_instance VI_VM {
        state \(state)
        interface veth0
        virtual_router_id 80
        priority \(priority)
        advert_int 1
        use_vmac
        \(extra)
        virtual_ipaddress {
            \(vip)
        }
    }

    """
  }

  func startOurs(state: String, priority: Int, extra: String = "", vip: String = "10.80.0.100/24") throws
    -> DaemonProcess
  {
    let path = scratch + "/ours.conf"
    try Self.config(name: "ours", state: state, priority: priority, extra: extra, vip: vip)
      .write(toFile: path, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "ours", arguments: ["--dry-run", "--config", path], namespace: ours)
    self.daemon = daemon
    try daemon.waitReady()
    return daemon
  }

  func startKeepalived(state: String, priority: Int, vip: String = "10.80.0.100/24") throws -> Process {
    let path = scratch + "/peer.conf"
    try Self.config(name: "peer", state: state, priority: priority, vip: vip)
      .write(toFile: path, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = [
      "netns", "exec", peer, Self.keepalivedPath, "-n", "-l", "-D", "--vrrp", "-f", path, "-p",
      scratch + "/k.pid", "-r", scratch + "/k.vrrp.pid",
    ]
    let log = scratch + "/keepalived.log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardError = process.standardOutput
    try process.run()
    keepalived = process
    return process
  }

  var keepalivedLog: String {
    (try? String(contentsOfFile: scratch + "/keepalived.log", encoding: .utf8)) ?? ""
  }

  /// `ip -o link show NAME` in `ns`, empty when there is no such link.
  func link(_ ns: String, _ name: String = "vrrp.80") -> String {
    (try? shell("/usr/sbin/ip -n \(ns) -o link show \(name) 2>/dev/null")) ?? ""
  }

  func holdsVIP(_ ns: String, on device: String = "vrrp.80", _ vip: String = "10.80.0.100") -> Bool {
    ((try? shell("/usr/sbin/ip -n \(ns) -o addr show dev \(device) 2>/dev/null")) ?? "").contains(" \(vip)/")
  }

  /// The Ethernet source of the next advert from `source` that `ns` sees on veth0.
  func advertSourceMAC(seenIn ns: String, from source: String) throws -> String {
    try advertSourceMAC(seenIn: ns, filter: "ip proto 112 and src host \(source)")
  }

  func advertSourceMAC(seenIn ns: String, filter: String) throws -> String {
    try shell(
      "timeout 15 /usr/sbin/ip netns exec \(ns) \(Self.tshark) -q -l -i veth0 -c 1 "
        + "-f '\(filter)' -T fields -e eth.src 2>/dev/null"
    ).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The sender MAC of the ARP reply for the VIP that `ns` gets when it pings the VIP with an
  /// empty neighbour table. (Not the neighbour entry itself: with the base interface in the VIP's
  /// subnet, the Master's replies to the VIP leave from the base and its ARP request for the
  /// pinger then re-points the entry at the base MAC; keepalived's VMAC does exactly the same.)
  func arpReplyMAC(in ns: String) throws -> String {
    _ = try? shell("/usr/sbin/ip -n \(ns) neigh flush all")
    let capture = Process()
    capture.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    // An ARP reply (opcode 2) whose sender protocol address is 10.80.0.100 (0x0a500064).
    capture.arguments = [
      "netns", "exec", ns, Self.tshark, "-l", "-i", "veth0", "-c", "1", "-a", "duration:20", "-f",
      "arp and arp[6:2] = 2 and arp[14:4] = 0x0a500064", "-T", "fields", "-e", "arp.src.hw_mac",
    ]
    let output = Pipe()
    let messages = Pipe()
    capture.standardOutput = output
    capture.standardError = messages
    try capture.run()
    // tshark logs "Capture started" once dumpcap captures with the filter: ping only then.
    var said = Data()
    while !String(decoding: said, as: UTF8.self).contains("Capture started") {
      let chunk = messages.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      said += chunk
    }
    _ = try? shell("/usr/sbin/ip netns exec \(ns) ping -c 1 -W 2 10.80.0.100")
    let mac = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    capture.waitUntilExit()
    return mac.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(50_000)
    }
    return condition()
  }

  /// lvskeeper Master, keepalived Backup, both with `use_vmac`.
  func testOurMasterAdvertisesFromTheVirtualMACAndKeepalivedBacksUp() throws {
    let daemon = try startOurs(state: "MASTER", priority: 200)
    XCTAssertTrue(link(ours).contains("link/ether \(Self.virtualMAC)"), link(ours))
    XCTAssertTrue(eventually(10) { holdsVIP(ours) }, daemon.log)
    XCTAssertFalse(holdsVIP(ours, on: "veth0"), "the VIP belongs on the VMAC, not the base")
    XCTAssertEqual(
      try shell("/usr/sbin/ip netns exec \(ours) sysctl -n net.ipv4.conf.veth0.arp_ignore"), "1\n")
    XCTAssertEqual(
      try shell("/usr/sbin/ip netns exec \(ours) sysctl -n net.ipv4.conf.vrrp/80.arp_ignore"), "1\n")

    _ = try startKeepalived(state: "BACKUP", priority: 100)
    XCTAssertTrue(eventually(10) { keepalivedLog.contains("Entering BACKUP STATE") }, keepalivedLog)
    XCTAssertTrue(eventually(10) { !link(peer).isEmpty }, "keepalived made its own VMAC")
    XCTAssertEqual(try advertSourceMAC(seenIn: peer, from: "10.80.0.1"), Self.virtualMAC)
    XCTAssertEqual(try arpReplyMAC(in: peer), Self.virtualMAC)
    XCTAssertTrue(holdsVIP(ours))
    XCTAssertFalse(holdsVIP(peer), "keepalived took the VIP:\n\(keepalivedLog)")
    XCTAssertFalse(keepalivedLog.contains("Entering MASTER STATE"), keepalivedLog)

    // Stop: the VMAC goes and the base's ARP settings come back.
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0, daemon.log)
    XCTAssertEqual(link(ours), "")
    XCTAssertEqual(
      try shell("/usr/sbin/ip netns exec \(ours) sysctl -n net.ipv4.conf.veth0.arp_ignore"), "0\n")
    XCTAssertTrue(eventually(10) { holdsVIP(peer) }, "keepalived takes over:\n\(keepalivedLog)")
  }

  /// keepalived Master, lvskeeper Backup; then keepalived stops and lvskeeper, with
  /// `vmac_xmit_base`, takes over: adverts from the base MAC, the VIP still on the VMAC.
  func testKeepalivedMasterAdvertisesFromTheVirtualMACThenWeTakeOverWithXmitBase() throws {
    let keepalived = try startKeepalived(state: "MASTER", priority: 200)
    XCTAssertTrue(eventually(10) { holdsVIP(peer) }, keepalivedLog)
    let daemon = try startOurs(state: "BACKUP", priority: 100, extra: "vmac_xmit_base")
    XCTAssertTrue(link(ours).contains("link/ether \(Self.virtualMAC)"), link(ours))
    XCTAssertEqual(try advertSourceMAC(seenIn: ours, from: "10.80.0.2"), Self.virtualMAC)
    XCTAssertEqual(try arpReplyMAC(in: ours), Self.virtualMAC)
    XCTAssertTrue(eventually(5) { daemon.log.contains("Entering BACKUP STATE") }, daemon.log)
    XCTAssertFalse(holdsVIP(ours))

    kill(keepalived.processIdentifier, SIGTERM)
    keepalived.waitUntilExit()
    XCTAssertTrue(eventually(10) { holdsVIP(ours) }, daemon.log)
    let baseMAC = try shell("/usr/sbin/ip netns exec \(ours) cat /sys/class/net/veth0/address")
      .trimmingCharacters(in: .whitespacesAndNewlines)
    XCTAssertEqual(try advertSourceMAC(seenIn: peer, from: "10.80.0.1"), baseMAC, "vmac_xmit_base")
    XCTAssertEqual(try arpReplyMAC(in: peer), Self.virtualMAC)
  }

  /// IPv6 (VRRPv3): the virtual MAC is 00:00:5e:00:02:VRID. keepalived Master first, lvskeeper
  /// Backup; then keepalived stops and lvskeeper takes over; then keepalived comes back as Backup.
  /// Each side's adverts leave with the IPv6 virtual MAC, and each Backup hears the other's (it
  /// stays Backup while the other lives).
  func testIPv6VirtualMACBothWaysWithKeepalived() throws {
    let mac6 = "00:00:5e:00:02:50"
    let vip = "fd00:80::100"
    // keepalived 2.2.7 started before its interface has a link-local address stays in FAULT
    // ("no IPv6 address for interface") even after the address comes: start once both have one.
    for ns in [ours, peer] {
      XCTAssertTrue(
        eventually(10) {
          ((try? shell("/usr/sbin/ip -n \(ns) -6 -o addr show dev veth0 scope link")) ?? "").contains(
            "fe80::")
        })
    }
    let keepalived = try startKeepalived(state: "MASTER", priority: 200, vip: vip + "/64")
    XCTAssertTrue(eventually(15) { holdsVIP(peer, on: "vrrp.80", vip) }, keepalivedLog)
    let daemon = try startOurs(state: "BACKUP", priority: 100, vip: vip + "/64")
    XCTAssertTrue(link(ours).contains("link/ether \(mac6)"), link(ours))
    // No address made from the virtual MAC (RFC 5798 7.4); the base's link-local one instead.
    let baseLinkLocal = try shell("/usr/sbin/ip -n \(ours) -6 -o addr show dev veth0 scope link")
    let vmacAddresses = try shell("/usr/sbin/ip -n \(ours) -6 -o addr show dev vrrp.80")
    XCTAssertFalse(vmacAddresses.contains("fe80::200:5eff:fe00:250"), vmacAddresses)
    let linkLocal = try XCTUnwrap(
      baseLinkLocal.split(separator: " ").drop { $0 != "inet6" }.dropFirst().first)
    XCTAssertTrue(vmacAddresses.contains(" \(linkLocal) "), "\(vmacAddresses) lacks \(linkLocal)")
    XCTAssertEqual(try advertSourceMAC(seenIn: ours, filter: "ip6 proto 112"), mac6)
    XCTAssertTrue(eventually(5) { daemon.log.contains("Entering BACKUP STATE") }, daemon.log)
    XCTAssertFalse(holdsVIP(ours, on: "vrrp.80", vip), "lvskeeper took the VIP from a live Master")
    XCTAssertFalse(daemon.log.contains("Entering MASTER STATE"), daemon.log)

    kill(keepalived.processIdentifier, SIGTERM)
    keepalived.waitUntilExit()
    XCTAssertTrue(eventually(10) { holdsVIP(ours, on: "vrrp.80", vip) }, daemon.log)
    XCTAssertEqual(try advertSourceMAC(seenIn: peer, filter: "ip6 proto 112"), mac6)

    // keepalived comes back as Backup: it hears our adverts and stays Backup.
    _ = try startKeepalived(state: "BACKUP", priority: 100, vip: vip + "/64")
    XCTAssertTrue(eventually(10) { keepalivedLog.contains("Entering BACKUP STATE") }, keepalivedLog)
    XCTAssertTrue(eventually(10) { !link(peer).isEmpty }, "keepalived made its own VMAC")
    XCTAssertEqual(try advertSourceMAC(seenIn: peer, filter: "ip6 proto 112"), mac6)
    XCTAssertTrue(holdsVIP(ours, on: "vrrp.80", vip))
    XCTAssertFalse(holdsVIP(peer, on: "vrrp.80", vip), "keepalived took the VIP:\n\(keepalivedLog)")
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0, daemon.log)
    XCTAssertEqual(link(ours), "")
  }
}
