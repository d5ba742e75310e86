import KeeperCore

/// One `virtual_ipaddress` entry: `<addr>/<prefix> [brd <addr>] [dev <if>] [scope <s>] [label <l>]`.
/// Invariant: `prefixLength` fits the family (<= 32 or <= 128).
public struct VirtualAddressSpec: Sendable, Codable, Equatable, Hashable {
  public var address: IPAddress
  public var prefixLength: UInt8
  /// Defaults to the instance's interface.
  public var device: String?
  public var label: String?
  public var broadcast: IPAddress?
  /// `global` (default), `site`, `link`, `host` or `nowhere`.
  public var scope: String?

  public init(
    address: IPAddress, prefixLength: UInt8? = nil, device: String? = nil, label: String? = nil,
    broadcast: IPAddress? = nil, scope: String? = nil
  ) {
    self.address = address
    self.prefixLength = prefixLength ?? (address.isIPv4 ? 32 : 128)
    self.device = device
    self.label = label
    self.broadcast = broadcast
    self.scope = scope
  }

  enum CodingKeys: String, CodingKey { case address, prefixLength, device, label, broadcast, scope }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      address: try c.decode(IPAddress.self, forKey: .address),
      prefixLength: try c.decodeIfPresent(UInt8.self, forKey: .prefixLength),
      device: try c.decodeIfPresent(String.self, forKey: .device),
      label: try c.decodeIfPresent(String.self, forKey: .label),
      broadcast: try c.decodeIfPresent(IPAddress.self, forKey: .broadcast),
      scope: try c.decodeIfPresent(String.self, forKey: .scope))
  }
}

/// A tracked interface or script by name, with the entry's `weight N [reverse]` (see
/// `TrackSignal`).
///
/// `track_interface`: link down means Fault unless a weight is given, in which case the weight
/// (may be negative) is added to the priority while the link is up (positive) or down (negative).
/// `track_script`: `weight` overrides the script's own; with no weight there, the script's own
/// weight and reverse apply.
public struct TrackedObjectSpec: Sendable, Codable, Equatable {
  public var name: String
  public var weight: Int?
  public var reverse: Bool
  public init(name: String, weight: Int? = nil, reverse: Bool = false) {
    self.name = name
    self.weight = weight
    self.reverse = reverse
  }

  enum CodingKeys: String, CodingKey { case name, weight, reverse }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      name: try c.decode(String.self, forKey: .name),
      weight: try c.decodeIfPresent(Int.self, forKey: .weight),
      reverse: try c.decodeIfPresent(Bool.self, forKey: .reverse) ?? false)
  }
}

/// `track_interface` entry.
public typealias TrackedInterfaceSpec = TrackedObjectSpec
/// `track_script` entry.
public typealias TrackedScriptSpec = TrackedObjectSpec
/// `track_bfd` entry: `weight` is resolved (the entry's, else the bfd_instance's; 0 means Fault
/// while the session is not up).
public typealias TrackedBFDSpec = TrackedObjectSpec

/// `track_file` entry: the file holds an integer multiplied by `weight` (default 1) and added to the
/// priority; with weight 0 a non-zero value means Fault. `initialValue` (`init_file`) is written
/// when the unit starts if the file does not exist, or always with `overwrite`.
public struct TrackedFileSpec: Sendable, Codable, Equatable {
  public var path: String
  public var weight: Int?
  /// `weight N reverse` (see `TrackSignal`).
  public var reverse: Bool
  public var initialValue: Int?
  public var overwrite: Bool
  public init(
    path: String, weight: Int? = nil, reverse: Bool = false, initialValue: Int? = nil, overwrite: Bool = false
  ) {
    self.path = path
    self.weight = weight
    self.reverse = reverse
    self.initialValue = initialValue
    self.overwrite = overwrite
  }

  enum CodingKeys: String, CodingKey { case path, weight, reverse, initialValue, overwrite }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      path: try c.decode(String.self, forKey: .path),
      weight: try c.decodeIfPresent(Int.self, forKey: .weight),
      reverse: try c.decodeIfPresent(Bool.self, forKey: .reverse) ?? false,
      initialValue: try c.decodeIfPresent(Int.self, forKey: .initialValue),
      overwrite: try c.decodeIfPresent(Bool.self, forKey: .overwrite) ?? false)
  }
}

