import KeeperCore
import XCTest

@testable import KeeperConfig

/// `static_ipaddress`, `static_routes`, `static_rules`, `virtual_routes` and `virtual_rules` read
/// as keepalived 2.2 reads them: its own samples' forms, its defaults (protocol keepalived, rule
/// preferences counted down from 16384), its warnings, and an error at the option for what
/// lvskeeper does not install.
final class RoutingKeywordTests: XCTestCase {
  static let samples = "/usr/share/doc/keepalived/samples/"

  func testTheRoutesSampleReadsAsKeepalivedReadsIt() throws {
    let loader = ConfigLoader(configID: "host", interfaces: testInterfaces)
    let loaded = try loader.load(path: Self.samples + "keepalived.conf.vrrp.routes")
    let config = loaded.configuration
    XCTAssertEqual(
      config.staticRoutes.map(\.description),
      [
        "192.168.209.0/24 via 192.168.200.254 dev eth0 src 192.168.100.1",
        "192.168.210.0/24 via 192.168.200.254 dev eth0", "192.168.211.0/24 via 192.168.200.254 dev eth0",
        "192.168.212.0/24 dev eth3", "192.168.213.0/24 dev eth1",
      ])
    XCTAssertEqual(config.staticRoutes.map(\.scope), [nil, nil, nil, 200, 253])
    XCTAssertEqual(Set(config.staticRoutes.map(\.protocol)), [18])
    let virtual = try XCTUnwrap(config.vrrpInstances.first?.virtualRoutes)
    XCTAssertEqual(
      virtual.map(\.description),
      [
        "192.168.109.0/24 via 192.168.200.254 dev eth1 src 192.168.100.1",
        "192.168.110.0/24 via 192.168.200.254 dev eth1", "192.168.111.0/24 dev eth2",
        "192.168.112.0/24 via 192.168.100.254",
        "192.168.113.0/24 nexthop via 192.168.100.252 nexthop via 192.168.100.253",
        "blackhole 192.168.113.1/32", "0.0.0.0/0 via 192.168.0.1 table 100",
      ])
    XCTAssertEqual(virtual[4].nextHops.count, 2)
    XCTAssertNil(virtual[4].gateway)
    // keepalived's deprecation warnings for "or" and "gw", at the word.
    let warnings = loaded.warnings.map { "\($0.line):\($0.column): \($0.message)" }
    XCTAssertTrue(warnings.contains { $0.hasPrefix("30:46: 'or' for routes is deprecated") }, "\(warnings)")
    XCTAssertTrue(warnings.contains { $0.hasPrefix("32:19: 'gw' for routes is deprecated") }, "\(warnings)")
  }

  /// keepalived's rules sample has `to 192.168.100./24`: keepalived logs "Invalid rule to address"
  /// and skips that rule, and numbers rules without a preference 16384, 16383, ... per family.
  func testTheRulesSampleSkipsItsInvalidRuleAndNumbersTheOthersAsKeepalived() throws {
    let loader = ConfigLoader(configID: "host", interfaces: testInterfaces)
    let loaded = try loader.load(path: Self.samples + "keepalived.conf.vrrp.rules")
    XCTAssertEqual(
      loaded.configuration.staticRules.map(\.description), ["priority 16384 from 192.168.100.0/24 table 1"])
    XCTAssertEqual(
      loaded.configuration.vrrpInstances.first?.virtualRules.map(\.description),
      ["priority 16383 from 192.168.200.0/24 table 2"])
    let warnings = loaded.warnings.map { "\($0.line):\($0.column): \($0.message)" }
    XCTAssertTrue(
      warnings.contains { $0.hasPrefix("10:5: rule has no preference; keepalived sets it to 16384") })
    XCTAssertTrue(warnings.contains { $0.hasPrefix("11:8: invalid rule to address '192.168.100./24'") })
    XCTAssertTrue(
      warnings.contains { $0.hasPrefix("25:9: rule has no preference; keepalived sets it to 16383") })
  }

  func testStaticAddressesKeepTheirOptionsAndNeedADevice() throws {
    let loader = ConfigLoader(configID: "host", interfaces: testInterfaces)
    let config = try loader.load(path: Self.samples + "keepalived.conf.vrrp.static_ipaddress").configuration
    XCTAssertEqual(
      config.staticAddresses.map(\.address.description),
      ["192.168.200.16", "192.168.200.17", "192.168.200.18"])
    XCTAssertEqual(config.staticAddresses.map(\.device), ["eth0", "eth1", "eth2"])
    XCTAssertEqual(config.staticAddresses.map(\.scope), ["link", "link", nil])
    let errors = loadErrors("static_ipaddress {\n  192.0.2.1/32\n}\n")
    XCTAssertEqual(
      errors.map(\.description), ["test.conf:2:3: error: static address 192.0.2.1 needs 'dev IF'"])
  }

