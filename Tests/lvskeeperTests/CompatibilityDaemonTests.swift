import Foundation
import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore
import Logging
import VRRP
import XCTest

@testable import lvskeeper

/// keepalived 2.2 features as the daemon runs them: `vrrp_track_process` reaching the VRRP unit,
/// and FILE_CHECK moving a real server in and out of the (in-memory) IPVS table and changing its
/// weight as the tracked file's number changes.
final class CompatibilityDaemonTests: XCTestCase {
  private var scratch = ""

  override func setUpWithError() throws {
    scratch = "/tmp/lvsk-compat-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(atPath: scratch)
  }

  func testTrackProcessReachesTheUnit() throws {
    let text = """
      vrrp_track_process web {
        process nginx
        quorum 2
        delay 2
        weight -30
      }
      vrrp_track_process api {
        process /usr/bin/python3 api.py
        param_match partial
        quorum_max 3
      }
      vrrp_instance VI_1 {
        interface eth0
        virtual_router_id 7
        virtual_ipaddress { 10.0.0.1 }
        track_process {
          web
        }
      }
      vrrp_instance VI_2 {
        interface eth0
        virtual_router_id 8
        virtual_ipaddress { 10.0.0.2 }
      }
      vrrp_instance VI_3 {
        interface eth0
        virtual_router_id 9
        virtual_ipaddress { 10.0.0.3 }
      }
      vrrp_sync_group G {
        group {
          VI_2
          VI_3
        }
        track_process { api weight 10 }
      }
      """
    let loaded = try ConfigLoader(configID: "t", interfaces: ["eth0"]).load(text: text)
    let units = try VRRPMapping.units(loaded.configuration)
    let single = try XCTUnwrap(units["vrrp_instance VI_1"])
    XCTAssertEqual(
      single.processes,
      [
        VRRPTrackProcessSpec(
          name: "web", pattern: ProcessPattern(name: "nginx"), quorum: 2, forkDelay: 2, terminateDelay: 2,
          weight: -30)
      ], "only the processes the unit tracks")
    XCTAssertEqual(single.instances[0].trackProcesses, [TrackedObjectSpec(name: "web")])
    let group = try XCTUnwrap(units["sync_group G"])
    XCTAssertEqual(
      group.processes,
      [
        VRRPTrackProcessSpec(
          name: "api",
          pattern: ProcessPattern(name: "/usr/bin/python3", parameters: ["api.py"], match: .partial),
          quorumMax: 3)
      ])
    XCTAssertEqual(
      group.instances.map(\.trackProcesses),
      [[TrackedObjectSpec(name: "api", weight: 0)], [TrackedObjectSpec(name: "api", weight: 0)]],
      "a sync group's tracking faults its members, its weights ignored (as keepalived)")
  }

  static let service = ServiceKey.inet(address: IPAddress("10.10.10.10")!, port: 80, protocol: .tcp)

