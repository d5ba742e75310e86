/// Keeps a flood of bad VRRP packets from flooding the log: per drop reason, the first packet is
/// logged in full, later ones are only counted, and at most one summary per `interval` says how
/// many were dropped since. Pure: the caller passes the time.
///
/// Invariant: every drop is either logged (`record` returned true) or included in exactly one
/// later summary, as long as `dueSummaries` keeps being called.
public struct DropLogLimiter: Sendable {
  public let interval: Duration
  private var windows: [DropReason: (start: Duration, suppressed: UInt64)] = [:]

  public init(interval: Duration = .seconds(10)) { self.interval = interval }

  /// One drop at `now`: true when it should be logged in full.
  public mutating func record(_ reason: DropReason, now: Duration) -> Bool {
    guard let window = windows[reason], now - window.start < interval || window.suppressed > 0 else {
      windows[reason] = (now, 0)
      return true
    }
    windows[reason]?.suppressed += 1
    return false
  }

  /// The reasons whose window has passed with unlogged drops, with how many; each starts a new
  /// window. Call it regularly (the VRRP loop wakes at least every 100 ms).
  public mutating func dueSummaries(now: Duration) -> [(reason: DropReason, count: UInt64)] {
    var due: [(reason: DropReason, count: UInt64)] = []
    for (reason, window) in windows where window.suppressed > 0 && now - window.start >= interval {
      due.append((reason, window.suppressed))
      windows[reason] = (now, 0)
    }
    return due.sorted { $0.reason.rawValue < $1.reason.rawValue }
  }
}
