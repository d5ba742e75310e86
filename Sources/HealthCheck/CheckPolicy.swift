/// What one probe found.
public enum ProbeOutcome: Hashable, Sendable {
  /// The server answered as required; `weight` is a MISC_CHECK dynamic weight, if any.
  case up(weight: Int?)
  case down(reason: String)

  public var isUp: Bool {
    if case .up = self { return true }
    return false
  }
}

/// A change of a checker's verdict that subscribers must hear about.
public enum CheckerTransition: Hashable, Sendable {
  case wentUp
  case wentDown
  /// Still up, but a dynamic weight changed.
  case weightChanged
}

/// The pure result policy of one checker: retry, rise/fall and alpha, with no clock of its own.
/// The caller runs a probe, feeds the outcome to `record`, and waits `nextDelay` before the next.
/// Invariant: `consecutiveSuccesses` and `consecutiveFailures` are never both non-zero.
public struct CheckerVerdict: Hashable, Sendable {
  /// Interned (`SharedSchedule`): the engine keeps one verdict per checker, and a copy of the
  /// schedule in each was 72 bytes per real server.
  private let shared: SharedSchedule
  public var schedule: CheckSchedule { shared.value }
  public private(set) var lastOutcome: ProbeOutcome?
  public private(set) var isUp: Bool
  /// The counters are 32-bit and saturate (136 years of one probe a second): the engine keeps a
  /// verdict per checker, 56 bytes with these in this order instead of 80 with `Int`s.
  private var successes: UInt32 = 0
  private var failures: UInt32 = 0
  private var retries: UInt32 = 0
  public private(set) var weight: Int?

  public var consecutiveSuccesses: Int { Int(successes) }
  /// Failures counted after retries were exhausted.
  public var consecutiveFailures: Int { Int(failures) }
  /// Retries used on the current run of failed probes.
  public var retriesUsed: Int { Int(retries) }

  public init(schedule: CheckSchedule) {
    self.shared = SharedSchedule.interned(schedule)
    self.isUp = !schedule.alpha
  }

  /// The delay before the very first probe: a uniformly random point in [0, warmup].
  public static func firstDelay(
    for schedule: CheckSchedule, using rng: inout some RandomNumberGenerator
  ) -> Duration {
    let limit = schedule.warmup.nanoseconds
    guard limit > 0 else { return .zero }
    return .nanoseconds(Int64.random(in: 0...limit, using: &rng))
  }

  /// The result of recording one outcome: when to probe next and what changed.
  public struct Step: Hashable, Sendable {
    public var nextDelay: Duration
    public var transition: CheckerTransition?
    /// True when the outcome was a failure absorbed by a retry (not yet counted).
    public var isRetry: Bool
  }

  public mutating func record(_ outcome: ProbeOutcome) -> Step {
    lastOutcome = outcome
    switch outcome {
    case .up(let newWeight):
      retries = 0
      failures = 0
      successes = Self.incremented(successes)
      var transition: CheckerTransition? = nil
      if !isUp {
        if consecutiveSuccesses >= schedule.rise {
          isUp = true
          weight = newWeight ?? weight
          transition = .wentUp
        }
      } else if let newWeight, newWeight != weight {
        weight = newWeight
        transition = .weightChanged
      }
      return Step(nextDelay: schedule.delayLoop, transition: transition, isRetry: false)
    case .down:
      if retriesUsed < schedule.retry {
        retries = Self.incremented(retries)
        return Step(nextDelay: schedule.delayBeforeRetry, transition: nil, isRetry: true)
      }
      retries = 0
      successes = 0
      failures = Self.incremented(failures)
      var transition: CheckerTransition? = nil
      if isUp && consecutiveFailures >= schedule.fall {
        isUp = false
        transition = .wentDown
      }
      return Step(nextDelay: schedule.delayLoop, transition: transition, isRetry: false)
    }
  }

  private static func incremented(_ count: UInt32) -> UInt32 { count == .max ? count : count + 1 }
}

extension Duration {
  /// Whole nanoseconds, saturating.
  var nanoseconds: Int64 {
    let (seconds, attoseconds) = components
    let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds > 0 ? .max : .min }
    return ns &+ attoseconds / 1_000_000_000
  }
}
