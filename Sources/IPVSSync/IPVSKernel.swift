import KeeperCore

/// What the kernel reports about IPVS itself (`IPVS_CMD_GET_INFO`).
public struct IPVSInfo: Sendable, Hashable {
  /// Packed version, e.g. 0x010201 for 1.2.1.
  public var version: UInt32
  public var connectionTableSize: UInt32
  public var versionString: String { "\(version >> 16).\((version >> 8) & 0xff).\(version & 0xff)" }
}

/// Connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`). In a set, 0 leaves a value unchanged.
public struct IPVSTimeouts: Sendable, Hashable {
  public var tcp: UInt32
  public var tcpFin: UInt32
  public var udp: UInt32
  public init(tcp: UInt32 = 0, tcpFin: UInt32 = 0, udp: UInt32 = 0) {
    self.tcp = tcp
    self.tcpFin = tcpFin
    self.udp = udp
  }
}

/// Role of a connection-synchronisation daemon (`IP_VS_STATE_*`).
public enum SyncDaemonRole: UInt32, Sendable, Hashable {
  case master = 1
  case backup = 2
}

/// A kernel connection-sync daemon's configuration (keepalived `lvs_sync_daemon`).
public struct SyncDaemonConfig: Sendable, Hashable {
  public var role: SyncDaemonRole
  public var interface: String
  public var syncID: UInt32
  /// UDP payload size; nil = kernel default.
  public var maxLength: UInt16?
  /// Multicast group; nil = kernel default (224.0.0.81).
  public var group: IPAddress?
  public var port: UInt16?
  public var ttl: UInt8?

  public init(
    role: SyncDaemonRole, interface: String, syncID: UInt32 = 0, maxLength: UInt16? = nil,
    group: IPAddress? = nil, port: UInt16? = nil, ttl: UInt8? = nil
  ) {
    self.role = role
    self.interface = interface
    self.syncID = syncID
    self.maxLength = maxLength
    self.group = group
    self.port = port
    self.ttl = ttl
  }
}

/// The outcome of one operation in a batch.
public struct IPVSOperationResult: Sendable {
  public var operation: IPVSOperation
  /// nil on success.
  public var error: IPVSKernelError?
}

/// The privileged edge of IPVSSync: everything that reads or writes the kernel's IPVS state.
/// `NetlinkIPVSKernel` talks to the real kernel; `InMemoryIPVSKernel` models it for unit tests.
///
/// Invariant: every call returns or throws within the implementation's deadline.
public protocol IPVSKernel: AnyObject, Sendable {
  func info() throws(IPVSKernelError) -> IPVSInfo
  func services() throws(IPVSKernelError) -> [KernelService]
  func service(_ key: ServiceKey) throws(IPVSKernelError) -> KernelService
  func destinations(of service: ServiceKey) throws(IPVSKernelError) -> [KernelDestination]
  /// Applies `operations` in order; a failure of one does not stop the rest.
  func apply(_ operations: [IPVSOperation]) throws(IPVSKernelError) -> [IPVSOperationResult]
  /// Removes every service (`ipvsadm -C`).
  func flush() throws(IPVSKernelError)
  func timeouts() throws(IPVSKernelError) -> IPVSTimeouts
  func setTimeouts(_ timeouts: IPVSTimeouts) throws(IPVSKernelError)
  func syncDaemons() throws(IPVSKernelError) -> [SyncDaemonConfig]
  func startSyncDaemon(_ config: SyncDaemonConfig) throws(IPVSKernelError)
  func stopSyncDaemon(_ role: SyncDaemonRole) throws(IPVSKernelError)
}

extension IPVSKernel {
  /// Applies one operation, throwing its error.
  public func perform(_ operation: IPVSOperation) throws(IPVSKernelError) {
    if let error = try apply([operation]).first?.error { throw error }
  }
}
