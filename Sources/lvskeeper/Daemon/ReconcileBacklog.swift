import Dispatch
import IPVSSync
import Synchronization

/// What one background reconcile must cover. Requests merge: scopes unite, a reconcile of
/// everything absorbs scoped ones, and the reasons are kept (the first few, and how many) for the
/// log lines of the operations it applies.
///
/// Invariant: `services` is empty whenever `everything` is set.
struct ReconcileRequest: Sendable, Hashable {
  /// Services whose destinations are read fresh and repaired (their real servers changed health).
  private(set) var services: Set<ServiceKey> = []
  /// Read and repair every owned service (e.g. the sync daemon follows a VRRP transition).
  private(set) var everything = false
  /// The periodic drift repair (`IPVSReconciler.repairDrift`).
  private(set) var driftRepair = false
  /// The first `shownReasons` health-event reasons ("rs1 down"), and how many there were.
  private(set) var healthEvents: [String] = []
  private(set) var healthEventCount = 0
  /// Other reasons, deduplicated, the first `shownReasons`, and how many distinct ones there were.
  private(set) var otherReasons: [String] = []
  private(set) var otherReasonCount = 0

  static let shownReasons = 5

  /// A real server changed health: re-read and repair the services that hold it.
  static func health(_ services: Set<ServiceKey>, reason: String) -> Self {
    var r = Self()
    r.services = services
    r.healthEvents = [reason]
    r.healthEventCount = 1
    return r
  }

  static func everything(reason: String) -> Self { other(reason) { $0.everything = true } }

  static func driftRepair(reason: String) -> Self { other(reason) { $0.driftRepair = true } }

  /// A request that is not a health event: `kind` marks what it asks for.
  private static func other(_ reason: String, _ kind: (inout Self) -> Void) -> Self {
    var r = Self()
    kind(&r)
    r.otherReasons = [reason]
    r.otherReasonCount = 1
    return r
  }

  /// This request and `other`, as one reconcile.
  mutating func merge(_ other: Self) {
    everything = everything || other.everything
    services = everything ? [] : services.union(other.services)
    driftRepair = driftRepair || other.driftRepair
    healthEvents += other.healthEvents.prefix(max(0, Self.shownReasons - healthEvents.count))
    healthEventCount += other.healthEventCount
    for reason in other.otherReasons where !otherReasons.contains(reason) {
      otherReasonCount += 1
      if otherReasons.count < Self.shownReasons { otherReasons.append(reason) }
    }
  }

  /// The reason for the log: "periodic reconcile (drift repair)", "rs1 down",
  /// "12 health events: rs1 down, rs2 down, rs3 down, rs4 down, rs5 down, …".
  var reason: String {
    var parts: [String] = []
    if healthEventCount == 1, let only = healthEvents.first {
      parts.append(only)
    } else if healthEventCount > 1 {
      let more = healthEventCount > healthEvents.count ? ", …" : ""
      parts.append("\(healthEventCount) health events: \(healthEvents.joined(separator: ", "))\(more)")
    }
    parts += otherReasons
    if otherReasonCount > otherReasons.count { parts.append("\(otherReasonCount - otherReasons.count) more") }
    return parts.joined(separator: "; ")
  }

  /// Runs the reconcile this request asks for.
  func perform(on reconciler: IPVSReconciler) -> ReconcileReport {
    if everything { return reconciler.reconcile() }
    if driftRepair { return reconciler.repairDrift(alsoReading: services) }
    return reconciler.reconcile(only: services)
  }
}

/// The reconciles waiting for the kernel queue: at most one, into which new requests merge.
///
/// Invariant: `queued` is the only request submitted and not yet started; a request submitted after
/// `start()` took the queued one is never merged into it (the running reconcile may have read the
/// kernel before the change), so it gets a reconcile of its own afterwards.
struct ReconcileBacklog: Sendable {
  private(set) var queued: ReconcileRequest?

  /// Adds `request`; true when nothing was queued, i.e. the caller must schedule a run.
  mutating func submit(_ request: ReconcileRequest) -> Bool {
    guard var pending = queued else {
      queued = request
      return true
    }
    pending.merge(request)
    queued = pending
    return false
  }

  /// A run begins: it takes everything queued so far.
  mutating func start() -> ReconcileRequest? {
    defer { queued = nil }
    return queued
  }
}

/// Runs background reconciles on a serial queue, coalescing requests that arrive while one waits:
/// a mass flap of N real servers costs a few reconciles, not N (each reading the whole service).
///
/// Invariant: at most one reconcile is queued and not started at any time (see `ReconcileBacklog`).
final class CoalescingReconciles: Sendable {
  let queue: DispatchQueue
  private let backlog = Mutex(ReconcileBacklog())

  init(queue: DispatchQueue) { self.queue = queue }

  /// Queues `request` (or merges it into the queued one); `done` gets the report and the reason.
  func submit(
    _ request: ReconcileRequest, to reconciler: IPVSReconciler,
    done: @escaping @Sendable (ReconcileReport, String) -> Void
  ) {
    guard backlog.withLock({ $0.submit(request) }) else { return }
    queue.async {
      guard let request = self.backlog.withLock({ $0.start() }) else { return }
      done(request.perform(on: reconciler), request.reason)
    }
  }
}
