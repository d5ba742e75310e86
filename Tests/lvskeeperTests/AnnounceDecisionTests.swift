import Foundation
import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore
import XCTest

@testable import lvskeeper

/// `AnnounceSpec` from the configuration and `AnnounceDecision`, the pure quorum decision: a VIP is
/// announced while ALL its announcing virtual servers hold keepalived's quorum (with hysteresis)
/// and `announce_quorum`, withdrawn with the reason otherwise.
final class AnnounceDecisionTests: XCTestCase {
  static let config = """
    global_defs {
      announce_interface vip0
      announce_table 7
      announce_withdraw_delay 0.25
    }
    virtual_server 192.0.2.10 80 {
      announce
      announce_quorum 50%
      real_server 10.0.0.1 80 {
        weight 2
      }
      real_server 10.0.0.2 80 {
      }
      real_server 10.0.0.3 80 {
      }
      real_server 10.0.0.4 80 {
      }
    }
    virtual_server 192.0.2.10 443 {
      announce
      quorum 3
      hysteresis 1
      real_server 10.0.0.1 443 {
        weight 2
      }
      real_server 10.0.0.2 443 {
        weight 2
      }
    }
    virtual_server 192.0.2.20 80 {
      real_server 10.0.0.1 80 {
      }
    }
    virtual_server 2001:db8::10 80 {
      announce
      real_server 2001:db8::1 80 {
      }
    }
    """

  func spec() throws -> AnnounceSpec {
    let loaded = try testLoad(Self.config)
    return AnnounceSpec(loaded.configuration)
  }

  func testSpecGroupsTheAnnouncingVirtualServersByVIP() throws {
    let spec = try spec()
    XCTAssertEqual(spec.interface, "vip0")
    XCTAssertEqual(spec.table, 7)
    XCTAssertEqual(spec.withdrawDelay, .milliseconds(250))
    XCTAssertEqual(spec.vips.map { "\($0.address)" }, ["192.0.2.10", "2001:db8::10"])
    XCTAssertEqual(spec.vips[0].services.map(\.name), ["TCP 192.0.2.10:80", "TCP 192.0.2.10:443"])
    XCTAssertEqual(spec.vips[0].services[0].minimumUpPercent, 50)
    XCTAssertEqual(spec.vips[0].services[1].quorum, 3)
    XCTAssertEqual(spec.vips[0].services[1].hysteresis, 1)
    // The health ids are the ones the monitor reports (ServiceMapping's naming).
    let mapping = try ServiceMapping(try testLoad(Self.config).configuration)
    let monitored = Set(mapping.monitored.map(\.id))
    for vip in spec.vips {
      for service in vip.services {
        for server in service.servers { XCTAssertTrue(monitored.contains(server.id)) }
      }
    }
  }

  func testQuorumDecisions() throws {
    let spec = try spec()
    let web = spec.vips[0].services[0].servers.map(\.id)
    let tls = spec.vips[0].services[1].servers.map(\.id)
    let v6 = spec.vips[1].services[0].servers.map(\.id)
    typealias Health = [HealthCheck.RealServerID: AnnounceDecision.Verdict]
    func health(webUp: Int, tlsUp: Int, v6Up: Bool = true) -> Health {
      var h: [HealthCheck.RealServerID: AnnounceDecision.Verdict] = [:]
      for (i, id) in web.enumerated() { h[id] = i < webUp ? .up(weight: nil) : .down }
      for (i, id) in tls.enumerated() { h[id] = i < tlsUp ? .up(weight: nil) : .down }
      h[v6[0]] = v6Up ? .up(weight: nil) : .down
      return h
    }
    // name, health, previous quorum, announced (v4, v6), reason code of v4
    struct Case {
      var name: String
      var health: [HealthCheck.RealServerID: AnnounceDecision.Verdict]
      var previous: [String: Bool]
      var announced: [Bool]
      var reason: AnnounceReason
    }
    var weight3 = health(webUp: 4, tlsUp: 0)
    weight3[tls[0]] = .up(weight: 3)
    let cases: [Case] = [
      Case(
        name: "all up", health: health(webUp: 4, tlsUp: 2), previous: [:], announced: [true, true],
        reason: .atQuorum(up: 6, total: 6)),
      Case(
        name: "no verdicts yet", health: [:], previous: [:], announced: [false, false],
        reason: .starting(service: "TCP 192.0.2.10:80", known: 0, total: 4)),
      Case(
        name: "2 of 4 web is 50%", health: health(webUp: 2, tlsUp: 2), previous: [:],
        announced: [true, true],
        reason: .atQuorum(up: 4, total: 6)),
      Case(
        name: "1 of 4 web is below 50%", health: health(webUp: 1, tlsUp: 2), previous: [:],
        announced: [false, true],
        reason: .quorumLost(service: "TCP 192.0.2.10:80", up: 1, total: 4, liveWeight: 2)),
      // 443: quorum 3, hysteresis 1, one server of weight 2 up: live weight 2.
      Case(
        name: "443 first evaluation below quorum 3", health: health(webUp: 4, tlsUp: 1), previous: [:],
        announced: [false, true],
        reason: .quorumLost(service: "TCP 192.0.2.10:443", up: 1, total: 2, liveWeight: 2)),
      Case(
        name: "443 held by hysteresis (2 >= 3-1)", health: health(webUp: 4, tlsUp: 1),
        previous: ["TCP 192.0.2.10:80": true, "TCP 192.0.2.10:443": true], announced: [true, true],
        reason: .atQuorum(up: 5, total: 6)),
      Case(
        name: "443 not regained below 3+1 (a MISC_CHECK weight of 3)", health: weight3,
        previous: ["TCP 192.0.2.10:80": true, "TCP 192.0.2.10:443": false], announced: [false, true],
        reason: .quorumLost(service: "TCP 192.0.2.10:443", up: 1, total: 2, liveWeight: 3)),
      Case(
        name: "443 regained at 3+1", health: health(webUp: 4, tlsUp: 2),
        previous: ["TCP 192.0.2.10:80": true, "TCP 192.0.2.10:443": false], announced: [true, true],
        reason: .atQuorum(up: 6, total: 6)),
      Case(
        name: "v6 down alone", health: health(webUp: 4, tlsUp: 2, v6Up: false), previous: [:],
        announced: [true, false], reason: .atQuorum(up: 6, total: 6)),
    ]
    for c in cases {
      let decision = AnnounceDecision(spec: spec, health: c.health, previousQuorum: c.previous)
      XCTAssertEqual(decision.outcomes.map(\.announced), c.announced, c.name)
      XCTAssertEqual(decision.outcomes.first?.reason, c.reason, c.name)
    }
  }

