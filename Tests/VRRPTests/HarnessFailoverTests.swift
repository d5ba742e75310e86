import Foundation
import XCTest

/// Two VRRPHarness directors and a client in namespaces on one bridge: kill -9, clean stop, restart
/// with leftover VIPs, and a cut link, checked from the client's side (ping of the VIP).
final class HarnessFailoverTests: XCTestCase {
  var lab: NamespaceLab?

  override func tearDown() {
    lab?.tearDown()
    lab = nil
  }

  static func spec(
    vrid: Int, priority: Int, version: Int, interval: Double, vip: String, auth: Bool = true,
    extra: String = ""
  ) -> String {
    """
    {"instances":[{"name":"VI_1","interface":"veth0","vrid":\(vrid),"version":\(version),\
    "priority":\(priority),"advertInterval":\(interval),\(auth && version == 2 ? "\"authPass\":\"s3cret\"," : "")\
    "virtualAddresses":[{"address":"\(vip)"}],"garpMasterDelay":1\(extra)}]}
    """
  }

  @discardableResult
  func startHarness(_ lab: NamespaceLab, _ node: String, spec: String, log: String) throws -> Process {
    let path = try lab.write("\(log).json", spec)
    return try lab.spawn(node, [try NamespaceLab.harnessPath(), path], log: log)
  }

  func masters(_ lab: NamespaceLab, _ vip: String) -> [String] { ["a", "b"].filter { lab.holds($0, vip) } }

  func testKillCleanStopRestartAndDualMasterBound() throws {
    let lab = try NamespaceLab(prefix: "lvskvr1", nodes: ["a", "b", "c"])
    self.lab = lab
    let vip = "10.77.0.100"
    let interval = 0.2
    let specA = Self.spec(vrid: 31, priority: 150, version: 3, interval: interval, vip: vip)
    let specB = Self.spec(vrid: 31, priority: 100, version: 3, interval: interval, vip: vip)
    var a = try startHarness(lab, "a", spec: specA, log: "a1")
    try startHarness(lab, "b", spec: specB, log: "b")
    XCTAssertTrue(
      lab.wait(5) { masters(lab, vip) == ["a"] }, "a should win: \(lab.log("a1")) \(lab.log("b"))")
    XCTAssertTrue(lab.ping(from: "c", vip))

    // kill -9: b takes over; a's VIP stays behind on a's interface (as after a crash).
    kill(a.processIdentifier, SIGKILL)
    a.waitUntilExit()
    let killedAt = Date().timeIntervalSince1970
    XCTAssertTrue(lab.wait(3) { lab.log("b").contains("BACKUP MASTER") }, lab.log("b"))
    XCTAssertTrue(lab.holds("b", vip))
    XCTAssertTrue(lab.wait(2) { lab.ping(from: "c", vip) }, "VIP must answer on b")

    // Restart a: its leftover VIP is removed while backup, then it preempts; never duplicated.
    a = try startHarness(lab, "a", spec: specA, log: "a2")
    XCTAssertTrue(lab.wait(3) { lab.log("a2").contains("INIT BACKUP") })
    XCTAssertTrue(lab.wait(5) { masters(lab, vip) == ["a"] }, "a should preempt: \(lab.log("a2"))")
    let ipOut = try lab.sh("ip -n \(lab.namespace("a")) -o addr show dev veth0")
    XCTAssertEqual(ipOut.components(separatedBy: " \(vip)/").count - 1, 1, "VIP exactly once: \(ipOut)")
    XCTAssertTrue(lab.ping(from: "c", vip))

    // Clean stop: priority 0, b takes over after Skew_Time.
    kill(a.processIdentifier, SIGTERM)
    a.waitUntilExit()
    XCTAssertEqual(a.terminationStatus, 0)
    XCTAssertFalse(lab.holds("a", vip), "a must remove its VIP on stop")
    XCTAssertTrue(lab.wait(2) { masters(lab, vip) == ["b"] })
    XCTAssertTrue(lab.log("a2").contains("MASTER INIT"))

    // Never two masters for longer than one advert interval (plus scheduling slack).
    let now = Date().timeIntervalSince1970
    var aIntervals = MasterTimeline.intervals(lab.log("a1"), until: killedAt)
    aIntervals += MasterTimeline.intervals(lab.log("a2"), until: now)
    let overlap = MasterTimeline.longestOverlap(
      aIntervals, MasterTimeline.intervals(lab.log("b"), until: now))
    XCTAssertLessThanOrEqual(overlap, interval + 0.05, "dual master for \(overlap) s")
  }

  func testLinkCutAndHeal() throws {
    let lab = try NamespaceLab(prefix: "lvskvr2", nodes: ["a", "b", "c"])
    self.lab = lab
    let vip = "10.77.0.101"
    try startHarness(
      lab, "a", spec: Self.spec(vrid: 32, priority: 150, version: 2, interval: 1, vip: vip), log: "a")
    try startHarness(
      lab, "b", spec: Self.spec(vrid: 32, priority: 100, version: 2, interval: 1, vip: vip), log: "b")
    XCTAssertTrue(lab.wait(6) { masters(lab, vip) == ["a"] }, lab.log("a") + lab.log("b"))

    // Cut a's cable at the bridge: a sees its link go down (Fault), b becomes master.
    try lab.sh("ip -n \(lab.prefix)-br link set \(lab.bridgePort("a")) down")
    XCTAssertTrue(lab.wait(6) { masters(lab, vip) == ["b"] }, lab.log("a") + lab.log("b"))
    XCTAssertTrue(lab.log("a").contains("MASTER FAULT"), lab.log("a"))
    XCTAssertTrue(lab.ping(from: "c", vip))

    // Heal: a leaves Fault, preempts after Master_Down_Interval; one master throughout.
    try lab.sh("ip -n \(lab.prefix)-br link set \(lab.bridgePort("a")) up")
    var sawTwo = false
    let settled = lab.wait(8) {
      let now = masters(lab, vip)
      if now.count > 1 { sawTwo = true }
      return now == ["a"] && lab.log("b").contains("MASTER BACKUP")
    }
    XCTAssertTrue(settled, lab.log("a") + lab.log("b"))
    XCTAssertFalse(sawTwo, "both held the VIP after healing")
    XCTAssertTrue(lab.ping(from: "c", vip))
  }

