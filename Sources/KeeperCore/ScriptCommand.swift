/// The user (and optional group) a script runs as: `USER [GROUP]` on a script line, `user` in a
/// `vrrp_script` or `MISC_CHECK`, or `script_user` in global_defs. Invariant: `user` is non-empty.
public struct ScriptUser: Codable, Hashable, Sendable, CustomStringConvertible {
  public var user: String
  public var group: String?

  public init(user: String, group: String? = nil) {
    self.user = user
    self.group = group
  }

  /// keepalived's default script user: used when neither the script nor `script_user` names one
  /// and the account exists; otherwise scripts run as the daemon's own user (root).
  public static let keepalivedDefault = "keepalived_script"

  public var description: String { group.map { "\(user):\($0)" } ?? user }
}

/// A configured command line (notify scripts, `vrrp_script`'s `script`, `misc_path`, `notify_up`,
/// `notify_down`, `quorum_up`, `quorum_down`) with the user it runs as. The one script type every
/// part shares: the configuration parses it, VRRP and the checkers hand it to `ScriptRunner`.
///
/// Invariant: `argv` is non-empty and `argv[0]` is the program (`/bin/sh` for a line that needs a
/// shell, by `ScriptLine`'s rule).
public struct ScriptCommand: Codable, Hashable, Sendable, CustomStringConvertible {
  /// The line as configured.
  public var command: String
  public var argv: [String]
  /// nil: `script_user`, else keepalived's default user, applies (`ScriptUser.effective`).
  public var user: ScriptUser?

  /// Splits `command` with `ScriptLine`'s rule.
  public init(parsing command: String, user: ScriptUser? = nil) throws(ScriptLine.Problem) {
    self.command = command
    self.argv = try ScriptLine.argv(command)
    self.user = user
  }

  public init(command: String, argv: [String], user: ScriptUser?) {
    self.command = command
    self.argv = argv
    self.user = user
  }

  /// True when the line runs as `/bin/sh -c LINE`.
  public var usesShell: Bool {
    argv.count >= 3 && argv[0] == "/bin/sh" && argv[1] == "-c" && argv[2] == command
  }

  /// argv with keepalived's extra arguments appended (`notify`'s TYPE NAME STATE PRIORITY); for a
  /// shell line they become the line's "$@".
  public func argv(extra: [String]) -> [String] {
    guard !extra.isEmpty else { return argv }
    return usesShell ? ScriptLine.shellArgv(command, extra: extra) : argv + extra
  }

  public var description: String { command }

  enum CodingKeys: String, CodingKey { case command, argv, user }

  /// A bare string decodes as a command line (the VRRP harness's JSON specs write them so).
  public init(from decoder: any Decoder) throws {
    if let text = try? decoder.singleValueContainer().decode(String.self) {
      do {
        try self.init(parsing: text)
      } catch {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
      }
      return
    }
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let command = try c.decode(String.self, forKey: .command)
    let user = try c.decodeIfPresent(ScriptUser.self, forKey: .user)
    if let argv = try c.decodeIfPresent([String].self, forKey: .argv), !argv.isEmpty {
      self.init(command: command, argv: argv, user: user)
    } else {
      do {
        try self.init(parsing: command, user: user)
      } catch {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
      }
    }
  }
}

/// A script ready to run: the command and the resolved credentials it runs with. Built once per
/// (re)load by the daemon's mapping, so a run never looks users up.
public struct RunnableScript: Codable, Hashable, Sendable, CustomStringConvertible {
  public var command: ScriptCommand
  public var identity: ScriptIdentity

  public init(_ command: ScriptCommand, identity: ScriptIdentity) {
    self.command = command
    self.identity = identity
  }

  /// Resolves the user the command runs as (`ScriptUser.effective`): its own, else `scriptUser`,
  /// else `keepalived_script` where it exists, else the daemon's user.
  public init(_ command: ScriptCommand, scriptUser: ScriptUser?) throws(ScriptIdentityError) {
    self.command = command
    self.identity = try ScriptIdentity.resolve(ScriptUser.effective(own: command.user, global: scriptUser))
  }

  /// Parses and resolves `text` (VRRP harness specs and tests).
  public init(parsing text: String, user: ScriptUser? = nil) throws {
    try self.init(ScriptCommand(parsing: text, user: user), scriptUser: nil)
  }

  /// One run of this script: keepalived's extra arguments appended, as the resolved identity.
  public func scriptRun(
    extra: [String] = [], environment: [String: String] = [:], timeout: Duration? = nil,
    killGroupOnExit: Bool = false
  ) -> ScriptRun {
    ScriptRun(
      argv: command.argv(extra: extra), identity: identity, environment: environment, timeout: timeout,
      killGroupOnExit: killGroupOnExit)
  }

  /// Starts one run on `runner`; `completion` is called on the runner's thread.
  public func run(
    extra: [String] = [], environment: [String: String] = [:], timeout: Duration? = nil,
    killGroupOnExit: Bool = false, on runner: ScriptRunner = .shared,
    completion: @escaping @Sendable (ScriptExit) -> Void = { _ in }
  ) {
    runner.run(
      scriptRun(extra: extra, environment: environment, timeout: timeout, killGroupOnExit: killGroupOnExit),
      completion: completion)
  }

  /// One run, awaited.
  public func run(
    extra: [String] = [], timeout: Duration? = nil, killGroupOnExit: Bool = false,
    on runner: ScriptRunner = .shared
  ) async -> ScriptExit {
    await runner.run(scriptRun(extra: extra, timeout: timeout, killGroupOnExit: killGroupOnExit))
  }

  public var description: String { "\(command.command) (as \(identity.userName))" }

  enum CodingKeys: String, CodingKey { case command, user, group }

  public init(from decoder: any Decoder) throws {
    if let text = try? decoder.singleValueContainer().decode(String.self) {
      try self.init(parsing: text)
      return
    }
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let user = try c.decodeIfPresent(String.self, forKey: .user).map {
      ScriptUser(user: $0, group: try? c.decodeIfPresent(String.self, forKey: .group))
    }
    try self.init(parsing: try c.decode(String.self, forKey: .command), user: user)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(command.command, forKey: .command)
    try c.encode(identity.userName, forKey: .user)
  }
}