  func testRuleOptionsReachTheModel() throws {
    let loaded = try XCTUnwrap(
      loadValid(
        """
        static_rules {
          inet6 from 2001:db8::/32 to 2001:db8:1::/48 lookup main preference 7
          not fwmark 0x10/0xf0 iif eth0 oif eth1 tos 0x10 order 8 blackhole
          from all priority 9 goto 20
          to 192.0.2.0/24 table 1000 priority 10
        }
        """))
    let rules = loaded.configuration.staticRules
    XCTAssertEqual(rules.map(\.family), [.inet6, .inet, .inet, .inet])
    XCTAssertEqual(rules.map(\.priority), [7, 8, 9, 10])
    XCTAssertEqual(rules[0].action, .table(254))
    XCTAssertEqual(rules[0].to?.description, "2001:db8:1::/48")
    XCTAssertEqual(rules[1].action, .blackhole)
    XCTAssertEqual([rules[1].fwmark, rules[1].fwmask], [16, 240])
    XCTAssertEqual([rules[1].inputInterface, rules[1].outputInterface], ["eth0", "eth1"])
    XCTAssertTrue(rules[1].invert)
    XCTAssertEqual(rules[1].tos, 16)
    XCTAssertEqual(rules[2].action, .goto(20))
    XCTAssertEqual(rules[2].from?.prefixLength, 0)
    XCTAssertEqual(rules[3].action, .table(1000))
    // FIB rule header: family, dst_len, src_len, tos, table (RT_TABLE_UNSPEC above 255), action.
    XCTAssertEqual(Array(rules[3].message(add: true, sequence: 1).bytes[16..<24]), [2, 24, 0, 0, 0, 0, 0, 1])
  }

  func testRouteOptionsReachTheModel() throws {
    let loaded = try XCTUnwrap(
      loadValid(
        """
        static_routes {
          inet6 to 2001:db8::/32 via inet6 fe80::1 dev eth0 metric 5 table 300
          unreachable 198.51.100.0/24 preference 9 protocol static no_track
          throw default table local
          prohibit 203.0.113.0/24 protocol boot
        }
        """))
    let routes = loaded.configuration.staticRoutes
    XCTAssertEqual(routes.map(\.kind), [.unicast, .unreachable, .throw, .prohibit])
    XCTAssertEqual(routes[0].family, .inet6)
    XCTAssertEqual([routes[0].metric, routes[0].table], [5, 300])
    XCTAssertEqual(routes.map(\.protocol), [18, 4, 18, 18])  // without no_track keepalived resets it
    XCTAssertEqual(routes[2].destination.description, "0.0.0.0/0")
    XCTAssertEqual(routes[2].table, 255)
    XCTAssertEqual(
      loaded.warnings.map(\.description),
      [
        "test.conf:5:36: warning: a route is tagged protocol keepalived (18) unless 'no_track' is given; protocol reset, as keepalived does"
      ])
    // struct rtmsg: family, dst_len, src_len, tos, table (0 with RTA_TABLE for 300), protocol, scope, type.
    let message = try routes[0].message(add: true, sequence: 1) { $0 == "eth0" ? 2 : nil }.get()
    XCTAssertEqual(Array(message.bytes[16..<24]), [10, 32, 0, 0, 0, 18, 0, 1])
    XCTAssertEqual(
      routes[0].message(add: true, sequence: 1) { _ in nil }.map { _ in true },
      .failure(.noSuchDevice("eth0")))
  }

