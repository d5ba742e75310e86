import KeeperCore

/// `vrrp_script NAME { ... }`: a command whose exit status is tracked by VRRP instances.
///
/// Invariant: `interval > 0`, `timeout > 0`, `rise >= 1`, `fall >= 1`, `weight` in -253...253.
public struct VRRPScript: Codable, Equatable, Sendable {
  public var name: String
  public var script: ScriptCommand
  public var interval: Double = 1
  /// Defaults to `interval`.
  public var timeout: Double
  public var weight: Int = 0
  public var weightReverse = false
  public var rise: Int = 1
  public var fall: Int = 1
  public var initFail = false
  public var location: SourceLocation
}

/// `vrrp_track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }`.
///
/// Invariant: `file` is non-empty.
public struct VRRPTrackFile: Codable, Equatable, Sendable {
  public var name: String
  public var file: String
  public var weight: Int = 1
  public var weightReverse = false
  /// Value written to the file at start when `init_file` is given.
  public var initValue: Int?
  public var initOverwrite = false
  public var location: SourceLocation
}

/// Notify scripts shared by VRRP instances and sync groups.
public struct VRRPNotify: Codable, Equatable, Sendable {
  public var notify: ScriptCommand?
  public var master: ScriptCommand?
  public var backup: ScriptCommand?
  public var fault: ScriptCommand?
  public var stop: ScriptCommand?

  public init() {}
}

/// A tracked object (interface, script or file) with an optional weight override.
///
/// Invariant: `weight` is nil when the object's own weight (or "fault on failure") applies.
public struct TrackedObject: Codable, Equatable, Sendable {
  public var name: String
  public var weight: Int?
  public var reverse = false
}

/// `vrrp_sync_group NAME { group { I1 I2 } ... }`: instances that change state together.
///
/// Invariant: `instances` names existing instances, none of which is in another group.
public struct VRRPSyncGroup: Codable, Equatable, Sendable {
  public var name: String
  public var instances: [String] = []
  public var notify = VRRPNotify()
  public var trackInterfaces: [TrackedObject] = []
  public var trackScripts: [TrackedObject] = []
  public var trackFiles: [TrackedObject] = []
  public var trackProcesses: [TrackedObject] = []
  public var trackBFDs: [TrackedBFD] = []
  public var location: SourceLocation
}

/// The state a VRRP instance starts in.
public enum VRRPInitialState: String, Codable, Sendable {
  case master = "MASTER"
  case backup = "BACKUP"
}

/// One `virtual_ipaddress` entry: `ADDR[/PFX] [brd X] [dev IF] [scope S] [label L]`.
///
/// Invariant: `prefixLength` lies within the family's bounds (0...32 or 0...128).
public struct VirtualIPAddress: Codable, Equatable, Sendable {
  public var address: IPAddress
  /// Defaults to 32 (IPv4) or 128 (IPv6).
  public var prefixLength: Int
  public var broadcast: IPAddress?
  /// Defaults to the instance interface (filled in).
  public var device: String
  public var scope: String?
  public var label: String?
  public var location: SourceLocation
}

/// VRRPv2 authentication (RFC 2338; removed in RFC 3768 and VRRPv3).
public struct VRRPAuthentication: Codable, Equatable, Sendable {
  /// PASS: clear-text password (RFC 2338 section 5.3.6.1); AH: IPsec AH authentication.
  public enum Kind: String, Codable, Sendable {
    case pass = "PASS"
    case ah = "AH"
  }

  public var type: Kind
  /// At most 8 bytes; longer values are truncated with a warning, as keepalived does.
  public var password: String
}

