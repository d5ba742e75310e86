import IPVSSync
import Logging

/// Kernel tests of what active/active directors rely on (docs/scaleout.md): the `mh` scheduler with
/// its flags applied and read back, real servers added in an order that does not depend on the
/// configuration's order, and the net.ipv4.vs sysctls lvskeeper manages.
struct ScaleOutKernelTests {
  let kernel: NetlinkIPVSKernel

  func reconciler() -> IPVSReconciler {
    var logger = Logger(label: "lvskeeper.ipvs.kerneltest")
    logger.logLevel = .warning
    return IPVSReconciler(kernel: kernel, logger: logger)
  }

  static let vip = tcp("10.30.0.1", 80)

  static func mhSpec(flags: ServiceFlags, order: [Int]) -> VirtualServiceSpec {
    VirtualServiceSpec(
      key: vip,
      attributes: ServiceAttributes(
        scheduler: "mh", flags: flags, netmask: ServiceAttributes.ipv4Netmask(prefixLength: 32)),
      realServers: order.map {
        RealServerSpec(key: dest("10.40.0.\($0)", 8080), weight: 1, forwarding: .directRoute)
      })
  }

  func register(_ r: inout KernelTestRunner) {
    r.add("mh with mh-fallback and mh-port: flags applied, read back, and a changed flag edited in place") {
      let rec = reconciler()
      rec.setSpec(IPVSSpec(services: [Self.mhSpec(flags: [.mhFallback, .mhPort], order: [1, 2, 3])]))
      let first = rec.reconcile()
      try expect(first.succeeded, "first reconcile: \(first.failures)")
      let service = try kernel.service(Self.vip)
      try expectEqual(service.attributes.scheduler, "mh", "scheduler")
      try expect(
        service.attributes.flags.contains(.mhFallback), "mh-fallback read back: \(service.attributes.flags)")
      try expect(service.attributes.flags.contains(.mhPort), "mh-port read back: \(service.attributes.flags)")
      // ipvsadm names the flags too (independent reader).
      let flags = try IpvsadmListing.read().service("TCP 10.30.0.1:80").flags
      // (ipvsadm names them mh-fallback/mh-port when it knows mh, flag-1/flag-2 otherwise.)
      let named = flags.joined(separator: " ")
      try expect(named.contains("mh-fallback") || named.contains("flag-1"), "ipvsadm flags \(flags)")
      try expect(named.contains("mh-port") || named.contains("flag-2"), "ipvsadm flags \(flags)")
      // Drop mh-port: the diff sees it and edits the service, nothing else.
      rec.setSpec(IPVSSpec(services: [Self.mhSpec(flags: [.mhFallback], order: [1, 2, 3])]))
      let second = rec.reconcile()
      try expectEqual(second.applied.count, 1, "operations for one flag: \(second.applied)")
      let edited = try kernel.service(Self.vip)
      try expect(!edited.attributes.flags.contains(.mhPort), "mh-port still set: \(edited.attributes.flags)")
      try expect(
        edited.attributes.flags.contains(.mhFallback), "mh-fallback lost: \(edited.attributes.flags)")
      // And nothing to do when it matches.
      try expectEqual(rec.reconcile().applied.count, 0, "no-op reconcile")
    }
    r.add("the kernel's destination list has the same order whatever the configuration order") {
      var orders: [[String]] = []
      for order in [[3, 1, 4, 2], [1, 2, 3, 4], [4, 3, 2, 1]] {
        try kernel.flush()
        let rec = reconciler()
        rec.setSpec(IPVSSpec(services: [Self.mhSpec(flags: [], order: order)]))
        let report = rec.reconcile()
        try expect(report.succeeded, "reconcile: \(report.failures)")
        // The dump walks svc->destinations, the list ip_vs_mh_populate walks.
        orders.append(try kernel.destinations(of: Self.vip).map { "\($0.key)" })
      }
      try expectEqual(orders[1], orders[0], "list order, config order 1 2 3 4 vs 3 1 4 2")
      try expectEqual(orders[2], orders[0], "list order, config order 4 3 2 1 vs 3 1 4 2")
    }
    r.add("sloppy_tcp, sloppy_sctp, conn_reuse_mode written and read back") {
      let before = IPVSSysctls.read()
      try expectEqual(Set(before.keys), Set(IPVSSysctls.names), "readable sysctls \(before)")
      defer { for (name, value) in before { try? IPVSSysctls.write(name, value) } }
      for (name, value) in [("sloppy_tcp", 1), ("sloppy_sctp", 1), ("conn_reuse_mode", 0)] {
        try IPVSSysctls.write(name, value)
      }
      let after = IPVSSysctls.read()
      try expectEqual(after["sloppy_tcp"], 1, "sloppy_tcp")
      try expectEqual(after["sloppy_sctp"], 1, "sloppy_sctp")
      try expectEqual(after["conn_reuse_mode"], 0, "conn_reuse_mode")
      let text = try run("cat /proc/sys/net/ipv4/vs/sloppy_tcp").filter { !$0.isWhitespace }
      try expectEqual(text, "1", "file content as cat reads it")
    }
  }
}
