/// `vrrp_track_process`: which processes count and how many make a quorum (keepalived.conf(5)).
///
/// Invariant: `quorum <= quorumMax` when `quorumMax` is set; `quorum == 0` only with
/// `quorumMax == 0` (up while no process matches).
public struct VRRPTrackProcessSpec: Sendable, Codable, Equatable {
  public var name: String
  public var pattern: ProcessPattern
  public var quorum: Int
  /// nil: no upper bound.
  public var quorumMax: Int?
  /// Seconds a quorum gained through a fork waits before it counts.
  public var forkDelay: Double
  /// Seconds a quorum lost through an exit waits before it counts.
  public var terminateDelay: Double
  /// 0: losing the quorum faults the instance; otherwise added as a script's weight is (see `TrackSignal`).
  public var weight: Int
  public var reverse: Bool

  public init(
    name: String, pattern: ProcessPattern, quorum: Int = 1, quorumMax: Int? = nil, forkDelay: Double = 0,
    terminateDelay: Double = 0, weight: Int = 0, reverse: Bool = false
  ) {
    self.name = name
    self.pattern = pattern
    self.quorum = quorum
    self.quorumMax = quorumMax
    self.forkDelay = forkDelay
    self.terminateDelay = terminateDelay
    self.weight = weight
    self.reverse = reverse
  }

  func inQuorum(_ count: Int) -> Bool { count >= quorum && count <= (quorumMax ?? Int.max) }
}

/// How keepalived decides that a process is one of a `vrrp_track_process`'s: its comm (the kernel's
/// 15-byte name, what `ps -o comm` shows) equals `name`, or with `fullCommand` argv[0] equals
/// `name` and the arguments match `parameters` as `match` says. Pure.
public struct ProcessPattern: Sendable, Codable, Equatable {
  public enum Match: String, Sendable, Codable {
    case none, exact, partial, initial
  }
  public var name: String
  public var fullCommand: Bool
  public var parameters: [String]
  public var match: Match

  public init(name: String, fullCommand: Bool = false, parameters: [String] = [], match: Match = .none) {
    self.name = name
    self.fullCommand = fullCommand || match != .none || !parameters.isEmpty
    self.parameters = parameters
    self.match = match == .none && !parameters.isEmpty ? .exact : match
  }

  /// - Parameters:
  ///   - comm: /proc/PID/comm without its newline.
  ///   - commandLine: /proc/PID/cmdline: each argument followed by a NUL.
  public func matches(comm: String, commandLine: [UInt8]) -> Bool {
    guard fullCommand else { return comm == name }
    let end = commandLine.firstIndex(of: 0) ?? commandLine.endIndex
    guard Array(commandLine[..<end]) == Array(name.utf8) else { return false }
    let actual = end < commandLine.endIndex ? Array(commandLine[(end + 1)...]) : []
    return parametersMatch(actual)
  }

  /// keepalived's check_params, on the NUL-terminated arguments after argv[0].
  private func parametersMatch(_ actual: [UInt8]) -> Bool {
    let wanted: [UInt8] = parameters.flatMap { Array($0.utf8) + [UInt8(0)] }
    switch match {
    case .none: return true
    case .exact: return actual == wanted
    case .partial: return actual.starts(with: wanted)
    case .initial:
      // The last wanted argument may be a prefix of its actual one: drop its NUL.
      return wanted.isEmpty || actual.starts(with: wanted.dropLast())
    }
  }
}

/// One process as the census sees it: its pid, comm and command line.
public struct ProcessSighting: Sendable, Equatable {
  public var pid: Int32
  public var comm: String
  public var commandLine: [UInt8]
  public init(pid: Int32, comm: String, commandLine: [UInt8]) {
    self.pid = pid
    self.comm = comm
    self.commandLine = commandLine
  }
}

