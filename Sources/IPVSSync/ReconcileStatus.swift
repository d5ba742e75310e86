/// An operation that failed and will be retried at the next reconcile.
public struct PendingFailure: Sendable, Hashable, CustomStringConvertible {
  public var operation: IPVSOperation
  public var error: IPVSKernelError
  /// Consecutive reconciles in which an operation on this target failed.
  public var attempts: Int
  public var description: String { "\(error) (attempt \(attempts))" }
}

/// What one reconcile did.
public struct ReconcileReport: Sendable {
  public var applied: [IPVSOperation] = []
  public var failures: [PendingFailure] = []
  public var quorumEvents: [QuorumEvent] = []
  /// Set when the kernel could not even be read; nothing was changed.
  public var readError: IPVSKernelError?
  /// Errors of timeouts / sync-daemon control.
  public var controlErrors: [IPVSKernelError] = []
  public var succeeded: Bool { failures.isEmpty && readError == nil && controlErrors.isEmpty }
}

/// A snapshot for `lvskeeper status`.
public struct IPVSStatus: Sendable {
  public var ownedServices: [ServiceKey]
  public var quorumUp: [ServiceKey: Bool]
  public var draining: [RealServerID: ContinuousClock.Instant]
  public var pendingFailures: [PendingFailure]
  public var lastReconcile: ContinuousClock.Instant?
  public var lastOperationCount: Int
}

/// keepalived's behaviours at daemon stop.
public enum StopPolicy: Sendable, Hashable {
  /// Default: delete each owned real server, then each owned virtual service.
  case removeOwned
  /// `lvs_flush_on_stop VS`: delete each owned virtual service (the kernel drops its destinations).
  case removeOwnedServices
  /// `lvs_flush_on_stop`: flush the whole table, owned or not.
  case flushAll
  /// keepalived `--dont-release-ipvs`: leave the kernel as it is.
  case leave
}
