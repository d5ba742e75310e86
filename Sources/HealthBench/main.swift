// HealthBench: many TCP_CHECK checkers at delay_loop 1 against loopback listeners.
//
//   HealthBench serve --first I --count N --port P
//       listen on 127.1.x.y:P for servers I..<I+N (accept and close), until killed.
//   HealthBench check --servers N --port P --seconds S [--threads T] [--warmup W]
//       run N TCP_CHECK checkers (delay_loop 1 s) for W s, then measure S s and print figures.
import Glibc
import HealthCheck
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The loopback address of server `index`: 127.1.0.1, 127.1.0.2, ... 250 per third octet.
func address(_ index: Int) -> String { "127.1.\(index / 250).\(index % 250 + 1)" }

func option(_ name: String, _ fallback: Int) -> Int {
  let args = CommandLine.arguments
  guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else {
    return fallback
  }
  return v
}

let accepted = Atomic<Int>(0)

/// Accepts and immediately closes every connection, counting them.
final class AcceptAndClose: ChannelInboundHandler, Sendable {
  typealias InboundIn = ByteBuffer
  func channelActive(context: ChannelHandlerContext) {
    accepted.add(1, ordering: .relaxed)
    context.close(promise: nil)
  }
}

func serve() throws {
  let first = option("--first", 0)
  let count = option("--count", 1000)
  let port = option("--port", 18080)
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    .serverChannelOption(ChannelOptions.backlog, value: 1024)
    .childChannelInitializer { child in
      child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(AcceptAndClose()) }
    }
  var channels: [any Channel] = []
  for i in first..<(first + count) {
    channels.append(try bootstrap.bind(host: address(i), port: port).wait())
  }
  print("listening \(count) addresses from \(address(first)) port \(port)")
  fflush(nil)
  // With --report S, print the accept count every S seconds (measures any checker's probe rate).
  let report = option("--report", 0)
  if report > 0 {
    group.next().scheduleRepeatedTask(initialDelay: .seconds(Int64(report)), delay: .seconds(Int64(report))) {
      _ in
      print("accepted \(accepted.load(ordering: .relaxed))")
      fflush(nil)
    }
  }
  try channels[0].closeFuture.wait()
}

/// Lateness samples (nanoseconds) gathered from the probe loops while measuring.
final class LatenessLog: Sendable {
  let samples = Mutex<[Int64]>([])
  let recording = Atomic<Bool>(false)
  func record(_ d: Duration) {
    guard recording.load(ordering: .relaxed) else { return }
    let ns = Int64(d.components.seconds) * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
    samples.withLock { $0.append(ns) }
  }
}

func cpuSeconds() -> Double {
  var usage = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
  return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
    + Double(usage.ru_stime.tv_usec) / 1e6
}

func statusField(_ name: String) -> String {
  guard let f = fopen("/proc/self/status", "r") else { return "?" }
  defer { fclose(f) }
  var line = [CChar](repeating: 0, count: 512)
  while fgets(&line, 512, f) != nil {
    let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if s.hasPrefix(name + ":") { return s.dropFirst(name.count + 1).trimmingCharacters(in: " \t\n") }
  }
  return "?"
}

extension StringProtocol {
  func trimmingCharacters(in set: String) -> String {
    var s = Substring(self)
    while let c = s.first, set.contains(c) { s.removeFirst() }
    while let c = s.last, set.contains(c) { s.removeLast() }
    return String(s)
  }
}

