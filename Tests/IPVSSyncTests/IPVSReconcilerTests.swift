import Logging
import XCTest

@testable import IPVSSync

final class IPVSReconcilerTests: XCTestCase {
  let a = rs("10.1.0.1"), b = rs("10.1.0.2")
  let clock = TestClock()
  let kernel = InMemoryIPVSKernel()

  func reconciler() -> IPVSReconciler {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let clock = self.clock
    return IPVSReconciler(kernel: kernel, logger: logger, now: { clock.now() })
  }

  func spec(_ servers: [DestinationKey], drain: Duration = .seconds(60)) -> IPVSSpec {
    IPVSSpec(services: [
      VirtualServiceSpec(
        key: vip, attributes: wrr, realServers: servers.map { RealServerSpec(key: $0) }, drainTimeout: drain)
    ])
  }

  func testCreateThenNoOp() {
    let r = reconciler()
    r.setSpec(spec([a, b]))
    XCTAssertEqual(r.reconcile().applied.count, 3)
    XCTAssertEqual(r.reconcile().applied, [])
  }

  func testGracefulRemovalWaitsForConnectionsThenTimeout() {
    let r = reconciler()
    r.setSpec(spec([a, b], drain: .seconds(60)))
    r.reconcile()
    kernel.setConnections(vip, b, active: 3, inactive: 1)
    r.setSpec(spec([a], drain: .seconds(60)))
    XCTAssertEqual(r.reconcile().applied, [.editDestination(vip, b, .init(weight: 0))])
    XCTAssertEqual(kernel.table.services[vip]?.destinations[b]?.attributes.weight, 0)
    XCTAssertEqual(Array(r.status().draining.keys), [RealServerID(service: vip, server: b)])
    clock.advance(.seconds(30))
    XCTAssertEqual(r.reconcile().applied, [])
    clock.advance(.seconds(30))
    XCTAssertEqual(r.reconcile().applied, [.deleteDestination(vip, b)])
    XCTAssertTrue(r.status().draining.isEmpty)
  }

  func testGracefulRemovalEndsWhenIdle() {
    let r = reconciler()
    r.setSpec(spec([a, b]))
    r.reconcile()
    kernel.setConnections(vip, b, active: 1, inactive: 0)
    r.setSpec(spec([a]))
    r.reconcile()
    kernel.setConnections(vip, b, active: 0, inactive: 0)
    XCTAssertEqual(r.reconcile().applied, [.deleteDestination(vip, b)])
  }

  func testFailingOperationDoesNotStopOthersAndIsRetried() {
    let r = reconciler()
    kernel.setFailure(.addDestination(vip, a, .init(weight: 1)), errno: 22)
    r.setSpec(spec([a, b]))
    let report = r.reconcile()
    XCTAssertEqual(report.applied, [.addService(vip, wrr), .addDestination(vip, b, .init(weight: 1))])
    XCTAssertEqual(report.failures.map(\.attempts), [1])
    XCTAssertEqual(r.reconcile().failures.map(\.attempts), [2])
    XCTAssertEqual(r.status().pendingFailures.count, 1)
    kernel.setFailure(.addDestination(vip, a, .init(weight: 1)), errno: nil)
    XCTAssertEqual(r.reconcile().applied, [.addDestination(vip, a, .init(weight: 1))])
    XCTAssertTrue(r.status().pendingFailures.isEmpty)
  }

  func testRetiredServiceDeletedOnceForeignKept() {
    let foreign = tcp("192.0.2.1", 443)
    _ = try? kernel.apply([.addService(foreign, wrr), .addDestination(foreign, b, .init(weight: 7))])
    let r = reconciler()
    r.setSpec(spec([a]))
    r.reconcile()
    r.setSpec(IPVSSpec())
    XCTAssertEqual(r.reconcile().applied, [.deleteDestination(vip, a), .deleteService(vip)])
    XCTAssertEqual(r.reconcile().applied, [])
    XCTAssertEqual(Array(kernel.table.services.keys), [foreign])
    XCTAssertEqual(r.status().ownedServices, [])
  }

  func testDriftRepairedAndScopedReconcileOnlyTouchesScope() {
    let other = tcp("10.0.0.2", 80)
    let r = reconciler()
    var s = spec([a])
    s.services.append(VirtualServiceSpec(key: other, attributes: wrr, realServers: [RealServerSpec(key: b)]))
    r.setSpec(s)
    r.reconcile()
    _ = try? kernel.apply([
      .editDestination(vip, a, .init(weight: 50)), .editDestination(other, b, .init(weight: 50)),
    ])
    XCTAssertEqual(r.reconcile(only: [vip]).applied, [.editDestination(vip, a, .init(weight: 1))])
    XCTAssertEqual(kernel.table.services[other]?.destinations[b]?.attributes.weight, 50)
    XCTAssertEqual(r.reconcile().applied, [.editDestination(other, b, .init(weight: 1))])
  }

  func testStartWithFlushAndStopPolicies() {
    let foreign = tcp("192.0.2.1", 443)
    _ = try? kernel.apply([.addService(foreign, wrr)])
    let r = reconciler()
    r.setSpec(spec([a]))
    _ = r.start(flush: true)
    XCTAssertEqual(Array(kernel.table.services.keys), [vip], "lvs_flush flushes foreign services too")
    _ = try? kernel.apply([.addService(foreign, wrr)])
    r.stop(.removeOwned)
    XCTAssertEqual(Array(kernel.table.services.keys), [foreign])
  }

  func testTimeoutsAndSyncDaemon() throws {
    let r = reconciler()
    r.setSpec(IPVSSpec(services: [], timeouts: IPVSTimeouts(tcp: 100, tcpFin: 0, udp: 0)))
    r.setSyncDaemon(SyncDaemonConfig(role: .master, interface: "eth0", syncID: 3))
    r.reconcile()
    XCTAssertEqual(try kernel.timeouts(), IPVSTimeouts(tcp: 100, tcpFin: 120, udp: 300))
    XCTAssertEqual(try kernel.syncDaemons().map(\.role), [.master])
    r.setSyncDaemon(SyncDaemonConfig(role: .backup, interface: "eth0", syncID: 3))
    r.reconcile()
    XCTAssertEqual(try kernel.syncDaemons().map(\.role), [.backup])
    r.setSyncDaemon(nil)
    r.reconcile()
    XCTAssertEqual(try kernel.syncDaemons(), [])
  }

  func testHealthDrivenQuorumEvents() {
    let r = reconciler()
    r.setSpec(spec([a]))
    XCTAssertEqual(r.reconcile().quorumEvents.map(\.up), [true])
    r.setHealth(RealServerID(service: vip, server: a), .down)
    let report = r.reconcile()
    XCTAssertEqual(report.quorumEvents.map(\.up), [false])
    XCTAssertEqual(report.applied, [.deleteDestination(vip, a)])
    XCTAssertEqual(r.status().quorumUp[vip], false)
  }

  func testInMemoryKernelErrnos() {
    let results = try? kernel.apply([
      .addService(vip, ServiceAttributes(scheduler: "bogus", family: .inet)), .deleteService(vip),
      .addService(vip, wrr), .addService(vip, wrr), .editDestination(vip, a, .init()),
    ])
    XCTAssertEqual(results?.map { $0.error?.errno }, [2, 3, nil, 17, 2])
    if case .rejected(_, _, let reason)? = results?.first?.error {
      XCTAssertEqual(reason, .unknownSchedulerOrEngine)
    } else {
      XCTFail("expected a rejected error")
    }
  }
}
