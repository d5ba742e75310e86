import BFD
import Foundation

/// Everything `lvskeeper status` shows, as one value the daemon assembles on request.
///
/// Invariant: a report is a snapshot; it is built from the parts' own snapshots and never mutated
/// after it leaves the daemon, so it can be encoded on any thread.
struct StatusReport: Codable, Sendable, Equatable {
  var daemon: DaemonStatus
  var vrrpInstances: [InstanceStatus]
  var virtualServices: [ServiceStatus]
  /// IPVS operations that failed and wait to be retried (or, with --dry-run, that were not applied).
  var pendingOperations: [OperationStatus]
  /// VRRP packets dropped that no instance could be blamed for (an unknown VRID, a short packet),
  /// by reason. Optional, so a newer client reads an older daemon's answer.
  var vrrpUnmatchedDrops: [String: UInt64]? = nil
  /// The BFD sessions (`bfd_instance`s) and the datagrams no session took; nil without any.
  var bfd: BFDEngineStatus? = nil
  /// Announced VIPs (`announce`, docs/scaleout.md); nil without any.
  var announcements: [AnnouncementStatus]? = nil
  /// net.ipv4.vs sysctls lvskeeper manages (sloppy_tcp, sloppy_sctp, conn_reuse_mode) as the
  /// kernel holds them now; nil when unreadable (ip_vs not loaded).
  var ipvsSysctls: [String: Int]? = nil
}

/// One announced VIP: whether its route is installed, and why.
struct AnnouncementStatus: Codable, Sendable, Equatable {
  var vip: String
  var interface: String
  var table: UInt32
  /// `announced` or `withdrawn`.
  var state: String
  /// `at_quorum`, `starting`, `quorum_lost` or `shutting_down`.
  var reasonCode: String
  /// For people: "quorum lost (TCP 192.0.2.10:80: 0 of 2 real servers up, live weight 0)".
  var reason: String
  var since: Date
}

/// The process as a whole: what it runs and how the last reload went.
struct DaemonStatus: Codable, Sendable, Equatable {
  var pid: Int32
  var configPath: String
  var startedAt: Date
  var dryRun: Bool
  var lastReload: ReloadOutcome?
}

/// The result of one SIGHUP or `lvskeeper reload`.
struct ReloadOutcome: Codable, Sendable, Equatable {
  var at: Date
  var succeeded: Bool
  /// The first error (file:line:col form) when the new config was refused.
  var message: String
}

/// One VRRP instance as the state machine sees it.
struct InstanceStatus: Codable, Sendable, Equatable {
  var name: String
  var interface: String
  var virtualRouterID: Int
  var state: String
  var configuredPriority: Int
  var effectivePriority: Int
  /// The current master's primary address, when known (ourselves when master).
  var masterAddress: String?
  var lastTransitionAt: Date?
  var lastTransitionReason: String?
  var virtualAddresses: [String]
  /// How the instance's VRRP thread is scheduled, as the kernel reports it ("SCHED_RR 50").
  var threadScheduling: String? = nil
  /// Received packets this instance dropped since its unit started, by reason (`auth_mismatch`,
  /// `ttl_not_255`, ...; see VRRP's `DropReason`).
  var droppedPackets: [String: UInt64]? = nil
}

/// One virtual service: configured, and as the kernel holds it.
struct ServiceStatus: Codable, Sendable, Equatable {
  /// `TCP 10.0.0.1:80`, `FWM 7 IPv4`, as ipvsadm names services.
  var key: String
  var scheduler: String
  var flags: [String]
  var inKernel: Bool
  /// True while the live weight is at or above quorum (the pool serves, not the sorry server).
  var quorumUp: Bool
  var sorryServerActive: Bool
  var realServers: [RealServerStatus]
}

/// One real server: health, weights and connections.
struct RealServerStatus: Codable, Sendable, Equatable {
  var address: String
  var forwarding: String
  var configuredWeight: Int
  /// nil when the destination is not in the kernel (removed after a failure, or not yet added).
  var kernelWeight: Int?
  /// `up`, `down`, `draining`, or `unknown` before the first verdict.
  var health: String
  var lastCheck: CheckStatus?
  var activeConnections: UInt32
  var inactiveConnections: UInt32
  /// The operator's state (`lvskeeper server`), with who set it and when; nil = ready
  /// (health-driven). Optional, so a newer client reads an older daemon's answer.
  var admin: ServerAdminState? = nil
}

/// The last probe of one checker.
struct CheckStatus: Codable, Sendable, Equatable {
  var checker: String
  var succeeded: Bool
  var reason: String
  var latencyMilliseconds: Double
}

/// An IPVS operation that has not taken effect.
struct OperationStatus: Codable, Sendable, Equatable {
  var operation: String
  var error: String?
  var attempts: Int
}
