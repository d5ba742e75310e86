import Foundation
import XCTest

/// Shorter keepalived cross-checks for the variants: VRRPv3 over IPv6, and unicast peers (where the
/// v3 IPv4 checksum pseudo-header carries the peer's address, not the group).
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
    interval: Double
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
        advert_int \(interval)
        version 3
      \(keepalivedBody(lab))
        virtual_ipaddress {
          \(vip)
        }
      }

      """
    let spec = """
      {"instances":[{"name":"VI_1","interface":"veth0","vrid":70,"version":3,"priority":100,\
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
  }

  func testVRRPv3IPv6() throws {
    try followTakeOverAndYield(
      prefix: "lvskvk6", vip: "fd00:77::100", keepalivedBody: { _ in "" }, harnessExtra: { _ in "" },
      interval: 0.2)
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
