import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A model of kernel IPVS for unit tests, returning the errnos net/netfilter/ipvs/ip_vs_ctl.c
/// returns (EEXIST, ESRCH, ENOENT for an unknown scheduler or destination).
///
/// Invariant: its table only changes through the `IPVSKernel` calls or the test hooks below,
/// and, when `recordsOperations`, every mutating call is counted in `appliedOperations`.
/// `run --dry-run` keeps no record (its daemon logs each operation and shows the last ones in
/// `status`): a record kept for the daemon's lifetime would grow with every health flap.
public final class InMemoryIPVSKernel: IPVSKernel {
  /// A destination as held here: what the kernel would report besides its key and its traffic
  /// counters (always zero here), 40 bytes instead of `KernelDestination`'s ~140 (`run --dry-run`
  /// holds one per real server). `table` rebuilds the full values.
  private struct Destination {
    var attributes: DestinationAttributes
    var active: UInt32 = 0
    var inactive: UInt32 = 0
  }
  private struct Service {
    var attributes: ServiceAttributes
    var destinations: [DestinationKey: Destination] = [:]

    func kernelDestination(_ key: DestinationKey, _ d: Destination) -> KernelDestination {
      KernelDestination(
        key: key, attributes: d.attributes, activeConnections: d.active, inactiveConnections: d.inactive)
    }
    var table: TableService {
      TableService(
        attributes: attributes,
        destinations: Dictionary(
          uniqueKeysWithValues: destinations.map { ($0.key, kernelDestination($0.key, $0.value)) }))
    }
  }

  private struct State {
    var services: [ServiceKey: Service] = [:]
    var order: [ServiceKey] = []
    var timeouts = IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300)
    var daemons: [SyncDaemonRole: SyncDaemonConfig] = [:]
    var applied: [IPVSOperation] = []
    var failing: [IPVSOperation: Int32] = [:]
  }

  private let state = Mutex(State())
  private let recordsOperations: Bool

  public init(recordsOperations: Bool = true) {
    self.recordsOperations = recordsOperations
  }

  // MARK: test hooks

  /// Every operation applied so far (successful or not), in order.
  public var appliedOperations: [IPVSOperation] { state.withLock { $0.applied } }
  public func resetAppliedOperations() { state.withLock { $0.applied = [] } }
  /// The current table.
  public var table: IPVSTable { state.withLock { IPVSTable(services: $0.services.mapValues(\.table)) } }
  /// Makes `operation` fail with `errno` until cleared (nil).
  public func setFailure(_ operation: IPVSOperation, errno: Int32?) {
    state.withLock { $0.failing[operation] = errno }
  }
  /// Sets the live connection counters of a destination (what traffic would do).
  public func setConnections(
    _ service: ServiceKey, _ destination: DestinationKey, active: UInt32, inactive: UInt32
  ) {
    state.withLock {
      $0.services[service]?.destinations[destination]?.active = active
      $0.services[service]?.destinations[destination]?.inactive = inactive
    }
  }

  // MARK: IPVSKernel

  public func info() throws(IPVSKernelError) -> IPVSInfo {
    IPVSInfo(version: 0x010201, connectionTableSize: 4096)
  }

  public func services() throws(IPVSKernelError) -> [KernelService] {
    state.withLock { s in
      s.order.compactMap { key in
        s.services[key].map { KernelService(key: key, attributes: $0.attributes) }
      }
    }
  }

  public func service(_ key: ServiceKey) throws(IPVSKernelError) -> KernelService {
    guard let entry = state.withLock({ $0.services[key] }) else {
      throw .rejected(operation: "get service \(key)", errno: ESRCH, reason: .noSuchService)
    }
    return KernelService(key: key, attributes: entry.attributes)
  }

  public func destinations(of service: ServiceKey) throws(IPVSKernelError) -> [KernelDestination] {
    guard let entry = state.withLock({ $0.services[service] }) else {
      throw .rejected(operation: "dump destinations of \(service)", errno: ESRCH, reason: .noSuchService)
    }
    return entry.destinations.map { entry.kernelDestination($0.key, $0.value) }.sorted { $0.key < $1.key }
  }

  public func apply(_ operations: [IPVSOperation]) throws(IPVSKernelError) -> [IPVSOperationResult] {
    state.withLock { s in
      operations.map { op in
        if recordsOperations { s.applied.append(op) }
        let e = s.failing[op] ?? Self.perform(op, on: &s)
        let error = e.map {
          IPVSKernelError.rejected(operation: op.description, errno: $0, reason: .classify(errno: $0, on: op))
        }
        return IPVSOperationResult(operation: op, error: error)
      }
    }
  }

  private static func perform(_ op: IPVSOperation, on s: inout State) -> Int32? {
    switch op {
    case .addService(let key, let attributes):
      guard s.services[key] == nil else { return EEXIST }
      guard IPVSScheduler.all.contains(attributes.scheduler) else { return ENOENT }
      s.services[key] = Service(attributes: attributes)
      s.order.append(key)
    case .editService(let key, let attributes):
      guard s.services[key] != nil else { return ESRCH }
      guard IPVSScheduler.all.contains(attributes.scheduler) else { return ENOENT }
      s.services[key]?.attributes = attributes
    case .deleteService(let key):
      guard s.services.removeValue(forKey: key) != nil else { return ESRCH }
      s.order.removeAll { $0 == key }
    case .addDestination(let service, let key, let attributes):
      guard let entry = s.services[service] else { return ESRCH }
      guard entry.destinations[key] == nil else { return EEXIST }
      s.services[service]?.destinations[key] = Destination(attributes: attributes)
    case .editDestination(let service, let key, let attributes):
      guard let entry = s.services[service] else { return ESRCH }
      guard entry.destinations[key] != nil else { return ENOENT }
      s.services[service]?.destinations[key]?.attributes = attributes
    case .deleteDestination(let service, let key):
      guard let entry = s.services[service] else { return ESRCH }
      guard entry.destinations[key] != nil else { return ENOENT }
      s.services[service]?.destinations[key] = nil
    }
    return nil
  }

  public func flush() throws(IPVSKernelError) {
    state.withLock {
      $0.services = [:]
      $0.order = []
    }
  }

  public func timeouts() throws(IPVSKernelError) -> IPVSTimeouts { state.withLock { $0.timeouts } }

  public func setTimeouts(_ timeouts: IPVSTimeouts) throws(IPVSKernelError) {
    state.withLock { s in
      if timeouts.tcp != 0 { s.timeouts.tcp = timeouts.tcp }
      if timeouts.tcpFin != 0 { s.timeouts.tcpFin = timeouts.tcpFin }
      if timeouts.udp != 0 { s.timeouts.udp = timeouts.udp }
    }
  }

  public func syncDaemons() throws(IPVSKernelError) -> [SyncDaemonConfig] {
    state.withLock { s in [SyncDaemonRole.master, .backup].compactMap { s.daemons[$0] } }
  }

  public func startSyncDaemon(_ config: SyncDaemonConfig) throws(IPVSKernelError) {
    let exists = state.withLock { s in
      if s.daemons[config.role] != nil { return true }
      s.daemons[config.role] = config
      return false
    }
    if exists { throw .rejected(operation: "start sync daemon", errno: EEXIST, reason: .alreadyExists) }
  }

  public func stopSyncDaemon(_ role: SyncDaemonRole) throws(IPVSKernelError) {
    let existed = state.withLock { $0.daemons.removeValue(forKey: role) != nil }
    if !existed { throw .rejected(operation: "stop sync daemon", errno: ESRCH, reason: .noSuchService) }
  }
}