/// `vrrp_script`: a command run every `interval`; `rise` successes make it up, `fall` failures down.
/// With weight 0 a down script means Fault; a positive weight is added while up, a negative one while
/// down (keepalived.conf(5)).
public struct VRRPScriptSpec: Sendable, Codable, Equatable {
  public var name: String
  /// The command and the user it runs as (its own `user`, else `script_user`, else the default).
  public var script: RunnableScript
  public var interval: Double
  /// A run still going after this long is killed with its whole process group (default `interval`).
  public var timeout: Double?
  public var rise: Int
  public var fall: Int
  public var weight: Int
  /// `weight N reverse` in the vrrp_script (see `TrackSignal`).
  public var reverse: Bool
  /// `init_fail`: the script counts as failed until it succeeds `rise` times. Without it the
  /// script counts for nothing (no fault, no weight) until its first result, as keepalived's
  /// INIT state.
  public var initFail: Bool

  public init(
    name: String, script: RunnableScript, interval: Double = 1, timeout: Double? = nil, rise: Int = 1,
    fall: Int = 1, weight: Int = 0, reverse: Bool = false, initFail: Bool = false
  ) {
    self.name = name
    self.script = script
    self.interval = interval
    self.timeout = timeout
    self.rise = rise
    self.fall = fall
    self.weight = weight
    self.reverse = reverse
    self.initFail = initFail
  }

  enum CodingKeys: String, CodingKey {
    case name, script, command, interval, timeout, rise, fall, weight, reverse, user, initFail
  }

  /// Specs written as JSON (the VRRP harness) give `command` and an optional `user`.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let script: RunnableScript
    if let given = try c.decodeIfPresent(RunnableScript.self, forKey: .script) {
      script = given
    } else {
      let user = try c.decodeIfPresent(String.self, forKey: .user).map { ScriptUser(user: $0) }
      script = try RunnableScript(parsing: try c.decode(String.self, forKey: .command), user: user)
    }
    self.init(
      name: try c.decode(String.self, forKey: .name), script: script,
      interval: try c.decodeIfPresent(Double.self, forKey: .interval) ?? 1,
      timeout: try c.decodeIfPresent(Double.self, forKey: .timeout),
      rise: try c.decodeIfPresent(Int.self, forKey: .rise) ?? 1,
      fall: try c.decodeIfPresent(Int.self, forKey: .fall) ?? 1,
      weight: try c.decodeIfPresent(Int.self, forKey: .weight) ?? 0,
      reverse: try c.decodeIfPresent(Bool.self, forKey: .reverse) ?? false,
      initFail: try c.decodeIfPresent(Bool.self, forKey: .initFail) ?? false)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(name, forKey: .name)
    try c.encode(script, forKey: .script)
    try c.encode(interval, forKey: .interval)
    try c.encodeIfPresent(timeout, forKey: .timeout)
    try c.encode(rise, forKey: .rise)
    try c.encode(fall, forKey: .fall)
    try c.encode(weight, forKey: .weight)
    try c.encode(initFail, forKey: .initFail)
    try c.encode(reverse, forKey: .reverse)
  }
}

/// notify_* commands. Each runs with keepalived's arguments appended only for `notify`
/// (`INSTANCE|GROUP name state priority`); the state-specific ones run as written.
public struct NotifySpec: Sendable, Codable, Equatable {
  public var master: RunnableScript?
  public var backup: RunnableScript?
  public var fault: RunnableScript?
  public var stop: RunnableScript?
  public var any: RunnableScript?
  public init(
    master: RunnableScript? = nil, backup: RunnableScript? = nil, fault: RunnableScript? = nil,
    stop: RunnableScript? = nil, any: RunnableScript? = nil
  ) {
    self.master = master
    self.backup = backup
    self.fault = fault
    self.stop = stop
    self.any = any
  }
}

/// keepalived's `auth_type`: PASS puts `auth_pass` in the advert; AH wraps the advert in an IPsec
/// Authentication Header (IP protocol 51) signed with HMAC-MD5-96 keyed by `auth_pass`.
public enum VRRPAuthType: String, Sendable, Codable {
  case pass = "PASS"
  case ah = "AH"
}

