import IPVSSync
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Kernel tests of the reconciler: each asserts on what `ipvsadm -Ln` reads back.
struct ReconcileKernelTests {
  let kernel: NetlinkIPVSKernel

  func reconciler() -> IPVSReconciler {
    var logger = Logger(label: "lvskeeper.ipvs.kerneltest")
    logger.logLevel = .warning
    return IPVSReconciler(kernel: kernel, logger: logger)
  }

  static let web = tcp("10.10.0.1", 80)
  static func webSpec(weights: [UInt32] = [1, 2, 3], scheduler: String = "wrr", inhibit: Bool = false)
    -> VirtualServiceSpec
  {
    VirtualServiceSpec(
      key: web,
      attributes: ServiceAttributes(
        scheduler: scheduler, flags: .persistent, timeout: 300,
        netmask: ServiceAttributes.ipv4Netmask(prefixLength: 24)),
      realServers: weights.enumerated().map { i, w in
        RealServerSpec(key: dest("10.20.0.\(i + 1)", 8080), weight: w, inhibitOnFailure: inhibit)
      })
  }

  func register(_ r: inout KernelTestRunner) {
    r.add("info matches ipvsadm header") {
      let info = try kernel.info()
      let listing = try IpvsadmListing.read()
      try expect(
        listing.header.contains("version \(info.versionString) (size=\(info.connectionTableSize))"),
        "ipvsadm header '\(listing.header)' vs \(info.versionString) size \(info.connectionTableSize)")
    }
    r.add("create v4 tcp wrr persistent with masq servers") {
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      let report = rec.reconcile()
      try expect(
        report.succeeded, "report failures \(report.failures) \(String(describing: report.readError))")
      try expectEqual(report.applied.count, 4, "operations")
      let s = try IpvsadmListing.read().service("TCP 10.10.0.1:80")
      try expectEqual(s.scheduler, "wrr", "scheduler")
      try expect(s.flags.starts(with: ["persistent", "300", "mask", "255.255.255.0"]), "flags \(s.flags)")
      let listing = try IpvsadmListing.read()
      for i in 1...3 {
        let d = try listing.destination("TCP 10.10.0.1:80", "10.20.0.\(i):8080")
        try expectEqual(d.forward, "Masq", "forward")
        try expectEqual(d.weight, i, "weight of 10.20.0.\(i)")
      }
    }
    r.add("own dump equals ipvsadm") {
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      rec.reconcile()
      let ours = try kernel.destinations(of: Self.web).sorted { $0.key < $1.key }
      try expectEqual(
        ours.map { "\($0.key)" }, ["10.20.0.1:8080", "10.20.0.2:8080", "10.20.0.3:8080"], "dests")
      try expectEqual(ours.map(\.attributes.weight), [1, 2, 3], "weights")
      let svc = try kernel.service(Self.web)
      try expectEqual(svc.attributes.timeout, 300, "persistence timeout")
      try expectEqual(svc.attributes.netmask, ServiceAttributes.ipv4Netmask(prefixLength: 24), "netmask")
    }
    r.add("adopt at start: pre-created by ipvsadm gives zero operations") {
      try run("ipvsadm -A -t 10.10.0.1:80 -s wrr -p 300 -M 255.255.255.0")
      for (i, w) in [1, 2, 3].enumerated() {
        try run("ipvsadm -a -t 10.10.0.1:80 -r 10.20.0.\(i + 1):8080 -m -w \(w)")
      }
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      let report = rec.start(flush: false)
      try expect(report.applied.isEmpty && report.failures.isEmpty, "expected no ops, got \(report.applied)")
    }
    r.add("edit in place: scheduler, weights, persistence are sets, never delete/add") {
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      rec.reconcile()
      var spec = Self.webSpec(weights: [5, 2, 7], scheduler: "lc")
      spec.attributes.timeout = 600
      spec.realServers[0].upperThreshold = 100
      rec.setSpec(IPVSSpec(services: [spec]))
      let report = rec.reconcile()
      let kinds = report.applied.map { op -> String in
        switch op {
        case .editService, .editDestination: "edit"
        default: "other"
        }
      }
      try expectEqual(kinds, ["edit", "edit", "edit"], "operation kinds of \(report.applied)")
      let listing = try IpvsadmListing.read()
      let s = try listing.service("TCP 10.10.0.1:80")
      try expectEqual(s.scheduler, "lc", "scheduler")
      try expect(s.flags.starts(with: ["persistent", "600"]), "flags \(s.flags)")
      try expectEqual(try listing.destination("TCP 10.10.0.1:80", "10.20.0.1:8080").weight, 5, "weight")
      try expectEqual(try listing.destination("TCP 10.10.0.1:80", "10.20.0.3:8080").weight, 7, "weight")
    }
    r.add("quiesce with inhibit_on_failure then restore") {
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec(inhibit: true)]))
      rec.reconcile()
      let id = RealServerID(service: Self.web, server: dest("10.20.0.2", 8080))
      rec.setHealth(id, .down)
      rec.reconcile(only: [Self.web])
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.10.0.1:80", "10.20.0.2:8080").weight, 0, "quiesced")
      rec.setHealth(id, .up(weight: nil))
      rec.reconcile(only: [Self.web])
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.10.0.1:80", "10.20.0.2:8080").weight, 2, "restored")
      rec.setHealth(id, .up(weight: 9))
      rec.reconcile()
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.10.0.1:80", "10.20.0.2:8080").weight, 9, "dynamic")
    }
    r.add("failed server without inhibit is removed and returns") {
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      rec.reconcile()
      let id = RealServerID(service: Self.web, server: dest("10.20.0.1", 8080))
      rec.setHealth(id, .down)
      rec.reconcile()
      try expect(
        try IpvsadmListing.read().service("TCP 10.10.0.1:80").destinations["10.20.0.1:8080"] == nil,
        "still listed")
      rec.setHealth(id, .up(weight: nil))
      rec.reconcile()
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.10.0.1:80", "10.20.0.1:8080").weight, 1, "back")
    }
    r.add("sorry server replaces the pool below quorum and leaves at quorum") {
      var spec = Self.webSpec(weights: [1, 1])
      spec.quorum = 2
      spec.sorryServer = SorryServerSpec(key: dest("10.30.0.1", 80))
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [spec]))
      let first = rec.reconcile()
      try expectEqual(first.quorumEvents.map(\.up), [true], "initial quorum event")
      rec.setHealth(RealServerID(service: Self.web, server: dest("10.20.0.1", 8080)), .down)
      let down = rec.reconcile()
      try expectEqual(down.quorumEvents.map(\.up), [false], "quorum lost event")
      var s = try IpvsadmListing.read().service("TCP 10.10.0.1:80")
      try expectEqual(s.destinations.keys.sorted(), ["10.30.0.1:80"], "only the sorry server")
      rec.setHealth(RealServerID(service: Self.web, server: dest("10.20.0.1", 8080)), .up(weight: nil))
      let up = rec.reconcile()
      try expectEqual(up.quorumEvents.map(\.up), [true], "quorum regained event")
      s = try IpvsadmListing.read().service("TCP 10.10.0.1:80")
      try expectEqual(s.destinations.keys.sorted(), ["10.20.0.1:8080", "10.20.0.2:8080"], "pool back")
    }
    r.add("drift repair after ipvsadm -C and ipvsadm -e") {
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      rec.reconcile()
      try run("ipvsadm -C")
      let repaired = rec.reconcile()
      try expectEqual(repaired.applied.count, 4, "ops to rebuild")
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.10.0.1:80", "10.20.0.3:8080").weight, 3, "rebuilt")
      try run("ipvsadm -e -t 10.10.0.1:80 -r 10.20.0.3:8080 -m -w 42")
      try run("ipvsadm -E -t 10.10.0.1:80 -s rr -p 300 -M 255.255.255.0")
      let edited = rec.reconcile()
      try expectEqual(edited.applied.count, 2, "ops after hand edits: \(edited.applied)")
      let listing = try IpvsadmListing.read()
      try expectEqual(
        try listing.destination("TCP 10.10.0.1:80", "10.20.0.3:8080").weight, 3, "weight restored")
      try expectEqual(try listing.service("TCP 10.10.0.1:80").scheduler, "wrr", "scheduler restored")
    }
    r.add("periodic drift repair: list pass repairs flush and service edits, full read the rest") {
      let rec = reconciler()
      rec.setDriftRepairInterval(.seconds(3600))
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      rec.reconcile()
      try run("ipvsadm -e -t 10.10.0.1:80 -r 10.20.0.3:8080 -m -w 42")
      try expectEqual(rec.repairDrift().applied, [], "a weight edit is not visible in the service list")
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.10.0.1:80", "10.20.0.3:8080").weight, 42, "not yet")
      try run("ipvsadm -E -t 10.10.0.1:80 -s rr")
      let edited = rec.repairDrift()
      try expectEqual(
        edited.applied.count, 2, "service edited back, its destinations read: \(edited.applied)")
      var listing = try IpvsadmListing.read()
      try expectEqual(try listing.service("TCP 10.10.0.1:80").scheduler, "wrr", "scheduler restored")
      try expectEqual(try listing.destination("TCP 10.10.0.1:80", "10.20.0.3:8080").weight, 3, "weight")
      try run("ipvsadm -C")
      try expectEqual(rec.repairDrift().applied.count, 4, "ops to rebuild after a flush")
      listing = try IpvsadmListing.read()
      try expectEqual(try listing.destination("TCP 10.10.0.1:80", "10.20.0.3:8080").weight, 3, "rebuilt")
    }
    r.add("foreign services and their servers are untouched") {
      try run("ipvsadm -A -t 192.0.2.1:443 -s rr")
      try run("ipvsadm -a -t 192.0.2.1:443 -r 192.0.2.10:443 -g -w 4")
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      rec.reconcile()
      rec.setSpec(IPVSSpec(services: []))
      let report = rec.reconcile()
      try expect(
        report.applied.contains(.deleteService(Self.web)), "owned service not deleted: \(report.applied)")
      let listing = try IpvsadmListing.read()
      try expect(listing.services["TCP 10.10.0.1:80"] == nil, "owned service still there")
      try expectEqual(
        try listing.destination("TCP 192.0.2.1:443", "192.0.2.10:443").weight, 4, "foreign weight")
      try expectEqual(
        try listing.destination("TCP 192.0.2.1:443", "192.0.2.10:443").forward, "Route", "foreign fwd")
    }
    r.add("removed real server without connections is deleted, others stay") {
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      rec.reconcile()
      rec.setSpec(IPVSSpec(services: [Self.webSpec(weights: [1, 2])]))
      let report = rec.reconcile()
      try expectEqual(report.applied, [.deleteDestination(Self.web, dest("10.20.0.3", 8080))], "ops")
      try expectEqual(try IpvsadmListing.read().service("TCP 10.10.0.1:80").destinations.count, 2, "dests")
    }
    r.add("a failing operation does not stop the others and is retried") {
      let bad = VirtualServiceSpec(
        key: tcp("10.10.0.2", 80), attributes: ServiceAttributes(scheduler: "nosuchsched", family: .inet))
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [bad, Self.webSpec()]))
      let report = rec.reconcile()
      try expectEqual(report.failures.count, 1, "failures \(report.failures)")
      try expectEqual(report.failures.first?.error.errno, ENOENT, "errno")
      try expectEqual(try IpvsadmListing.read().services.count, 1, "good service created")
      let again = rec.reconcile()
      try expectEqual(again.failures.first?.attempts, 2, "attempts")
      try expectEqual(rec.status().pendingFailures.count, 1, "status pending failures")
    }
    r.add("stop removes owned services only") {
      try run("ipvsadm -A -u 192.0.2.1:53 -s rr")
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.webSpec()]))
      rec.reconcile()
      rec.stop(.removeOwned)
      try expectEqual(Array(try IpvsadmListing.read().services.keys), ["UDP 192.0.2.1:53"], "remaining")
    }
  }
}
