import Foundation
import XCTest

/// lvskeeper (VRRPHarness) against the distribution's keepalived, both ways, VRRPv2 and v3: the peer
/// follows, fails over on kill -9, is preempted back, and both sides' adverts decode the same in tshark.
final class KeepalivedInteropTests: XCTestCase {
  static let keepalived = "/usr/sbin/keepalived"
  static let tshark = "/usr/bin/tshark"
  var lab: NamespaceLab?

  override func tearDown() {
    lab?.tearDown()
    lab = nil
  }

  static func keepalivedConf(version: Int, vrid: Int, priority: Int, interval: Double, vip: String) -> String
  {
    """
    global_defs {
      router_id lvsk_interop
    }
    vrrp_instance VI_1 {
      state BACKUP
      interface veth0
      virtual_router_id \(vrid)
      priority \(priority)
      advert_int \(version == 2 ? String(Int(interval)) : String(interval))
      version \(version)
    \(version == 2 ? "  authentication {\n    auth_type PASS\n    auth_pass s3cret\n  }" : "")
      garp_master_delay 1
      virtual_ipaddress {
        \(vip)
      }
    }

    """
  }

  func startKeepalived(_ lab: NamespaceLab, _ node: String, conf: String, name: String) throws -> Process {
    let path = try lab.write("\(name).conf", conf)
    let base = lab.directory.appendingPathComponent(name).path
    return try lab.spawn(
      node,
      [
        Self.keepalived, "-n", "-l", "-D", "--vrrp", "-f", path, "-p", "\(base).pid", "-r",
        "\(base).vrrp.pid",
      ],
      log: name)
  }

  func startHarness(_ lab: NamespaceLab, _ node: String, spec: String, log: String) throws -> Process {
    let path = try lab.write("\(log).json", spec)
    return try lab.spawn(node, [try NamespaceLab.harnessPath(), path], log: log)
  }

  func stopAndWait(_ process: Process, _ signal: Int32) {
    kill(process.processIdentifier, signal)
    process.waitUntilExit()
  }

