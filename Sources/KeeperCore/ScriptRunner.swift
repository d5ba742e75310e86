import CLinuxEvents
import CScriptSpawn
import Dispatch

#if canImport(Glibc)
  import Glibc
#endif

/// The one way lvskeeper runs a script. Every run gets its own process group, default signal
/// dispositions and an empty signal mask, stdio on /dev/null and no other descriptor, a clean
/// environment, the configured uid, gid and supplementary groups, and SIGTERM should the daemon
/// die. One thread forks every script (so PR_SET_PDEATHSIG follows the process, not a passing
/// thread), waits for all of them on pidfds in one epoll set, kills a group whose timeout passed
/// and reaps. No caller's loop ever blocks on a script.
///
/// Invariant: every child is reaped by this thread; a process group is signalled only while its
/// leader is unreaped (a zombie leader keeps the group id from being reused), so a kill never
/// reaches an unrelated process.
public final class ScriptRunner: @unchecked Sendable {  // all state under `lock`; the thread owns fds
  /// The process-wide runner: children, signals and process groups are process-wide too.
  public static let shared = ScriptRunner()

  /// PATH of every script, as keepalived's systemd unit would leave it.
  public static let searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

  /// The environment every script starts from: PATH, the user's HOME, USER and LOGNAME, SHELL,
  /// and LANG=C. Nothing of the daemon's own environment leaks in.
  public static func baseEnvironment(for identity: ScriptIdentity) -> [String: String] {
    [
      "PATH": searchPath, "HOME": identity.home, "USER": identity.userName, "LOGNAME": identity.userName,
      "SHELL": "/bin/sh", "LANG": "C",
    ]
  }

  private struct Child {
    var pid: pid_t
    var pidfd: Int32
    var deadline: ContinuousClock.Instant?
    var killGroupOnExit: Bool
    var timedOut = false
    /// Exited, kept unreaped because its group still has members (notify scripts).
    var lingering = false
    var completion: (@Sendable (ScriptExit) -> Void)?
  }

  private let lock = NSLockLike()
  private var pending: [(ScriptRun, @Sendable (ScriptExit) -> Void)] = []
  private var children: [Int32: Child] = [:]  // by pidfd
  private var started = false
  private var stopping = false
  /// Stop: when SIGTERM goes to every group (nil once sent), and when SIGKILL follows.
  private var terminateAt: ContinuousClock.Instant?
  private var stopDeadline: ContinuousClock.Instant?
  private var stopWaiters: [DispatchSemaphore] = []
  private var epollFD: Int32 = -1
  private var wakeFD: Int32 = -1
  private var nextLingerScan = ContinuousClock.now
  private let daemonIdentity = ScriptIdentity.daemon()

  public init() {}

  /// Scripts started and not yet reaped (lingering notify groups included).
  public var running: Int { lock.withLock { children.count + pending.count } }

  /// Starts `run`; `completion` is called once, on the runner's thread (do not block in it).
  public func run(_ run: ScriptRun, completion: @escaping @Sendable (ScriptExit) -> Void) {
    let accepted: Bool = lock.withLock {
      guard !stopping else { return false }
      pending.append((run, completion))
      return true
    }
    guard accepted else { return completion(.failedToStart("the daemon is stopping")) }
    if let error = startThreadIfNeeded() { return completion(.failedToStart(error)) }
    wake()
  }

  public func run(_ run: ScriptRun) async -> ScriptExit {
    await withCheckedContinuation { continuation in
      self.run(run) { continuation.resume(returning: $0) }
    }
  }

  /// Stop. Scripts get `settle` to end on their own (a notify_stop that was just asked for still
  /// starts and should run), then SIGTERM to every script's process group (and to what notify scripts left
  /// behind), then SIGKILL to what is still there `grace` later. Returns when all are reaped or
  /// `settle + grace` plus one second has passed. New runs are refused from now on.
  public func terminateAll(settle: Duration = .seconds(1), grace: Duration = .seconds(2)) {
    let semaphore = DispatchSemaphore(value: 0)
    let hasWork: Bool = lock.withLock {
      stopping = true
      // Runs asked for before the stop (a notify_stop, omega's scripts) still start; they are
      // in `pending` until the runner's thread forks them.
      guard started, !children.isEmpty || !pending.isEmpty else { return false }
      let now = ContinuousClock.now
      // A group with nothing left but its lingering leader need not wait for the settle time.
      terminateAt = pending.isEmpty && children.values.allSatisfy(\.lingering) ? now : now + settle
      stopDeadline = terminateAt.map { $0 + grace }
      nextLingerScan = now
      stopWaiters.append(semaphore)
      return true
    }
    guard hasWork else { return }
    wake()
    let limit = Int((settle + grace + .seconds(1)) / .milliseconds(1))
    _ = semaphore.wait(timeout: .now() + .milliseconds(limit))
  }

