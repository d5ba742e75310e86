// Benchmark driver for bench/config-parse.sh (built in release). Prints wall and CPU time of ConfigLoader.load(path:) for each run.
import Foundation
import KeeperConfig

#if canImport(Glibc)
  import Glibc
#endif

func cpuMilliseconds() -> Double {
  var spec = timespec()
  guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec) == 0 else { return 0 }
  return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec) / 1e6
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
  print("usage: ConfigParseBench FILE [RUNS]")
  exit(2)
}
let runs = arguments.count > 2 ? Int(arguments[2]) ?? 3 : 3
let loader = ConfigLoader(configID: "bench", interfaces: ["lo", "eth0"])
for run in 1...runs {
  let wallStart = ContinuousClock.now
  let cpuStart = cpuMilliseconds()
  do {
    let loaded = try loader.load(path: arguments[1])
    let wall = ContinuousClock.now - wallStart
    let wallMs = Double(wall.components.seconds) * 1000 + Double(wall.components.attoseconds) / 1e15
    let realServers = loaded.configuration.virtualServers.reduce(0) { $0 + $1.realServers.count }
    print(
      String(
        format: "parse+validate run %d: %.1f ms wall, %.1f ms cpu (%d virtual_server, %d real_server)", run,
        wallMs,
        cpuMilliseconds() - cpuStart, loaded.configuration.virtualServers.count, realServers))
  } catch {
    print("run \(run): invalid configuration:\n\(error)")
    exit(1)
  }
}