  /// What keepalived knows and lvskeeper does not install is an error at the word; so are
  /// words neither knows and values out of range.
  func testUnsupportedAndInvalidEntriesAreErrorsAtTheirColumn() {
    let cases: [(String, String)] = [
      (
        "static_routes {\n  192.0.2.0/24 dev eth0 mtu 1400\n}\n",
        "2:25: route option 'mtu' is not supported yet"
      ),
      (
        "static_routes {\n  192.0.2.0/24 nexthop via 192.0.2.1 onlink\n}\n",
        "2:38: nexthop option 'onlink' is not supported yet"
      ),
      ("static_routes {\n  local 192.0.2.0/24\n}\n", "2:3: route option 'local' is not supported yet"),
      ("static_routes {\n  192.0.2.0/24 frobnicate\n}\n", "2:16: unknown route keyword 'frobnicate'"),
      ("static_routes {\n  dev eth0\n}\n", "2:3: route has no destination"),
      ("static_routes {\n  192.0.2.0/24 via 2001:db8::1\n}\n", "2:20: route mixes IPv4 and IPv6"),
      ("static_routes {\n  192.0.2.0/24 table rt_foo\n}\n", "2:22: routing table must be main, local"),
      ("static_routes {\n  192.0.2.0/24 scope galaxy\n}\n", "2:22: route scope must be"),
      (
        "static_rules {\n  from 192.0.2.0/24 table 5 sport 80\n}\n",
        "2:29: rule option 'sport' is not supported yet"
      ),
      ("static_rules {\n  from 192.0.2.0/24 table 5 blackhole\n}\n", "2:29: a rule takes one of table"),
      ("static_rules {\n  from 192.0.2.0/24 table 0\n}\n", "2:27: table 0 is not valid for a rule"),
      (
        "static_rules {\n  from 192.0.2.0/24 goto 5\n}\n",
        "2:3: a goto rule needs a preference below its target 5"
      ),
      ("static_rules {\n  fwmark 5/x table 5 priority 1\n}\n", "2:10: rule fwmark must be MARK[/MASK]"),
      (
        "vrrp_instance V {\n  interface eth0\n  virtual_router_id 1\n  virtual_routes {\n    192.0.2.0/24 realms 5\n  }\n}\n",
        "5:18: route option 'realms' is not supported yet"
      ),
    ]
    for (text, expected) in cases {
      let errors = loadErrors(text)
      XCTAssertEqual(errors.count, 1, "\(text): \(errors)")
      let got = errors.first.map { "\($0.line):\($0.column): \($0.message)" } ?? ""
      XCTAssertTrue(got.hasPrefix(expected), "\(text)\ngot \(got)\nwant \(expected)")
    }
  }

  /// keepalived's `nexthop` groups: every word after the first `nexthop` belongs to a hop; `or`
  /// and `nexthop` do not mix; weights are 1..256.
  func testNexthopsAsKeepalivedParsesThem() throws {
    let loaded = try XCTUnwrap(
      loadValid(
        """
        static_routes {
          192.0.2.0/24 table 7 nexthop via 198.51.100.1 dev eth0 weight 3 nexthop dev eth1 nexthop via inet 198.51.100.2
        }
        """))
    let route = try XCTUnwrap(loaded.configuration.staticRoutes.first)
    XCTAssertEqual(
      route.nextHops,
      [
        NextHop(gateway: IPAddress("198.51.100.1"), device: "eth0", weight: 3), NextHop(device: "eth1"),
        NextHop(gateway: IPAddress("198.51.100.2")),
      ])
    XCTAssertEqual(route.table, 7)
    // RTA_MULTIPATH's first rtnexthop: length 16 (8 + RTA_GATEWAY), flags 0, hops = weight - 1,
    // then the ifindex of eth0. The attribute sits after RTA_DST (8 bytes) and RTA_OIF-less header.
    let message = try route.message(add: true, sequence: 1) { $0 == "eth0" ? 5 : 6 }.get()
    let multipath = 16 + 12 + 8
    XCTAssertEqual(Array(message.bytes[(multipath + 2)..<(multipath + 4)]), [9, 0], "RTA_MULTIPATH")
    XCTAssertEqual(Array(message.bytes[(multipath + 4)..<(multipath + 12)]), [16, 0, 0, 2, 5, 0, 0, 0])
    let errors = [
      (
        "static_routes {\n  192.0.2.0/24 via 198.51.100.1 or 198.51.100.2 nexthop dev eth0\n}\n",
        "2:49: a route with 'or' cannot also have 'nexthop'"
      ),
      (
        "static_routes {\n  192.0.2.0/24 nexthop dev eth0 weight 257\n}\n",
        "2:40: nexthop weight must be 1..256"
      ),
      (
        "static_routes {\n  192.0.2.0/24 nexthop dev eth0 metric 5\n}\n",
        "2:33: route has trailing words after its nexthops: 'metric'"
      ),
    ]
    for (text, expected) in errors {
      let got = loadErrors(text).map { "\($0.line):\($0.column): \($0.message)" }
      XCTAssertEqual(got.count, 1, "\(got)")
      XCTAssertTrue(got.first?.hasPrefix(expected) ?? false, "got \(got), want \(expected)")
    }
  }
}