  func testDynamicWeightCountsTowardsQuorum() throws {
    let spec = try spec()
    let web = spec.vips[0].services[0].servers.map(\.id)
    let tls = spec.vips[0].services[1].servers.map(\.id)
    var health: [HealthCheck.RealServerID: AnnounceDecision.Verdict] = [:]
    for id in web { health[id] = .up(weight: nil) }
    health[tls[0]] = .up(weight: 5)  // a MISC_CHECK weight of 5 alone meets quorum 3
    health[tls[1]] = .down
    let decision = AnnounceDecision(spec: spec, health: health, previousQuorum: [:])
    XCTAssertEqual(decision.outcomes[0].announced, true)
    XCTAssertEqual(decision.quorumUp["TCP 192.0.2.10:443"], true)
  }

  /// An operator's `lvskeeper server` state counts as the reconciler gives it to the kernel:
  /// drained or `weight 0` servers hold nothing up, one in maintenance is down, `weight N`
  /// replaces the configured weight; an override never brings a failed server back.
  func testOperatorStatesCountAsTheKernelSeesThem() throws {
    let spec = try spec()
    let web = spec.vips[0].services[0].servers
    let tls = spec.vips[0].services[1].servers
    XCTAssertEqual(
      tls[0].admin?.description, "10.0.0.1:443 in TCP 192.0.2.10:443",
      "the id `lvskeeper server` keeps its state under")
    var health: [HealthCheck.RealServerID: AnnounceDecision.Verdict] = [:]
    for server in web + tls + spec.vips[1].services[0].servers { health[server.id] = .up(weight: nil) }
    func decide(_ admin: [IPVSSync.RealServerID: AdminOverride]) -> AnnounceDecision {
      AnnounceDecision(spec: spec, health: health, admin: admin, previousQuorum: [:])
    }
    func ids(_ servers: ArraySlice<AnnouncedRealServer>) -> [IPVSSync.RealServerID] {
      servers.compactMap(\.admin)
    }
    XCTAssertEqual(decide([:]).outcomes[0].announced, true)
    // Three of four web servers drained: 1 of 4 is below announce_quorum 50%.
    var drained: [IPVSSync.RealServerID: AdminOverride] = [:]
    for id in ids(web[1...]) { drained[id] = .drain }
    XCTAssertEqual(
      decide(drained).outcomes[0].reason,
      .quorumLost(service: "TCP 192.0.2.10:80", up: 1, total: 4, liveWeight: 2))
    // `weight 0` is a drain; maintenance is down.
    var mixed: [IPVSSync.RealServerID: AdminOverride] = [:]
    for id in ids(web[1...2]) { mixed[id] = .maintenance }
    mixed[ids(web[3...])[0]] = .weight(0)
    XCTAssertEqual(decide(mixed).outcomes[0].announced, false)
    // 443 (quorum 3): one server in maintenance leaves weight 2 < 3; `weight 3` on it meets it.
    let tlsIDs = ids(tls[...])
    XCTAssertEqual(decide([tlsIDs[1]: .maintenance]).outcomes[0].announced, false)
    XCTAssertEqual(decide([tlsIDs[1]: .maintenance, tlsIDs[0]: .weight(3)]).outcomes[0].announced, true)
    // Never back from down: `weight 9` on a failed server adds nothing.
    health[tls[1].id] = .down
    XCTAssertEqual(decide([tlsIDs[1]: .weight(9)]).outcomes[0].announced, false)
  }

  func testRouteIsAHostRouteInTheAnnounceTable() throws {
    let v4 = AnnounceOwner.route(try XCTUnwrap(IPAddress("192.0.2.10")), interface: "vip0", table: 7)
    XCTAssertEqual(v4.description, "192.0.2.10/32 dev vip0 table 7")
    XCTAssertEqual(v4.protocol, 250)
    let v6 = AnnounceOwner.route(try XCTUnwrap(IPAddress("2001:db8::10")), interface: "vip0", table: 300)
    XCTAssertEqual(v6.destination.prefixLength, 128)
  }

  private func testLoad(_ text: String) throws -> LoadedConfig {
    try ConfigLoader(configID: "test", interfaces: ["lo"]).load(text: text, fileName: "test.conf")
  }
}
