import IPVSSync

#if canImport(Glibc)
  import Glibc
#endif

/// Kernel tests of the netlink client's coverage of IPVS, cross-checked with ipvsadm.
struct ClientKernelTests {
  let kernel: NetlinkIPVSKernel

  func add(
    _ key: ServiceKey, _ attributes: ServiceAttributes,
    _ dests: [(DestinationKey, DestinationAttributes)] = []
  )
    throws
  {
    let results = try kernel.apply(
      [.addService(key, attributes)] + dests.map { .addDestination(key, $0.0, $0.1) })
    for r in results { if let e = r.error { throw e } }
  }

  func register(_ r: inout KernelTestRunner) {
    r.add("fwmark v4 and v6 services") {
      try add(
        .fwmark(7, family: .inet), ServiceAttributes(scheduler: "rr", family: .inet),
        [(dest("10.1.0.1", 0), .init(forwarding: .directRoute))])
      try add(
        .fwmark(8, family: .inet6),
        ServiceAttributes(scheduler: "wlc", flags: .persistent, timeout: 60, netmask: 64),
        [(dest("2001:db8::10", 0), .init(forwarding: .directRoute, weight: 3))])
      let listing = try IpvsadmListing.read()
      try expectEqual(try listing.service("FWM 7").scheduler, "rr", "fwm 7 scheduler")
      let v6 = try listing.service("FWM 8 IPv6")
      try expectEqual(v6.scheduler, "wlc", "fwm 8 scheduler")
      try expect(v6.flags.starts(with: ["persistent", "60", "mask", "64"]), "fwm 8 flags \(v6.flags)")
      try expectEqual(try listing.destination("FWM 8 IPv6", "[2001:db8::10]:0").weight, 3, "v6 dest weight")
      let ours = try kernel.services().map(\.key)
      try expect(
        ours.contains(.fwmark(8, family: .inet6)) && ours.contains(.fwmark(7, family: .inet)), "dump \(ours)")
    }
    r.add("IPv6 tcp, udp and sctp services") {
      try add(
        .inet(address: ip("2001:db8::1"), port: 80, protocol: .tcp), .init(scheduler: "rr", family: .inet6),
        [(dest("2001:db8::2", 8080), .init())])
      try add(
        .inet(address: ip("2001:db8::1"), port: 53, protocol: .udp), .init(scheduler: "rr", family: .inet6))
      try add(
        .inet(address: ip("10.9.0.1"), port: 3868, protocol: .sctp), .init(scheduler: "rr", family: .inet))
      let listing = try IpvsadmListing.read()
      try expectEqual(
        try listing.destination("TCP [2001:db8::1]:80", "[2001:db8::2]:8080").forward, "Masq", "v6 dest")
      _ = try listing.service("UDP [2001:db8::1]:53")
      _ = try listing.service("SCTP 10.9.0.1:3868")
      let keys = Set(try kernel.services().map(\.key))
      try expectEqual(keys.count, 3, "dumped services")
    }
    r.add("every scheduler") {
      var unavailable: [String] = []
      for (i, scheduler) in IPVSScheduler.all.enumerated() {
        do throws(IPVSKernelError) {
          try kernel.perform(
            .addService(tcp("10.5.0.\(i + 1)", 80), .init(scheduler: scheduler, family: .inet)))
        } catch {
          unavailable.append("\(scheduler): \(error)")
        }
      }
      try expect(unavailable.isEmpty, "schedulers rejected: \(unavailable)")
      let listing = try IpvsadmListing.read()
      for (i, scheduler) in IPVSScheduler.all.enumerated() {
        try expectEqual(try listing.service("TCP 10.5.0.\(i + 1):80").scheduler, scheduler, "scheduler")
        try expectEqual(
          try kernel.service(tcp("10.5.0.\(i + 1)", 80)).attributes.scheduler, scheduler, "own read")
      }
    }
    r.add("scheduler flags and one-packet") {
      try add(tcp("10.6.0.1", 80), .init(scheduler: "sh", flags: [.shFallback, .shPort], family: .inet))
      try add(
        .inet(address: ip("10.6.0.2"), port: 53, protocol: .udp),
        .init(scheduler: "mh", flags: [.mhFallback, .onePacket], family: .inet))
      let listing = try IpvsadmListing.read()
      let sh = try listing.service("TCP 10.6.0.1:80").flags.joined(separator: " ")
      try expect(sh.contains("sh-fallback") && sh.contains("sh-port"), "sh flags '\(sh)'")
      let mh = try listing.service("UDP 10.6.0.2:53").flags.joined(separator: " ")
      try expect(
        mh.contains("mh-fallback") && mh.contains("ops") && !mh.contains("mh-port"), "mh flags '\(mh)'")
      try expectEqual(
        try kernel.service(tcp("10.6.0.1", 80)).attributes.flags.intersection(.managed),
        [.shFallback, .shPort], "own read")
      // Edit replaces the managed flags (mask), clearing sh-port.
      try kernel.perform(
        .editService(tcp("10.6.0.1", 80), .init(scheduler: "sh", flags: [.shFallback], family: .inet)))
      let edited = try IpvsadmListing.read().service("TCP 10.6.0.1:80").flags.joined(separator: " ")
      try expect(edited.contains("sh-fallback") && !edited.contains("sh-port"), "edited sh flags '\(edited)'")
    }
    r.add("tunnel forwarding ipip, gue and gre with checksum flags, mixed family") {
      let svc = tcp("10.7.0.1", 80)
      try add(
        svc, .init(scheduler: "rr", family: .inet),
        [
          (dest("10.7.1.1", 80), .init(forwarding: .tunnel)),
          (
            dest("10.7.1.2", 80),
            .init(forwarding: .tunnel, tunnel: TunnelSettings(type: .gue, port: 6080, flags: .csum))
          ),
          (
            dest("10.7.1.3", 80),
            .init(forwarding: .tunnel, tunnel: TunnelSettings(type: .gre, flags: .remcsum))
          ),
          (dest("2001:db8::7", 80), .init(forwarding: .tunnel)),
        ])
      let text = try run("ipvsadm -Ln --tun-info")
      let gueLine = text.split(separator: "\n").first { $0.contains("10.7.1.2:80") }.map(String.init) ?? ""
      try expect(gueLine.lowercased().contains("gue") && gueLine.contains("6080"), "gue line '\(gueLine)'")
      let greLine = text.split(separator: "\n").first { $0.contains("10.7.1.3:80") }.map(String.init) ?? ""
      try expect(greLine.lowercased().contains("gre"), "gre line '\(greLine)'")
      let listing = try IpvsadmListing.read()
      try expectEqual(
        try listing.destination("TCP 10.7.0.1:80", "[2001:db8::7]:80").forward, "Tunnel", "mixed family")
      let ours = Dictionary(
        uniqueKeysWithValues: try kernel.destinations(of: svc).map { ($0.key, $0.attributes) })
      try expectEqual(
        ours[dest("10.7.1.2", 80)]?.tunnel, TunnelSettings(type: .gue, port: 6080, flags: .csum), "gue read")
      try expectEqual(
        ours[dest("10.7.1.3", 80)]?.tunnel, TunnelSettings(type: .gre, flags: .remcsum), "gre read")
      try expectEqual(ours[dest("2001:db8::7", 80)]?.forwarding, .tunnel, "mixed family read")
      // Changing forwarding method is an edit in place on 6.1.
      try kernel.perform(
        .editDestination(svc, dest("10.7.1.1", 80), .init(forwarding: .directRoute, weight: 5)))
      try expectEqual(
        try IpvsadmListing.read().destination("TCP 10.7.0.1:80", "10.7.1.1:80").forward, "Route", "edit fwd")
    }
    r.add("persistence engine sip") {
      let key = ServiceKey.inet(address: ip("10.6.0.9"), port: 5060, protocol: .udp)
      try add(
        key, .init(scheduler: "rr", flags: .persistent, timeout: 120, family: .inet, persistenceEngine: "sip")
      )
      let flags = try IpvsadmListing.read().service("UDP 10.6.0.9:5060").flags.joined(separator: " ")
      try expect(flags.contains("persistent 120") && flags.contains("pe sip"), "flags '\(flags)'")
      try expectEqual(try kernel.service(key).attributes.persistenceEngine, "sip", "own read")
    }
    r.add("thresholds") {
      try add(
        tcp("10.8.0.1", 80), .init(scheduler: "wlc", family: .inet),
        [
          (dest("10.8.1.1", 80), .init(weight: 2, upperThreshold: 1000, lowerThreshold: 200))
        ])
      let listing = try IpvsadmListing.read("--thresholds")
      guard let columns = try listing.service("TCP 10.8.0.1:80").destinations["10.8.1.1:80"] else {
        throw TestFailure(description: "no dest in --thresholds listing")
      }
      try expect(columns.starts(with: ["1000", "200"]), "threshold columns \(columns)")
    }
    r.add("stats and connection counters read back") {
      try add(tcp("10.8.0.2", 80), .init(scheduler: "rr", family: .inet), [(dest("10.8.1.2", 80), .init())])
      guard let d = try kernel.destinations(of: tcp("10.8.0.2", 80)).first else {
        throw TestFailure(description: "no destination")
      }
      try expectEqual(d.activeConnections + d.inactiveConnections + d.persistentConnections, 0, "conns")
      try expectEqual(d.stats, IPVSStats(), "fresh stats")
      let listing = try IpvsadmListing.read("--stats")
      try expect(
        listing.services["TCP 10.8.0.2:80"]?.destinations["10.8.1.2:80"]?.first == "0", "stats columns")
      let persistent = try IpvsadmListing.read("--persistent-conn")
      let columns = persistent.services["TCP 10.8.0.2:80"]?.destinations["10.8.1.2:80"] ?? []
      try expect(
        columns.count >= 4 && columns[1] == "\(d.persistentConnections)", "persistent-conn columns \(columns)"
      )
      let exact = try run("ipvsadm -Ln --exact --stats")
      try expect(exact.contains("10.8.1.2:80"), "exact stats listing: \(exact)")
    }
    r.add("timeouts set and get") {
      let before = try kernel.timeouts()
      try kernel.setTimeouts(IPVSTimeouts(tcp: 901, tcpFin: 121, udp: 301))
      let text = try run("ipvsadm -L --timeout")
      try expect(text.contains("901 121 301"), "ipvsadm --timeout: \(text)")
      try expectEqual(try kernel.timeouts(), IPVSTimeouts(tcp: 901, tcpFin: 121, udp: 301), "own read")
      try kernel.setTimeouts(IPVSTimeouts(tcp: 0, tcpFin: 0, udp: 77))
      try expectEqual(
        try kernel.timeouts(), IPVSTimeouts(tcp: 901, tcpFin: 121, udp: 77), "zero leaves unchanged")
      try kernel.setTimeouts(before)
    }
    r.add("sync daemon start, read, stop") {
      let config = SyncDaemonConfig(
        role: .master, interface: "lo", syncID: 5, maxLength: 1400, port: 8850, ttl: 2)
      try kernel.startSyncDaemon(config)
      defer { try? kernel.stopSyncDaemon(.master) }
      let text = try run("ipvsadm -L --daemon")
      try expect(
        text.contains("master sync daemon") && text.contains("lo") && text.contains("syncid=5"),
        "daemon: \(text)")
      let ours = try kernel.syncDaemons()
      try expectEqual(ours.first?.syncID, 5, "sync id")
      try expectEqual(ours.first?.interface, "lo", "interface")
      try expectEqual(ours.first?.port, 8850, "port")
      try kernel.stopSyncDaemon(.master)
      try expect(!(try run("ipvsadm -L --daemon")).contains("master"), "daemon still running")
    }
    r.add("typed errors: unknown scheduler, exists, no such service/destination") {
      func errorOf(_ op: IPVSOperation) throws -> IPVSKernelError {
        let results: [IPVSOperationResult] = try kernel.apply([op])
        guard let e = results.first?.error else { throw TestFailure(description: "\(op) succeeded") }
        return e
      }
      let svc = tcp("10.11.0.1", 80)
      let unknown = try errorOf(.addService(svc, .init(scheduler: "bogus", family: .inet)))
      try expectEqual(
        unknown,
        .rejected(
          operation: "add service TCP 10.11.0.1:80 sched bogus", errno: ENOENT,
          reason: .unknownSchedulerOrEngine), "unknown scheduler")
      try kernel.perform(.addService(svc, .init(scheduler: "rr", family: .inet)))
      try expectEqual(
        try errorOf(.addService(svc, .init(scheduler: "rr", family: .inet))).errno, EEXIST, "exists")
      try expectEqual(try errorOf(.deleteService(tcp("10.11.0.9", 80))).errno, ESRCH, "no service")
      let noDest = try errorOf(.deleteDestination(svc, dest("10.11.1.1", 80)))
      try expect(noDest.description.contains("10.11.1.1:80") && noDest.errno == ENOENT, "no dest: \(noDest)")
    }
  }
}
