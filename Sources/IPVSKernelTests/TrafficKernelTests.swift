import IPVSSync
import Logging
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Kernel tests with real connection entries: local clients connect to a VIP on `lo`; IPVS
/// schedules their SYNs (LOCAL_OUT hook) and creates connection entries even though the real
/// servers never answer, which is enough to exercise counters and graceful draining.
struct TrafficKernelTests {
  let kernel: NetlinkIPVSKernel

  final class ManualClock: Sendable {
    let instant = Mutex(ContinuousClock.now)
    func advance(_ d: Duration) { instant.withLock { $0 = $0.advanced(by: d) } }
  }

  func register(_ r: inout KernelTestRunner) {
    r.add("connection counters and graceful drain with real connection entries") {
      let service = tcp("10.99.0.1", 80)
      let (busy, idle) = (dest("10.99.0.2", 80), dest("10.99.0.3", 80))
      try run("ip addr add 10.99.0.1/32 dev lo")
      var clients: [String] = []
      defer {
        for pid in clients { shell("kill \(pid)") }
        shell("ip addr del 10.99.0.1/32 dev lo")
      }
      let clock = ManualClock()
      var logger = Logger(label: "lvskeeper.ipvs.kerneltest")
      logger.logLevel = .warning
      let rec = IPVSReconciler(kernel: kernel, logger: logger, now: { clock.instant.withLock { $0 } })
      func spec(_ servers: [DestinationKey]) -> IPVSSpec {
        IPVSSpec(services: [
          VirtualServiceSpec(
            key: service, attributes: ServiceAttributes(scheduler: "rr", family: .inet),
            realServers: servers.map { RealServerSpec(key: $0, forwarding: .directRoute) },
            drainTimeout: .seconds(60))
        ])
      }
      rec.setSpec(spec([busy]))
      rec.reconcile()
      for _ in 0..<3 {
        let pid = try run("bash -c 'exec 3<>/dev/tcp/10.99.0.1/80' >/dev/null 2>&1 & echo $!")
        clients.append(pid.trimmingCharacters())
      }
      usleep(500_000)
      // Counters move as SYNs are retransmitted: compare with ipvsadm between two equal reads of ours.
      func counters() throws -> (UInt32, UInt32) {
        let d = try kernel.destinations(of: service).first { $0.key == busy }
        return (d?.activeConnections ?? 0, d?.inactiveConnections ?? 0)
      }
      var compared = false
      for _ in 0..<10 where !compared {
        let before = try counters()
        let listing = try IpvsadmListing.read()
        let after = try counters()
        guard before == after else { continue }
        try expect(before.0 + before.1 >= 1, "no connection entries counted: \(before)")
        guard let columns = listing.services["TCP 10.99.0.1:80"]?.destinations["10.99.0.2:80"],
          columns.count >= 4
        else { throw TestFailure(description: "ipvsadm lacks the busy destination") }
        try expectEqual(columns[2], "\(before.0)", "ActiveConn vs ipvsadm")
        try expectEqual(columns[3], "\(before.1)", "InActConn vs ipvsadm")
        compared = true
      }
      try expect(compared, "connection counters never stable across reads")
      // The kernel folds per-cpu counters into the exported stats every 2 s (estimation timer).
      var statsColumns: [String] = []
      for _ in 0..<8 where (statsColumns.first ?? "0") == "0" {
        usleep(500_000)
        statsColumns =
          try IpvsadmListing.read("--stats").services["TCP 10.99.0.1:80"]?.destinations["10.99.0.2:80"] ?? []
      }
      let stats = try kernel.destinations(of: service).first { $0.key == busy }?.stats
      try expect((stats?.connections ?? 0) >= 1, "stats64 connections \(String(describing: stats))")
      try expectEqual(statsColumns.first, "\(stats?.connections ?? 0)", "Conns vs ipvsadm --stats")

      // Remove the busy server from the configuration: quiesced, kept while it has connections.
      rec.setSpec(spec([idle]))
      let first = rec.reconcile()
      try expect(
        first.applied.contains(.editDestination(service, busy, .init(forwarding: .directRoute, weight: 0))),
        "not quiesced: \(first.applied)")
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.99.0.1:80", "10.99.0.2:80").weight, 0, "draining")
      clock.advance(.seconds(30))
      rec.reconcile()
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.99.0.1:80", "10.99.0.2:80").weight, 0, "kept")
      clock.advance(.seconds(31))
      let last = rec.reconcile()
      try expect(
        last.applied.contains(.deleteDestination(service, busy)), "not deleted at timeout: \(last.applied)")
      try expect(
        try IpvsadmListing.read().service("TCP 10.99.0.1:80").destinations["10.99.0.2:80"] == nil,
        "still listed")
    }
  }
}
