import Foundation
import XCTest

@testable import VRRP

/// `vrrp_rt_priority` and friends: parsing of the kernel's answer, and the real kernel's view of
/// the VRRP thread and of a notify script it starts.
final class LoopSchedulingTests: XCTestCase {
  var lab: NamespaceLab?

  override func tearDown() {
    lab?.tearDown()
    lab = nil
  }

  func testParsesProcStatPolicyPriorityAndNice() throws {
    // A real /proc/<pid>/task/<tid>/stat line of a SCHED_RR 50 thread (comm with a space and parens).
    let line =
      "4242 (vrrp (x) y) S 1 4242 4242 0 -1 4194368 90 0 0 0 3 1 0 0 -51 0 3 0 1553 26603520 1460 "
      + "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 -1 1 50 2 0 0 0 0 0"
    let parsed = try XCTUnwrap(ThreadScheduling.parse(stat: line, threadID: 4242))
    XCTAssertEqual(parsed, ThreadScheduling(threadID: 4242, policy: 2, realtimePriority: 50, nice: 0))
    XCTAssertEqual(parsed.description, "SCHED_RR 50")
    XCTAssertNil(ThreadScheduling.parse(stat: "4242 (short) S 1 2", threadID: 4242))
  }

  func testValidationNamesTheKeyword() {
    let cases: [(VRRPScheduling, String)] = [
      (VRRPScheduling(realtimePriority: 0), "vrrp_rt_priority 0 is outside 1..99"),
      (VRRPScheduling(realtimePriority: 100), "vrrp_rt_priority 100 is outside 1..99"),
      (VRRPScheduling(nice: 20), "vrrp_priority 20 is outside -20..19"),
      (VRRPScheduling(rlimitRTTimeMicroseconds: 1), "vrrp_rlimit_rttime 1 is below 2"),
      (VRRPScheduling(cpuAffinity: [-1]), "vrrp_cpu_affinity -1 is not a CPU number"),
    ]
    for (scheduling, message) in cases {
      XCTAssertThrowsError(try scheduling.validate()) { error in
        XCTAssertEqual("\(error)", "vrrp_instance *: \(message)")
      }
    }
    XCTAssertNoThrow(try VRRPScheduling(realtimePriority: 99, nice: -20, cpuAffinity: [0]).validate())
  }

  /// The harness runs with `realtimePriority`: the kernel reports its VRRP thread as SCHED_RR at that
  /// priority, pinned to CPU 0, while a notify script it spawns runs as SCHED_OTHER (reset on fork).
  func testKernelRunsTheLoopThreadRoundRobinAndNotifyScriptsNormally() throws {
    let lab = try NamespaceLab(prefix: "lvskvr9", nodes: ["a"])
    self.lab = lab
    let notifyOut = lab.directory.appendingPathComponent("notify.out").path
    // Field 41 of /proc/PID/stat is the policy (0 SCHED_OTHER, 2 SCHED_RR), field 40 rt_priority.
    let notifier = try lab.write(
      "notify.sh", "#!/bin/sh\ncut -d' ' -f40,41 /proc/$$/stat >> \(notifyOut)\n")
    chmod(notifier, 0o755)
    let spec = """
      {"instances":[{"name":"VI_1","interface":"veth0","vrid":61,"version":3,"priority":150,\
      "advertInterval":0.1,"virtualAddresses":[{"address":"10.77.0.161"}],"notify":{"master":"\(notifier)"}}],\
      "scheduling":{"realtimePriority":17,"cpuAffinity":[0]}}
      """
    let specPath = try lab.write("a.json", spec)
    let statusPath = lab.directory.appendingPathComponent("status.json").path
    let harness = try lab.spawn(
      "a", [try NamespaceLab.harnessPath(), specPath, "--status", statusPath], log: "a")
    XCTAssertTrue(lab.wait(5) { lab.holds("a", "10.77.0.161") }, lab.log("a"))
    XCTAssertTrue(lab.wait(3) { FileManager.default.fileExists(atPath: statusPath) })
    let status = try JSONDecoder().decode(
      VRRPServiceStatus.self, from: Data(contentsOf: URL(fileURLWithPath: statusPath)))
    let loop = try XCTUnwrap(status.loopScheduling, lab.log("a"))
    XCTAssertEqual(loop.policy, 2, "\(loop)")
    XCTAssertEqual(loop.realtimePriority, 17)
    // Independently of the harness's own report: the kernel's view of that thread id.
    let stat = try String(
      contentsOfFile: "/proc/\(harness.processIdentifier)/task/\(loop.threadID)/stat", encoding: .utf8)
    XCTAssertEqual(ThreadScheduling.parse(stat: stat, threadID: loop.threadID)?.description, "SCHED_RR 17")
    let affinity = try lab.sh("taskset -cp \(loop.threadID)")
    XCTAssertTrue(affinity.hasSuffix(": 0\n"), affinity)
    XCTAssertTrue(lab.wait(3) { FileManager.default.fileExists(atPath: notifyOut) })
    let notified = try String(contentsOfFile: notifyOut, encoding: .utf8)
    XCTAssertEqual(notified, "0 0\n", "notify script inherited the real-time policy")
  }
}

/// The link-event socket the VRRP loop polls: the real kernel notifies it when a link appears,
/// changes or goes away (a veth pair on the host that carries no traffic).
final class LinkMonitorTests: XCTestCase {
  func testKernelNotifiesLinkChanges() throws {
    guard geteuid() == 0 else { throw XCTSkip("needs root to create a veth pair") }
    let monitor = try LinkMonitor()
    let name = "lvsklm\(getpid() % 10000)"
    defer { _ = try? shell("ip link del \(name)") }
    try shell("ip link add \(name) type veth peer name \(name)p")
    XCTAssertTrue(waitForEvent(monitor), "RTM_NEWLINK not seen")
    try shell("ip link set \(name) up")
    XCTAssertTrue(waitForEvent(monitor), "link up not seen")
    try shell("ip link del \(name)")
    XCTAssertTrue(waitForEvent(monitor), "RTM_DELLINK not seen")
  }

  private func waitForEvent(_ monitor: LinkMonitor) -> Bool {
    var fds = [pollfd(fd: monitor.fd, events: Int16(POLLIN), revents: 0)]
    guard poll(&fds, 1, 2_000) == 1 else { return false }
    return monitor.drain()
  }

  @discardableResult
  private func shell(_ command: String) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw NSError(domain: "shell", code: Int(process.terminationStatus), userInfo: ["command": command])
    }
    return process.terminationStatus
  }
}
