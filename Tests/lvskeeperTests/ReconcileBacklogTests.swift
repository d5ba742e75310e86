import Dispatch
import IPVSSync
import KeeperCore
import Logging
import Synchronization
import XCTest

@testable import lvskeeper

/// Coalescing of background reconciles: the pure merge rules, then the queue with a kernel that
/// counts its destination dumps.
final class ReconcileBacklogTests: XCTestCase {
  let s1 = ServiceKey.inet(address: IPAddress("10.0.0.1")!, port: 80, protocol: .tcp)
  let s2 = ServiceKey.inet(address: IPAddress("10.0.0.2")!, port: 80, protocol: .tcp)

  func testMergeTable() {
    struct Case {
      var name: String
      var requests: [ReconcileRequest]
      var services: Set<ServiceKey>
      var everything: Bool
      var driftRepair: Bool
      var reason: String
    }
    let cases = [
      Case(
        name: "one health event", requests: [.health([s1], reason: "rs1 down")], services: [s1],
        everything: false, driftRepair: false, reason: "rs1 down"),
      Case(
        name: "health scopes unite",
        requests: [.health([s1], reason: "rs1 down"), .health([s2], reason: "rs2 down")], services: [s1, s2],
        everything: false, driftRepair: false, reason: "2 health events: rs1 down, rs2 down"),
      Case(
        name: "everything absorbs scopes",
        requests: [
          .health([s1], reason: "rs1 down"), .everything(reason: "sync daemon follows VI_1 master"),
        ],
        services: [], everything: true, driftRepair: false,
        reason: "rs1 down; sync daemon follows VI_1 master"),
      Case(
        name: "drift repair keeps the health scope to read",
        requests: [
          .driftRepair(reason: "periodic"), .health([s2], reason: "rs2 up"), .driftRepair(reason: "periodic"),
        ],
        services: [s2], everything: false, driftRepair: true, reason: "rs2 up; periodic"),
      Case(
        name: "many events: the first five and the count",
        requests: (1...12).map { .health([$0 % 2 == 0 ? s1 : s2], reason: "rs\($0) down") },
        services: [s1, s2], everything: false, driftRepair: false,
        reason: "12 health events: rs1 down, rs2 down, rs3 down, rs4 down, rs5 down, …"),
    ]
    for c in cases {
      var merged = c.requests[0]
      for r in c.requests.dropFirst() { merged.merge(r) }
      XCTAssertEqual(merged.services, c.services, c.name)
      XCTAssertEqual(merged.everything, c.everything, c.name)
      XCTAssertEqual(merged.driftRepair, c.driftRepair, c.name)
      XCTAssertEqual(merged.reason, c.reason, c.name)
    }
  }

  func testBacklogHoldsAtMostOneAndNeverMergesIntoAStartedRun() {
    var backlog = ReconcileBacklog()
    XCTAssertTrue(backlog.submit(.health([s1], reason: "a")), "first request schedules a run")
    XCTAssertFalse(backlog.submit(.health([s2], reason: "b")), "second merges")
    let first = backlog.start()
    XCTAssertEqual(first?.services, [s1, s2])
    XCTAssertNil(backlog.queued)
    XCTAssertTrue(backlog.submit(.health([s1], reason: "c")), "after start: a run of its own")
    XCTAssertEqual(backlog.start()?.services, [s1])
    XCTAssertNil(backlog.start())
  }

