import Glibc
import NIOCore

/// Why a script could not be run.
enum ScriptError: Error, CustomStringConvertible {
  case unknownUser(String)
  case unknownGroup(String)
  case programNotFound(String)
  case forkFailed(Int32)

  var description: String {
    switch self {
    case .unknownUser(let u): return "unknown user \(u)"
    case .unknownGroup(let g): return "unknown group \(g)"
    case .programNotFound(let p): return "program not found: \(p)"
    case .forkFailed(let e): return "fork failed: \(String(cString: strerror(e)))"
    }
  }
}

/// How a script ended.
enum ScriptExit: Equatable {
  case exited(Int32)
  case signalled(Int32)
  case timedOut
}

/// Runs a command in its own process group with stdio on /dev/null, as an optional user, and
/// reaps it from an event loop; on timeout the whole group is killed with SIGKILL and reaped.
/// Everything the child touches is prepared before fork, so the child calls only
/// async-signal-safe functions (setpgid, setgroups, setgid, setuid, dup2, close_range, execve).
enum ScriptProcess {
  struct Identity {
    var uid: uid_t
    var gid: gid_t
    var groups: [gid_t]
  }

  static func identity(user: String?, group: String?) throws -> Identity? {
    guard user != nil || group != nil else { return nil }
    var uid = getuid()
    var gid = getgid()
    var groups: [gid_t] = []
    if let user {
      guard let pw = getpwnam(user) else { throw ScriptError.unknownUser(user) }
      uid = pw.pointee.pw_uid
      gid = pw.pointee.pw_gid
      var count: Int32 = 64
      groups = [gid_t](repeating: 0, count: Int(count))
      if getgrouplist(user, gid, &groups, &count) < 0 {
        groups = [gid_t](repeating: 0, count: Int(count))
        _ = getgrouplist(user, gid, &groups, &count)
      }
      groups = Array(groups.prefix(Int(max(0, count))))
    }
    if let group {
      guard let gr = getgrnam(group) else { throw ScriptError.unknownGroup(group) }
      gid = gr.pointee.gr_gid
      if user == nil { groups = [gid] }
    }
    return Identity(uid: uid, gid: gid, groups: groups)
  }

