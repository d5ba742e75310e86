/// A state change of one instance, delivered to the service's event handler in order.
public struct VRRPStateEvent: Sendable, Equatable {
  public var instance: String
  /// The sync group the instance belongs to, if any.
  public var syncGroup: String?
  public var from: VRRPState
  public var to: VRRPState
  public var priority: UInt8
}

/// A snapshot of one instance. Invariant: `counters` are cumulative since the service started.
public struct VRRPInstanceStatus: Sendable, Equatable, Codable {
  public var name: String
  public var state: VRRPState
  public var basePriority: UInt8
  public var effectivePriority: UInt8
  public var masterAddress: String?
  public var faultReasons: [String]
  public var ownsAddresses: Bool
  public var counters: VRRPCounters
}

/// A snapshot of the whole service; `unmatchedDrops` counts packets no instance could be blamed for.
public struct VRRPServiceStatus: Sendable, Equatable, Codable {
  public var instances: [VRRPInstanceStatus]
  public var unmatchedDrops: [String: UInt64]
  /// The loop thread's scheduling as the kernel reports it (nil until the loop runs).
  public var loopScheduling: ThreadScheduling?
}
