import Foundation
import XCTest

@testable import KeeperConfig

/// The scale-out keywords (docs/scaleout.md): `announce`, `announce_quorum` per virtual server;
/// `announce_interface`, `announce_table`, `announce_withdraw_delay` and the IPVS sysctls in
/// global_defs. Defaults, ranges, and errors at FILE:LINE:COL.
final class AnnounceKeywordTests: XCTestCase {
  func testDefaultsWhenNothingIsSaid() throws {
    let loaded = try XCTUnwrap(
      loadValid("virtual_server 192.0.2.10 80 {\n real_server 10.0.0.1 80 {\n }\n}\n"))
    let defs = loaded.configuration.globalDefs
    XCTAssertEqual(defs.announceInterface, "lvsk-announce")
    XCTAssertEqual(defs.announceTable, 100)
    XCTAssertEqual(defs.announceWithdrawDelay, 2)
    XCTAssertNil(defs.lvsSloppyTCP)
    XCTAssertNil(defs.lvsSloppySCTP)
    XCTAssertNil(defs.lvsConnReuseMode)
    let server = try XCTUnwrap(loaded.configuration.virtualServers.first)
    XCTAssertFalse(server.announce)
    XCTAssertNil(server.announceQuorum)
  }

  func testEveryKeywordSetsItsValue() throws {
    let text = """
      global_defs {
        announce_interface vip0
        announce_table 4242
        announce_withdraw_delay 0.5
        lvs_sloppy_tcp
        lvs_sloppy_sctp off
        lvs_conn_reuse_mode 0
      }
      virtual_server 192.0.2.10 80 {
        lvs_sched mh
        mh-port
        mh-fallback
        announce
        announce_quorum 50%
        real_server 10.0.0.1 80 {
        }
      }
      virtual_server 2001:db8::10 443 {
        announce on
        announce_quorum 75
        real_server 2001:db8::1 443 {
        }
      }
      """
    let loaded = try XCTUnwrap(loadValid(text))
    let defs = loaded.configuration.globalDefs
    XCTAssertEqual(defs.announceInterface, "vip0")
    XCTAssertEqual(defs.announceTable, 4242)
    XCTAssertEqual(defs.announceWithdrawDelay, 0.5)
    XCTAssertEqual(defs.lvsSloppyTCP, true)
    XCTAssertEqual(defs.lvsSloppySCTP, false)
    XCTAssertEqual(defs.lvsConnReuseMode, 0)
    let servers = loaded.configuration.virtualServers
    XCTAssertEqual(servers.map(\.announce), [true, true])
    XCTAssertEqual(servers.map(\.announceQuorum), [50, 75])
    XCTAssertEqual(servers[0].scheduler, .mh)
    XCTAssertEqual(servers[0].schedulerFlags, SchedulerFlags(flag1: true, flag2: true, flag3: false))
  }

  /// Table-driven: each bad statement is an error at its own line and column.
  func testBadValuesAreErrorsWithTheirPlace() {
    let cases: [(name: String, global: String, server: String, message: String, line: Int, column: Int)] = [
      ("reserved table", "announce_table 254", "", "reserved", 2, 16),
      ("table 0", "announce_table 0", "", "announce_table", 2, 16),
      ("long interface", "announce_interface abcdefghijklmnop", "", "not a valid interface name", 2, 20),
      ("negative delay", "announce_withdraw_delay -1", "", "announce_withdraw_delay", 2, 25),
      ("reuse mode 3", "lvs_conn_reuse_mode 3", "", "lvs_conn_reuse_mode", 2, 21),
      ("sloppy maybe", "lvs_sloppy_tcp maybe", "", "lvs_sloppy_tcp", 2, 16),
      ("quorum 0%", "", "announce_quorum 0%", "percentage", 5, 17),
      ("quorum 101", "", "announce_quorum 101", "percentage", 5, 17),
      ("quorum word", "", "announce_quorum half", "percentage", 5, 17),
    ]
    for c in cases {
      let text = "global_defs {\n\(c.global)\n}\nvirtual_server 192.0.2.10 80 {\n\(c.server)\n}\n"
      let errors = loadErrors(text)
      XCTAssertEqual(errors.count, 1, c.name)
      guard let error = errors.first else { continue }
      XCTAssertTrue(error.message.contains(c.message), "\(c.name): \(error.message)")
      XCTAssertEqual(error.location.line, c.line, c.name)
      XCTAssertEqual(error.location.column, c.column, c.name)
      XCTAssertTrue(error.description.hasPrefix("test.conf:\(c.line):\(c.column)"), "\(c.name): \(error)")
    }
  }

  func testAnnounceNeedsASingleAddress() {
    for key in ["fwmark 7", "group G"] {
      let text = """
        virtual_server_group G {
          192.0.2.10 80
        }
        virtual_server \(key) {
          persistence_timeout 60
          announce
        }
        """
      let errors = loadErrors(text)
      XCTAssertEqual(errors.count, 1, key)
      XCTAssertTrue(errors.first?.message.contains("announce needs a virtual_server IP PORT") ?? false, key)
      XCTAssertEqual(errors.first?.location.line, 6, key)
    }
  }

  /// keepalived ignores `mh-port`/`mh-fallback` (and `sh-*`) under another scheduler with a
  /// message; lvskeeper warns at the statement and does not set the flag.
  func testMHFlagsUnderAnotherSchedulerWarnAndAreIgnored() throws {
    let text = """
      virtual_server 192.0.2.10 80 {
        lvs_sched wrr
        mh-port
        sh-fallback
        flag-3
        real_server 10.0.0.1 80 {
        }
      }
      """
    let loaded = try XCTUnwrap(loadValid(text))
    XCTAssertEqual(loaded.configuration.virtualServers[0].schedulerFlags, SchedulerFlags(flag3: true))
    let warnings = loaded.warnings.filter { $0.message.contains("only applies to") }
    XCTAssertEqual(warnings.map(\.location.line), [3, 4])
    XCTAssertTrue(warnings.first?.message.contains("mh-port only applies to the mh scheduler") ?? false)
  }

  /// VRRP and announcement coexist, but one address has one owner.
  func testAnAddressIsEitherAnnouncedOrUnderVRRP() {
    let text = """
      vrrp_instance VI_1 {
        interface eth0
        virtual_router_id 51
        priority 100
        virtual_ipaddress {
          192.0.2.20/24
          192.0.2.10/32
        }
      }
      virtual_server 192.0.2.10 80 {
        announce
      }
      virtual_server 192.0.2.20 80 {
      }
      """
    let errors = loadErrors(text)
    XCTAssertEqual(errors.count, 1)
    XCTAssertTrue(errors.first?.message.contains("192.0.2.10 is announced by virtual_server at") ?? false)
    XCTAssertEqual(errors.first?.location.line, 7)
    // A VRRP VIP next to an announced one is fine.
    XCTAssertNotNil(loadValid(text.replacingOccurrences(of: "192.0.2.10/32", with: "192.0.2.30/32")))
  }
}
