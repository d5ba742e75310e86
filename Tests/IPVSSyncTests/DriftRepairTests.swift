import Logging
import Synchronization
import XCTest

@testable import IPVSSync

/// An `InMemoryIPVSKernel` that counts the dumps a reconcile makes, and makes each destination dump
/// take `dumpCost` on a test clock (what reading a large service costs on the real kernel).
final class CountingKernel: IPVSKernel {
  let inner = InMemoryIPVSKernel()
  private let counts = Mutex((services: 0, destinations: 0))
  private let clock: TestClock?
  private let dumpCost: Duration

  init(clock: TestClock? = nil, dumpCost: Duration = .zero) {
    self.clock = clock
    self.dumpCost = dumpCost
  }

  var serviceDumps: Int { counts.withLock { $0.services } }
  var destinationDumps: Int { counts.withLock { $0.destinations } }
  func resetCounts() { counts.withLock { $0 = (0, 0) } }

  func info() throws(IPVSKernelError) -> IPVSInfo { try inner.info() }
  func services() throws(IPVSKernelError) -> [KernelService] {
    counts.withLock { $0.services += 1 }
    return try inner.services()
  }
  func service(_ key: ServiceKey) throws(IPVSKernelError) -> KernelService { try inner.service(key) }
  func destinations(of service: ServiceKey) throws(IPVSKernelError) -> [KernelDestination] {
    counts.withLock { $0.destinations += 1 }
    clock?.advance(dumpCost)
    return try inner.destinations(of: service)
  }
  func apply(_ operations: [IPVSOperation]) throws(IPVSKernelError) -> [IPVSOperationResult] {
    try inner.apply(operations)
  }
  func flush() throws(IPVSKernelError) { try inner.flush() }
  func timeouts() throws(IPVSKernelError) -> IPVSTimeouts { try inner.timeouts() }
  func setTimeouts(_ timeouts: IPVSTimeouts) throws(IPVSKernelError) { try inner.setTimeouts(timeouts) }
  func syncDaemons() throws(IPVSKernelError) -> [SyncDaemonConfig] { try inner.syncDaemons() }
  func startSyncDaemon(_ config: SyncDaemonConfig) throws(IPVSKernelError) {
    try inner.startSyncDaemon(config)
  }
  func stopSyncDaemon(_ role: SyncDaemonRole) throws(IPVSKernelError) { try inner.stopSyncDaemon(role) }
}

final class DriftRepairScheduleTests: XCTestCase {
  let t0 = ContinuousClock.now

  func testDepthTable() {
    struct Case {
      var name: String
      var lastRead: (after: Duration, took: Duration)?
      var required = false
      var askedAfter: Duration
      var expected: DriftRepairDepth
    }
    let cases = [
      Case(name: "never read: full", lastRead: nil, askedAfter: .seconds(1), expected: .full),
      Case(
        name: "fast read, before the interval: list", lastRead: (.zero, .milliseconds(10)),
        askedAfter: .seconds(9), expected: .serviceList),
      Case(
        name: "fast read, interval passed: full", lastRead: (.zero, .milliseconds(10)),
        askedAfter: .seconds(10), expected: .full),
      Case(
        name: "2 s read: waits 50 x 2 s", lastRead: (.zero, .seconds(2)), askedAfter: .seconds(99),
        expected: .serviceList),
      Case(
        name: "2 s read: full after 100 s", lastRead: (.zero, .seconds(2)), askedAfter: .seconds(100),
        expected: .full),
      Case(
        name: "required after a failure: full at once", lastRead: (.zero, .seconds(2)), required: true,
        askedAfter: .seconds(1), expected: .full),
    ]
    for c in cases {
      var schedule = DriftRepairSchedule(interval: .seconds(10))
      if let read = c.lastRead { schedule.recordFullRead(start: t0 + read.after, duration: read.took) }
      if c.required { schedule.requireFull() }
      XCTAssertEqual(schedule.depth(at: t0 + c.askedAfter), c.expected, c.name)
    }
  }

  func testFullReadClearsRequirementAndSpacingFollowsDuration() {
    var schedule = DriftRepairSchedule(interval: .seconds(10), budgetFactor: 50)
    XCTAssertTrue(schedule.fullRequired)
    schedule.recordFullRead(start: t0, duration: .seconds(3))
    XCTAssertFalse(schedule.fullRequired)
    XCTAssertEqual(schedule.fullReadSpacing, .seconds(150))
    schedule.recordFullRead(start: t0 + .seconds(150), duration: .milliseconds(1))
    XCTAssertEqual(schedule.fullReadSpacing, .seconds(10))
  }
}

final class DriftRepairReconcilerTests: XCTestCase {
  let clock = TestClock()
  let servers = (1...20).map { rs("10.2.0.\($0)") }
  let web = tcp("10.0.0.2", 443)

  func makeReconciler(dumpCost: Duration = .milliseconds(100)) -> (IPVSReconciler, CountingKernel) {
    let kernel = CountingKernel(clock: clock, dumpCost: dumpCost)
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let clock = self.clock
    let r = IPVSReconciler(kernel: kernel, logger: logger, now: { clock.now() })
    r.setDriftRepairInterval(.seconds(10))
    r.setSpec(
      IPVSSpec(services: [
        VirtualServiceSpec(key: vip, attributes: wrr, realServers: servers.map { RealServerSpec(key: $0) }),
        VirtualServiceSpec(key: web, attributes: wrr, realServers: [RealServerSpec(key: servers[0])]),
      ]))
    XCTAssertEqual(r.reconcile().applied.count, 23)
    XCTAssertEqual(r.reconcile().applied, [], "a full read of a table, timed by the dump cost")
    kernel.resetCounts()
    return (r, kernel)
  }