  func testTrackFileAndNotifyScripts() throws {
    let lab = try NamespaceLab(prefix: "lvskvr3", nodes: ["a", "b", "c"])
    self.lab = lab
    let vip = "10.77.0.102"
    let track = try lab.write("weight", "0\n")
    let notifyLog = lab.directory.appendingPathComponent("notify.out").path
    let notifier = try lab.write("notify.sh", "#!/bin/sh\necho \"$@\" >> \(notifyLog)\n")
    chmod(notifier, 0o755)
    let extra = """
      ,"trackFiles":[{"path":"\(track)","weight":-10}],"notify":{"any":"\(notifier)"}
      """
    try startHarness(
      lab, "a", spec: Self.spec(vrid: 33, priority: 150, version: 3, interval: 0.2, vip: vip, extra: extra),
      log: "a")
    try startHarness(
      lab, "b", spec: Self.spec(vrid: 33, priority: 120, version: 3, interval: 0.2, vip: vip), log: "b")
    XCTAssertTrue(lab.wait(5) { masters(lab, vip) == ["a"] })
    // Weight -10 x 5 drops a to 100 < 120: b preempts.
    _ = try lab.write("weight", "5\n")
    XCTAssertTrue(lab.wait(5) { masters(lab, vip) == ["b"] }, lab.log("a") + lab.log("b"))
    let notes = (try? String(contentsOfFile: notifyLog, encoding: .utf8)) ?? ""
    XCTAssertTrue(notes.contains("INSTANCE VI_1 MASTER 150"), notes)
    XCTAssertTrue(
      lab.wait(2) {
        ((try? String(contentsOfFile: notifyLog, encoding: .utf8)) ?? "").contains("INSTANCE VI_1 BACKUP 100")
      })
  }

  func testSyncGroupFaultMovesTheGroup() throws {
    let lab = try NamespaceLab(prefix: "lvskvr4", nodes: ["a", "c"])
    self.lab = lab
    let track = try lab.write("fault", "0\n")
    let notifyLog = lab.directory.appendingPathComponent("group.out").path
    let notifier = try lab.write("group.sh", "#!/bin/sh\necho \"$@\" >> \(notifyLog)\n")
    chmod(notifier, 0o755)
    let spec = """
      {"instances":[
      {"name":"VI_1","interface":"veth0","vrid":81,"version":3,"advertInterval":0.1,
       "virtualAddresses":[{"address":"10.77.0.181"}],"trackFiles":[{"path":"\(track)","weight":0}]},
      {"name":"VI_2","interface":"veth0","vrid":82,"version":3,"advertInterval":0.1,
       "virtualAddresses":[{"address":"10.77.0.182"}]}],
       "syncGroups":[{"name":"G","members":["VI_1","VI_2"],"notify":{"any":"\(notifier)"}}]}
      """
    try startHarness(lab, "a", spec: spec, log: "a")
    XCTAssertTrue(
      lab.wait(3) { lab.holds("a", "10.77.0.181") && lab.holds("a", "10.77.0.182") }, lab.log("a"))
    _ = try lab.write("fault", "1\n")
    XCTAssertTrue(
      lab.wait(2) { !lab.holds("a", "10.77.0.181") && !lab.holds("a", "10.77.0.182") }, lab.log("a"))
    XCTAssertTrue(lab.log("a").contains("STATE VI_2 MASTER FAULT"), lab.log("a"))
    _ = try lab.write("fault", "0\n")
    XCTAssertTrue(
      lab.wait(3) { lab.holds("a", "10.77.0.181") && lab.holds("a", "10.77.0.182") }, lab.log("a"))
    let notes = (try? String(contentsOfFile: notifyLog, encoding: .utf8)) ?? ""
    XCTAssertTrue(notes.contains("GROUP G FAULT"), notes)
  }

  /// An address owner (priority 255) killed with -9 and restarted adopts the VIP it left behind.
  func testOwnerRestartAdoptsLeftoverVIP() throws {
    let lab = try NamespaceLab(prefix: "lvskvr5", nodes: ["a", "c"])
    self.lab = lab
    let vip = "10.77.0.190"
    let spec = Self.spec(vrid: 90, priority: 255, version: 3, interval: 0.1, vip: vip)
    let first = try startHarness(lab, "a", spec: spec, log: "a1")
    XCTAssertTrue(lab.wait(2) { lab.holds("a", vip) }, lab.log("a1"))
    XCTAssertTrue(lab.log("a1").contains("INIT MASTER"), lab.log("a1"))
    kill(first.processIdentifier, SIGKILL)
    first.waitUntilExit()
    XCTAssertTrue(lab.holds("a", vip), "kill -9 leaves the VIP behind")
    try startHarness(lab, "a", spec: spec, log: "a2")
    XCTAssertTrue(lab.wait(2) { lab.log("a2").contains("adopted \(vip)") }, lab.log("a2"))
    let out = try lab.sh("ip -n \(lab.namespace("a")) -o addr show dev veth0")
    XCTAssertEqual(out.components(separatedBy: " \(vip)/").count - 1, 1, out)
    XCTAssertTrue(lab.ping(from: "c", vip))
  }
}