/// One `vrrp_instance`. Invariants checked by `validate()`: vrid 1...255, priority 1...255, all
/// virtual addresses of one family, unicast peers of that family.
public struct VRRPInstanceSpec: Sendable, Codable, Equatable {
  public var name: String
  public var interface: String
  public var vrid: UInt8
  public var version: VRRPVersion = .v2
  public var priority: UInt8 = 100
  /// `advert_int` in seconds (v3 allows fractions down to 0.01).
  public var advertInterval: Double = 1
  public var initialState: VRRPState = .backup
  public var preempt: Bool = true
  public var preemptDelay: Double = 0
  /// `auth_pass` (v2 only): the PASS password or the AH key, truncated to 8 bytes.
  public var authPass: String?
  /// `auth_type`; applies only when `authPass` is set.
  public var authType: VRRPAuthType = .pass
  public var virtualAddresses: [VirtualAddressSpec] = []
  public var excludedAddresses: [VirtualAddressSpec] = []
  /// `virtual_routes` and `virtual_rules`: installed after the VIPs on becoming Master, removed
  /// (rules, then routes, then VIPs, as keepalived) on leaving it.
  public var virtualRoutes: [IPRoute] = []
  public var virtualRules: [IPRule] = []
  /// `mcast_dst_ip`; defaults to 224.0.0.18 / ff02::12.
  public var multicastGroup: IPAddress?
  /// `unicast_src_ip` (also `mcast_src_ip`); defaults to the interface's first address of the family.
  public var sourceAddress: IPAddress?
  public var unicastPeers: [IPAddress] = []
  public var garpMasterDelay: Double = 5
  public var garpMasterRepeat: Int = 5
  public var garpMasterRefresh: Double = 0
  public var garpMasterRefreshRepeat: Int = 1
  /// Seconds between two announcements (`vrrp_garp_interval` for IPv4, `vrrp_gna_interval` for
  /// IPv6); 0 sends each burst at once.
  public var announceInterval: Double = 0
  public var trackInterfaces: [TrackedInterfaceSpec] = []
  public var trackScripts: [TrackedScriptSpec] = []
  public var trackFiles: [TrackedFileSpec] = []
  /// `track_process` entries, naming `VRRPGroupSpec.processes`.
  public var trackProcesses: [TrackedObjectSpec] = []
  public var trackBFDs: [TrackedBFDSpec] = []
  /// keepalived's `dont_track_primary`: the instance's own interface is not tracked (its link going
  /// down does not fault the instance).
  public var dontTrackPrimary = false
  public var notify: NotifySpec = NotifySpec()
  public var v3ChecksumAsV2: Bool = false
  /// `use_vmac`: the VIPs go on this macvlan, adverts leave from it unless `vmac_xmit_base`.
  public var vmac: VMACSpec?

  public init(name: String, interface: String, vrid: UInt8) {
    self.name = name
    self.interface = interface
    self.vrid = vrid
  }

  /// The family comes from the first virtual address (keepalived's rule), IPv4 when there is none.
  public var isIPv6: Bool { virtualAddresses.first.map { !$0.address.isIPv4 } ?? false }

  /// Where the VIPs without their own `dev` go: the VMAC when there is one, else the interface.
  public var addressDevice: String { vmac?.name ?? interface }

  /// Where adverts leave from: the VMAC (its virtual MAC as source) unless `vmac_xmit_base`.
  public var advertDevice: String {
    guard let vmac, !vmac.transmitFromBase else { return interface }
    return vmac.name
  }

  /// Where adverts are read: the VMAC of a multicast instance (it gets every multicast advert, and
  /// a peer's adverts from the same virtual MAC are delivered to it alone: macvlan hands a frame
  /// whose source is one of its own private-mode MACs to that macvlan only), else the interface.
  public var receiveDevice: String {
    if let vmac, unicastPeers.isEmpty { return vmac.name }
    return interface
  }

  /// The advert interval in the wire unit of `version`.
  public var wireInterval: UInt16 {
    switch version {
    case .v2: return UInt16(max(1, min(255, advertInterval.rounded())))
    case .v3: return UInt16(max(1, min(4095, (advertInterval * 100).rounded())))
    }
  }