/// Counts the processes of each `vrrp_track_process` from a /proc scan and then the kernel's
/// process events, with keepalived's rules: a fork of a counted process counts too (the child
/// runs the same program), an exec or a comm change re-matches the process, an exit uncounts it;
/// a quorum gained by a fork waits `forkDelay`, one lost by an exit waits `terminateDelay`, and a
/// change back while waiting cancels the wait. Threads (pid != tgid) are the caller's to drop.
/// Pure: time comes in as `now`.
///
/// Invariant: `counts[i]` is the number of pids in `members` that hold `i`; `hasQuorum[i]` changes
/// only through `settle` (immediately for exec, comm and scan, or when a pending delay ends).
public struct ProcessCensus: Sendable {
  public let specs: [VRRPTrackProcessSpec]
  public private(set) var counts: [Int]
  public private(set) var hasQuorum: [Bool]
  private var members: [Int32: [Int]] = [:]
  /// A quorum change waiting for its delay: the instant it counts.
  private var pending: [Duration?]

  /// Whether any spec looks at command lines (else the comm name is all it needs).
  public var needsCommandLines: Bool { specs.contains { $0.pattern.fullCommand } }

  public init(specs: [VRRPTrackProcessSpec]) {
    self.specs = specs
    counts = Array(repeating: 0, count: specs.count)
    hasQuorum = specs.map { $0.inQuorum(0) }
    pending = Array(repeating: nil, count: specs.count)
  }

  /// The start (or a resynchronisation after lost events): every live process, counted afresh.
  public mutating func scan(_ processes: [ProcessSighting], now: Duration) {
    members = [:]
    counts = Array(repeating: 0, count: specs.count)
    for process in processes { add(process.pid, matching(process)) }
    for index in specs.indices {
      pending[index] = nil
      hasQuorum[index] = specs[index].inQuorum(counts[index])
    }
  }

  /// A process called exec (or changed its comm): it counts for exactly the specs it now matches.
  public mutating func exec(_ process: ProcessSighting, now: Duration) {
    let before = counts
    remove(process.pid)
    add(process.pid, matching(process))
    settle(before, cause: .exec, now: now)
  }

  /// A new process: it counts wherever its parent counts.
  public mutating func fork(parent: Int32, child: Int32, now: Duration) {
    guard let tracked = members[parent] else { return }
    let before = counts
    remove(child)
    add(child, tracked)
    settle(before, cause: .fork, now: now)
  }

  public mutating func exit(_ pid: Int32, now: Duration) {
    guard members[pid] != nil else { return }
    let before = counts
    remove(pid)
    settle(before, cause: .exit, now: now)
  }

  /// Ends the delays that have run out; returns true when a quorum changed.
  @discardableResult
  public mutating func expire(now: Duration) -> Bool {
    var changed = false
    for index in specs.indices {
      guard let due = pending[index], due <= now else { continue }
      pending[index] = nil
      let value = specs[index].inQuorum(counts[index])
      if value != hasQuorum[index] {
        hasQuorum[index] = value
        changed = true
      }
    }
    return changed
  }

  /// The earliest pending delay's end, if any.
  public var nextDeadline: Duration? { pending.compactMap { $0 }.min() }

  private enum Cause { case exec, fork, exit }

  private func matching(_ process: ProcessSighting) -> [Int] {
    specs.indices.filter { specs[$0].pattern.matches(comm: process.comm, commandLine: process.commandLine) }
  }

  private mutating func add(_ pid: Int32, _ indexes: [Int]) {
    guard !indexes.isEmpty else { return }
    members[pid] = indexes
    for index in indexes { counts[index] += 1 }
  }

  private mutating func remove(_ pid: Int32) {
    guard let indexes = members.removeValue(forKey: pid) else { return }
    for index in indexes { counts[index] -= 1 }
  }

  private mutating func settle(_ before: [Int], cause: Cause, now: Duration) {
    // Only a count that crosses a quorum bound matters, as in keepalived.
    for index in specs.indices
    where specs[index].inQuorum(before[index]) != specs[index].inQuorum(counts[index]) {
      let spec = specs[index]
      let value = spec.inQuorum(counts[index])
      if pending[index] != nil {
        // Changed back (or on) while a delay ran: keepalived cancels the timer and decides now.
        pending[index] = nil
        hasQuorum[index] = value
        continue
      }
      guard value != hasQuorum[index] else { continue }
      let delay: Double =
        switch cause {
        case .fork: spec.forkDelay
        case .exit: spec.terminateDelay
        case .exec: 0
        }
      if delay > 0 {
        pending[index] = now + SecondsDuration.from(delay)
      } else {
        hasQuorum[index] = value
      }
    }
  }
}
