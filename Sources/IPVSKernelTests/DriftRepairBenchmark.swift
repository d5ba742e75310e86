import IPVSSync
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// `IPVSKernelTests bench-drift [services] [servers] [seconds] [interval]`: where a no-op reconcile of
/// a large table spends its time (kernel dump, our split and decode, the plan), next to `ipvsadm -Ln`;
/// then the CPU an idle daemon's drift repair costs over `seconds`: a full reconcile every `interval`
/// (what lvskeeper did before `DriftRepairSchedule`) against `repairDrift` every `interval`.
struct DriftRepairBenchmark {
  let kernel: NetlinkIPVSKernel
  let table: ReconcileBenchmark
  let seconds: Double
  let interval: Double

  func run() -> Bool {
    shell("ipvsadm -C")
    var logger = Logger(label: "lvskeeper.ipvs.bench")
    logger.logLevel = .warning
    let reconciler = IPVSReconciler(kernel: kernel, logger: logger)
    let spec = table.spec()
    reconciler.setSpec(spec)
    var start = Self.now()
    let cold = reconciler.reconcile()
    print(
      "table: \(table.services) services x \(table.servers) real servers; cold apply \(Self.ms(Self.now() - start))"
        + " ops \(cold.applied.count) failed \(cold.failures.count)")
    guard cold.failures.isEmpty else { return false }

    start = Self.now()
    let listing = shell("ipvsadm -Ln > /dev/null")
    print("ipvsadm -Ln (whole table):           \(Self.ms(Self.now() - start))  status \(listing.status)")

    start = Self.now()
    let reconcileCPU = Self.cpu()
    let noop = reconciler.reconcile()
    print(
      "no-op reconcile (full read):         \(Self.ms(Self.now() - start))  cpu \(Self.ms(Self.cpu() - reconcileCPU))"
        + "  ops \(noop.applied.count)")

    do {
      start = Self.now()
      let listed = try kernel.services()
      print("  service list dump:                 \(Self.ms(Self.now() - start))  (\(listed.count) services)")
      var total = DumpProfile()
      for service in listed {
        let p = try kernel.profileDestinationDump(of: service.key)
        total.total += p.total
        total.send += p.send
        total.recv += p.recv
        total.split += p.split
        total.decode += p.decode
        total.bytes += p.bytes
        total.recvCalls += p.recvCalls
        total.messages += p.messages
        total.destinations += p.destinations
      }
      print(
        "  destination dumps, total:          \(Self.ms(total.total))  (\(listed.count) dumps, one at a time)"
      )
      print("  destination dumps, send (kernel):  \(Self.ms(total.send))  (the first dump pass runs in send)")
      print(
        "  destination dumps, recv (kernel):  \(Self.ms(total.recv))  \(total.recvCalls) recv calls, "
          + "\(total.bytes / 1024) KiB, \(total.messages) messages")
      print("  destination dumps, split:          \(Self.ms(total.split))")
      print(
        "  destination dumps, decode:         \(Self.ms(total.decode))  (\(total.destinations) destinations)")
      let other = total.total - total.send - total.recv - total.split - total.decode
      print("  destination dumps, other:          \(Self.ms(other))  (request building, locking)")

      start = Self.now()
      let actual = try IPVSTable.read(from: kernel)
      print("  IPVSTable.read (dumps + table):    \(Self.ms(Self.now() - start))")
      start = Self.now()
      let desired = DesiredTable(spec: spec, health: [:], previousQuorum: [:])
      print("  DesiredTable:                      \(Self.ms(Self.now() - start))")
      start = Self.now()
      let plan = ReconcilePlan(
        desired: desired.services, retired: [], actual: actual, draining: [:], now: ContinuousClock.now)
      print(
        "  ReconcilePlan:                     \(Self.ms(Self.now() - start))  ops \(plan.operations.count)")
    } catch {
      print("breakdown failed: \(error)")
      return false
    }

    reconciler.setDriftRepairInterval(Self.duration(interval))
    start = Self.now()
    let listCPU = Self.cpu()
    let repair = reconciler.repairDrift()
    print(
      "repairDrift, service-list pass:      \(Self.ms(Self.now() - start))  cpu \(Self.ms(Self.cpu() - listCPU))"
        + "  ops \(repair.applied.count)  (next full read after \(reconciler.driftRepairSchedule().fullReadSpacing))"
    )

    let before = idleLoop { _ = reconciler.reconcile() }
    let after = idleLoop { _ = reconciler.repairDrift() }
    print(
      "idle \(Int(seconds)) s, drift repair every \(interval) s: full reconcile each time (before): "
        + "cpu \(Self.ms(before.cpu)) in \(before.runs) runs = \(percent(before.cpu))% of a CPU")
    print(
      "idle \(Int(seconds)) s, drift repair every \(interval) s: repairDrift (after):               "
        + "cpu \(Self.ms(after.cpu)) in \(after.runs) runs = \(percent(after.cpu))% of a CPU")
    shell("ipvsadm -C")
    return noop.applied.isEmpty && repair.applied.isEmpty
  }

  /// Runs `body` every `interval` for `seconds`; the process CPU time (user + system) it took.
  private func idleLoop(_ body: () -> Void) -> (cpu: Double, runs: Int) {
    let end = Self.now() + seconds
    let cpuStart = Self.cpu()
    var runs = 0
    var next = Self.now()
    while next < end {
      body()
      runs += 1
      next += interval
      let wait = next - Self.now()
      if wait > 0 { usleep(UInt32(min(wait, end - Self.now()) * 1_000_000)) }
    }
    return (Self.cpu() - cpuStart, runs)
  }

  private func percent(_ cpu: Double) -> Double { (cpu / seconds * 1000).rounded() / 10 }
  /// Monotonic seconds.
  static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
  }

  /// Process CPU seconds, user plus system (the netlink dumps run in the kernel on our behalf).
  static func cpu() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
      + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
  }

  static func ms(_ t: Double) -> String { String(Int((t * 1000).rounded())) + " ms" }
  static func ms(_ d: Duration) -> String {
    ms(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
  }
  static func duration(_ s: Double) -> Duration { .milliseconds(Int64(s * 1000)) }
}
