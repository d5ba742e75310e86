import BFD
import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// lvskeeper's BFD against keepalived 2.2's own BFD (Debian's keepalived, built with BFD), each in
/// a network namespace of its own joined by a veth pair, each with a VRRP instance that tracks its
/// session unweighted (Fault while the session is not up):
/// - before the peer exists, lvskeeper's session stays Down and its instance in FAULT;
/// - with keepalived started, both sessions come Up and both instances leave FAULT;
/// - keepalived killed: lvskeeper's session expires (diag "Control Detection Time Expired") and
///   its instance goes to FAULT;
/// - a reload with the same bfd_instances keeps the session Up (same discriminator);
/// - a real server with `BFD_CHECK { name to_k }` is down exactly while the session is not up;
/// - keepalived back, then lvskeeper stopped: keepalived's session expires ("Expired after") and
///   its instance goes to FAULT (neither side sends AdminDown at stop).
final class BFDInteropTests: XCTestCase {
  static let keepalived = "/usr/sbin/keepalived"
  private var scratch = ""
  private var nsK = ""
  private var nsL = ""
  private var daemon: DaemonProcess?
  private var keepaliveds: [Process] = []

  override func setUpWithError() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root (network namespaces)") }
    guard FileManager.default.isExecutableFile(atPath: Self.keepalived) else {
      throw XCTSkip("\(Self.keepalived) missing: install the Debian package keepalived (scripts/setup-deps)")
    }
    scratch = "/tmp/lvsk-bfd-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    nsK = "lvsk-bfdk-\(getpid())"
    nsL = "lvsk-bfdl-\(getpid())"
    for ns in [nsK, nsL] {
      _ = try? shell("/usr/sbin/ip netns del \(ns) 2>/dev/null")
      try shell("/usr/sbin/ip netns add \(ns)")
      try shell("/usr/sbin/ip -n \(ns) link set lo up")
    }
    try shell("/usr/sbin/ip link add vk netns \(nsK) type veth peer name vl netns \(nsL)")
    try shell("/usr/sbin/ip -n \(nsK) addr add 10.78.0.1/24 dev vk")
    try shell("/usr/sbin/ip -n \(nsL) addr add 10.78.0.2/24 dev vl")
    try shell("/usr/sbin/ip -n \(nsK) addr add fd00:78::1/64 dev vk nodad")
    try shell("/usr/sbin/ip -n \(nsL) addr add fd00:78::2/64 dev vl nodad")
    try shell("/usr/sbin/ip -n \(nsK) link set vk up")
    try shell("/usr/sbin/ip -n \(nsL) link set vl up")
  }

  override func tearDown() {
    daemon?.cleanUp()
    for process in keepaliveds where process.isRunning { kill(process.processIdentifier, SIGKILL) }
    for ns in [nsK, nsL] where !ns.isEmpty {
      _ = try? shell("/usr/sbin/ip netns pids \(ns) | xargs -r kill -9; /usr/sbin/ip netns del \(ns)")
    }
    try? FileManager.default.removeItem(atPath: scratch)
  }

  static let keepalivedConfig = """
    global_defs {
      router_id bfd_k
    }
    bfd_instance to_l {
      neighbor_ip 10.78.0.2
      source_ip 10.78.0.1
      min_rx 50
      min_tx 50
      multiplier 3
    }
    bfd_instance to_l6 {
      neighbor_ip fd00:78::2
      source_ip fd00:78::1
    }
    vrrp_instance VK {
      state BACKUP
      interface vk
      virtual_router_id 61
      priority 100
      advert_int 1
      track_bfd {
        to_l
      }
      virtual_ipaddress {
        10.78.0.101/32
      }
    }

    """

  static let lvskeeperConfig = """
    global_defs {
      router_id bfd_l
    }
    bfd_instance to_k {
      neighbor_ip 10.78.0.1
      source_ip 10.78.0.2
      min_rx 50
      min_tx 50
      multiplier 3
    }
    bfd_instance to_k6 {
      neighbor_ip fd00:78::1
      source_ip fd00:78::2
    }
    vrrp_instance VL {
      state BACKUP
      interface vl
      virtual_router_id 62
      priority 100
      advert_int 1
      track_bfd {
        to_k
      }
      virtual_ipaddress {
        10.78.0.102/32
      }
    }
    virtual_server 10.78.0.200 80 {
      lb_algo rr
      lb_kind DR
      protocol TCP
      real_server 10.78.0.1 80 {
        weight 1
        BFD_CHECK {
          name to_k
        }
      }
    }

    """

  private func startKeepalived(_ run: Int) throws -> Process {
    let conf = scratch + "/keepalived.conf"
    try Self.keepalivedConfig.write(toFile: conf, atomically: true, encoding: .utf8)
    let base = "\(scratch)/k\(run)"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = [
      "netns", "exec", nsK, Self.keepalived, "-n", "-l", "-D", "-f", conf, "-p", "\(base).pid", "-r",
      "\(base).vrrp.pid", "-b", "\(base).bfd.pid", "-c", "\(base).check.pid",
    ]
    let log = "\(scratch)/keepalived.log"
    if !FileManager.default.fileExists(atPath: log) {
      _ = FileManager.default.createFile(atPath: log, contents: nil)
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    handle.seekToEndOfFile()
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    keepaliveds.append(process)
    return process
  }

  private var keepalivedLog: String {
    (try? String(contentsOfFile: "\(scratch)/keepalived.log", encoding: .utf8)) ?? ""
  }

  /// Polls the daemon's status until `condition` holds (or 30 s pass); returns the last report.
  private func waitStatus(_ daemon: DaemonProcess, _ what: String, _ condition: (StatusReport) -> Bool)
    async throws
    -> StatusReport
  {
    let deadline = ContinuousClock.now + .seconds(30)
    var last: StatusReport?
    while ContinuousClock.now < deadline {
      last = try await offPool { try daemon.request(.status) }.status
      if let last, condition(last) { return last }
      try await Task.sleep(for: .milliseconds(50))
    }
    XCTFail(
      "\(what): not reached; last status \(String(describing: last?.bfd)) \(String(describing: last?.vrrpInstances))\nlvskeeper log:\n\(daemon.log)\nkeepalived log:\n\(keepalivedLog)"
    )
    throw CancellationError()
  }

  /// Waits for `text` in keepalived's log after its first `offset` bytes.
  private func waitKeepalivedLog(_ text: String, after offset: Int = 0) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      if String(decoding: keepalivedLog.utf8.dropFirst(offset), as: UTF8.self).contains(text) { return }
      try await Task.sleep(for: .milliseconds(50))
    }
    XCTFail("keepalived never logged '\(text)':\n\(keepalivedLog)")
    throw CancellationError()
  }

  static func session(_ name: String, _ report: StatusReport) -> BFDSessionStatus? {
    report.bfd?.sessions.first { $0.name == name }
  }

  static func health(_ report: StatusReport) -> String? {
    report.virtualServices.first?.realServers.first?.health
  }

  func testTrackBFDFollowsKeepalivedsSessionBothWays() async throws {
    let configPath = scratch + "/lvskeeper.conf"
    try Self.lvskeeperConfig.write(toFile: configPath, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "bfd", arguments: ["--dry-run", "--config", configPath], namespace: nsL)
    self.daemon = daemon
    try daemon.waitReady()

    // No peer yet: the session stays Down, sending at the idle rate, and the instance is in FAULT.
    var report = try await waitStatus(daemon, "FAULT before the peer answers") {
      $0.vrrpInstances.first?.state == "FAULT" && ($0.bfd?.sessions.first?.packetsOut ?? 0) >= 1
    }
    var session = try XCTUnwrap(report.bfd?.sessions.first)
    XCTAssertEqual(session.state, "Down")
    XCTAssertFalse(session.up)
    XCTAssertEqual(session.packetsIn, 0)
    _ = try await waitStatus(daemon, "real server down before the peer answers") { Self.health($0) == "down" }

    // keepalived's BFD answers: both sessions come Up, both instances leave FAULT.
    var peer = try startKeepalived(1)
    report = try await waitStatus(daemon, "session Up and instance MASTER") {
      $0.bfd?.sessions.first?.up == true && $0.vrrpInstances.first?.state == "MASTER"
    }
    session = try XCTUnwrap(report.bfd?.sessions.first)
    XCTAssertEqual(session.state, "Up")
    XCTAssertEqual(session.remoteState, "Up")
    XCTAssertEqual(session.remoteMultiplier, 3)
    XCTAssertEqual(session.remoteMinRx, 50_000)
    _ = try await waitStatus(daemon, "real server up with the session") { Self.health($0) == "up" }
    try await waitKeepalivedLog("(to_l) Entering Up state")
    // The IPv6 session (keepalived's defaults: 10 ms, multiplier 5, hop limit 64) comes Up too.
    report = try await waitStatus(daemon, "IPv6 session Up") { Self.session("to_k6", $0)?.up == true }
    XCTAssertEqual(Self.session("to_k6", report)?.remoteMultiplier, 5)
    try await waitKeepalivedLog("(to_l6) Entering Up state")
    try await waitKeepalivedLog("(VK) Entering MASTER STATE")
    // After the poll sequences, both sides send at the agreed 50 ms and detect at 3 x 50 ms.
    report = try await waitStatus(daemon, "fast rate agreed") {
      $0.bfd?.sessions.first?.transmitInterval == 50_000 && $0.bfd?.sessions.first?.detectionTime == 150_000
    }

    // A reload that leaves the bfd_instances as they are keeps the sessions: same discriminator,
    // never Down.
    let discriminator = Self.session("to_k", report)?.localDiscriminator
    let reload = try await offPool { try daemon.request(.reload) }
    XCTAssertTrue(reload.ok, "\(reload)")
    report = try await waitStatus(daemon, "reload applied") { $0.daemon.lastReload?.succeeded == true }
    XCTAssertEqual(Self.session("to_k", report)?.localDiscriminator, discriminator)
    XCTAssertEqual(Self.session("to_k", report)?.state, "Up")
    XCTAssertFalse(daemon.log.contains("BFD to_k: Up -> Down"), daemon.log)

    // keepalived dies without a word: the detection time passes, lvskeeper's instance faults.
    _ = try? shell("/usr/sbin/ip netns pids \(nsK) | xargs -r kill -9")
    peer.waitUntilExit()
    report = try await waitStatus(daemon, "session expired and instance FAULT") {
      $0.bfd?.sessions.first?.up == false && $0.vrrpInstances.first?.state == "FAULT"
    }
    session = try XCTUnwrap(report.bfd?.sessions.first)
    XCTAssertEqual(session.diagnostic, "Control Detection Time Expired")
    report = try await waitStatus(daemon, "IPv6 session expired") { Self.session("to_k6", $0)?.up == false }
    XCTAssertEqual(Self.session("to_k6", report)?.diagnostic, "Control Detection Time Expired")
    XCTAssertTrue(daemon.log.contains("BFD to_k: Up -> Down"), daemon.log)
    _ = try await waitStatus(daemon, "real server down with the session") { Self.health($0) == "down" }

    // keepalived again, then lvskeeper stops: keepalived's session expires, VK faults.
    let restart = keepalivedLog.utf8.count
    peer = try startKeepalived(2)
    _ = try await waitStatus(daemon, "Up again") {
      $0.bfd?.sessions.first?.up == true && $0.vrrpInstances.first?.state == "MASTER"
    }
    try await waitKeepalivedLog("(VK) Entering MASTER STATE", after: restart)
    let mark = keepalivedLog.utf8.count
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0, daemon.log)
    try await waitKeepalivedLog("(to_l) Expired after", after: mark)
    try await waitKeepalivedLog("(VK) Entering FAULT STATE", after: mark)
    XCTAssertTrue(peer.isRunning)
  }
}