  public var authentication: VRRPAuthentication {
    guard let authPass else { return .none }
    return authType == .ah ? .ah : .password(authPass)
  }

  /// The HMAC key when the instance uses AH, nil otherwise.
  public var ahKey: [UInt8]? {
    guard authType == .ah, let authPass else { return nil }
    return AHPacket.key(authPass)
  }

  /// keepalived clears `state MASTER` for AH instances that are not the address owner: a new Master
  /// must first learn the current sequence number from an advert ("Initial state master is
  /// incompatible with AH authentication").
  public var startState: VRRPState {
    ahKey != nil && priority != 255 && initialState == .master ? .backup : initialState
  }

  public func validate() throws(VRRPSpecError) {
    if vrid == 0 { throw .invalid(instance: name, reason: "virtual_router_id must be 1..255") }
    if priority == 0 { throw .invalid(instance: name, reason: "priority must be 1..255") }
    if virtualAddresses.contains(where: { $0.address.isIPv4 == isIPv6 }) {
      throw .invalid(instance: name, reason: "virtual_ipaddress mixes IPv4 and IPv6")
    }
    if unicastPeers.contains(where: { $0.isIPv4 == isIPv6 }) {
      throw .invalid(instance: name, reason: "unicast_peer family differs from the virtual addresses")
    }
    if version == .v2 && isIPv6 {
      throw .invalid(instance: name, reason: "VRRPv2 is IPv4 only; use version 3")
    }
    if version == .v2 && advertInterval.rounded() != advertInterval {
      throw .invalid(instance: name, reason: "VRRPv2 advert_int must be whole seconds")
    }
    if authPass != nil && authType == .ah && version != .v2 {
      throw .invalid(instance: name, reason: "auth_type AH needs VRRP version 2 over IPv4")
    }
    if let authPass, authPass.isEmpty {
      throw .invalid(instance: name, reason: "auth_pass is empty")
    }

  }

  enum CodingKeys: String, CodingKey {
    case name, interface, vrid, version, priority, advertInterval, initialState, preempt, preemptDelay,
      authPass, authType
    case virtualAddresses, excludedAddresses, virtualRoutes, virtualRules, multicastGroup, sourceAddress,
      unicastPeers
    case garpMasterDelay, garpMasterRepeat, garpMasterRefresh, garpMasterRefreshRepeat, announceInterval
    case trackInterfaces, trackScripts, trackFiles, trackProcesses, trackBFDs, dontTrackPrimary, notify,
      v3ChecksumAsV2, vmac
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      name: try c.decode(String.self, forKey: .name),
      interface: try c.decode(String.self, forKey: .interface),
      vrid: try c.decode(UInt8.self, forKey: .vrid))
    version = try c.decodeIfPresent(VRRPVersion.self, forKey: .version) ?? version
    priority = try c.decodeIfPresent(UInt8.self, forKey: .priority) ?? priority
    advertInterval = try c.decodeIfPresent(Double.self, forKey: .advertInterval) ?? advertInterval
    initialState = try c.decodeIfPresent(VRRPState.self, forKey: .initialState) ?? initialState
    preempt = try c.decodeIfPresent(Bool.self, forKey: .preempt) ?? preempt
    preemptDelay = try c.decodeIfPresent(Double.self, forKey: .preemptDelay) ?? preemptDelay
    dontTrackPrimary = try c.decodeIfPresent(Bool.self, forKey: .dontTrackPrimary) ?? false
    announceInterval = try c.decodeIfPresent(Double.self, forKey: .announceInterval) ?? 0
    authPass = try c.decodeIfPresent(String.self, forKey: .authPass)
    authType = try c.decodeIfPresent(VRRPAuthType.self, forKey: .authType) ?? .pass
    virtualAddresses = try c.decodeIfPresent([VirtualAddressSpec].self, forKey: .virtualAddresses) ?? []
    excludedAddresses = try c.decodeIfPresent([VirtualAddressSpec].self, forKey: .excludedAddresses) ?? []
    virtualRoutes = try c.decodeIfPresent([IPRoute].self, forKey: .virtualRoutes) ?? []
    virtualRules = try c.decodeIfPresent([IPRule].self, forKey: .virtualRules) ?? []
    multicastGroup = try c.decodeIfPresent(IPAddress.self, forKey: .multicastGroup)
    sourceAddress = try c.decodeIfPresent(IPAddress.self, forKey: .sourceAddress)
    unicastPeers = try c.decodeIfPresent([IPAddress].self, forKey: .unicastPeers) ?? []
    garpMasterDelay = try c.decodeIfPresent(Double.self, forKey: .garpMasterDelay) ?? garpMasterDelay
    garpMasterRepeat = try c.decodeIfPresent(Int.self, forKey: .garpMasterRepeat) ?? garpMasterRepeat
    garpMasterRefresh = try c.decodeIfPresent(Double.self, forKey: .garpMasterRefresh) ?? garpMasterRefresh
    garpMasterRefreshRepeat =
      try c.decodeIfPresent(Int.self, forKey: .garpMasterRefreshRepeat) ?? garpMasterRefreshRepeat
    trackInterfaces = try c.decodeIfPresent([TrackedInterfaceSpec].self, forKey: .trackInterfaces) ?? []
    trackScripts = try c.decodeIfPresent([TrackedScriptSpec].self, forKey: .trackScripts) ?? []
    trackFiles = try c.decodeIfPresent([TrackedFileSpec].self, forKey: .trackFiles) ?? []
    trackProcesses = try c.decodeIfPresent([TrackedObjectSpec].self, forKey: .trackProcesses) ?? []
    trackBFDs = try c.decodeIfPresent([TrackedBFDSpec].self, forKey: .trackBFDs) ?? []
    notify = try c.decodeIfPresent(NotifySpec.self, forKey: .notify) ?? notify
    v3ChecksumAsV2 = try c.decodeIfPresent(Bool.self, forKey: .v3ChecksumAsV2) ?? false
    vmac = try c.decodeIfPresent(VMACSpec.self, forKey: .vmac)
  }
}

