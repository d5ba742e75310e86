import Foundation
import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore
import XCTest

@testable import lvskeeper

/// `ServiceMapping` over the shipped configurations: what the reconciler and the checkers get.
final class ServiceMappingTests: XCTestCase {
  static func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
    return address
  }

  static func tcp(_ address: String, _ port: UInt16) -> ServiceKey {
    .inet(address: ip(address), port: port, protocol: .tcp)
  }

  static func destination(_ address: String, _ port: UInt16) -> DestinationKey {
    DestinationKey(address: ip(address), port: port)
  }

  static func http(_ address: String, _ port: UInt16, codes: ClosedRange<Int>, timeout: Duration)
    -> CheckerSpec
  {
    .http(
      HTTPCheck(
        target: CheckTarget(address: address, port: port),
        urls: [URLCheck(path: "/healthz", statusCodes: StatusCodeSet(ranges: [codes]) ?? .success)],
        connectTimeout: timeout, version: .http10))
  }

  func testNATMasterVirtualServices() throws {
    let mapping = try ServiceMapping(try ShippedConfigs.load("nat-master.conf").configuration)
    let web = Self.tcp("192.168.10.100", 80)
    let database = Self.tcp("192.168.10.100", 3306)
    XCTAssertEqual(mapping.ipvs.services.map(\.key), [web, database])
    XCTAssertEqual(mapping.ipvs.timeouts, IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300))
    XCTAssertEqual(
      mapping.ipvs.services.first,
      VirtualServiceSpec(
        key: web, attributes: ServiceAttributes(scheduler: "wlc", family: .inet),
        realServers: [
          RealServerSpec(key: Self.destination("10.0.0.11", 80), weight: 10, forwarding: .masquerade),
          RealServerSpec(key: Self.destination("10.0.0.12", 80), weight: 10, forwarding: .masquerade),
          RealServerSpec(
            key: Self.destination("10.0.0.13", 80), weight: 5, forwarding: .masquerade, inhibitOnFailure: true
          ),
        ],
        quorum: 2, hysteresis: 1,
        sorryServer: SorryServerSpec(
          key: Self.destination("10.0.0.99", 8080), weight: 1, forwarding: .masquerade),
        drainTimeout: .seconds(30)))
    XCTAssertEqual(
      mapping.ipvs.services.last,
      VirtualServiceSpec(
        key: database,
        attributes: ServiceAttributes(
          scheduler: "rr", flags: .persistent, timeout: 600, netmask: 0xffff_ffff),
        realServers: [
          RealServerSpec(key: Self.destination("10.0.0.21", 3306), weight: 1, forwarding: .masquerade)
        ],
        quorum: 1, hysteresis: 0, sorryServer: nil, drainTimeout: .seconds(60)))
    XCTAssertNil(mapping.quorumScripts[web]?.up)
    XCTAssertNil(mapping.quorumScripts[web]?.down)
  }

  func testNATMasterCheckersInheritTheVirtualServersTiming() throws {
    let mapping = try ServiceMapping(try ShippedConfigs.load("nat-master.conf").configuration)
    let web = Self.tcp("192.168.10.100", 80)
    let webSchedule = CheckSchedule(
      delayLoop: .seconds(5), warmup: .seconds(5), retry: 2, delayBeforeRetry: .seconds(2), alpha: false)
    let expected: [MonitoredServer] = [
      MonitoredServer(
        id: HealthCheck.RealServerID("TCP 192.168.10.100:80 -> 10.0.0.11:80"),
        checkers: [
          Checker(Self.http("10.0.0.11", 80, codes: 200...200, timeout: .seconds(3)), schedule: webSchedule)
        ]),
      MonitoredServer(
        id: HealthCheck.RealServerID("TCP 192.168.10.100:80 -> 10.0.0.12:80"),
        checkers: [
          Checker(Self.http("10.0.0.12", 80, codes: 200...200, timeout: .seconds(3)), schedule: webSchedule)
        ]),
      MonitoredServer(
        id: HealthCheck.RealServerID("TCP 192.168.10.100:80 -> 10.0.0.13:80"),
        checkers: [
          Checker(Self.http("10.0.0.13", 80, codes: 200...299, timeout: .seconds(3)), schedule: webSchedule)
        ]),
      MonitoredServer(
        id: HealthCheck.RealServerID("TCP 192.168.10.100:3306 -> 10.0.0.21:3306"),
        checkers: [
          Checker(
            .mysql(
              MySQLCheck(
                target: CheckTarget(address: "10.0.0.21", port: 3306), connectTimeout: .seconds(3),
                user: "lvskeeper_check", password: "example-only")),
            schedule: CheckSchedule(
              delayLoop: .seconds(10), warmup: .seconds(10), retry: 2, delayBeforeRetry: .seconds(2),
              alpha: false))
        ]),
    ]
    XCTAssertEqual(mapping.monitored.count, expected.count)
    for (actual, wanted) in zip(mapping.monitored, expected) {
      XCTAssertEqual(actual, wanted, "\(wanted.id)")
    }
    XCTAssertEqual(
      mapping.destinations[HealthCheck.RealServerID("TCP 192.168.10.100:80 -> 10.0.0.13:80")],
      [IPVSSync.RealServerID(service: web, server: Self.destination("10.0.0.13", 80))])
    XCTAssertEqual(mapping.destinations.count, 4)
  }

  /// bind_if, fwmark, enable_sni and sni_name reach the probe's target and HTTP check.
  func testCheckerSocketOptionsAndSNIReachTheProbe() throws {
    let text = """
      virtual_server 10.0.0.1 443 {
        real_server 10.0.1.1 443 {
          SSL_GET {
            bind_if eth1
            fwmark 42
            sni_name c.example
            url {
              path /
            }
          }
          TCP_CHECK {
            bind_if eth2
          }
        }
      }
      """
    let config = try ConfigLoader(configID: "t", interfaces: ["eth1", "eth2"]).load(text: text).configuration
    let mapping = try ServiceMapping(config)
    let checkers = try XCTUnwrap(mapping.monitored.first?.checkers)
    guard case .https(let https) = checkers.first?.spec, case .tcp(let tcp) = checkers.last?.spec else {
      return XCTFail("unexpected checkers \(checkers)")
    }
    XCTAssertEqual(
      https.target,
      CheckTarget(address: "10.0.1.1", port: 443, bindInterface: "eth1", fwmark: 42))
    XCTAssertTrue(https.enableSNI)
    XCTAssertEqual(https.sniName, "c.example")
    XCTAssertEqual(tcp.target, CheckTarget(address: "10.0.1.1", port: 443, bindInterface: "eth2"))
  }

  func testNATBackupMapsTheSameTable() throws {
    let master = try ServiceMapping(try ShippedConfigs.load("nat-master.conf").configuration)
    let backup = try ServiceMapping(try ShippedConfigs.load("nat-backup.conf").configuration)
    XCTAssertEqual(backup.ipvs, master.ipvs, "the backup must be able to take over the same table")
    XCTAssertEqual(backup.monitored, master.monitored)
  }

  /// etc/scaleout-director.conf, the file every director of the scale-out lab runs (vm/scaleout.sh
  /// proves its effect on real IPVS, BIRD and flows): mh with mh-port, Direct Routing, the four real
  /// servers in file order (every director must build the same Maglev table), announced.
  func testScaleOutDirectorIsOneMHServiceAnnounced() throws {
    let loaded = try ShippedConfigs.load("scaleout-director.conf").configuration
    XCTAssertEqual(loaded.globalDefs.lvsSloppyTCP, true)
    let server = try XCTUnwrap(loaded.virtualServers.first)
    XCTAssertTrue(server.announce)
    XCTAssertEqual(server.announceQuorum, 50)
    let mapping = try ServiceMapping(loaded)
    let service = try XCTUnwrap(mapping.ipvs.services.first)
    XCTAssertEqual(mapping.ipvs.services.map(\.key), [Self.tcp("10.9.0.100", 80)])
    XCTAssertEqual(service.attributes, ServiceAttributes(scheduler: "mh", flags: [.mhPort], family: .inet))
    XCTAssertEqual(
      service.realServers.map(\.key.address),
      ["10.0.0.101", "10.0.0.102", "10.0.0.103", "10.0.0.104"].map(Self.ip))
    XCTAssertTrue(service.realServers.allSatisfy { $0.forwarding == .directRoute && $0.weight == 1 })
  }

  func testDRMasterGroupExpandsToOneServicePerMember() throws {
    let mapping = try ServiceMapping(try ShippedConfigs.load("dr-master.conf").configuration)
    let http = Self.tcp("192.168.20.100", 80)
    let https = Self.tcp("192.168.20.100", 443)
    let database = Self.tcp("192.168.20.100", 3306)
    XCTAssertEqual(mapping.ipvs.services.map(\.key), [http, https, database])
    XCTAssertNil(mapping.ipvs.timeouts)
    for service in mapping.ipvs.services.prefix(2) {
      XCTAssertEqual(service.attributes, ServiceAttributes(scheduler: "wrr", family: .inet), "\(service.key)")
      XCTAssertEqual(service.quorum, 2)
      XCTAssertEqual(service.hysteresis, 0)
      XCTAssertEqual(service.sorryServer?.key, Self.destination("192.168.20.90", 80))
      XCTAssertEqual(service.sorryServer?.forwarding, .directRoute)
      XCTAssertEqual(service.realServers.map(\.weight), [3, 3, 1])
      XCTAssertEqual(
        service.realServers.map(\.key.address),
        ["192.168.20.31", "192.168.20.32", "192.168.20.33"].map(Self.ip))
      XCTAssertTrue(service.realServers.allSatisfy { $0.forwarding == .directRoute })
      // `alpha`: a server starts down until its first check passes.
      XCTAssertTrue(service.realServers.allSatisfy { !$0.upUntilChecked && !$0.inhibitOnFailure })
    }
    let mysql = try XCTUnwrap(mapping.ipvs.services.last)
    XCTAssertEqual(
      mysql.attributes,
      ServiceAttributes(scheduler: "rr", flags: .persistent, timeout: 300, netmask: 0xffff_ffff))
    XCTAssertEqual(
      mysql.realServers,
      [RealServerSpec(key: Self.destination("192.168.20.41", 3306), weight: 1, forwarding: .directRoute)])

    // One health id per real server; it drives the destination in both kernel services of the group.
    let id = HealthCheck.RealServerID("group WEB -> 192.168.20.31:0")
    let destinations = try XCTUnwrap(
      mapping.destinations[id], "ids: \(mapping.destinations.ids.map(\.rawValue).sorted())")
    XCTAssertEqual(destinations.map(\.service), [http, https])
    let web = try XCTUnwrap(mapping.monitored.first { $0.id == id })
    XCTAssertEqual(
      web.checkers,
      [
        Checker(
          Self.http("192.168.20.31", 80, codes: 200...200, timeout: .seconds(2)),
          schedule: CheckSchedule(
            delayLoop: .seconds(3), warmup: .seconds(3), retry: 1, delayBeforeRetry: .seconds(3), alpha: true)
        )
      ])
    let database3306 = try XCTUnwrap(
      mapping.monitored.first {
        $0.id == HealthCheck.RealServerID("TCP 192.168.20.100:3306 -> 192.168.20.41:3306")
      })
    XCTAssertEqual(
      database3306.checkers.first?.schedule,
      CheckSchedule(
        delayLoop: .seconds(10), warmup: .seconds(10), retry: 1, delayBeforeRetry: .seconds(1), alpha: false))
  }

  func testAddressRangeGroupExpandsToEveryAddress() throws {
    let text = """
      virtual_server_group RANGE {
          10.0.0.1-3 80
          10.0.1.7 8080
          fwmark 9
      }
      virtual_server group RANGE {
          lb_algo rr
          lb_kind NAT
          protocol TCP
          real_server 192.168.1.10 80 {
              weight 2
              TCP_CHECK {
                  connect_timeout 1
              }
          }
      }
      """
    let config = try ConfigLoader(configID: "test", interfaces: ["lo"]).load(
      text: text, fileName: "range.conf")
    let mapping = try ServiceMapping(config.configuration)
    XCTAssertEqual(
      mapping.ipvs.services.map(\.key),
      [
        Self.tcp("10.0.0.1", 80), Self.tcp("10.0.0.2", 80), Self.tcp("10.0.0.3", 80),
        Self.tcp("10.0.1.7", 8080),
        .fwmark(9, family: .inet),
      ])
    XCTAssertTrue(mapping.ipvs.services.allSatisfy { $0.realServers.map(\.weight) == [2] })
    XCTAssertEqual(mapping.monitored.count, 1, "one checker per real server, however many kernel services")
    XCTAssertEqual(mapping.destinations.all.first?.destinations.count, 5)
  }

  func testRangeExpansionVariesTheLastSixteenBits() {
    let cases: [(first: String, last: String, expected: [String])] = [
      ("10.0.0.254", "10.0.1.1", ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]),
      ("10.0.0.5", "10.0.0.5", ["10.0.0.5"]),
      ("10.0.0.5", "10.0.0.3", ["10.0.0.5"]),
      ("10.1.0.1", "10.2.0.1", ["10.1.0.1"]),
      ("2001:db8::1", "2001:db8::3", ["2001:db8::1", "2001:db8::2", "2001:db8::3"]),
    ]
    for item in cases {
      guard let first = IPAddress(item.first), let last = IPAddress(item.last)
      else {
        XCTFail("bad case \(item)")
        continue
      }
      XCTAssertEqual(
        ServiceMapping.expand(first, last).map(\.description), item.expected, "\(item.first)-\(item.last)")
    }
  }

  /// A reload reconciles only the kernel services whose spec it changes: one table, one loop.
  func testAReloadReconcilesOnlyTheServicesItChanges() throws {
    func spec(_ text: String) throws -> IPVSSpec {
      try ServiceMapping(try ConfigLoader(configID: "t", interfaces: ["lo"]).load(text: text).configuration)
        .ipvs
    }
    func config(weight: Int = 1, scheduler: String = "rr", second: Bool = true, third: Bool = false) -> String
    {
      func vs(_ address: String, _ body: String) -> String {
        "virtual_server \(address) 80 {\n  lb_algo \(scheduler)\n  protocol TCP\n\(body)}\n"
      }
      return vs("10.0.0.1", "  real_server 10.1.0.1 80 {\n    weight \(weight)\n  }\n")
        + (second ? vs("10.0.0.2", "  real_server 10.1.0.2 80 {\n  }\n") : "")
        + (third ? vs("10.0.0.3", "  real_server 10.1.0.3 80 {\n  }\n") : "")
    }
    let (first, second, third) = (
      Self.tcp("10.0.0.1", 80), Self.tcp("10.0.0.2", 80), Self.tcp("10.0.0.3", 80)
    )
    let cases: [(name: String, after: String, changed: Set<ServiceKey>)] = [
      ("nothing changed", config(), []),
      ("one weight", config(weight: 3), [first]),
      ("a scheduler of both", config(scheduler: "wrr"), [first, second]),
      ("a service added", config(third: true), [third]),
      ("a service removed", config(second: false), [second]),
    ]
    let before = try spec(config())
    for c in cases {
      XCTAssertEqual(Daemon.changedServices(from: before, to: try spec(c.after)), c.changed, c.name)
    }
  }
}
