import Foundation
import XCTest

/// The real daemon binary running scripts as configured: notify scripts and a vrrp_script as
/// `script_user`, a script line's own user overriding it, a vrrp_script that leaves background
/// children keeping its rhythm, and nothing a script started surviving SIGTERM. VRRP runs on a
/// veth in a network namespace of the test's own.
final class DaemonScriptsTests: XCTestCase {
  var scratch = ""
  var output = ""
  let namespace = "lvsk-scripts-\(getpid())"

  override func setUpWithError() throws {
    guard getuid() == 0 else { throw XCTSkip("needs root for namespaces and setuid") }
    scratch = "/tmp/lvsk-daemon-scripts-\(UUID().uuidString)"
    output = scratch + "/out"
    try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    chmod(scratch, 0o755)
    chmod(output, 0o777)  // scripts running as nobody write here
    try shell("ip netns add \(namespace)")
    try shell("ip -n \(namespace) link set lo up")
    // A veth pair inside the namespace (the dummy module is not on every kernel).
    try shell("ip -n \(namespace) link add d0 type veth peer name d1")
    try shell("ip -n \(namespace) addr add 10.78.0.1/24 dev d0")
    try shell("ip -n \(namespace) link set d0 up && ip -n \(namespace) link set d1 up")
  }

  override func tearDown() {
    _ = try? shell("ip netns del \(namespace)")
    try? FileManager.default.removeItem(atPath: scratch)
  }

  func script(_ name: String, _ body: String) throws -> String {
    let path = scratch + "/" + name
    try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
    return path
  }

  func read(_ name: String) -> String {
    (try? String(contentsOfFile: output + "/" + name, encoding: .utf8)) ?? ""
  }

