import IPVSSync

/// Reconcile requests waiting for the kernel queue, merged into one. Each health event asks for a
/// reconcile of its service, and each reconcile reads that service's destinations from the kernel:
/// 10,000 "initial" events at start, or a rack of servers going down at once, queued one by one
/// would read the table 10,000 times. Merged, they cost one read per reconcile actually run.
///
/// Invariant: at most one request is pending; while a drain runs, new requests merge into the
/// pending one and the drain runs it after the current reconcile (which may have read the kernel
/// before they happened); `add` asks for a new drain only when none is running.
struct ReconcileBacklog: Sendable {
  /// One merged request: nil scope means every service.
  struct Request: Equatable, Sendable {
    var scope: Set<ServiceKey>?
    var reasons: [String]
    var count: Int

    /// The log line's reason: the first few reasons and how many were merged.
    var summary: String {
      guard count > 1 else { return reasons.first ?? "" }
      let shown = reasons.prefix(ReconcileBacklog.reasonsShown).joined(separator: "; ")
      return "\(count) requests: \(shown)\(count > ReconcileBacklog.reasonsShown ? "; …" : "")"
    }
  }

  static let reasonsShown = 3

  private(set) var pending: Request?
  private(set) var draining = false

  /// Merges a request. True when the caller must start a drain (none is running).
  mutating func add(scope: Set<ServiceKey>?, reason: String) -> Bool {
    if var request = pending {
      request.scope = request.scope.flatMap { old in scope.map { old.union($0) } }
      if request.reasons.count < Self.reasonsShown { request.reasons.append(reason) }
      request.count += 1
      pending = request
    } else {
      pending = Request(scope: scope, reasons: [reason], count: 1)
    }
    guard !draining else { return false }
    draining = true
    return true
  }

  /// The next request to run, or nil when there is none (the drain then ends, and the next
  /// `add` starts a new one).
  mutating func take() -> Request? {
    guard let request = pending else {
      draining = false
      return nil
    }
    pending = nil
    return request
  }
}
