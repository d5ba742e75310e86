/// A change of a real server's health, delivered to the daemon. Invariant: consecutive events
/// for one server differ in `isUp` or `weight`, except the first (`reason == "initial"`) and
/// events after a reload that change the server's checkers.
public struct HealthEvent: Hashable, Sendable {
  public var server: RealServerID
  public var isUp: Bool
  /// The MISC_CHECK dynamic weight, if a checker reported one.
  public var weight: Int?
  public var reason: String
  /// How long the probe that caused the change took; nil for initial/reload events.
  public var latency: Duration?

  public init(server: RealServerID, isUp: Bool, weight: Int?, reason: String, latency: Duration?) {
    self.server = server
    self.isUp = isUp
    self.weight = weight
    self.reason = reason
    self.latency = latency
  }
}

/// One checker's state for `status`: an immutable copy taken at one instant.
public struct CheckerStatus: Hashable, Sendable {
  public var checker: Checker
  public var isUp: Bool
  public var weight: Int?
  public var lastOutcome: ProbeOutcome?
  public var lastLatency: Duration?
  public var consecutiveSuccesses: Int
  public var consecutiveFailures: Int
  public var retriesUsed: Int
  public var probes: Int
  /// Real servers this one probe serves.
  public var subscribers: Int
}

/// One real server's state for `status`.
public struct ServerStatus: Hashable, Sendable {
  public var id: RealServerID
  public var isUp: Bool
  public var weight: Int?
  public var reason: String?
  public var checkers: [CheckerStatus]
}

/// Everything the monitor knows, sorted by server id.
public struct HealthStatus: Hashable, Sendable {
  public var servers: [ServerStatus]
  /// Distinct probes running (fewer than the sum of checkers when servers share a probe).
  public var probeCount: Int
}
