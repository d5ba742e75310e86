#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A destination as the kernel reports it: settable attributes plus live connection counters.
public struct KernelDestination: Sendable, Hashable {
  public var key: DestinationKey
  public var attributes: DestinationAttributes
  public var activeConnections: UInt32
  public var inactiveConnections: UInt32
  public var persistentConnections: UInt32
  public var stats: IPVSStats

  public init(
    key: DestinationKey, attributes: DestinationAttributes, activeConnections: UInt32 = 0,
    inactiveConnections: UInt32 = 0, persistentConnections: UInt32 = 0, stats: IPVSStats = IPVSStats()
  ) {
    self.key = key
    self.attributes = attributes
    self.activeConnections = activeConnections
    self.inactiveConnections = inactiveConnections
    self.persistentConnections = persistentConnections
    self.stats = stats
  }
}

/// A virtual service as the kernel reports it.
public struct KernelService: Sendable, Hashable {
  public var key: ServiceKey
  public var attributes: ServiceAttributes
  public var stats: IPVSStats
  public init(key: ServiceKey, attributes: ServiceAttributes, stats: IPVSStats = IPVSStats()) {
    self.key = key
    self.attributes = attributes
    self.stats = stats
  }
}

/// One service with its destinations, as held by the kernel or as desired.
public struct TableService: Sendable, Hashable {
  public var attributes: ServiceAttributes
  public var destinations: [DestinationKey: KernelDestination]
  public init(attributes: ServiceAttributes, destinations: [DestinationKey: KernelDestination] = [:]) {
    self.attributes = attributes
    self.destinations = destinations
  }
}

/// A whole IPVS table (or the part of it that matters to a reconcile), keyed by service.
///
/// Invariant: every `KernelDestination` is stored under its own `key`.
public struct IPVSTable: Sendable, Hashable {
  public var services: [ServiceKey: TableService]
  public init(services: [ServiceKey: TableService] = [:]) { self.services = services }

  /// Reads the services named in `keys` (nil = all) with their destinations from `kernel`.
  /// `listed`: the kernel's service list when the caller has just read it (saves one dump).
  public static func read(
    from kernel: any IPVSKernel, only keys: Set<ServiceKey>? = nil, listed: [KernelService]? = nil
  ) throws(IPVSKernelError) -> IPVSTable {
    var table = IPVSTable()
    if keys?.isEmpty == true { return table }
    let services: [KernelService]
    if let listed { services = listed } else { services = try kernel.services() }
    for service in services where keys?.contains(service.key) ?? true {
      var entry = TableService(attributes: service.attributes)
      let destinations: [KernelDestination]
      do throws(IPVSKernelError) {
        destinations = try kernel.destinations(of: service.key)
      } catch .rejected(_, let e, _) where e == ESRCH {
        continue  // deleted by someone else between the two dumps
      }
      for destination in destinations {
        entry.destinations[destination.key] = destination
      }
      table.services[service.key] = entry
    }
    return table
  }
}

/// One change to the kernel's table. Applied in list order.
public enum IPVSOperation: Sendable, Hashable, CustomStringConvertible {
  case addService(ServiceKey, ServiceAttributes)
  case editService(ServiceKey, ServiceAttributes)
  case deleteService(ServiceKey)
  case addDestination(ServiceKey, DestinationKey, DestinationAttributes)
  case editDestination(ServiceKey, DestinationKey, DestinationAttributes)
  case deleteDestination(ServiceKey, DestinationKey)

  public var service: ServiceKey {
    switch self {
    case .addService(let s, _), .editService(let s, _), .deleteService(let s): s
    case .addDestination(let s, _, _), .editDestination(let s, _, _), .deleteDestination(let s, _): s
    }
  }

  public var destination: DestinationKey? {
    switch self {
    case .addService, .editService, .deleteService: nil
    case .addDestination(_, let d, _), .editDestination(_, let d, _), .deleteDestination(_, let d): d
    }
  }

  public var description: String {
    switch self {
    case .addService(let s, let a): "add service \(s) sched \(a.scheduler)"
    case .editService(let s, let a): "edit service \(s) sched \(a.scheduler)"
    case .deleteService(let s): "delete service \(s)"
    case .addDestination(let s, let d, let a): "add \(d) to \(s) weight \(a.weight) \(a.forwarding)"
    case .editDestination(let s, let d, let a): "edit \(d) in \(s) weight \(a.weight) \(a.forwarding)"
    case .deleteDestination(let s, let d): "delete \(d) from \(s)"
    }
  }
}