  func wait(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      Thread.sleep(forTimeInterval: 0.1)
    }
    return condition()
  }

  func testScriptsRunAsConfiguredKeepTheirRhythmAndDieWithTheDaemon() throws {
    let notify = try script(
      "notify.sh", "echo \"$(id -un) $(id -gn) $*\" >> \(output)/notify\nsleep 3031.\(tag) &")
    let master = try script("master.sh", "id -un > \(output)/master")
    let stop = try script("stop.sh", "id -un > \(output)/stop")
    let check = try script("chk.sh", "echo run >> \(output)/runs\nsleep 3011.\(tag) & sleep 3012.\(tag)")
    let config = scratch + "/lvskeeper.conf"
    try """
    global_defs {
      router_id scripts
      script_user nobody
      enable_script_security
    }
    vrrp_script chk {
      script "\(check)"
      interval 1
      timeout 1
      weight -10
    }
    vrrp_instance VI_1 {
      state MASTER
      interface d0
      virtual_router_id 51
      priority 150
      advert_int 1
      virtual_ipaddress { 10.78.0.100/32 }
      track_script { chk }
      notify "\(notify)"
      notify_master "\(master)" root
      notify_stop "\(stop)"
    }
    """.write(toFile: config, atomically: true, encoding: .utf8)

    let daemon = try DaemonProcess(
      scratch: scratch, name: "vrrp", arguments: ["-f", config, "--log-level", "notice"], namespace: namespace
    )
    defer { daemon.cleanUp() }
    try daemon.waitReady()

    XCTAssertTrue(wait(15) { read("notify").contains("MASTER") }, "notify: \(read("notify"))")
    // `notify` runs as script_user with keepalived's arguments; the line's own user wins.
    XCTAssertTrue(read("notify").contains("nobody nogroup INSTANCE VI_1 MASTER"), read("notify"))
    XCTAssertTrue(wait(5) { read("master") == "root\n" }, "notify_master ran as \(read("master"))")

    // Each run of the check leaves two sleeps; each is ended by its 1 s timeout with its whole
    // process group, so runs keep coming (the issue saw one run in 10 s).
    let start = read("runs").split(separator: "\n").count
    Thread.sleep(forTimeInterval: 6)
    let runs = read("runs").split(separator: "\n").count - start
    XCTAssertGreaterThanOrEqual(runs, 3, "vrrp_script runs in 6 s")

    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0, "daemon did not stop: \(daemon.log)")
    XCTAssertTrue(read("notify").contains("INSTANCE VI_1 STOP"), read("notify"))
    XCTAssertEqual(read("stop"), "nobody\n", "notify_stop ran at stop, as script_user")
    XCTAssertTrue(
      wait(3) { Self.processes(matching: "sleep 30", tag: tag).isEmpty },
      "scripts outlived the daemon: \(Self.processes(matching: "sleep 30", tag: tag))")
  }

  /// startup_script runs (and is waited for) before the daemon is ready; shutdown_script at stop;
  /// both as script_user, and a startup script that hangs is killed at its timeout.
  func testStartupAndShutdownScripts() throws {
    let lifecycle = try script(
      "lifecycle.sh",
      "echo \"$(id -un) $1\" >> \(output)/lifecycle\n[ \"$2\" = hang ] && sleep 3041.\(tag)\nexit 0")
    let config = scratch + "/lvskeeper.conf"
    try """
    global_defs {
      router_id lifecycle
      script_user nobody
      startup_script_timeout 1
      startup_script "\(lifecycle) start hang"
      shutdown_script "\(lifecycle) stop"
    }
    """.write(toFile: config, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "lifecycle", arguments: ["-f", config, "--log-level", "notice"])
    defer { daemon.cleanUp() }
    try daemon.waitReady()
    XCTAssertEqual(read("lifecycle"), "nobody start\n", "startup_script ran before READY=1")
    XCTAssertTrue(
      daemon.log.contains("timed out"), "the hanging startup script was killed at 1 s: \(daemon.log)")
    XCTAssertTrue(Self.processes(matching: "sleep 3041", tag: tag).isEmpty)
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0)
    XCTAssertEqual(read("lifecycle"), "nobody start\nnobody stop\n", "shutdown_script ran at stop")
  }

  /// A reload that would run an unsafe root script is refused with the reason and FILE:LINE:COL,
  /// and the daemon keeps running its configuration; `check-config` refuses the same file.
  func testEnableScriptSecurityRefusesAReloadAndKeepsTheRunningConfig() throws {
    let safe = try script("safe.sh", "exit 0")
    let unsafe = try script("unsafe.sh", "exit 0")
    chmod(unsafe, 0o777)
    let config = scratch + "/lvskeeper.conf"
    func write(_ path: String) throws {
      try """
      global_defs {
        router_id scripts
        enable_script_security
      }
      vrrp_script chk {
        script "\(path)"
      }
      """.write(toFile: config, atomically: true, encoding: .utf8)
    }
    try write(safe)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "reload", arguments: ["-f", config, "--log-level", "error"])
    defer { daemon.cleanUp() }
    try daemon.waitReady()
    let socket = daemon.socket

    try write(unsafe)
    let reload = try CommandLineTests.runBinary(["reload", "--control-socket", socket])
    XCTAssertEqual(reload.status, 1, reload.stderr)
    XCTAssertTrue(
      reload.stderr.contains("lvskeeper.conf:5:1")
        && reload.stderr.contains(
          "runs as root but \(unsafe) is writable by everyone (enable_script_security)"),
      reload.stderr)
    let check = try CommandLineTests.runBinary(["check-config", "-f", config])
    XCTAssertNotEqual(check.status, 0)
    let status = try CommandLineTests.runBinary(["status", "--control-socket", socket])
    XCTAssertEqual(status.status, 0, "the daemon still answers: \(status.stderr)")
    XCTAssertTrue(daemon.process.isRunning)

    try write(safe)
    let good = try CommandLineTests.runBinary(["reload", "--control-socket", socket])
    XCTAssertEqual(good.status, 0, good.stderr)
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0)
  }

  /// quorum_up and quorum_down run as script_user when the live weight crosses the quorum; with
  /// `omega`, stopping the daemon runs notify_down of each live real server and quorum_down.
  func testQuorumAndOmegaScriptsRunAsScriptUser() throws {
    let steady = try TCPListener()
    steady.acceptInBackground()
    defer { steady.close() }
    let flappingPort = try TestSockets.closedLoopbackPort()
    let quorum = try script("quorum.sh", "echo \"$(id -un) $1\" >> \(output)/quorum")
    let config = scratch + "/lvskeeper.conf"
    try """
    global_defs {
      router_id quorum
      script_user nobody
    }
    virtual_server 10.20.30.40 80 {
      delay_loop 1
      lb_kind NAT
      protocol TCP
      quorum 2
      quorum_up "\(quorum) UP"
      quorum_down "\(quorum) DOWN"
      omega
      real_server 127.0.0.1 \(steady.port) {
        notify_down "\(quorum) RS_DOWN"
        TCP_CHECK {
          connect_timeout 1
          retry 0
        }
      }
      real_server 127.0.0.1 \(flappingPort) {
        TCP_CHECK {
          connect_timeout 1
          retry 0
        }
      }
    }
    """.write(toFile: config, atomically: true, encoding: .utf8)
    let daemon = try DaemonProcess(
      scratch: scratch, name: "quorum", arguments: ["--dry-run", "-f", config, "--log-level", "error"])
    defer { daemon.cleanUp() }
    try daemon.waitReady()

    // Real servers start alive (no `alpha`): the quorum holds until the second server's first
    // check fails, then quorum_down runs; a listener for it brings quorum_up.
    XCTAssertTrue(wait(20) { self.read("quorum") == "nobody DOWN\n" }, "quorum_down: \(read("quorum"))")
    let listener = Process()
    listener.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    listener.arguments = [
      "-c",
      "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        + "s.bind(('127.0.0.1',\(flappingPort)))\ns.listen(64)\ntime.sleep(120)",
    ]
    try listener.run()
    defer { if listener.isRunning { listener.terminate() } }
    XCTAssertTrue(
      wait(20) { self.read("quorum") == "nobody DOWN\nnobody UP\n" }, "quorum_up: \(read("quorum"))")
    daemon.send(SIGTERM)
    XCTAssertEqual(daemon.waitExit(timeout: .seconds(20)), 0)
    // omega: the live server's notify_down and the holding quorum's quorum_down ran at stop.
    let atStop = read("quorum").split(separator: "\n").dropFirst(2).sorted()
    XCTAssertEqual(atStop, ["nobody DOWN", "nobody RS_DOWN"], read("quorum"))
  }

  /// Appended to the scripts' sleep durations (`sleep 3011.TAG`), so the process check sees only
  /// this run's scripts, not those of another test run on the machine.
  let tag = String(getpid())

  /// Live (not zombie) processes whose command line starts with `text` and carries `.TAG`.
  static func processes(matching text: String, tag: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).compactMap { pid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        stat.split(separator: ")").last?.split(separator: " ").first != "Z",
        let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
      else { return nil }
      let line = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
      return line.hasPrefix(text) && line.contains(".\(tag)") ? "\(pid) \(line)" : nil
    }
  }
}
