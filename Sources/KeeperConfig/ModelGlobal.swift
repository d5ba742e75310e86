import KeeperCore

/// The whole configuration, validated, with every default filled in after cascading.
///
/// Invariant: names are unique within each collection, every cross reference (track_script,
/// sync group member, virtual_server group, lvs_sync_daemon instance) names an existing entry.
public struct KeeperConfiguration: Codable, Equatable, Sendable {
  public var globalDefs: GlobalDefs
  public var vrrpScripts: [VRRPScript]
  public var vrrpTrackFiles: [VRRPTrackFile]
  /// `vrrp_track_process` blocks.
  public var vrrpTrackProcesses: [VRRPTrackProcess] = []
  public var syncGroups: [VRRPSyncGroup]
  public var vrrpInstances: [VRRPInstance]
  public var virtualServerGroups: [VirtualServerGroup]
  public var virtualServers: [VirtualServer]
  /// `static_ipaddress`: addresses added at start and removed at stop, whatever the VRRP state
  /// (every entry has its `dev`).
  public var staticAddresses: [VirtualIPAddress] = []
  /// `static_routes` and `static_rules`: installed at start, removed at stop.
  public var staticRoutes: [IPRoute] = []
  public var staticRules: [IPRule] = []
  public var bfdInstances: [BFDInstance] = []

  public init(
    globalDefs: GlobalDefs, vrrpScripts: [VRRPScript] = [], vrrpTrackFiles: [VRRPTrackFile] = [],
    syncGroups: [VRRPSyncGroup] = [], vrrpInstances: [VRRPInstance] = [],
    virtualServerGroups: [VirtualServerGroup] = [], virtualServers: [VirtualServer] = []
  ) {
    self.globalDefs = globalDefs
    self.vrrpScripts = vrrpScripts
    self.vrrpTrackFiles = vrrpTrackFiles
    self.syncGroups = syncGroups
    self.vrrpInstances = vrrpInstances
    self.virtualServerGroups = virtualServerGroups
    self.virtualServers = virtualServers
  }
}

/// `global_defs`: process-wide settings. Invariant: every value lies within its documented range.
public struct GlobalDefs: Codable, Equatable, Sendable {
  /// Defaults to the short host name.
  public var routerID: String
  public var vrrpVersion: Int = 2
  public var vrrpGarpMasterDelay: Double = 5
  public var vrrpGarpMasterRepeat: Int = 5
  /// 0 means no periodic refresh.
  public var vrrpGarpMasterRefresh: Double = 0
  public var vrrpGarpMasterRefreshRepeat: Int = 1
  /// Seconds between two gratuitous ARPs (IPv4) / unsolicited NAs (IPv6) of an instance; 0 sends
  /// a burst at once.
  public var vrrpGarpInterval: Double = 0
  public var vrrpGnaInterval: Double = 0
  public var vrrpMcastGroup4: IPAddress = IPAddress.vrrpMulticast4
  public var vrrpMcastGroup6: IPAddress = IPAddress.vrrpMulticast6
  public var scriptUser: ScriptUser?
  /// `startup_script` / `shutdown_script` with their `*_timeout` (default 10 s).
  public var startupScript: LifecycleScript?
  public var shutdownScript: LifecycleScript?
  public var enableScriptSecurity = false
  public var lvsSyncDaemon: LVSSyncDaemon?
  public var lvsTimeouts: LVSTimeouts?
  public var lvsFlush = false
  public var lvsFlushOnStop: LVSFlushOnStop = .none
  /// lvskeeper extension: seconds between reconciliations of the kernel IPVS table (drift repair).
  public var lvsReconcileInterval: Double = 10
  /// `vrrp_rt_priority`: SCHED_RR priority (1...99) of the VRRP threads; nil keeps normal scheduling.
  public var vrrpRealtimePriority: Int?
  /// `vrrp_priority`: nice value (-20...19) of the VRRP threads.
  public var vrrpNice: Int?
  /// `vrrp_rlimit_rttime`: RLIMIT_RTTIME in microseconds while real-time; keepalived's default is
  /// 10000, applied only when `vrrp_rt_priority` is set.
  public var vrrpRlimitRTTime: Int?
  /// `vrrp_cpu_affinity`: CPUs the VRRP threads may run on.
  public var vrrpCPUAffinity: [Int]?
  /// lvskeeper extension `announce_interface NAME`: the non-persistent tun device that carries the
  /// announced VIPs (docs/scaleout.md). At most 15 bytes (IFNAMSIZ - 1).
  public var announceInterface = "lvsk-announce"
  /// lvskeeper extension `announce_table N`: the routing table that holds one route per announced
  /// VIP. 1...0xfffffffe except 253 (default), 254 (main) and 255 (local).
  public var announceTable: UInt32 = 100
  /// lvskeeper extension `announce_withdraw_delay SECONDS` (0...3600): at stop, the time between
  /// withdrawing every route and tearing anything else down.
  public var announceWithdrawDelay: Double = 2
  /// lvskeeper extensions written to /proc/sys/net/ipv4/vs at start and reload; nil leaves the
  /// kernel's value alone. `lvs_sloppy_tcp`, `lvs_sloppy_sctp`: 0 or 1.
  public var lvsSloppyTCP: Bool?
  public var lvsSloppySCTP: Bool?
  /// `lvs_conn_reuse_mode N` (0...2, the kernel's `conn_reuse_mode`).
  public var lvsConnReuseMode: Int?

  public init(routerID: String) {
    self.routerID = routerID
  }
}

/// What to remove from IPVS on shutdown (`lvs_flush_on_stop [VS]`).
public enum LVSFlushOnStop: String, Codable, Sendable {
  /// Leave IPVS as it is (the default).
  case none
  /// Remove every managed virtual and real server.
  case all
  /// Remove managed virtual servers only (the kernel drops their real servers).
  case virtualServers
}

/// `lvs_sync_daemon IF [inst] INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]`.
///
/// Invariant: `syncID` 0...255, `maxLength` 1...65507, `port` 1...65535, `ttl` 1...255 when set.
public struct LVSSyncDaemon: Codable, Equatable, Sendable {
  public var interface: String
  /// When set, the sync daemon's master/backup role follows this VRRP instance's state.
  public var vrrpInstance: String?
  /// Defaults to the VRID of `vrrpInstance`, or 0 when there is none (filled in at validation).
  public var syncID: Int
  public var maxLength: Int?
  public var port: Int = 8848
  public var ttl: Int?
  public var group: IPAddress?
}

/// `lvs_timeouts [tcp S] [tcpfin S] [udp S]`; an unset value leaves the kernel's value alone.
public struct LVSTimeouts: Codable, Equatable, Sendable {
  public var tcp: Int?
  public var tcpFin: Int?
  public var udp: Int?
}

/// `startup_script SCRIPT [USER [GROUP]]` or `shutdown_script …` with its timeout: run once when
/// the daemon starts (before VRRP and the checkers) or stops (after them), and waited for.
public struct LifecycleScript: Codable, Equatable, Sendable {
  public var command: ScriptCommand
  /// Seconds; the script is killed (its process group) after this long.
  public var timeout: Double = 10
  public var location: SourceLocation
}
