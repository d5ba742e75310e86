import CThreadControl

#if canImport(Glibc)
  import Glibc
#endif

/// How the VRRP loop thread is scheduled: keepalived's `vrrp_rt_priority`, `vrrp_priority`,
/// `vrrp_rlimit_rttime` and `vrrp_cpu_affinity`, applied to the one thread that sends and receives
/// adverts (not to the whole daemon).
///
/// Invariant: `realtimePriority` is 1...99, `nice` -20...19, `rlimitRTTimeMicroseconds` >= 2 and
/// `cpuAffinity` holds CPU numbers >= 0, whenever set (checked by `validate()`).
public struct VRRPScheduling: Sendable, Codable, Equatable {
  /// SCHED_RR at this priority. The thread's children (notify and track scripts) do not inherit it:
  /// the policy is set with SCHED_RESET_ON_FORK.
  public var realtimePriority: Int?
  /// The thread's nice value (set in any case; it only matters while the thread is not real-time).
  public var nice: Int?
  /// RLIMIT_RTTIME (soft and hard, microseconds of CPU between blocking calls) while real-time.
  /// Process-wide in the kernel's interface; only real-time threads are charged against it.
  public var rlimitRTTimeMicroseconds: Int?
  /// CPUs the thread may run on.
  public var cpuAffinity: [Int]?

  public init(
    realtimePriority: Int? = nil, nice: Int? = nil, rlimitRTTimeMicroseconds: Int? = nil,
    cpuAffinity: [Int]? = nil
  ) {
    self.realtimePriority = realtimePriority
    self.nice = nice
    self.rlimitRTTimeMicroseconds = rlimitRTTimeMicroseconds
    self.cpuAffinity = cpuAffinity
  }

  /// Nothing to change: the thread keeps the daemon's own scheduling.
  public var isDefault: Bool {
    realtimePriority == nil && nice == nil && rlimitRTTimeMicroseconds == nil && (cpuAffinity ?? []).isEmpty
  }

  public func validate() throws(VRRPSpecError) {
    if let priority = realtimePriority, !(1...99).contains(priority) {
      throw .invalid(instance: "*", reason: "vrrp_rt_priority \(priority) is outside 1..99")
    }
    if let nice, !(-20...19).contains(nice) {
      throw .invalid(instance: "*", reason: "vrrp_priority \(nice) is outside -20..19")
    }
    if let limit = rlimitRTTimeMicroseconds, limit < 2 {
      throw .invalid(instance: "*", reason: "vrrp_rlimit_rttime \(limit) is below 2")
    }
    if let cpu = cpuAffinity?.first(where: { $0 < 0 || $0 >= Int(lvsk_cpu_set_size()) }) {
      throw .invalid(instance: "*", reason: "vrrp_cpu_affinity \(cpu) is not a CPU number")
    }
  }
}

/// The scheduling a thread actually runs with, read back from the kernel (/proc/self/task/TID/stat).
/// Invariant: `policy` is the kernel's number (0 SCHED_OTHER, 1 SCHED_FIFO, 2 SCHED_RR).
public struct ThreadScheduling: Sendable, Codable, Equatable, CustomStringConvertible {
  public var threadID: Int32
  public var policy: Int
  public var realtimePriority: Int
  public var nice: Int

  public var description: String {
    switch policy {
    case 1: return "SCHED_FIFO \(realtimePriority)"
    case 2: return "SCHED_RR \(realtimePriority)"
    default: return "SCHED_OTHER nice \(nice)"
    }
  }

  /// Reads the calling thread's scheduling, or nil when /proc is unreadable.
  static func current() -> ThreadScheduling? {
    let tid = ThreadControl.threadID()
    guard let text = readSmallFile("/proc/self/task/\(tid)/stat") else { return nil }
    return parse(stat: text, threadID: tid)
  }

  /// Parses a /proc stat line: fields after the parenthesised command name, 19 nice, 40 rt_priority,
  /// 41 policy (1-based, as proc(5) numbers them).
  static func parse(stat: String, threadID: Int32) -> ThreadScheduling? {
    guard let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (state).
    guard fields.count >= 39, let nice = Int(fields[16]), let rt = Int(fields[37]),
      let policy = Int(fields[38])
    else { return nil }
    return ThreadScheduling(threadID: threadID, policy: policy, realtimePriority: rt, nice: nice)
  }
}

/// Applies a `VRRPScheduling` to the calling thread. Each step that the kernel refuses (EPERM
/// without CAP_SYS_NICE, for example) is reported and the others still run: a director whose
/// scheduling could not be raised still does VRRP.
enum ThreadControl {
  static func threadID() -> Int32 { lvsk_thread_id() }

  /// Returns one message per step that failed.
  static func apply(_ scheduling: VRRPScheduling) -> [String] {
    var failures: [String] = []
    if let cpus = scheduling.cpuAffinity, !cpus.isEmpty {
      let rc = cpus.map { Int32($0) }.withUnsafeBufferPointer {
        lvsk_thread_set_affinity($0.baseAddress, Int32($0.count))
      }
      if rc != 0 { failures.append("vrrp_cpu_affinity \(cpus): \(SystemCallError("sched_setaffinity"))") }
    }
    if let nice = scheduling.nice, lvsk_thread_set_nice(Int32(nice)) != 0 {
      failures.append("vrrp_priority \(nice): \(SystemCallError("setpriority"))")
    }
    if let priority = scheduling.realtimePriority {
      if let limit = scheduling.rlimitRTTimeMicroseconds, lvsk_set_rlimit_rttime(UInt(limit)) != 0 {
        failures.append("vrrp_rlimit_rttime \(limit): \(SystemCallError("setrlimit RLIMIT_RTTIME"))")
      }
      if lvsk_thread_set_round_robin(Int32(priority)) != 0 {
        failures.append("vrrp_rt_priority \(priority): \(SystemCallError("sched_setscheduler SCHED_RR"))")
      }
    }
    return failures
  }
}