/// Per-thread CPU and scheduler times from /proc/self/task/*/{comm,stat,schedstat}:
/// name, on-CPU ns, ns spent runnable but waiting for a CPU (schedstat), and user/system ticks.
func threadTimes() -> [Int: (name: String, onCPU: Int64, waiting: Int64, user: Int64, system: Int64)] {
  var result: [Int: (name: String, onCPU: Int64, waiting: Int64, user: Int64, system: Int64)] = [:]
  guard let dir = opendir("/proc/self/task") else { return result }
  defer { closedir(dir) }
  func read(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var buffer = [CChar](repeating: 0, count: 1024)
    guard fgets(&buffer, 1024, f) != nil else { return nil }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
  while let entry = readdir(dir) {
    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    guard let tid = Int(name) else { continue }
    let base = "/proc/self/task/\(tid)"
    guard let comm = read(base + "/comm"), let sched = read(base + "/schedstat"),
      let stat = read(base + "/stat"),
      let close = stat.lastIndex(of: ")")
    else { continue }
    let s = sched.split(separator: " ").compactMap { Int64($0.trimmingCharacters(in: " \n")) }
    // Fields after "comm)": state is field 3; utime and stime are fields 14 and 15.
    let f = stat[stat.index(after: close)...].split(separator: " ")
    guard s.count >= 2, f.count > 13, let user = Int64(f[11]), let system = Int64(f[12]) else { continue }
    result[tid] = (comm.trimmingCharacters(in: " \n"), s[0], s[1], user, system)
  }
  return result
}

func percentile(_ sorted: [Int64], _ p: Double) -> Double {
  guard !sorted.isEmpty else { return 0 }
  let i = min(sorted.count - 1, Int(Double(sorted.count - 1) * p))
  return Double(sorted[i]) / 1e6
}

func check() async throws {
  let servers = option("--servers", 10_000)
  let port = option("--port", 18080)
  let seconds = option("--seconds", 20)
  let threads = option("--threads", 1)
  let warmup = option("--warmup", 5)
  let delayLoop = option("--delay-loop", 1)
  let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
  let log = LatenessLog()
  var logger = Logger(label: "bench")
  logger.logLevel = .error
  let monitor = HealthMonitor(group: group, logger: logger) { log.record($0) }
  let schedule = CheckSchedule(
    delayLoop: .seconds(delayLoop), warmup: .seconds(delayLoop), retry: 0, delayBeforeRetry: .seconds(1))
  let list = (0..<servers).map { i in
    MonitoredServer(
      id: RealServerID("rs\(i)"),
      checkers: [
        Checker(
          .tcp(
            TCPCheck(
              target: CheckTarget(address: address(i), port: UInt16(port)), connectTimeout: .seconds(3))),
          schedule: schedule)
      ])
  }
  let events = Task {
    var n = 0
    for await _ in monitor.events { n += 1 }
    return n
  }
  let rssBefore = statusField("VmRSS")
  monitor.apply(list)
  try await Task.sleep(for: .seconds(warmup))
  let probesAtStart = monitor.status().servers.reduce(0) { $0 + ($1.checkers.first?.probes ?? 0) }
  let threadsStart = threadTimes()
  let cpuStart = cpuSeconds()
  let clock = ContinuousClock()
  let t0 = clock.now
  log.recording.store(true, ordering: .relaxed)
  try await Task.sleep(for: .seconds(seconds))
  log.recording.store(false, ordering: .relaxed)
  let elapsed = clock.now - t0
  let cpu = cpuSeconds() - cpuStart
  let threadsEnd = threadTimes()
  let status = monitor.status()
  let probes = status.servers.reduce(0) { $0 + ($1.checkers.first?.probes ?? 0) } - probesAtStart
  let down = status.servers.filter { !$0.isUp }.count
  let latencies = status.servers.compactMap { $0.checkers.first?.lastLatency }
  let meanLatencyMs =
    latencies.isEmpty
    ? 0
    : latencies.reduce(0.0) {
      $0 + Double($1.components.attoseconds) / 1e15 + Double($1.components.seconds) * 1e3
    } / Double(latencies.count)
  let samples = log.samples.withLock { $0 }.sorted()
  let missed = samples.filter { $0 >= Int64(delayLoop) * 1_000_000_000 }.count
  let window = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
  print(
    "checkers: \(servers) TCP_CHECK, delay_loop \(delayLoop) s, event loop threads: \(threads), window \(String(format: "%.1f", window)) s"
  )
  print(
    "probes completed in window: \(probes) (\(String(format: "%.0f", Double(probes) / window))/s; ideal at delay_loop \(delayLoop) s plus probe time: ~\(servers / delayLoop)/s)"
  )
  print(
    "CPU: \(String(format: "%.2f", cpu)) s in window = \(String(format: "%.3f", cpu / Double(max(probes, 1)) * 10_000)) CPU-s per 10,000 probes (\(String(format: "%.0f", cpu / window * 100))% of one core)"
  )
  print("RSS: before apply \(rssBefore), now \(statusField("VmRSS")), peak \(statusField("VmHWM"))")
  print(
    "probe start lateness vs schedule (ms): p50 \(String(format: "%.3f", percentile(samples, 0.5))) p99 \(String(format: "%.3f", percentile(samples, 0.99))) max \(String(format: "%.3f", percentile(samples, 1.0))) over \(samples.count) starts"
  )
  print("missed intervals (probe started >= 1 delay_loop late): \(missed)")
  // Where each busy thread spent the window: on a CPU, runnable but waiting for one (the host's
  // other work), or asleep (idle: waiting for a timer or an event).
  let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
  for (tid, end) in threadsEnd.sorted(by: { $0.key < $1.key }) {
    guard let start = threadsStart[tid] else { continue }
    let on = Double(end.onCPU - start.onCPU) / 1e9
    let wait = Double(end.waiting - start.waiting) / 1e9
    guard on > 0.05 * window else { continue }
    let user = Double(end.user - start.user) / ticksPerSecond
    let system = Double(end.system - start.system) / ticksPerSecond
    print(
      "thread \(end.name): on CPU \(String(format: "%.2f", on)) s (user \(String(format: "%.2f", user)), system \(String(format: "%.2f", system))), runnable but waiting for a CPU \(String(format: "%.2f", wait)) s, asleep \(String(format: "%.2f", max(0, window - on - wait))) s"
    )
  }
  print(
    "mean probe latency (last probe per checker): \(String(format: "%.3f", meanLatencyMs)) ms; servers down at end: \(down)"
  )
  var reasons: [String: Int] = [:]
  for server in status.servers where !server.isUp {
    let reason = (server.reason ?? "?").split(separator: ":").dropFirst(2).joined(separator: ":")
    reasons[reason, default: 0] += 1
  }
  for (reason, count) in reasons.sorted(by: { $0.value > $1.value }).prefix(3) {
    print("  down reason: \(count) x\(reason)")
  }
  monitor.stop()
  let eventCount = await events.value
  // Probes still in flight complete on the loops: let them (connect_timeout is 3 s) before the
  // loops shut down, or NIO logs "Cannot schedule tasks on an EventLoop that has already shut down".
  try await Task.sleep(for: .seconds(3.2))
  print("events delivered: \(eventCount) (\(servers) initial)")
  try await group.shutdownGracefully()
}

switch CommandLine.arguments.dropFirst().first {
case "serve": try serve()
case "check": try await check()
default:
  print(
    "usage: HealthBench serve --first I --count N --port P | check --servers N --port P --seconds S [--threads T]"
  )
  exit(2)
}