  /// Two real servers following one track_file: with weight 0 a non-zero number takes the first
  /// out of the table; the second (weight 5, FILE_CHECK weight 10) gets 5 + number × 10, and
  /// leaves the table at -65535 or below, as keepalived's check_file.c does.
  func testFileCheckFollowsTheFileIntoTheKernel() async throws {
    let state = scratch + "/state"
    try "0\n".write(toFile: state, atomically: true, encoding: .utf8)
    let configPath = scratch + "/keepalived.conf"
    try """
    global_defs {
      router_id file-check-test
    }
    track_file state {
      file \(state)
      weight 0
    }
    virtual_server 10.10.10.10 80 {
      delay_loop 1
      lb_algo rr
      lb_kind NAT
      protocol TCP
      real_server 127.0.0.1 8001 {
        FILE_CHECK {
          track_file state
        }
      }
      real_server 127.0.0.1 8002 {
        weight 5
        FILE_CHECK {
          track_file state
          weight 10
        }
      }
    }
    """.write(toFile: configPath, atomically: true, encoding: .utf8)
    let loaded = try ConfigLoader().load(path: configPath)
    let options = DaemonOptions(
      configPath: configPath, dryRun: true, controlSocket: scratch + "/control.sock",
      stateDirectory: scratch + "/state")
    let daemon = try Daemon(
      options: options, loaded: loaded, logger: Logger(label: "lvskeeper.test"),
      notifier: SystemdNotifier(environment: [:]))
    try await daemon.start()
    let anyKernel = await daemon.kernel
    let kernel = try XCTUnwrap(anyKernel as? InMemoryIPVSKernel, "dry run uses the in-memory kernel")

    func weights() -> [UInt16: UInt32] {
      var result: [UInt16: UInt32] = [:]
      for (key, destination) in kernel.table.services[Self.service]?.destinations ?? [:] {
        result[key.port] = destination.attributes.weight
      }
      return result
    }
    func settle(_ expected: [UInt16: UInt32], _ what: String) async throws {
      let deadline = ContinuousClock.now + .seconds(10)
      while weights() != expected {
        guard ContinuousClock.now < deadline else {
          XCTFail("\(what): kernel weights \(weights()), want \(expected)")
          return
        }
        try await Task.sleep(for: .milliseconds(100))
      }
    }
    try await settle([8001: 1, 8002: 5], "0: both up at their own weight")
    try "2\n".write(toFile: state, atomically: true, encoding: .utf8)
    try await settle([8002: 25], "2: weight 0 means down; 5 + 2 x 10")
    try "-1\n".write(toFile: state, atomically: true, encoding: .utf8)
    try await settle([8002: 0], "-1: 5 - 10 is kept at weight 0")
    try "-7000\n".write(toFile: state, atomically: true, encoding: .utf8)
    try await settle([:], "-7000 x 10 reaches -65535: down")
    try FileManager.default.removeItem(atPath: state)
    try await settle([8001: 1, 8002: 5], "a missing file reads as 0")
    let status = await daemon.monitor.status()
    XCTAssertEqual(
      Set(status.servers.flatMap(\.checkers).map { "\($0.checker.spec)" }), ["FILE_CHECK \(state)"])
    _ = await Daemon.withDeadline(.seconds(20)) { await daemon.stop() }
  }

  /// The real daemon tracking a copy of /bin/sleep under a name of this test's own: Fault while
  /// none runs, Master once one does (it is alone on its link), Fault again when it is killed;
  /// `status` shows it. The proc connector only speaks in the initial network namespace, so the
  /// daemon runs there, on the host end of a veth pair whose other end sits in a namespace of the
  /// test's own (adverts reach only that namespace).
  func testDaemonFollowsATrackedProcess() throws {
    guard getuid() == 0 else { throw XCTSkip("needs root for the proc connector and veth") }
    let pid = getpid()
    let namespace = "lvsk-tp-\(pid)"
    let hostEnd = "vtp\(pid)"
    let name = "lvskd\(pid)"
    let program = scratch + "/" + name
    try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: program)
    let subnet = "10.79.\(pid % 250)"
    try shell("ip netns add \(namespace)")
    defer { _ = try? shell("ip link del \(hostEnd); ip netns del \(namespace)") }
    try shell("ip link add \(hostEnd) type veth peer name vtp0 netns \(namespace)")
    try shell("ip addr add \(subnet).1/24 dev \(hostEnd) && ip link set \(hostEnd) up")
    try shell("ip -n \(namespace) link set vtp0 up")
    let config = scratch + "/tp.conf"
    try """
    global_defs {
      router_id track-process
    }
    vrrp_track_process sleeper {
      process \(name)
    }
    vrrp_instance VI_TP {
      state BACKUP
      interface \(hostEnd)
      virtual_router_id 77
      priority 100
      advert_int 1
      virtual_ipaddress { \(subnet).100/32 }
      track_process { sleeper }
    }
    """.write(toFile: config, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "tp", arguments: ["-f", config, "--log-level", "info"])
    defer { daemon.cleanUp() }
    try daemon.waitReady()
    func state() -> String? { (try? daemon.request(.status))?.status?.vrrpInstances.first?.state }
    XCTAssertTrue(
      wait(10) { state() == "FAULT" }, "no process: \(String(describing: state()))\n\(daemon.log)")