  func testIdleRepairReadsOnlyTheServiceListUntilTheBudgetAllows() {
    let (r, kernel) = makeReconciler(dumpCost: .seconds(1))  // 2 dumps: a full read "took" 2 s
    XCTAssertEqual(r.driftRepairSchedule().fullReadSpacing, .seconds(100))
    for _ in 0..<9 {
      clock.advance(.seconds(10))
      XCTAssertEqual(r.repairDrift().applied, [])
    }
    XCTAssertEqual(kernel.serviceDumps, 9)
    XCTAssertEqual(kernel.destinationDumps, 0, "no destination read before 50 x 2 s")
    clock.advance(.seconds(10))
    r.repairDrift()
    XCTAssertEqual(kernel.destinationDumps, 2, "the full read, 100 s after the last")
  }

  func testDeletedDestinationIsRepairedAtTheNextFullRead() throws {
    let (r, kernel) = makeReconciler(dumpCost: .milliseconds(1))
    try kernel.inner.perform(.deleteDestination(vip, servers[3]))
    clock.advance(.seconds(5))
    XCTAssertEqual(r.repairDrift().applied, [], "invisible in the service list")
    clock.advance(.seconds(5))
    XCTAssertEqual(r.repairDrift().applied, [.addDestination(vip, servers[3], .init(weight: 1))])
  }

  func testFlushedTableIsRebuiltAtOnce() throws {
    let (r, kernel) = makeReconciler()
    try kernel.inner.flush()
    clock.advance(.seconds(1))
    XCTAssertEqual(r.repairDrift().applied.count, 23)
    XCTAssertEqual(kernel.inner.table.services[vip]?.destinations.count, 20)
  }

  func testEditedServiceIsRepairedFromTheListAlone() throws {
    let (r, kernel) = makeReconciler()
    try kernel.inner.perform(.editService(web, ServiceAttributes(scheduler: "rr", family: .inet)))
    clock.advance(.seconds(1))
    XCTAssertEqual(r.repairDrift().applied, [.editService(web, wrr)])
    XCTAssertEqual(kernel.destinationDumps, 1, "only the edited service's destinations are read")
  }

  func testPendingFailureIsRetriedAndHealthScopeIsRead() throws {
    let (r, kernel) = makeReconciler()
    let failing = IPVSOperation.deleteDestination(vip, servers[5])
    kernel.inner.setFailure(failing, errno: 22)
    r.setHealth(RealServerID(service: vip, server: servers[5]), .down)
    XCTAssertEqual(r.repairDrift(alsoReading: [vip]).failures.map(\.operation), [failing])
    XCTAssertEqual(kernel.destinationDumps, 1)
    kernel.inner.setFailure(failing, errno: nil)
    clock.advance(.seconds(1))
    XCTAssertEqual(r.repairDrift().applied, [failing], "a pending failure's service is read and retried")
    XCTAssertEqual(kernel.destinationDumps, 2)
  }

  func testServiceWhoseAddKeepsFailingIsRetriedWithoutFullReads() {
    let (r, kernel) = makeReconciler()
    let bad = tcp("10.0.0.3", 80)
    let badAttributes = ServiceAttributes(scheduler: "nosuch", family: .inet)
    kernel.inner.setFailure(.addService(bad, badAttributes), errno: 2)
    r.setSpec(
      IPVSSpec(services: [
        VirtualServiceSpec(key: vip, attributes: wrr, realServers: servers.map { RealServerSpec(key: $0) }),
        VirtualServiceSpec(key: web, attributes: wrr, realServers: [RealServerSpec(key: servers[0])]),
        VirtualServiceSpec(key: bad, attributes: badAttributes, realServers: []),
      ]))
    XCTAssertEqual(r.reconcile(only: [bad]).failures.count, 1)
    for attempt in 2...4 {
      clock.advance(.seconds(1))
      XCTAssertEqual(r.repairDrift().failures.map(\.attempts), [attempt], "retried each time")
    }
    XCTAssertEqual(kernel.destinationDumps, 0, "a failing add does not force full reads")
  }

  func testDrainingCompletesWithoutFullReads() {
    let (r, kernel) = makeReconciler()
    kernel.inner.setConnections(vip, servers[19], active: 2, inactive: 0)
    r.setSpec(
      IPVSSpec(services: [
        VirtualServiceSpec(
          key: vip, attributes: wrr, realServers: servers.dropLast().map { RealServerSpec(key: $0) },
          drainTimeout: .seconds(60)),
        VirtualServiceSpec(key: web, attributes: wrr, realServers: [RealServerSpec(key: servers[0])]),
      ]))
    XCTAssertEqual(r.reconcile(only: [vip]).applied, [.editDestination(vip, servers[19], .init(weight: 0))])
    kernel.inner.setConnections(vip, servers[19], active: 0, inactive: 0)
    clock.advance(.seconds(1))
    XCTAssertEqual(r.repairDrift().applied, [.deleteDestination(vip, servers[19])])
  }
}
