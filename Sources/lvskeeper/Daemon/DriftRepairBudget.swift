/// When the periodic drift-repair reconcile may run. It reads the whole kernel table, and on a
/// big table that read is not free: 10,000 destinations cost seconds of CPU under an emulated CPU.
/// A full reconcile runs at most every `lvs_reconcile_interval`, and never so often that it takes
/// more than `share` of one CPU: after a full reconcile that cost C CPU-seconds, the next periodic
/// one waits at least C / share. Health-event, reload and VRRP reconciles are not limited (they
/// are scoped or rare).
/// Invariant: pure; time and costs are the caller's.
struct DriftRepairBudget: Sendable {
  let interval: Duration
  let share: Double
  private(set) var lastFull: (end: ContinuousClock.Instant, cost: Duration)?

  init(interval: Duration, share: Double = 0.02) {
    self.interval = interval
    self.share = share
  }

  /// The least time between the end of the last full reconcile and the next periodic one.
  var spacing: Duration {
    guard let cost = lastFull?.cost, share > 0 else { return interval }
    return max(interval, cost / share)
  }

  /// True when a periodic full reconcile may run at `now`.
  func isDue(at now: ContinuousClock.Instant) -> Bool {
    guard let last = lastFull else { return true }
    return now - last.end >= spacing
  }

  /// Records a full reconcile that ended at `end` and cost `cost` of CPU time.
  mutating func recordFull(end: ContinuousClock.Instant, cost: Duration) {
    lastFull = (end, cost)
  }
}