/// `vrrp_sync_group`: the named instances change state together.
public struct VRRPSyncGroupSpec: Sendable, Codable, Equatable {
  public var name: String
  public var members: [String]
  public var notify: NotifySpec?
  public init(name: String, members: [String], notify: NotifySpec? = nil) {
    self.name = name
    self.members = members
    self.notify = notify
  }
}

/// Everything one VRRP service runs: instances, their sync groups and the scripts they track.
public struct VRRPGroupSpec: Sendable, Codable, Equatable {
  public var instances: [VRRPInstanceSpec]
  public var syncGroups: [VRRPSyncGroupSpec]?
  public var scripts: [VRRPScriptSpec]?
  /// The `vrrp_track_process`es its instances track.
  public var processes: [VRRPTrackProcessSpec]?
  /// How the loop thread is scheduled; nil keeps the daemon's own scheduling.
  public var scheduling: VRRPScheduling?
  public init(
    instances: [VRRPInstanceSpec], syncGroups: [VRRPSyncGroupSpec] = [], scripts: [VRRPScriptSpec] = [],
    scheduling: VRRPScheduling? = nil, processes: [VRRPTrackProcessSpec] = []
  ) {
    self.instances = instances
    self.syncGroups = syncGroups
    self.scripts = scripts
    self.processes = processes.isEmpty ? nil : processes
    self.scheduling = scheduling
  }
}

/// A specification the VRRP service cannot run.
public enum VRRPSpecError: Error, Equatable, Sendable, CustomStringConvertible {
  case invalid(instance: String, reason: String)
  case unknownScript(instance: String, script: String)
  case unknownProcess(instance: String, process: String)
  case unknownSyncMember(group: String, member: String)

  public var description: String {
    switch self {
    case .invalid(let instance, let reason): return "vrrp_instance \(instance): \(reason)"
    case .unknownScript(let instance, let script):
      return "vrrp_instance \(instance): no vrrp_script \(script)"
    case .unknownProcess(let instance, let process):
      return "vrrp_instance \(instance): no vrrp_track_process \(process)"
    case .unknownSyncMember(let group, let member): return "vrrp_sync_group \(group): no instance \(member)"
    }
  }
}
