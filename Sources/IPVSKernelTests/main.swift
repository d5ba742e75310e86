import IPVSSync

#if canImport(Glibc)
  import Glibc
#endif

// Kernel IPVS test suite; runs inside the qemu VM (see vm/). `IPVSKernelTests [filter]` runs the
// tests whose name contains filter; `IPVSKernelTests bench [services] [servers]` runs the benchmark;
// `IPVSKernelTests bench-drift [services] [servers] [seconds] [interval]` the drift-repair one.
let arguments = Array(CommandLine.arguments.dropFirst())
let kernel: NetlinkIPVSKernel
do {
  kernel = try NetlinkIPVSKernel(timeout: .seconds(5))
} catch {
  print("FAIL setup: \(error)")
  print("0 passed, 1 failed")
  exit(1)
}

if arguments.first == "bench" {
  let services = arguments.count > 1 ? Int(arguments[1]) ?? 1000 : 1000
  let servers = arguments.count > 2 ? Int(arguments[2]) ?? 10 : 10
  exit(ReconcileBenchmark(kernel: kernel, services: services, servers: servers).run() ? 0 : 1)
}

if arguments.first == "bench-drift" {
  let number = { (i: Int, fallback: Double) in
    arguments.count > i ? Double(arguments[i]) ?? fallback : fallback
  }
  let table = ReconcileBenchmark(kernel: kernel, services: Int(number(1, 1)), servers: Int(number(2, 10000)))
  let bench = DriftRepairBenchmark(
    kernel: kernel, table: table, seconds: number(3, 60), interval: number(4, 10))
  exit(bench.run() ? 0 : 1)
}

var runner = KernelTestRunner(filter: arguments.first)
ClientKernelTests(kernel: kernel).register(&runner)
ReconcileKernelTests(kernel: kernel).register(&runner)
ScaleOutKernelTests(kernel: kernel).register(&runner)
TrafficKernelTests(kernel: kernel).register(&runner)
let ok = runner.run(beforeEach: {
  shell("ipvsadm -C")
  shell("ipvsadm --stop-daemon master")
  shell("ipvsadm --stop-daemon backup")
})
shell("ipvsadm -C")
exit(ok ? 0 : 1)