  /// k = keepalived node, h = harness node, c = client running tshark and ping.
  func runInterop(version: Int, interval: Double, vrid: Int, prefix: String) throws {
    try NamespaceLab.require(Self.keepalived, package: "keepalived")
    try NamespaceLab.require(Self.tshark, package: "tshark")
    let lab = try NamespaceLab(prefix: prefix, nodes: ["k", "h", "c"])
    self.lab = lab
    let vip = "10.77.0.\(100 + vrid % 50)"
    let captureFile = lab.directory.appendingPathComponent("adverts.pcap").path
    let capture = try lab.spawn(
      "c", [Self.tshark, "-q", "-i", "veth0", "-f", "ip proto 112", "-w", captureFile], log: "tshark")
    usleep(700_000)
    let kHigh = Self.keepalivedConf(version: version, vrid: vrid, priority: 150, interval: interval, vip: vip)
    let kLow = Self.keepalivedConf(version: version, vrid: vrid, priority: 100, interval: interval, vip: vip)
    let hHigh = HarnessFailoverTests.spec(
      vrid: vrid, priority: 150, version: version, interval: interval, vip: vip)
    let hLow = HarnessFailoverTests.spec(
      vrid: vrid, priority: 100, version: version, interval: interval, vip: vip)
    let settle = 3 * interval + 3

    // 1. keepalived master, lvskeeper backup follows it.
    var k = try startKeepalived(lab, "k", conf: kHigh, name: "k1")
    XCTAssertTrue(lab.wait(settle) { lab.holds("k", vip) }, lab.log("k1"))
    var h = try startHarness(lab, "h", spec: hLow, log: "h1")
    XCTAssertTrue(lab.wait(2) { lab.log("h1").contains("INIT BACKUP") })
    usleep(UInt32(min(3, 4 * interval) * 1_000_000))
    XCTAssertFalse(lab.log("h1").contains("MASTER"), "lvskeeper must follow keepalived: \(lab.log("h1"))")
    // 2. kill -9 keepalived: lvskeeper takes over, VIP answers.
    stopAndWait(k, SIGKILL)
    XCTAssertTrue(lab.wait(settle) { lab.holds("h", vip) }, lab.log("h1"))
    XCTAssertTrue(lab.wait(2) { lab.ping(from: "c", vip) })
    // 3. keepalived restarts with higher priority and preempts; lvskeeper drops the VIP.
    _ = try? lab.sh("ip -n \(lab.namespace("k")) addr del \(vip)/32 dev veth0")
    k = try startKeepalived(lab, "k", conf: kHigh, name: "k2")
    XCTAssertTrue(
      lab.wait(settle + 2) { lab.holds("k", vip) && !lab.holds("h", vip) }, lab.log("k2") + lab.log("h1"))
    XCTAssertTrue(lab.log("h1").contains("MASTER BACKUP"), lab.log("h1"))
    // 4. keepalived stops cleanly (priority 0): lvskeeper takes over within Skew_Time-ish.
    stopAndWait(k, SIGTERM)
    XCTAssertTrue(lab.wait(2 * interval + 1) { lab.holds("h", vip) }, lab.log("h1"))
    stopAndWait(h, SIGTERM)
    XCTAssertFalse(lab.holds("h", vip))

    // 5. Reverse: lvskeeper master, keepalived backup.
    h = try startHarness(lab, "h", spec: hHigh, log: "h2")
    XCTAssertTrue(lab.wait(settle) { lab.holds("h", vip) }, lab.log("h2"))
    k = try startKeepalived(lab, "k", conf: kLow, name: "k3")
    XCTAssertTrue(lab.wait(3) { lab.log("k3").contains("Entering BACKUP STATE") }, lab.log("k3"))
    usleep(UInt32(min(3, 4 * interval) * 1_000_000))
    XCTAssertFalse(lab.holds("k", vip), "keepalived must follow lvskeeper: \(lab.log("k3"))")
    // 6. kill -9 lvskeeper: keepalived takes over; lvskeeper restarts, removes its stale VIP, preempts.
    stopAndWait(h, SIGKILL)
    XCTAssertTrue(lab.wait(settle) { lab.holds("k", vip) }, lab.log("k3"))
    XCTAssertTrue(lab.wait(2) { lab.ping(from: "c", vip) })
    h = try startHarness(lab, "h", spec: hHigh, log: "h3")
    XCTAssertTrue(
      lab.wait(settle + 2) { lab.holds("h", vip) && !lab.holds("k", vip) }, lab.log("h3") + lab.log("k3"))
    XCTAssertTrue(lab.ping(from: "c", vip))
    // 7. lvskeeper stops cleanly: keepalived takes over at once.
    stopAndWait(h, SIGTERM)
    XCTAssertTrue(lab.wait(2 * interval + 1) { lab.holds("k", vip) }, lab.log("k3"))
    stopAndWait(k, SIGTERM)
    usleep(300_000)
    stopAndWait(capture, SIGINT)

    try compareCapture(lab, file: captureFile, version: version)
  }

  /// tshark decodes keepalived's and lvskeeper's adverts to the same fields (priority aside).
  func compareCapture(_ lab: NamespaceLab, file: String, version: Int) throws {
    let fields = [
      "ip.src", "ip.ttl", "vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count",
      "vrrp.auth_type", "vrrp.adver_int", "vrrp.short_adver_int", "vrrp.auth_string", "vrrp.ip_addr",
      "vrrp.checksum.status",
    ]
    let out = try lab.sh(
      "\(Self.tshark) -r \(file) -T fields " + fields.map { "-e \($0)" }.joined(separator: " ")
        + " 2>/dev/null")
    var bySource: [String: Set<String>] = [:]
    for line in out.split(separator: "\n") {
      var f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard f.count == fields.count else { continue }
      let source = f[0]
      let priority = f[5]
      f[5] = priority == "0" ? "0" : "P"
      bySource[source, default: []].insert(f.dropFirst().joined(separator: "|"))
    }
    let kSet = bySource[lab.address("k")] ?? []
    let hSet = bySource[lab.address("h")] ?? []
    XCTAssertFalse(kSet.isEmpty, "no keepalived adverts captured: \(out)")
    XCTAssertFalse(hSet.isEmpty, "no lvskeeper adverts captured: \(out)")
    XCTAssertEqual(kSet, hSet, "tshark decodes differ (keepalived vs lvskeeper)")
    for row in kSet.union(hSet) {
      XCTAssertTrue(row.hasPrefix("255|\(version)|1|"), row)
      XCTAssertTrue(row.hasSuffix("|1"), "checksum status must be good (1): \(row)")
    }
  }

  func testInteropVRRPv2() throws { try runInterop(version: 2, interval: 1, vrid: 61, prefix: "lvskvk2") }
  func testInteropVRRPv3() throws { try runInterop(version: 3, interval: 0.2, vrid: 62, prefix: "lvskvk3") }
}