    let sleeper = Process()
    sleeper.executableURL = URL(fileURLWithPath: program)
    sleeper.arguments = ["3600"]
    try sleeper.run()
    defer { if sleeper.isRunning { sleeper.terminate() } }
    XCTAssertTrue(wait(15) { state() == "MASTER" }, "process running: \(String(describing: state()))")
    sleeper.terminate()
    sleeper.waitUntilExit()
    XCTAssertTrue(wait(10) { state() == "FAULT" }, "process gone: \(String(describing: state()))")
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0, daemon.log)
  }

  /// In any other network namespace the kernel refuses the subscription: the daemon does not
  /// start, and says why (keepalived drops the tracker there and runs without it).
  func testTrackProcessOutsideTheInitialNamespaceIsAClearError() throws {
    guard getuid() == 0 else { throw XCTSkip("needs root for namespaces") }
    let namespace = "lvsk-tpn-\(getpid())"
    try shell("ip netns add \(namespace)")
    defer { _ = try? shell("ip netns del \(namespace)") }
    try shell("ip -n \(namespace) link add d0 type veth peer name d1")
    try shell("ip -n \(namespace) addr add 10.80.0.2/24 dev d0")
    try shell("ip -n \(namespace) link set d0 up && ip -n \(namespace) link set d1 up")
    let config = scratch + "/tpn.conf"
    try """
    vrrp_track_process p {
      process sleep
    }
    vrrp_instance VI_1 {
      interface d0
      virtual_router_id 5
      virtual_ipaddress { 10.80.0.1 }
      track_process { p }
    }
    """.write(toFile: config, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "tpn", arguments: ["-f", config], namespace: namespace)
    defer { daemon.cleanUp() }
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 1, daemon.log)
    XCTAssertTrue(
      daemon.log.contains(
        "vrrp_instance VI_1: track_process p: subscribe to process events (PROC_CN_MCAST_LISTEN) (process events need CAP_NET_ADMIN and the initial network namespace)"
      ), daemon.log)
  }

  /// keepalived as the reference for which processes a `vrrp_track_process` counts: the same
  /// eleven trackers (comm, full command, exact/partial/initial arguments, quorum, quorum_max 0),
  /// each faulting its own instance (weight 0), in lvskeeper and in keepalived at once, with one
  /// process running and then with none. Every instance must end in the same state in both.
  func testProcessMatchingAgreesWithKeepalived() throws {
    guard getuid() == 0 else { throw XCTSkip("needs root for the proc connector and veth") }
    let keepalived = "/usr/sbin/keepalived"
    guard FileManager.default.isExecutableFile(atPath: keepalived) else {
      XCTFail("keepalived is not installed (scripts/setup-deps)")
      return
    }
    let pid = getpid()
    let namespace = "lvsk-tpk-\(pid)"
    let (ourLink, theirLink) = ("vkl\(pid)", "vkk\(pid)")
    let base = Int(pid % 127) * 2
    let name = "lvskc\(pid)"
    let program = scratch + "/" + name
    try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: program)
    try shell("ip netns add \(namespace)")
    defer { _ = try? shell("ip link del \(ourLink); ip link del \(theirLink); ip netns del \(namespace)") }
    for (index, link) in [ourLink, theirLink].enumerated() {
      try shell("ip link add \(link) type veth peer name p\(index) netns \(namespace)")
      // A /24 per run (pid-tagged), so concurrent runs do not share host routes.
      try shell("ip addr add 10.83.\(base + index).1/24 dev \(link) && ip link set \(link) up")
      try shell("ip -n \(namespace) link set p\(index) up")
    }
    // name: tracker body; the process below runs as `PROGRAM 1000 2000`.
    let trackers: [(String, String, String)] = [
      ("comm", "process \(name)", "MASTER"),
      ("exact", "process \(program) 1000 2000", "MASTER"),
      ("exactShort", "process \(program) 1000", "FAULT"),
      ("partial", "process \(program) 1000\n  param_match partial", "MASTER"),
      ("partialPrefix", "process \(program) 100\n  param_match partial", "FAULT"),
      ("initial", "process \(program) 1000 20\n  param_match initial", "MASTER"),
      ("initialEarly", "process \(program) 10 2000\n  param_match initial", "FAULT"),
      ("full", "process \(program)\n  full_command", "MASTER"),
      ("fullName", "process \(name)\n  full_command", "FAULT"),
      ("quorum2", "process \(name)\n  quorum 2", "FAULT"),
      ("none", "process \(name)\n  quorum_max 0", "FAULT"),
    ]
    let states = scratch + "/states"
    try FileManager.default.createDirectory(atPath: states, withIntermediateDirectories: true)
    let notify = scratch + "/notify.sh"
    try "#!/bin/sh\necho $3 > \(states)/$2\n".write(toFile: notify, atomically: true, encoding: .utf8)
    chmod(notify, 0o755)
    func config(_ link: String, _ subnet: Int) -> String {
      var text = "global_defs {\n  router_id tp-agree\n  script_user root\n}\n"
      for (index, tracker) in trackers.enumerated() {
        text += "vrrp_track_process \(tracker.0) {\n  \(tracker.1)\n}\n"
        text += """
          vrrp_instance \(tracker.0) {
            state MASTER
            interface \(link)
            virtual_router_id \(index + 1)
            priority 100
            advert_int 1
            virtual_ipaddress {
              10.83.\(base + subnet).\(index + 100)/32
            }
            track_process {
              \(tracker.0)
            }
            notify \(notify)
          }

          """
      }
      return text
    }
    try config(ourLink, 0).write(toFile: scratch + "/ours.conf", atomically: true, encoding: .utf8)
    try config(theirLink, 1).write(toFile: scratch + "/theirs.conf", atomically: true, encoding: .utf8)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = ["1000", "2000"]
    try process.run()
    defer { if process.isRunning { process.terminate() } }

    let reference = Process()
    reference.executableURL = URL(fileURLWithPath: keepalived)
    reference.arguments = [
      "-n", "-l", "-D", "--vrrp", "-f", scratch + "/theirs.conf", "-p", scratch + "/k.pid", "-r",
      scratch + "/kv.pid",
    ]
    let referenceLog = scratch + "/keepalived.log"
    _ = FileManager.default.createFile(atPath: referenceLog, contents: nil)
    reference.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: referenceLog))
    reference.standardError = reference.standardOutput
    try reference.run()
    defer {
      if reference.isRunning {
        reference.terminate()
        reference.waitUntilExit()
      }
    }
    let daemon = try DaemonProcess(scratch: scratch, name: "ours", arguments: ["-f", scratch + "/ours.conf"])
    defer { daemon.cleanUp() }
    try daemon.waitReady()

    func ours() -> [String: String] {
      let report = try? daemon.request(.status).status
      return Dictionary(
        (report?.vrrpInstances ?? []).map { ($0.name, $0.state) }, uniquingKeysWith: { first, _ in first })
    }
    func theirs() -> [String: String] {
      Dictionary(
        trackers.compactMap { tracker in
          (try? String(contentsOfFile: states + "/" + tracker.0, encoding: .utf8)).map {
            (tracker.0, $0.trimmingCharacters(in: .whitespacesAndNewlines))
          }
        }, uniquingKeysWith: { first, _ in first })
    }
    let expected = Dictionary(uniqueKeysWithValues: trackers.map { ($0.0, $0.2) })
    XCTAssertTrue(
      wait(20) { theirs() == expected }, "keepalived: \(theirs())\n\(Self.tail(referenceLog))")
    XCTAssertTrue(wait(10) { ours() == expected }, "lvskeeper: \(ours())\n\(daemon.log)")

    // The process ends: only `quorum_max 0` has what it needs.
    process.terminate()
    process.waitUntilExit()
    var none = Dictionary(uniqueKeysWithValues: trackers.map { ($0.0, "FAULT") })
    none["none"] = "MASTER"
    XCTAssertTrue(wait(20) { theirs() == none }, "keepalived: \(theirs())")
    XCTAssertTrue(wait(10) { ours() == none }, "lvskeeper: \(ours())")
  }

  static func tail(_ path: String) -> String {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").suffix(30).joined(separator: "\n")
  }

  func wait(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      Thread.sleep(forTimeInterval: 0.1)
    }
    return condition()
  }
}
