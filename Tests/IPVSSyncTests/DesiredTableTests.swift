import XCTest

@testable import IPVSSync

final class DesiredTableTests: XCTestCase {
  let a = rs("10.1.0.1"), b = rs("10.1.0.2"), sorry = rs("10.9.0.1")

  func spec(
    weights: [UInt32] = [2, 3], inhibit: Bool = false, quorum: UInt32 = 1, hysteresis: UInt32 = 0,
    sorry: SorryServerSpec? = nil, upUntilChecked: Bool = true
  ) -> IPVSSpec {
    let servers = zip([a, b], weights).map {
      RealServerSpec(key: $0, weight: $1, inhibitOnFailure: inhibit, upUntilChecked: upUntilChecked)
    }
    return IPVSSpec(services: [
      VirtualServiceSpec(
        key: vip, attributes: wrr, realServers: servers, quorum: quorum, hysteresis: hysteresis,
        sorryServer: sorry)
    ])
  }

  func weights(_ t: DesiredTable) -> [DestinationKey: UInt32] {
    t.services[vip]?.destinations.mapValues(\.weight) ?? [:]
  }

  func id(_ d: DestinationKey) -> RealServerID { RealServerID(service: vip, server: d) }

  func testHealthSemantics() {
    struct Case {
      var name: String
      var spec: IPVSSpec
      var health: [DestinationKey: RealServerHealth]
      var weights: [DestinationKey: UInt32]
    }
    let cases = [
      Case(name: "all up with configured weights", spec: spec(), health: [:], weights: [a: 2, b: 3]),
      Case(name: "failed removed", spec: spec(), health: [a: .down], weights: [b: 3]),
      Case(
        name: "failed inhibited at weight 0", spec: spec(inhibit: true), health: [a: .down],
        weights: [a: 0, b: 3]),
      Case(name: "dynamic weight", spec: spec(), health: [a: .up(weight: 9)], weights: [a: 9, b: 3]),
      Case(
        name: "unknown health down under alpha", spec: spec(upUntilChecked: false),
        health: [b: .up(weight: nil)], weights: [b: 3]),
      Case(
        name: "below quorum: sorry server replaces pool",
        spec: spec(quorum: 3, sorry: SorryServerSpec(key: sorry)),
        health: [b: .down], weights: [sorry: 1]),
      Case(
        name: "below quorum with inhibit: pool at 0 plus sorry",
        spec: spec(inhibit: true, quorum: 4, sorry: SorryServerSpec(key: sorry, weight: 2)),
        health: [a: .down], weights: [a: 0, b: 0, sorry: 2]),
      Case(
        name: "quorum up: sorry_server_inhibit keeps sorry at 0",
        spec: spec(sorry: SorryServerSpec(key: sorry, inhibit: true)), health: [:],
        weights: [a: 2, b: 3, sorry: 0]),
      Case(
        name: "below quorum without sorry server: pool unchanged", spec: spec(quorum: 10), health: [a: .down],
        weights: [b: 3]),
    ]
    for c in cases {
      let health = Dictionary(uniqueKeysWithValues: c.health.map { (id($0.key), $0.value) })
      XCTAssertEqual(
        weights(DesiredTable(spec: c.spec, health: health, previousQuorum: [:])), c.weights, c.name)
    }
  }

  func testQuorumHysteresis() {
    // quorum 5, hysteresis 2: lost below 3, regained at 7.
    let steps: [(UInt64, Bool)] = [(6, true), (3, true), (2, false), (6, false), (7, true), (0, false)]
    var state: Bool? = true
    for (weight, expected) in steps {
      state = DesiredTable.quorum(previous: state, liveWeight: weight, quorum: 5, hysteresis: 2)
      XCTAssertEqual(state, expected, "live weight \(weight)")
    }
    XCTAssertFalse(DesiredTable.quorum(previous: nil, liveWeight: 4, quorum: 5, hysteresis: 2))
    XCTAssertFalse(DesiredTable.quorum(previous: true, liveWeight: 0, quorum: 0, hysteresis: 0))
  }

  func testQuorumEventsOnlyOnTransitions() {
    let s = spec(quorum: 4, hysteresis: 1)
    let first = DesiredTable(spec: s, health: [:], previousQuorum: [:])
    XCTAssertEqual(first.events, [QuorumEvent(service: vip, up: true, liveWeight: 5, initial: true)])
    let same = DesiredTable(spec: s, health: [id(a): .down], previousQuorum: first.quorumUp)
    XCTAssertEqual(same.events, [], "3 is not below quorum-hysteresis = 3")
    let lost = DesiredTable(spec: s, health: [id(b): .down], previousQuorum: first.quorumUp)
    XCTAssertEqual(lost.events, [QuorumEvent(service: vip, up: false, liveWeight: 2, initial: false)])
  }

  /// `lvskeeper server`'s overrides over the checkers' verdict: drain and weight only touch a
  /// server held up; maintenance is a failure (removed, or weight 0 with inhibit_on_failure);
  /// nothing brings a failed server back; quorum counts the weight the kernel gets.
  func testAdminOverrides() {
    struct Case {
      var name: String
      var spec: IPVSSpec
      var health: [DestinationKey: RealServerHealth]
      var admin: [DestinationKey: AdminOverride]
      var weights: [DestinationKey: UInt32]
    }
    let cases = [
      Case(name: "drain: weight 0", spec: spec(), health: [:], admin: [a: .drain], weights: [a: 0, b: 3]),
      Case(name: "maint: removed", spec: spec(), health: [:], admin: [a: .maintenance], weights: [b: 3]),
      Case(
        name: "maint with inhibit: weight 0", spec: spec(inhibit: true), health: [a: .up(weight: nil)],
        admin: [a: .maintenance], weights: [a: 0, b: 3]),
      Case(
        name: "weight override", spec: spec(), health: [:], admin: [b: .weight(7)], weights: [a: 2, b: 7]),
      Case(
        name: "weight override beats a dynamic weight", spec: spec(), health: [b: .up(weight: 9)],
        admin: [b: .weight(4)], weights: [a: 2, b: 4]),
      Case(
        name: "a failed server stays out when drained", spec: spec(), health: [a: .down], admin: [a: .drain],
        weights: [b: 3]),
      Case(
        name: "a failed server stays out with a weight override", spec: spec(), health: [a: .down],
        admin: [a: .weight(5)], weights: [b: 3]),
      Case(
        name: "unchecked under alpha stays out when weighted", spec: spec(upUntilChecked: false), health: [:],
        admin: [a: .weight(5)], weights: [:]),
      Case(
        name: "maint of the whole pool: sorry server", spec: spec(sorry: SorryServerSpec(key: sorry)),
        health: [:], admin: [a: .maintenance, b: .maintenance], weights: [sorry: 1]),
      Case(
        name: "drain of the whole pool counts as down for quorum",
        spec: spec(sorry: SorryServerSpec(key: sorry)),
        health: [:], admin: [a: .drain, b: .drain], weights: [sorry: 1]),
    ]
    for c in cases {
      let health = Dictionary(uniqueKeysWithValues: c.health.map { (id($0.key), $0.value) })
      let admin = Dictionary(uniqueKeysWithValues: c.admin.map { (id($0.key), $0.value) })
      XCTAssertEqual(
        weights(DesiredTable(spec: c.spec, health: health, previousQuorum: [:], admin: admin)), c.weights,
        c.name)
    }
  }
}