  /// `terminateAll` without blocking the caller's thread.
  public func terminateAll(settle: Duration = .seconds(1), grace: Duration = .seconds(2)) async {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        self.terminateAll(settle: settle, grace: grace)
        continuation.resume()
      }
    }
  }

  // MARK: the runner thread

  private func startThreadIfNeeded() -> String? {
    lock.withLock {
      if started { return nil }
      let ep = epoll_create1(Int32(EPOLL_CLOEXEC))
      guard ep >= 0 else { return "epoll_create1: \(String(cString: strerror(errno)))" }
      let ev = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
      guard ev >= 0 else {
        close(ep)
        return "eventfd: \(String(cString: strerror(errno)))"
      }
      var event = epoll_event()
      event.events = EPOLLIN.rawValue
      event.data.fd = ev
      guard epoll_ctl(ep, EPOLL_CTL_ADD, ev, &event) == 0 else {
        close(ep)
        close(ev)
        return "epoll_ctl: \(String(cString: strerror(errno)))"
      }
      epollFD = ep
      wakeFD = ev
      started = true
      var attributes = pthread_attr_t()
      pthread_attr_init(&attributes)
      pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
      var thread = pthread_t()
      let box = Unmanaged.passRetained(self).toOpaque()
      let status = pthread_create(
        &thread, &attributes,
        { argument in
          guard let argument else { return nil }
          let runner = Unmanaged<ScriptRunner>.fromOpaque(argument).takeRetainedValue()
          _ = lvsk_set_thread_name("lvsk-scripts")
          runner.loop()
          return nil
        }, box)
      pthread_attr_destroy(&attributes)
      if status != 0 {
        Unmanaged<ScriptRunner>.fromOpaque(box).release()
        started = false
        return "pthread_create: \(String(cString: strerror(status)))"
      }
      return nil
    }
  }

  private func wake() {
    var one: UInt64 = 1
    _ = write(wakeFD, &one, 8)
  }

  private func loop() {
    var events = [epoll_event](repeating: epoll_event(), count: 64)
    while true {
      let timeout = waitMilliseconds()
      let count = events.withUnsafeMutableBufferPointer { epoll_wait(epollFD, $0.baseAddress, 64, timeout) }
      if count < 0 && errno != EINTR { continue }
      for i in 0..<max(0, Int(count)) {
        let fd = events[i].data.fd
        if fd == wakeFD {
          var value: UInt64 = 0
          _ = read(wakeFD, &value, 8)
        } else {
          exited(pidfd: fd)
        }
      }
      startPending()
      enforceDeadlines()
      releaseStopWaitersIfDone()
    }
  }

  private func waitMilliseconds() -> Int32 {
    lock.withLock {
      let now = ContinuousClock.now
      var next = children.values.compactMap { $0.timedOut ? nil : $0.deadline }.min()
      if let stopDeadline { next = min(next ?? stopDeadline, stopDeadline) }
      if let terminateAt { next = min(next ?? terminateAt, terminateAt) }
      if children.values.contains(where: \.lingering) { next = min(next ?? nextLingerScan, nextLingerScan) }
      guard let next else { return -1 }
      let ms = (next - now) / .milliseconds(1)
      return Int32(max(0, min(ms.rounded(.up), 60_000)))
    }
  }

  private func startPending() {
    let batch: [(ScriptRun, @Sendable (ScriptExit) -> Void)] = lock.withLock {
      defer { pending.removeAll() }
      return pending
    }
    for (run, completion) in batch {
      switch spawn(run) {
      case .success(let (pid, pidfd)):
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = pidfd
        _ = epoll_ctl(epollFD, EPOLL_CTL_ADD, pidfd, &event)
        let deadline = run.timeout.map { ContinuousClock.now + $0 }
        lock.withLock {
          children[pidfd] = Child(
            pid: pid, pidfd: pidfd, deadline: deadline, killGroupOnExit: run.killGroupOnExit,
            completion: completion)
          if stopping && terminateAt == nil { _ = kill(-pid, SIGTERM) }
        }
      case .failure(let failure):
        completion(.failedToStart(failure.why))
      }
    }
  }

  /// Timeouts (SIGKILL to the group), the stop grace (SIGKILL to all), and lingering groups whose
  /// last member has gone (their leader is reaped then).
  private func enforceDeadlines() {
    let now = ContinuousClock.now
    var finished: [Int32] = []
    lock.withLock {
      if let terminateAt, now >= terminateAt {
        self.terminateAt = nil
        for child in children.values { _ = kill(-child.pid, SIGTERM) }
      }
      let stopExpired = stopDeadline.map { now >= $0 } ?? false
      for (fd, child) in children {
        if stopExpired {
          _ = kill(-child.pid, SIGKILL)
          if child.lingering { finished.append(fd) }
          continue
        }
        if !child.timedOut && !child.lingering, let deadline = child.deadline, now >= deadline {
          _ = kill(-child.pid, SIGKILL)
          children[fd]?.timedOut = true
        }
      }
      if !stopExpired && now >= nextLingerScan {
        nextLingerScan = now + (stopping ? .milliseconds(50) : .seconds(2))
        let lingering = children.filter(\.value.lingering)
        if !lingering.isEmpty {
          let occupied = ProcessGroups.occupied()
          for (fd, child) in lingering where !occupied.contains(child.pid) { finished.append(fd) }
        }
      }
    }
    for fd in finished { reap(pidfd: fd) }
  }

  /// The leader exited (its pidfd became readable).
  private func exited(pidfd: Int32) {
    let decision: (kill: Bool, linger: Bool)? = lock.withLock {
      guard let child = children[pidfd], !child.lingering else { return nil }
      if child.killGroupOnExit || child.timedOut || stopping { return (true, false) }
      return (false, ProcessGroups.occupied().contains(child.pid))
    }
    guard let decision else { return }
    if decision.kill, let pid = lock.withLock({ children[pidfd]?.pid }) {
      // The zombie leader still holds the group id, so this reaches only the script's own.
      _ = kill(-pid, SIGKILL)
    }
    if decision.linger {
      // Report the exit now; keep the zombie until the group is empty or the daemon stops.
      let report: (@Sendable (ScriptExit) -> Void, ScriptExit)? = lock.withLock {
        guard var child = children[pidfd] else { return nil }
        var info = siginfo_t()
        guard waitid(P_PID, id_t(child.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return nil }
        child.lingering = true
        let completion = child.completion
        child.completion = nil
        children[pidfd] = child
        return completion.map { ($0, Self.exit(from: info, timedOut: false)) }
      }
      _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, pidfd, nil)
      if let (completion, exit) = report { completion(exit) }
      return
    }
    reap(pidfd: pidfd)
  }

  private func reap(pidfd: Int32) {
    guard let child = lock.withLock({ children[pidfd] }) else { return }
    var status: Int32 = 0
    var result: pid_t
    repeat { result = waitpid(child.pid, &status, 0) } while result < 0 && errno == EINTR
    _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, pidfd, nil)
    close(pidfd)
    let exit: ScriptExit
    if child.timedOut {
      exit = .timedOut
    } else if result != child.pid {
      exit = .signalled(0)
    } else if status & 0x7f == 0 {
      exit = .exited((status >> 8) & 0xff)
    } else {
      exit = .signalled(status & 0x7f)
    }
    lock.withLock { children[pidfd] = nil }
    child.completion?(exit)
  }

  /// Stop: once nothing runs and nothing waits to start, `terminateAll` may return.
  private func releaseStopWaitersIfDone() {
    let waiters: [DispatchSemaphore] = lock.withLock {
      guard stopping, !stopWaiters.isEmpty, children.isEmpty, pending.isEmpty else { return [] }
      stopDeadline = nil
      terminateAt = nil
      defer { stopWaiters.removeAll() }
      return stopWaiters
    }
    for waiter in waiters { waiter.signal() }
  }

  private static func exit(from info: siginfo_t, timedOut: Bool) -> ScriptExit {
    if timedOut { return .timedOut }
    // si_code CLD_EXITED = 1; si_status is the exit code or the signal.
    let status = info._sifields._sigchld.si_status
    return info.si_code == 1 ? .exited(status & 0xff) : .signalled(status)
  }

  private func spawn(_ run: ScriptRun) -> Result<(pid_t, Int32), SpawnFailure> {
    guard let program = run.argv.first,
      let path = ScriptSecurity.resolve(program, searchPath: Self.searchPath)
    else {
      return .failure(SpawnFailure(why: "program not found: \(run.argv.first ?? "")"))
    }
    let identity = run.identity ?? daemonIdentity
    var environment = Self.baseEnvironment(for: identity)
    environment.merge(run.environment) { _, new in new }
    let argv: [UnsafeMutablePointer<CChar>?] = run.argv.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] =
      environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in argv + envp { free(pointer) } }
    let changes =
      run.identity != nil
      && (identity.uid != daemonIdentity.uid || identity.gid != daemonIdentity.gid
        || Set(identity.groups) != Set(daemonIdentity.groups))
    let groups: [gid_t] = identity.groups
    var pidfd: Int32 = -1
    var error: Int32 = 0
    var step: Int32 = 0
    let pid: pid_t = groups.withUnsafeBufferPointer { groupBuffer in
      var spawnIdentity = lvsk_spawn_identity(
        set_identity: changes ? 1 : 0, uid: identity.uid, gid: identity.gid, groups: groupBuffer.baseAddress,
        group_count: Int32(groupBuffer.count))
      return argv.withUnsafeBufferPointer { argvBuffer in
        envp.withUnsafeBufferPointer { envpBuffer in
          lvsk_spawn_script(
            path, argvBuffer.baseAddress, envpBuffer.baseAddress, &spawnIdentity, &pidfd, &error, &step)
        }
      }
    }
    guard pid > 0 else {
      let reason = String(cString: strerror(error))
      switch Int(step) {
      case Int(LVSK_STEP_IDENTITY): return .failure(SpawnFailure(why: "cannot run as \(identity): \(reason)"))
      case Int(LVSK_STEP_EXEC): return .failure(SpawnFailure(why: "cannot execute \(path): \(reason)"))
      case Int(LVSK_STEP_PIDFD): return .failure(SpawnFailure(why: "pidfd_open: \(reason)"))
      default: return .failure(SpawnFailure(why: "fork: \(reason)"))
      }
    }
    return .success((pid, pidfd))
  }
}

struct SpawnFailure: Error {
  var why: String
}
