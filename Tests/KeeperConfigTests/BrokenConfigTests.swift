import XCTest

@testable import KeeperConfig

/// A corpus of broken configurations, each with the exact position and message of its first error.
final class BrokenConfigTests: XCTestCase {
  struct Case {
    var name: String
    var text: String
    var line: Int
    var column: Int
    var fragment: String
  }

  static let vi = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n"
  static let vs = "virtual_server 10.0.0.1 80 {\n"

  static let cases: [Case] = [
    Case(
      name: "unknown top-level keyword", text: "global_defs {\n}\nvrrp_instanse VI {\n}\n", line: 3,
      column: 1,
      fragment: "unknown keyword 'vrrp_instanse' in the top level"),
    Case(
      name: "unknown keyword in global_defs", text: "global_defs {\n  router_idd x\n}\n", line: 2, column: 3,
      fragment: "unknown keyword 'router_idd' in global_defs"),
    Case(
      name: "unknown keyword in real_server", text: vs + " real_server 10.0.1.1 80 {\n  wieght 2\n }\n}\n",
      line: 3, column: 3, fragment: "unknown keyword 'wieght' in real_server"),
    Case(
      name: "notify with an unclosed quote", text: vi + " notify_master \"/bin/notify 'x\"\n}\n", line: 4,
      column: 16, fragment: "unclosed ' quote in command"),
    Case(
      name: "vrrp_rt_priority out of range", text: "global_defs {\n  vrrp_rt_priority 100\n}\n", line: 2,
      column: 20, fragment: "vrrp_rt_priority 100 is out of range 1..99"),
    Case(
      name: "vrrp_cpu_affinity not a number", text: "global_defs {\n  vrrp_cpu_affinity 0 one\n}\n", line: 2,
      column: 23, fragment: "CPU number must be an integer, not 'one'"),
    Case(
      name: "priority out of range", text: vi + " priority 256\n}\n", line: 4, column: 11,
      fragment: "priority 256 is out of range 1..255"),
    Case(
      name: "virtual_router_id zero",
      text: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 0\n}\n",
      line: 3, column: 20, fragment: "virtual_router_id 0 is out of range 1..255"),
    Case(
      name: "priority not a number", text: vi + " priority high\n}\n", line: 4, column: 11,
      fragment: "priority must be an integer, not 'high'"),
    Case(
      name: "weight out of range", text: vs + " real_server 10.0.1.1 80 {\n  weight 70000\n }\n}\n", line: 3,
      column: 10, fragment: "weight 70000 is out of range 0..65535"),
    Case(
      name: "bad virtual address", text: vi + " virtual_ipaddress {\n  10.0.0.256/24\n }\n}\n", line: 5,
      column: 3,
      fragment: "invalid IP address '10.0.0.256/24'"),
    Case(
      name: "bad prefix length", text: vi + " virtual_ipaddress {\n  10.0.0.1/33\n }\n}\n", line: 5,
      column: 3,
      fragment: "invalid prefix length '/33'"),
    Case(
      name: "bad real server address", text: vs + " real_server 10.0.1 80 {\n }\n}\n", line: 2, column: 14,
      fragment: "invalid IP address '10.0.1'"),
    Case(
      name: "bad port", text: vs + " real_server 10.0.1.1 65536 {\n }\n}\n", line: 2, column: 23,
      fragment: "port 65536 is out of range 0..65535"),
    Case(
      name: "duplicate real server",
      text: vs + " real_server 10.0.1.1 80 {\n }\n real_server 10.0.1.1 80 {\n }\n}\n", line: 4, column: 2,
      fragment: "duplicate real server 10.0.1.1:80 (first defined at test.conf:2:2)"),
    Case(
      name: "duplicate VRID on one interface",
      text: vi + "}\nvrrp_instance VI_2 {\n interface eth0\n virtual_router_id 51\n}\n", line: 5, column: 1,
      fragment: "virtual_router_id 51 on interface eth0 is already used by vrrp_instance 'VI_1'"),
    Case(
      name: "duplicate instance name", text: vi + "}\n" + vi + "}\n", line: 5, column: 1,
      fragment: "duplicate vrrp_instance 'VI_1' (first defined at test.conf:1:1)"),
    Case(
      name: "missing interface", text: "vrrp_instance VI_1 {\n virtual_router_id 5\n}\n", line: 1, column: 1,
      fragment: "vrrp_instance 'VI_1' has no 'interface'"),
    Case(
      name: "missing virtual_router_id", text: "vrrp_instance VI_1 {\n interface eth0\n}\n", line: 1,
      column: 1,
      fragment: "vrrp_instance 'VI_1' has no 'virtual_router_id'"),
    Case(
      name: "unclosed block", text: "global_defs {\n router_id a\n" + vi + "}\n", line: 1, column: 1,
      fragment: "unbalanced '{': block 'global_defs' is never closed"),
    Case(
      name: "extra closing brace", text: vi + "}\n}\n", line: 5, column: 1,
      fragment: "unbalanced '}': no block is open here"),
    Case(
      name: "brace without keyword", text: "{\n}\n", line: 1, column: 1, fragment: "'{' without a keyword"),
    Case(
      name: "unsupported checker ICMP_CHECK",
      text: vs + " real_server 10.0.1.1 80 {\n  ICMP_CHECK {\n  }\n }\n}\n",
      line: 3, column: 3,
      fragment: "unsupported checker 'ICMP_CHECK': lvskeeper cannot run this health check"),
    Case(
      name: "unsupported checker ICMP_CHECK",
      text: vs + " real_server 10.0.1.1 80 {\n  ICMP_CHECK {\n  }\n }\n}\n",
      line: 3, column: 3, fragment: "unsupported checker 'ICMP_CHECK'"),
    Case(
      name: "unsupported vrrp feature", text: vi + " use_ipvlan\n}\n", line: 4, column: 2,
      fragment: "unsupported keyword 'use_ipvlan' in vrrp_instance: lvskeeper does not implement it"),
    Case(
      name: "include with bad quoting", text: "include a.conf b.conf\n", line: 1, column: 16,
      fragment: "'include' takes exactly one file name or pattern"),
    Case(
      name: "includea that matches nothing", text: "includea /nonexistent-dir-lvskeeper/*.conf\n", line: 1,
      column: 10, fragment: "include pattern '/nonexistent-dir-lvskeeper/*.conf' matched no files"),
    Case(
      name: "unterminated multi-line parameter", text: "$X= \\\n  a \\\n", line: 1, column: 1,
      fragment: "multi-line definition of '$X' is not terminated"),
    Case(
      name: "recursive parameter", text: "$A=$A\nglobal_defs {\n router_id $A\n}\n", line: 3, column: 12,
      fragment:
        "more than 10000 parameter substitutions in one line (cap: substitutions per line; recursive definition?)"
    ),
    Case(
      name: "bad sequence", text: "~SEQ(X, a, 3) router_id x\n", line: 1, column: 1,
      fragment: "~SEQ(X, a, 3): expected (var, [start, [step,]] end)"),
    Case(
      name: "unterminated quote", text: "vrrp_script s {\n script \"/bin/true\n}\n", line: 2, column: 9,
      fragment: "unterminated quoted string"),
    Case(
      name: "unknown track_script", text: vi + " track_script {\n  nothere\n }\n}\n", line: 5, column: 3,
      fragment: "track_script 'nothere' of vrrp_instance 'VI_1' is not a defined vrrp_script"),
    Case(
      name: "unknown scheduler", text: vs + " lb_algo fastest\n}\n", line: 2, column: 10,
      fragment: "unknown scheduler 'fastest'"),
    Case(
      name: "bad forwarding method", text: vs + " lb_kind BRIDGE\n}\n", line: 2, column: 10,
      fragment: "forwarding method must be NAT, DR or TUN"),
    Case(
      name: "virtual_server group unknown", text: "virtual_server group G1 {\n}\n", line: 1, column: 1,
      fragment: "virtual_server group 'G1' is not a defined virtual_server_group"),
    Case(
      name: "family mismatch NAT", text: vs + " real_server fe80::1 80 {\n }\n}\n", line: 2, column: 2,
      fragment: "is not of the same address family as virtual server 10.0.0.1"),
    Case(
      name: "HTTP_GET without url", text: vs + " real_server 10.0.1.1 80 {\n  HTTP_GET {\n  }\n }\n}\n",
      line: 3,
      column: 3, fragment: "HTTP_GET has no 'url { ... }' to check"),
    Case(
      name: "bad status code",
      text: vs
        + " real_server 10.0.1.1 80 {\n  HTTP_GET {\n   url {\n    path /\n    status_code 200-99\n   }\n  }\n }\n}\n",
      line: 6, column: 17, fragment: "invalid status_code '200-99'"),
    Case(
      name: "bad digest",
      text: vs
        + " real_server 10.0.1.1 80 {\n  SSL_GET {\n   url {\n    path /\n    digest xyz\n   }\n  }\n }\n}\n",
      line: 6, column: 12, fragment: "digest must be 32 hexadecimal digits"),
    Case(
      name: "advert_int fractional in v2", text: vi + " advert_int 0.5\n}\n", line: 4, column: 13,
      fragment: "advert_int must be whole seconds (1..255) for VRRP version 2"),
    Case(
      name: "sync group with unknown member", text: "vrrp_sync_group G {\n group {\n  VI_X\n }\n}\n", line: 1,
      column: 1, fragment: "sync group 'G' names unknown vrrp_instance 'VI_X'"),
    Case(
      name: "block where none expected", text: vi + " priority 100 {\n }\n}\n", line: 4, column: 2,
      fragment: "'priority' does not take a block"),
    Case(
      name: "missing argument", text: vi + " priority\n}\n", line: 4, column: 2,
      fragment: "'priority' is missing its argument"),
    Case(
      name: "TCP_CHECK on port-less fwmark real server",
      text:
        "virtual_server fwmark 1 {\n persistence_timeout\n real_server 10.0.1.1 {\n  TCP_CHECK {\n  }\n }\n}\n",
      line: 4, column: 3, fragment: "TCP_CHECK needs 'connect_port'"),
    Case(
      name: "lvs_sync_daemon unknown instance", text: "global_defs {\n lvs_sync_daemon eth0 VI_9\n}\n",
      line: 2,
      column: 2, fragment: "lvs_sync_daemon names unknown vrrp_instance 'VI_9'"),
  ]

  func testEveryBrokenConfigReportsItsExactPosition() {
    XCTAssertGreaterThanOrEqual(Self.cases.count, 25)
    for testCase in Self.cases {
      let errors = loadErrors(testCase.text)
      guard let first = errors.first else {
        XCTFail("\(testCase.name): no error")
        continue
      }
      XCTAssertEqual(first.file, "test.conf", testCase.name)
      XCTAssertEqual(
        "\(first.line):\(first.column)", "\(testCase.line):\(testCase.column)", "\(testCase.name): \(first)")
      XCTAssertTrue(first.message.contains(testCase.fragment), "\(testCase.name): got '\(first.message)'")
      XCTAssertEqual(
        first.description, "test.conf:\(first.line):\(first.column): error: \(first.message)", testCase.name)
    }
  }

  func testAllErrorsAreCollected() {
    let text = Self.vi + " priority 0\n advert_int x\n bogus 1\n}\n" + Self.vs + " lb_algo nope\n}\n"
    let errors = loadErrors(text)
    XCTAssertEqual(errors.map { "\($0.line):\($0.column)" }, ["4:11", "5:13", "6:2", "9:10"])
  }

  func testIgnoredKeywordsWarnWithPosition() throws {
    let text = """
      global_defs {
        notification_email {
          ops@example.com
        }
        smtp_server 192.168.1.1
        enable_snmp_checker
      }
      """
    let warnings = try XCTUnwrap(loadValid(text)).warnings
    XCTAssertEqual(
      warnings.map(\.description),
      [
        "test.conf:2:3: warning: keyword 'notification_email' in global_defs is ignored by lvskeeper",
        "test.conf:5:3: warning: keyword 'smtp_server' in global_defs is ignored by lvskeeper",
        "test.conf:6:3: warning: keyword 'enable_snmp_checker' in global_defs is ignored by lvskeeper",
      ])
  }

  func testMissingInterfaceOnHostIsAWarning() throws {
    let text = "vrrp_instance VI_1 {\n interface eth9\n virtual_router_id 1\n}\n"
    let warnings = try XCTUnwrap(loadValid(text)).warnings
    XCTAssertEqual(
      warnings.map(\.description),
      [
        "test.conf:1:1: warning: vrrp_instance 'VI_1' has no virtual_ipaddress",
        "test.conf:2:12: warning: interface 'eth9' for vrrp_instance 'VI_1' does not exist on this host",
      ])
  }

  func testMissingMainFile() {
    XCTAssertThrowsError(try testLoader().load(path: "/nonexistent/lvskeeper.conf")) { error in
      XCTAssertEqual(
        (error as? ConfigErrors)?.description,
        "/nonexistent/lvskeeper.conf:1:1: error: cannot read configuration file: no such file")
    }
  }
}
