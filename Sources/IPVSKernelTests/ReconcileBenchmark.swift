import IPVSSync
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// `IPVSKernelTests bench`: lvskeeper's cold apply, no-op reconcile and 1% weight change, against
/// `ipvsadm -R` of the same table.
struct ReconcileBenchmark {
  let kernel: NetlinkIPVSKernel
  let services: Int
  let servers: Int

  func spec(weightBump: Int = 0) -> IPVSSpec {
    var result: [VirtualServiceSpec] = []
    var counter = 0
    for s in 0..<services {
      let vip = "10.\(100 + s / 65536).\((s / 256) % 256).\(s % 256)"
      var rs: [RealServerSpec] = []
      for r in 0..<servers {
        counter += 1
        let bumped = weightBump > 0 && counter % 100 == 0
        rs.append(
          RealServerSpec(
            key: dest(server(s, r), 8080), weight: bumped ? 7 : 1))
      }
      result.append(
        VirtualServiceSpec(
          key: tcp(vip, 80), attributes: ServiceAttributes(scheduler: "wrr", family: .inet), realServers: rs))
    }
    return IPVSSpec(services: result)
  }

  /// The address of real server `r` of service `s`: distinct across the table, up to 2^20 in all.
  func server(_ s: Int, _ r: Int) -> String {
    let index = s * servers + r
    return "172.\(16 + index / 65536).\((index / 256) % 256).\(index % 256)"
  }

  func restoreText() -> String {
    var lines: [String] = []
    for s in 0..<services {
      let vip = "10.\(100 + s / 65536).\((s / 256) % 256).\(s % 256):80"
      lines.append("-A -t \(vip) -s wrr")
      for r in 0..<servers {
        lines.append("-a -t \(vip) -r \(server(s, r)):8080 -m -w 1")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  func run() -> Bool {
    let path = "/tmp/ipvs-bench.rules"
    guard let file = fopen(path, "w") else { return false }
    fputs(restoreText(), file)
    fclose(file)
    shell("ipvsadm -C")
    var start = seconds()
    let restore = shell("ipvsadm -R < \(path)")
    let ipvsadmTime = seconds() - start
    guard restore.status == 0 else {
      print("ipvsadm -R failed: \(restore.output)")
      return false
    }
    let count = shell("ipvsadm -Ln | grep -c -- '->'").output.trimmingCharacters()
    shell("ipvsadm -C")

    var logger = Logger(label: "lvskeeper.ipvs.bench")
    logger.logLevel = .warning
    let reconciler = IPVSReconciler(kernel: kernel, logger: logger)
    reconciler.setSpec(spec())
    start = seconds()
    let cold = reconciler.reconcile()
    let coldTime = seconds() - start
    let ours = shell("ipvsadm -Ln | grep -c -- '->'").output.trimmingCharacters()

    start = seconds()
    let noop = reconciler.reconcile()
    let noopTime = seconds() - start

    reconciler.setSpec(spec(weightBump: 1))
    start = seconds()
    let change = reconciler.reconcile()
    let changeTime = seconds() - start

    start = seconds()
    let listing = shell("ipvsadm -Ln > /dev/null")
    let listTime = seconds() - start
    shell("ipvsadm -C")

    func ms(_ t: Double) -> String { String(Int((t * 1000).rounded())) + " ms" }
    func ratio(_ t: Double) -> String {
      let r = (t / ipvsadmTime * 100).rounded() / 100
      return "\(r)"
    }
    print("table: \(services) services x \(servers) real servers (\(services * (servers + 1)) objects)")
    print("ipvsadm -R cold apply:            \(ms(ipvsadmTime))  (\(count) destinations listed)")
    print(
      "lvskeeper cold apply:             \(ms(coldTime))  ratio to ipvsadm -R \(ratio(coldTime))  ops \(cold.applied.count) failed \(cold.failures.count) (\(ours) destinations listed)"
    )
    print(
      "lvskeeper no-op reconcile:        \(ms(noopTime))  ratio to ipvsadm -R \(ratio(noopTime))  ops \(noop.applied.count)"
    )
    print(
      "lvskeeper 1% weight change:       \(ms(changeTime))  ratio to ipvsadm -R \(ratio(changeTime))  ops \(change.applied.count)"
    )
    print("ipvsadm -Ln (read whole table):   \(ms(listTime))  status \(listing.status)")
    return cold.failures.isEmpty && noop.applied.isEmpty && change.applied.count == services * servers / 100
      && count == ours
  }
}

extension String {
  func trimmingCharacters() -> String {
    String(self.drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
  }
}
