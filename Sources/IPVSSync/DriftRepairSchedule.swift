/// How much of the kernel table a periodic drift repair reads.
public enum DriftRepairDepth: Sendable, Hashable {
  /// Only the service list, plus the destinations of services that need them (missing, changed,
  /// draining, with a pending failure). Catches a flush, a module reload, a deleted or edited service.
  case serviceList
  /// Every owned service with all its destinations: catches any drift, a deleted destination included.
  case full
}

/// Decides when the periodic drift repair (global_defs `lvs_reconcile_interval`) reads every
/// destination. Reading 10,000 destinations costs seconds of CPU under emulation and ~100 ms on
/// hardware; doing it every interval made an idle daemon spend a large fraction of a CPU. So a full
/// read happens at most once per `max(interval, budgetFactor × duration of the last full read)`
/// (with the default factor 50 the full read uses at most ~2% of the time), and always when the
/// last repair could not be trusted (a read error, or a service missing from the kernel).
///
/// Invariant: a pure function of the recorded facts and the instant asked about; no clock inside.
public struct DriftRepairSchedule: Sendable, Hashable {
  /// `lvs_reconcile_interval`: the shortest time between two full reads.
  public var interval: Duration
  /// A full read takes at most 1/budgetFactor of the time.
  public var budgetFactor: Int
  /// When the last full read started; nil before the first.
  public private(set) var lastFullStart: ContinuousClock.Instant?
  /// How long the last full read took.
  public private(set) var lastFullDuration: Duration = .zero
  /// Set by `requireFull` (and initially); cleared by the next full read.
  public private(set) var fullRequired = true

  public init(interval: Duration, budgetFactor: Int = 50) {
    self.interval = interval
    self.budgetFactor = max(1, budgetFactor)
  }

  /// The gap the budget asks for after the last full read.
  public var fullReadSpacing: Duration { max(interval, lastFullDuration * budgetFactor) }

  /// What the drift repair starting at `now` should read.
  public func depth(at now: ContinuousClock.Instant) -> DriftRepairDepth {
    guard !fullRequired, let start = lastFullStart else { return .full }
    return now - start >= fullReadSpacing ? .full : .serviceList
  }

  /// A full reconcile (periodic or not) started at `start`; reading the table and planning took
  /// `duration`.
  public mutating func recordFullRead(start: ContinuousClock.Instant, duration: Duration) {
    lastFullStart = start
    lastFullDuration = duration
    fullRequired = false
  }

  /// The next drift repair reads everything (a read failed, or the kernel lost a service).
  public mutating func requireFull() { fullRequired = true }
}
