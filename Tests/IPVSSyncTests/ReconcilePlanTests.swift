import XCTest

@testable import IPVSSync

final class ReconcilePlanTests: XCTestCase {
  struct Case {
    var name: String
    var desired: [ServiceKey: DesiredService]
    var retired: Set<ServiceKey> = []
    var actual: IPVSTable
    var draining: [RealServerID: Duration] = [:]  // started this long ago
    var expected: [IPVSOperation]
    var expectedDraining: Set<RealServerID> = []
  }

  let a = rs("10.1.0.1"), b = rs("10.1.0.2"), c = rs("10.1.0.3")
  let foreign = tcp("192.0.2.1", 443)

  var cases: [Case] {
    [
      Case(
        name: "create: service before its destinations", desired: [vip: desired([a: 1, b: 2])],
        actual: IPVSTable(),
        expected: [
          .addService(vip, wrr), .addDestination(vip, a, .init(weight: 1)),
          .addDestination(vip, b, .init(weight: 2)),
        ]),
      Case(
        name: "adopt: identical kernel table gives no operations", desired: [vip: desired([a: 1, b: 2])],
        actual: kernelTable([vip: (wrr, [a: (1, 0), b: (2, 0)])]), expected: []),
      Case(
        name: "edit in place: weight and scheduler",
        desired: [vip: desired([a: 5], attributes: .init(scheduler: "lc", family: .inet))],
        actual: kernelTable([vip: (wrr, [a: (1, 0)])]),
        expected: [
          .editService(vip, .init(scheduler: "lc", family: .inet)),
          .editDestination(vip, a, .init(weight: 5)),
        ]
      ),
      Case(
        name: "quiesce: inhibited server kept at weight 0", desired: [vip: desired([a: 0, b: 1])],
        actual: kernelTable([vip: (wrr, [a: (3, 0), b: (1, 0)])]),
        expected: [.editDestination(vip, a, .init(weight: 0))]),
      Case(
        name: "failed server without inhibit deleted at once even with connections",
        desired: [vip: desired([b: 1], configured: [a, b])],
        actual: kernelTable([vip: (wrr, [a: (1, 9), b: (1, 0)])]),
        expected: [.deleteDestination(vip, a)]),
      Case(
        name: "restore: returning server re-added", desired: [vip: desired([a: 1, b: 1])],
        actual: kernelTable([vip: (wrr, [b: (1, 0)])]), expected: [.addDestination(vip, a, .init(weight: 1))]),
      Case(
        name: "sorry server added before the pool is removed",
        desired: [vip: desired([c: 1], configured: [a, b, c])],
        actual: kernelTable([vip: (wrr, [a: (1, 0), b: (1, 0)])]),
        expected: [
          .addDestination(vip, c, .init(weight: 1)), .deleteDestination(vip, a), .deleteDestination(vip, b),
        ]),
      Case(
        name: "drift: flushed kernel rebuilt", desired: [vip: desired([a: 1])], actual: IPVSTable(),
        expected: [.addService(vip, wrr), .addDestination(vip, a, .init(weight: 1))]),
      Case(
        name: "foreign services untouched", desired: [vip: desired([a: 1])],
        actual: kernelTable([vip: (wrr, [a: (1, 0)]), foreign: (wrr, [b: (9, 0)])]), expected: []),
      Case(
        name: "retired service: destinations then service", desired: [:], retired: [vip],
        actual: kernelTable([vip: (wrr, [a: (1, 0)]), foreign: (wrr, [b: (1, 0)])]),
        expected: [.deleteDestination(vip, a), .deleteService(vip)]),
      Case(
        name: "drain: removed server with connections quiesced first", desired: [vip: desired([a: 1])],
        actual: kernelTable([vip: (wrr, [a: (1, 0), b: (4, 5)])]),
        expected: [.editDestination(vip, b, .init(weight: 0))],
        expectedDraining: [RealServerID(service: vip, server: b)]),
      Case(
        name: "drain: still busy within timeout, nothing to do", desired: [vip: desired([a: 1])],
        actual: kernelTable([vip: (wrr, [a: (1, 0), b: (0, 5)])]),
        draining: [RealServerID(service: vip, server: b): .seconds(30)], expected: [],
        expectedDraining: [RealServerID(service: vip, server: b)]),
      Case(
        name: "drain: deleted when idle", desired: [vip: desired([a: 1])],
        actual: kernelTable([vip: (wrr, [a: (1, 0), b: (0, 0)])]),
        draining: [RealServerID(service: vip, server: b): .seconds(5)], expected: [.deleteDestination(vip, b)]
      ),
      Case(
        name: "drain: deleted at the timeout though busy",
        desired: [vip: desired([a: 1], drain: .seconds(60))],
        actual: kernelTable([vip: (wrr, [a: (1, 0), b: (0, 5)])]),
        draining: [RealServerID(service: vip, server: b): .seconds(60)],
        expected: [.deleteDestination(vip, b)]),
    ]
  }

  func testCases() {
    let now = ContinuousClock.now
    for c in cases {
      let plan = ReconcilePlan(
        desired: c.desired, retired: c.retired, actual: c.actual,
        draining: c.draining.mapValues { now.advanced(by: .zero - $0) }, now: now)
      XCTAssertEqual(plan.operations, c.expected, c.name)
      XCTAssertEqual(Set(plan.draining.keys), c.expectedDraining, c.name)
    }
  }

  func testTunnelSettingsIgnoredUnlessTunnelForwarding() {
    var kernelSide = DestinationAttributes(forwarding: .directRoute)
    kernelSide.tunnel = TunnelSettings(type: .ipip)
    let wanted = DestinationAttributes(forwarding: .directRoute, tunnel: TunnelSettings(type: .gre))
    XCTAssertTrue(kernelSide.isEquivalent(to: wanted))
    XCTAssertFalse(
      DestinationAttributes(forwarding: .tunnel).isEquivalent(
        to: DestinationAttributes(forwarding: .tunnel, tunnel: TunnelSettings(type: .gre))))
  }
}
