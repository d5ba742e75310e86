import Foundation
import XCTest

/// lvskeeper (VRRPHarness) against the distribution's keepalived, both ways, VRRPv2 (PASS and IPsec AH)
/// and v3: the peer follows, fails over on kill -9, is preempted back, and both sides' adverts decode
/// the same in tshark. With different AH keys neither accepts the other: both are Master.
final class KeepalivedInteropTests: XCTestCase {
  static let keepalived = "/usr/sbin/keepalived"
  static let tshark = "/usr/bin/tshark"
  var lab: NamespaceLab?

  override func tearDown() {
    lab?.tearDown()
    lab = nil
  }

  static func keepalivedConf(
    version: Int, vrid: Int, priority: Int, interval: Double, vip: String, authType: String = "PASS",
    authPass: String = "s3cret"
  ) -> String {
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
    \(version == 2 ? "  authentication {\n    auth_type \(authType)\n    auth_pass \(authPass)\n  }" : "")
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

  func startHarness(_ lab: NamespaceLab, _ node: String, spec: String, log: String, status: String? = nil)
    throws
    -> Process
  {
    let path = try lab.write("\(log).json", spec)
    let statusArguments = status.map { ["--status", lab.directory.appendingPathComponent($0).path] } ?? []
    return try lab.spawn(node, [try NamespaceLab.harnessPath(), path] + statusArguments, log: log)
  }

  /// The harness spec's extra JSON for `auth_type AH` (the spec's PASS password becomes the AH key).
  static let ahSpec = ",\"authType\":\"AH\""

  func stopAndWait(_ process: Process, _ signal: Int32) {
    kill(process.processIdentifier, signal)
    process.waitUntilExit()
  }

  /// k = keepalived node, h = harness node, c = client running tshark and ping.
  func runInterop(version: Int, interval: Double, vrid: Int, prefix: String, ah: Bool = false) throws {
    try NamespaceLab.require(Self.keepalived, package: "keepalived")
    try NamespaceLab.require(Self.tshark, package: "tshark")
    let lab = try NamespaceLab(prefix: prefix, nodes: ["k", "h", "c"])
    self.lab = lab
    let vip = "10.77.0.\(100 + vrid % 50)"
    let captureFile = lab.directory.appendingPathComponent("adverts.pcap").path
    let capture = try lab.spawn(
      "c", [Self.tshark, "-q", "-i", "veth0", "-f", "ip proto 112 or ip proto 51", "-w", captureFile],
      log: "tshark")
    usleep(700_000)
    let authType = ah ? "AH" : "PASS"
    let kHigh = Self.keepalivedConf(
      version: version, vrid: vrid, priority: 150, interval: interval, vip: vip, authType: authType)
    let kLow = Self.keepalivedConf(
      version: version, vrid: vrid, priority: 100, interval: interval, vip: vip, authType: authType)
    let hHigh = HarnessFailoverTests.spec(
      vrid: vrid, priority: 150, version: version, interval: interval, vip: vip, extra: ah ? Self.ahSpec : "")
    let hLow = HarnessFailoverTests.spec(
      vrid: vrid, priority: 100, version: version, interval: interval, vip: vip, extra: ah ? Self.ahSpec : "")
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

    try compareCapture(lab, file: captureFile, version: version, ah: ah)
  }

  /// tshark decodes keepalived's and lvskeeper's adverts to the same fields (priority aside). With AH
  /// the IP header (TOS, flags, protocol) and the AH (next header, length, ICV length) match too, the
  /// SPI is the sender's address, and the sequence numbers are non-zero (they continue the peer's).
  func compareCapture(_ lab: NamespaceLab, file: String, version: Int, ah: Bool = false) throws {
    var fields = [
      "ip.src", "ip.ttl", "vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count",
      "vrrp.auth_type", "vrrp.adver_int", "vrrp.short_adver_int", "vrrp.auth_string", "vrrp.ip_addr",
    ]
    if ah {
      fields += ["ip.dsfield", "ip.flags", "ip.proto", "ah.next_header", "ah.length", "ah.reserved"]
      try checkAuthenticationHeaders(lab, file: file)
    }
    fields.append("vrrp.checksum.status")
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

  /// tshark's AH fields per advert: SPI = source address, sequence > 0, a 96-bit ICV.
  func checkAuthenticationHeaders(_ lab: NamespaceLab, file: String) throws {
    let out = try lab.sh(
      "\(Self.tshark) -r \(file) -T fields -e ip.src -e ah.spi -e ah.sequence -e ah.icv 2>/dev/null")
    var sources: Set<String> = []
    for line in out.split(separator: "\n") {
      let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard f.count == 4 else { continue }
      sources.insert(f[0])
      let octets = f[0].split(separator: ".").compactMap { UInt32($0) }
      let address = octets.reduce(UInt32(0)) { $0 << 8 | $1 }
      let spi = f[1].hasPrefix("0x") ? UInt32(f[1].dropFirst(2), radix: 16) : UInt32(f[1])
      XCTAssertEqual(spi, address, "SPI must be the source address: \(line)")
      XCTAssertGreaterThan(UInt32(f[2]) ?? 0, 0, "sequence: \(line)")
      XCTAssertEqual(f[3].replacingOccurrences(of: ":", with: "").count, 24, "ICV is 96 bits: \(line)")
    }
    XCTAssertEqual(sources, [lab.address("k"), lab.address("h")], "AH adverts from both sides: \(out)")
  }

  func testInteropVRRPv2() throws { try runInterop(version: 2, interval: 1, vrid: 61, prefix: "lvskvk2") }
  func testInteropVRRPv2AuthenticationHeader() throws {
    try runInterop(version: 2, interval: 1, vrid: 63, prefix: "lvskvk4", ah: true)
  }

  /// Different AH keys: each side drops the other's adverts (ICV mismatch), so both become Master;
  /// lvskeeper counts the drops as auth_mismatch and keepalived logs the bad HMAC. keepalived 2.2 as
  /// Master restarts its advert timer on every packet it reads, even a rejected one, so while our
  /// adverts arrive it sends almost none: we see its first Master advert(s) and its priority-0 advert.
  func testAuthenticationHeaderWrongKeyIsRefusedBothWays() throws {
    try NamespaceLab.require(Self.keepalived, package: "keepalived")
    let lab = try NamespaceLab(prefix: "lvskvk5", nodes: ["k", "h", "c"])
    self.lab = lab
    let vip = "10.77.0.164"
    let k = try startKeepalived(
      lab, "k",
      conf: Self.keepalivedConf(version: 2, vrid: 64, priority: 150, interval: 1, vip: vip, authType: "AH"),
      name: "k")
    let h = try startHarness(
      lab, "h",
      spec: HarnessFailoverTests.spec(
        vrid: 64, priority: 100, version: 2, interval: 1, vip: vip, auth: false,
        extra: ",\"authPass\":\"n0tSecr3t\"" + Self.ahSpec),
      log: "h", status: "h-status.json")
    XCTAssertTrue(lab.wait(8) { lab.holds("k", vip) && lab.holds("h", vip) }, lab.log("k") + lab.log("h"))
    // Both keep claiming Master while the other's adverts keep arriving.
    usleep(3_500_000)
    XCTAssertTrue(lab.holds("k", vip) && lab.holds("h", vip), lab.log("k") + lab.log("h"))
    XCTAssertFalse(lab.log("h").contains("MASTER BACKUP"), lab.log("h"))
    XCTAssertFalse(
      lab.log("k").contains("with lower priority"), "keepalived accepted our advert: \(lab.log("k"))")
    let rejected = lab.log("k").components(separatedBy: "invalid IPSEC HMAC-MD5").count - 1
    XCTAssertGreaterThanOrEqual(rejected, 3, "keepalived must reject our ICV: \(lab.log("k"))")
    // keepalived's priority-0 advert on stop must not move lvskeeper either.
    stopAndWait(k, SIGTERM)
    usleep(500_000)
    stopAndWait(h, SIGTERM)
    let status = try Data(contentsOf: lab.directory.appendingPathComponent("h-status.json"))
    let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: status) as? [String: Any])
    let instance = try XCTUnwrap((json["instances"] as? [[String: Any]])?.first)
    let counters = try XCTUnwrap(instance["counters"] as? [String: Any])
    let dropped = try XCTUnwrap(counters["dropped"] as? [String: Any])
    XCTAssertGreaterThanOrEqual(dropped["auth_mismatch"] as? Int ?? 0, 2, "\(counters)")
    XCTAssertEqual(counters["received"] as? Int, 0, "\(counters)")
    XCTAssertEqual(counters["priorityZeroReceived"] as? Int, 0, "\(counters)")
  }

  func testInteropVRRPv3() throws { try runInterop(version: 3, interval: 0.2, vrid: 62, prefix: "lvskvk3") }
}