/// `vrrp_instance NAME { ... }` with every default filled in.
///
/// Invariant: `virtualRouterID` 1...255, `priority` 1...255, `advertInterval` > 0 (whole seconds for
/// version 2, centisecond multiples up to 40.95 for version 3); (interface, VRID, family) is unique.
public struct VRRPInstance: Codable, Equatable, Sendable {
  public var name: String
  public var initialState: VRRPInitialState = .backup
  public var interface: String
  public var virtualRouterID: Int
  public var priority: Int = 100
  public var advertInterval: Double = 1
  public var version: Int
  /// False when `nopreempt` is given.
  public var preempt = true
  public var preemptDelay: Double = 0
  /// `dont_track_primary`: the instance's own interface going down does not fault it.
  public var dontTrackPrimary = false
  public var virtualIPAddresses: [VirtualIPAddress] = []
  public var excludedVirtualIPAddresses: [VirtualIPAddress] = []
  /// `virtual_routes` and `virtual_rules`: installed while the instance is Master, like its VIPs.
  public var virtualRoutes: [IPRoute] = []
  public var virtualRules: [IPRule] = []
  public var unicastSourceIP: IPAddress?
  public var unicastPeers: [IPAddress] = []
  public var multicastSourceIP: IPAddress?
  public var authentication: VRRPAuthentication?
  public var trackInterfaces: [TrackedObject] = []
  public var trackScripts: [TrackedObject] = []
  public var trackFiles: [TrackedObject] = []
  public var trackProcesses: [TrackedObject] = []
  /// `track_bfd` entries (their bfd_instance names exist and notify VRRP).
  public var trackBFDs: [TrackedBFD] = []
  public var notify = VRRPNotify()
  /// Default from `global_defs` (`vrrp_garp_master_delay` etc.).
  public var garpMasterDelay: Double
  public var garpMasterRepeat: Int
  public var garpMasterRefresh: Double
  public var garpMasterRefreshRepeat: Int
  /// Accept packets to the VIPs when master (keepalived's default unless vrrp_strict).
  public var accept = true
  /// `use_vmac [NAME]`: the macvlan holding the VIPs (default name `vrrp.VRID`); nil without it.
  public var vmacName: String?
  /// `vmac_xmit_base`: adverts leave from `interface`, not from the VMAC.
  public var vmacTransmitFromBase = false
  /// The sync group this instance belongs to (filled in).
  public var syncGroup: String?
  public var location: SourceLocation
}

/// `vrrp_track_process NAME { process NAME [ARGS...]; param_match ...; quorum N; ... }`: how many
/// running processes match, as keepalived counts them from the kernel's process events.
///
/// Invariant: `process` is non-empty; `1 <= quorum <= quorumMax` unless `quorumMax == 0` (then
/// `quorum == 0`: the tracker is up only while no process matches); delays are 0...3600 s;
/// `parameters` is non-empty only with `fullCommand` and a `paramMatch` other than `.none`.
public struct VRRPTrackProcess: Codable, Equatable, Sendable {
  /// keepalived's param_match: how a process's arguments (argv[1...]) are compared.
  public enum ParamMatch: String, Codable, Sendable {
    /// Arguments are not looked at.
    case none
    /// The arguments are exactly `parameters` (none when `parameters` is empty).
    case exact
    /// The arguments start with `parameters`, each one whole.
    case partial
    /// As partial, except that the last of `parameters` need only be a prefix of its argument.
    case initial
  }

  public var name: String
  /// The kernel's comm (at most 15 bytes) or, with `fullCommand`, argv[0] exactly.
  public var process: String
  public var parameters: [String] = []
  public var paramMatch: ParamMatch = .none
  /// Match argv[0] from /proc/PID/cmdline instead of the comm name.
  public var fullCommand = false
  public var quorum: Int = 1
  /// nil: no upper bound (keepalived's UINT_MAX).
  public var quorumMax: Int?
  /// Seconds the quorum must stay gained after a fork before it counts (`delay`, `fork_delay`).
  public var forkDelay: Double = 0
  /// Seconds the quorum must stay lost after an exit before it counts (`delay`, `terminate_delay`).
  public var terminateDelay: Double = 0
  public var weight: Int = 0
  public var weightReverse = false
  public var location: SourceLocation
}