  /// 1,000 health events arriving while the kernel queue is busy cost one reconcile, one
  /// destination dump per affected service, instead of 1,000 reconciles.
  func testMassFlapCostsOneReconcile() throws {
    let kernel = DumpCountingKernel()
    let servers = (0..<1000).map {
      DestinationKey(address: IPAddress("10.9.\($0 / 250).\($0 % 250 + 1)")!, port: 80)
    }
    let reconciler = makeReconciler(kernel, servers)
    XCTAssertEqual(reconciler.reconcile().applied.count, 1001)
    kernel.reset()

    let queue = DispatchQueue(label: "test.kernel")
    let runs = CoalescingReconciles(queue: queue)
    let gate = DispatchSemaphore(value: 0)
    queue.async { gate.wait() }  // the queue is busy, as during a long reconcile
    let reports = Mutex<[(Int, String)]>([])
    for server in servers {
      reconciler.setHealth(RealServerID(service: s1, server: server), .down)
      runs.submit(.health([s1], reason: "\(server) down"), to: reconciler) { report, reason in
        reports.withLock { $0.append((report.applied.count, reason)) }
      }
    }
    gate.signal()
    queue.sync {}
    XCTAssertEqual(kernel.destinationDumps, 1, "one reconcile read the service once")
    let done = reports.withLock { $0 }
    XCTAssertEqual(done.map(\.0), [1000], "that reconcile removed all 1,000")
    XCTAssertTrue(done.first?.1.hasPrefix("1000 health events: ") ?? false, done.first?.1 ?? "")
  }

  /// A change made while a reconcile runs (after it may have read the kernel) gets a reconcile of
  /// its own afterwards.
  func testRequestDuringARunCausesAnotherRun() throws {
    let kernel = DumpCountingKernel()
    let servers = [DestinationKey(address: IPAddress("10.9.0.1")!, port: 80)]
    let reconciler = makeReconciler(kernel, servers)
    reconciler.reconcile()
    kernel.reset()
    let queue = DispatchQueue(label: "test.kernel")
    let runs = CoalescingReconciles(queue: queue)
    kernel.blockNextDump()
    let reports = Mutex<[Int]>([])
    runs.submit(.health([s1], reason: "first"), to: reconciler) { r, _ in
      reports.withLock { $0.append(r.applied.count) }
    }
    kernel.waitUntilBlocked()
    reconciler.setHealth(RealServerID(service: s1, server: servers[0]), .down)
    runs.submit(.health([s1], reason: "second"), to: reconciler) { r, _ in
      reports.withLock { $0.append(r.applied.count) }
    }
    kernel.unblock()
    queue.sync {}
    XCTAssertEqual(kernel.destinationDumps, 2)
    XCTAssertEqual(reports.withLock { $0 }, [0, 1], "the second run applied the change the first missed")
  }

  private func makeReconciler(_ kernel: DumpCountingKernel, _ servers: [DestinationKey]) -> IPVSReconciler {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let reconciler = IPVSReconciler(kernel: kernel, logger: logger)
    reconciler.setSpec(
      IPVSSpec(services: [
        VirtualServiceSpec(
          key: s1, attributes: ServiceAttributes(scheduler: "wrr", family: .inet),
          realServers: servers.map { RealServerSpec(key: $0) })
      ]))
    return reconciler
  }
}

/// An in-memory kernel that counts destination dumps and can hold one dump until released.
final class DumpCountingKernel: IPVSKernel {
  private let inner = InMemoryIPVSKernel()
  private let dumps = Mutex(0)
  private let blockNext = Mutex(false)
  private let blocked = DispatchSemaphore(value: 0)
  private let release = DispatchSemaphore(value: 0)

  var destinationDumps: Int { dumps.withLock { $0 } }
  func reset() { dumps.withLock { $0 = 0 } }
  func blockNextDump() { blockNext.withLock { $0 = true } }
  func waitUntilBlocked() { blocked.wait() }
  func unblock() { release.signal() }

  func info() throws(IPVSKernelError) -> IPVSInfo { try inner.info() }
  func services() throws(IPVSKernelError) -> [KernelService] { try inner.services() }
  func service(_ key: ServiceKey) throws(IPVSKernelError) -> KernelService { try inner.service(key) }
  func destinations(of service: ServiceKey) throws(IPVSKernelError) -> [KernelDestination] {
    dumps.withLock { $0 += 1 }
    let block = blockNext.withLock { flag in
      defer { flag = false }
      return flag
    }
    if block {
      blocked.signal()
      release.wait()
    }
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