  /// Resolves argv[0] through PATH when it has no slash.
  static func resolve(_ program: String) -> String? {
    if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/sbin:/usr/bin:/sbin:/bin"
    for dir in path.split(separator: ":") {
      let candidate = "\(dir)/\(program)"
      if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
  }

  private typealias CloseRange = @convention(c) (UInt32, UInt32, Int32) -> Int32
  private static let closeRange: CloseRange? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "close_range") else { return nil }
    return unsafeBitCast(symbol, to: CloseRange.self)
  }()

  /// Starts the command; returns the child's pid (also its process group id).
  static func spawn(_ command: ScriptCommand, as identity: Identity?) throws -> pid_t {
    guard let path = resolve(command.arguments[0]) else {
      throw ScriptError.programNotFound(command.arguments[0])
    }
    let argv: [UnsafeMutablePointer<CChar>?] = command.arguments.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] =
      ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"].map { (v: String) in
        strdup(v)
      }
      + [nil]
    guard let cPath = strdup(path) else { throw ScriptError.forkFailed(ENOMEM) }
    defer {
      for pointer in argv + envp { free(pointer) }
      free(cPath)
    }
    let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
    defer { if devNull >= 0 { close(devNull) } }
    let groupList = identity?.groups ?? []
    let groups = UnsafeMutablePointer<gid_t>.allocate(capacity: max(1, groupList.count))
    groups.initialize(from: groupList, count: groupList.count)
    defer { groups.deallocate() }
    let closeRange = Self.closeRange
    var empty = sigset_t()
    sigemptyset(&empty)
    var maxFD = Int32(sysconf(Int32(_SC_OPEN_MAX)))
    if maxFD <= 0 || maxFD > 65536 { maxFD = 65536 }

    let pid = fork()
    if pid < 0 { throw ScriptError.forkFailed(errno) }
    if pid == 0 {
      // Child: async-signal-safe calls only.
      _ = setpgid(0, 0)
      _ = sigprocmask(SIG_SETMASK, &empty, nil)
      _ = signal(SIGPIPE, SIG_DFL)
      if devNull >= 0 {
        _ = dup2(devNull, 0)
        _ = dup2(devNull, 1)
        _ = dup2(devNull, 2)
      }
      if let closeRange {
        _ = closeRange(3, UInt32.max, 0)
      } else {
        var fd: Int32 = 3
        while fd < maxFD {
          _ = close(fd)
          fd += 1
        }
      }
      if let identity {
        if setgroups(groupList.count, groups) != 0 || setgid(identity.gid) != 0 || setuid(identity.uid) != 0 {
          _exit(126)
        }
      }
      _ = execve(cPath, argv, envp)
      _exit(127)
    }
    return pid
  }

  /// Runs the command and reports how it ended; polls waitpid(WNOHANG) on `loop` with a short
  /// backoff, so no thread blocks and no child is left a zombie.
  static func run(
    _ command: ScriptCommand, as identity: Identity?, timeout: Duration?, on loop: any EventLoop
  ) -> EventLoopFuture<ScriptExit> {
    let pid: pid_t
    do {
      pid = try spawn(command, as: identity)
    } catch {
      return loop.makeFailedFuture(error)
    }
    let promise = loop.makePromise(of: ScriptExit.self)
    let deadline = timeout.map { NIODeadline.now() + .nanoseconds($0.nanoseconds) }
    poll(pid: pid, deadline: deadline, delay: .milliseconds(2), killed: false, loop: loop, promise: promise)
    return promise.futureResult
  }

  private static func poll(
    pid: pid_t, deadline: NIODeadline?, delay: TimeAmount, killed: Bool, loop: any EventLoop,
    promise: EventLoopPromise<ScriptExit>
  ) {
    // Peek first (WNOWAIT) so the group id cannot be reused while stragglers are killed.
    var info = siginfo_t()
    let peek = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
    var status: Int32 = 0
    let exited = peek == 0 && info.si_signo != 0
    if exited {
      // Kill stragglers the script left in its group (background children), then reap.
      _ = kill(-pid, SIGKILL)
    }
    let r = exited ? waitpid(pid, &status, 0) : (peek < 0 ? -1 : 0)
    if r == pid {
      if killed { return promise.succeed(.timedOut) }
      let termSignal = status & 0x7f
      return promise.succeed(termSignal == 0 ? .exited((status >> 8) & 0xff) : .signalled(termSignal))
    }
    if r < 0 && errno != EINTR {
      return promise.succeed(killed ? .timedOut : .signalled(0))
    }
    let isKilled: Bool
    if !killed, let deadline, NIODeadline.now() >= deadline {
      _ = kill(-pid, SIGKILL)
      _ = kill(pid, SIGKILL)
      isKilled = true
    } else {
      isKilled = killed
    }
    let next = min(delay * 2, .milliseconds(50))
    loop.scheduleTask(in: delay) {
      poll(pid: pid, deadline: deadline, delay: next, killed: isKilled, loop: loop, promise: promise)
    }
  }
}

/// MISC_CHECK as a probe.
struct MiscProbe: Probe {
  let check: MiscCheck

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    let identity: ScriptProcess.Identity?
    do {
      identity = try ScriptProcess.identity(user: check.user, group: check.group)
    } catch {
      return loop.makeSucceededFuture(.down(reason: "\(error)"))
    }
    let dynamic = check.dynamic
    let timeout = check.timeout
    return ScriptProcess.run(check.command, as: identity, timeout: timeout, on: loop).map { exit in
      switch exit {
      case .exited(0): return .up(weight: nil)
      case .exited(1): return .down(reason: "exit status 1")
      case .exited(let code) where dynamic: return .up(weight: Int(code) - 2)
      case .exited(let code): return .down(reason: "exit status \(code)")
      case .signalled(let s): return .down(reason: "killed by signal \(s)")
      case .timedOut:
        return .down(reason: "timed out after \(timeout.formattedSeconds), process group killed")
      }
    }.recover { .down(reason: "\($0)") }
  }
}
