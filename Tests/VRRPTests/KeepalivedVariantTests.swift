import Foundation
import XCTest

/// Shorter keepalived cross-checks for the variants: VRRPv3 over IPv6, unicast peers (where the
/// v3 IPv4 checksum pseudo-header carries the peer's address, not the group), and VRRPv2 AH to
/// unicast peers (where the ICV leaves the TTL out).
final class KeepalivedVariantTests: XCTestCase {
  var lab: NamespaceLab?

  override func tearDown() {
    lab?.tearDown()
    lab = nil
  }

  /// keepalived (priority 150) is master and lvskeeper (100) follows; keepalived stops cleanly and
  /// lvskeeper takes over (VIP answers); keepalived restarts, preempts, and lvskeeper lets go.
  func followTakeOverAndYield(
    prefix: String, vip: String, keepalivedBody: (NamespaceLab) -> String,
    harnessExtra: (NamespaceLab) -> String,
    interval: Double, version: Int = 3
  ) throws {
    try NamespaceLab.require(KeepalivedInteropTests.keepalived, package: "keepalived")
    let lab = try NamespaceLab(prefix: prefix, nodes: ["k", "h", "c"])
    self.lab = lab
    let conf = """
      vrrp_instance VI_1 {
        state BACKUP
        interface veth0
        virtual_router_id 70
        priority 150
        advert_int \(version == 2 ? String(Int(interval)) : String(interval))
        version \(version)
      \(keepalivedBody(lab))
        virtual_ipaddress {
          \(vip)
        }
      }

      """
    let spec = """
      {"instances":[{"name":"VI_1","interface":"veth0","vrid":70,"version":\(version),"priority":100,\
      "advertInterval":\(interval),"virtualAddresses":[{"address":"\(vip)"}]\(harnessExtra(lab))}]}
      """
    let confPath = try lab.write("k.conf", conf)
    let specPath = try lab.write("h.json", spec)
    let base = lab.directory.path
    func keepalived(_ log: String) throws -> Process {
      try lab.spawn(
        "k",
        [
          KeepalivedInteropTests.keepalived, "-n", "-l", "-D", "--vrrp", "-f", confPath, "-p",
          "\(base)/\(log).pid",
          "-r", "\(base)/\(log).vrrp.pid",
        ], log: log)
    }
    var k = try keepalived("k1")
    XCTAssertTrue(lab.wait(3 * interval + 3) { lab.holds("k", vip) }, lab.log("k1"))
    let h = try lab.spawn(
      "h", [try NamespaceLab.harnessPath(), specPath, "--status", "\(base)/status.json"], log: "h")
    usleep(UInt32(6 * interval * 1_000_000) + 500_000)
    XCTAssertFalse(lab.holds("h", vip), "lvskeeper must follow keepalived: \(lab.log("h"))")
    let status = (try? String(contentsOfFile: "\(base)/status.json", encoding: .utf8)) ?? ""
    XCTAssertTrue(status.contains("\"state\":\"BACKUP\""), status)
    XCTAssertFalse(status.contains("bad_checksum"), status)
    XCTAssertFalse(status.contains("auth_mismatch"), status)
    kill(k.processIdentifier, SIGTERM)
    k.waitUntilExit()
    XCTAssertTrue(lab.wait(2) { lab.holds("h", vip) }, lab.log("h"))
    XCTAssertTrue(lab.wait(3) { lab.ping(from: "c", vip) }, "VIP must answer on lvskeeper")
    k = try keepalived("k2")
    XCTAssertTrue(
      lab.wait(3 * interval + 3) { lab.holds("k", vip) && !lab.holds("h", vip) }, lab.log("k2") + lab.log("h")
    )
    kill(h.processIdentifier, SIGTERM)
    h.waitUntilExit()
    XCTAssertTrue(lab.log("h").contains("MASTER BACKUP"), lab.log("h"))
    // k2 heard lvskeeper's adverts for seconds before preempting: none may fail its checks.
    for log in ["k1", "k2"] {
      XCTAssertFalse(lab.log(log).contains("invalid"), "keepalived rejected an advert: \(lab.log(log))")
    }
  }

  func testVRRPv3IPv6() throws {
    try followTakeOverAndYield(
      prefix: "lvskvk6", vip: "fd00:77::100", keepalivedBody: { _ in "" }, harnessExtra: { _ in "" },
      interval: 0.2)
  }

  /// AH to a unicast peer: keepalived zeroes the TTL in the ICV for unicast instances only.
  func testVRRPv2AuthenticationHeaderUnicastPeers() throws {
    try followTakeOverAndYield(
      prefix: "lvskvka", vip: "10.77.0.151",
      keepalivedBody: { lab in
        "  unicast_src_ip \(lab.address("k"))\n    unicast_peer {\n      \(lab.address("h"))\n    }\n"
          + "    authentication {\n      auth_type AH\n      auth_pass un1cast\n    }"
      },
      harnessExtra: { lab in
        ",\"sourceAddress\":\"\(lab.address("h"))\",\"unicastPeers\":[\"\(lab.address("k"))\"],"
          + "\"authPass\":\"un1cast\",\"authType\":\"AH\""
      }, interval: 1, version: 2)
  }

  func testVRRPv3UnicastPeers() throws {
    try followTakeOverAndYield(
      prefix: "lvskvku", vip: "10.77.0.150",
      keepalivedBody: { lab in
        "  unicast_src_ip \(lab.address("k"))\n    unicast_peer {\n      \(lab.address("h"))\n    }"
      },
      harnessExtra: { lab in
        ",\"sourceAddress\":\"\(lab.address("h"))\",\"unicastPeers\":[\"\(lab.address("k"))\"]"
      }, interval: 0.2)
  }
}
