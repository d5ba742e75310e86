/// How a script run ended.
public enum ScriptExit: Equatable, Sendable, CustomStringConvertible {
  case exited(Int32)
  case signalled(Int32)
  /// Killed (its whole process group) when its timeout passed.
  case timedOut
  /// Never ran: the program is missing, the identity could not be taken, or the daemon is stopping.
  case failedToStart(String)

  public var description: String {
    switch self {
    case .exited(let code): return "exit status \(code)"
    case .signalled(let signal): return "killed by signal \(signal)"
    case .timedOut: return "timed out, process group killed"
    case .failedToStart(let why): return "could not start: \(why)"
    }
  }
}

/// One run of a script.
public struct ScriptRun: Sendable {
  public var argv: [String]
  /// nil runs as the daemon's own user.
  public var identity: ScriptIdentity?
  /// Added to the clean environment (`ScriptRunner.baseEnvironment`).
  public var environment: [String: String]
  public var timeout: Duration?
  /// Checks (`vrrp_script`, `MISC_CHECK`) set this: once the script has exited, whatever it left
  /// running in its process group is killed, so a background child cannot pile up every interval
  /// or hold the next run back. Notify scripts keep their background children until stop.
  public var killGroupOnExit: Bool

  public init(
    argv: [String], identity: ScriptIdentity? = nil, environment: [String: String] = [:],
    timeout: Duration? = nil, killGroupOnExit: Bool = false
  ) {
    self.argv = argv
    self.identity = identity
    self.environment = environment
    self.timeout = timeout
    self.killGroupOnExit = killGroupOnExit
  }
}
