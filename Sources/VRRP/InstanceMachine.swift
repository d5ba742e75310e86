import KeeperCore

/// The RFC 5798 section 6.4 states of a VRRP instance.
public enum VRRPState: String, Sendable, Codable, CustomStringConvertible {
  case initialize = "INIT"
  case backup = "BACKUP"
  case master = "MASTER"
  case fault = "FAULT"

  public var description: String { rawValue }
}

/// What the I/O edge must do after feeding the machine an event.
public enum MachineAction: Equatable, Sendable {
  /// Send one advert carrying this priority (0 announces a resignation, RFC 5798 6.4.3).
  case sendAdvert(priority: UInt8)
  /// The instance changed state; the edge adds or removes the VIPs and announces them.
  case transition(from: VRRPState, to: VRRPState)
}

/// Fixed settings of one instance's state machine. Invariant: `priority` is 1...255, 255 meaning the
/// address owner; `advertInterval` is positive.
public struct MachineSettings: Sendable, Equatable {
  public var version: VRRPVersion
  public var priority: UInt8
  public var advertInterval: Duration
  public var preempt: Bool
  public var preemptDelay: Duration
  /// The address the instance sends from; RFC 5798 6.4.3 breaks equal-priority ties with it.
  public var primaryAddress: IPAddress
  /// `.master` makes a non-owner claim mastership at start instead of waiting Master_Down_Interval.
  public var initialState: VRRPState

  public init(
    version: VRRPVersion, priority: UInt8, advertInterval: Duration, preempt: Bool = true,
    preemptDelay: Duration = .zero, primaryAddress: IPAddress, initialState: VRRPState = .backup
  ) {
    self.version = version
    self.priority = priority
    self.advertInterval = advertInterval
    self.preempt = preempt
    self.preemptDelay = preemptDelay
    self.primaryAddress = primaryAddress
    self.initialState = initialState
  }
}

/// The pure RFC 5798 / RFC 3768 state machine of one VRRP instance. Time is a `Duration` since any
/// fixed epoch, supplied by the caller, so tests drive it with a virtual clock. Invariant: a deadline
/// is set only for the state that uses it (advert timer in Master, Master_Down timer in Backup).
public struct InstanceMachine: Sendable {
  public let settings: MachineSettings
  public private(set) var state: VRRPState = .initialize
  /// Priority after tracking weights (1...254) or 255 for the owner.
  public private(set) var effectivePriority: UInt8
  /// The advert interval learned from the master (v3 backups) or our own.
  public private(set) var masterAdverInterval: Duration
  public private(set) var advertDeadline: Duration?
  public private(set) var masterDownDeadline: Duration?
  /// Source of the last advert accepted from a master (nil when we are master or know none).
  public private(set) var masterAddress: IPAddress?
  private var preemptAllowedAt: Duration?
  private var faulted = false

  public init(settings: MachineSettings) {
    self.settings = settings
    self.effectivePriority = settings.priority
    self.masterAdverInterval = settings.advertInterval
  }

  /// Skew_Time: v3 ((256 - priority) * Master_Adver_Interval) / 256; v2 (256 - priority) / 256 s.
  public var skewTime: Duration {
    let weight = 256 - Int(effectivePriority)
    switch settings.version {
    case .v2: return .microseconds(weight * 1_000_000 / 256)
    case .v3: return masterAdverInterval * weight / 256
    }
  }

  /// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
  public var masterDownInterval: Duration { masterAdverInterval * 3 + skewTime }

  /// The earliest time `tick` has work to do.
  public var nextDeadline: Duration? {
    switch state {
    case .master: return advertDeadline
    case .backup: return masterDownDeadline
    case .initialize, .fault: return nil
    }
  }

  /// The Startup event (RFC 5798 6.4.1).
  public mutating func start(now: Duration) -> [MachineAction] {
    guard state == .initialize else { return [] }
    if settings.preemptDelay > .zero { preemptAllowedAt = now + settings.preemptDelay }
    if faulted { return move(to: .fault) }
    if effectivePriority == 255 || settings.initialState == .master { return becomeMaster(now: now) }
    return becomeBackup(now: now)
  }

  /// The Shutdown event: a master resigns with a priority-0 advert (RFC 5798 6.4.3).
  public mutating func stop(now: Duration) -> [MachineAction] {
    let wasMaster = state == .master
    var actions: [MachineAction] = wasMaster ? [.sendAdvert(priority: 0)] : []
    actions += move(to: .initialize)
    return actions
  }

  /// Fires the timers that are due.
  public mutating func tick(now: Duration) -> [MachineAction] {
    switch state {
    case .master:
      guard let deadline = advertDeadline, deadline <= now else { return [] }
      let next = deadline + settings.advertInterval
      advertDeadline = next > now ? next : now + settings.advertInterval
      return [.sendAdvert(priority: effectivePriority)]
    case .backup:
      guard let deadline = masterDownDeadline, deadline <= now else { return [] }
      return becomeMaster(now: now)
    case .initialize, .fault:
      return []
    }
  }

  /// An advert that passed the receive filter (RFC 5798 6.4.2 and 6.4.3).
  public mutating func receive(
    priority: UInt8, interval: Duration, source: IPAddress, now: Duration
  ) -> [MachineAction] {
    switch state {
    case .initialize, .fault:
      return []
    case .backup:
      if priority == 0 {
        masterDownDeadline = now + skewTime
        masterAddress = nil
        return []
      }
      if !settings.preempt || priority >= effectivePriority || preemptDelayed(now: now, priority: priority) {
        if priority >= effectivePriority { preemptAllowedAt = nil }
        if settings.version == .v3 { masterAdverInterval = interval }
        masterDownDeadline = now + masterDownInterval
        masterAddress = source
      }
      return []
    case .master:
      if priority == 0 {
        advertDeadline = now + settings.advertInterval
        return [.sendAdvert(priority: effectivePriority)]
      }
      let wins =
        priority > effectivePriority
        || (priority == effectivePriority && settings.primaryAddress < source)
      guard wins else { return [] }
      if settings.version == .v3 { masterAdverInterval = interval }
      masterAddress = source
      return becomeBackup(now: now)
    }
  }

  /// Applies tracking weights; the owner (255) is never lowered below 255 by weights of 0.
  public mutating func setEffectivePriority(_ priority: UInt8) {
    effectivePriority = priority
  }

  /// Enters or leaves Fault (a tracked interface or script failed, or a sync-group peer is in Fault).
  public mutating func setFault(_ fault: Bool, now: Duration) -> [MachineAction] {
    faulted = fault
    switch (fault, state) {
    case (true, .master):
      return [.sendAdvert(priority: 0)] + move(to: .fault)
    case (true, .backup):
      return move(to: .fault)
    case (false, .fault):
      if effectivePriority == 255 { return becomeMaster(now: now) }
      return becomeBackup(now: now)
    default:
      return []
    }
  }

  /// Sync-group forcing: moves a Backup to Master or a Master to Backup without a protocol event.
  public mutating func force(_ target: VRRPState, now: Duration) -> [MachineAction] {
    switch (target, state) {
    case (.master, .backup): return becomeMaster(now: now)
    case (.backup, .master): return becomeBackup(now: now)
    default: return []
    }
  }

  /// preempt_delay: a lower-priority master is tolerated until the delay after startup or after
  /// first seeing it has passed.
  private mutating func preemptDelayed(now: Duration, priority: UInt8) -> Bool {
    guard settings.preemptDelay > .zero else { return false }
    if preemptAllowedAt == nil { preemptAllowedAt = now + settings.preemptDelay }
    guard let allowed = preemptAllowedAt else { return false }
    return now < allowed
  }

  private mutating func becomeMaster(now: Duration) -> [MachineAction] {
    masterDownDeadline = nil
    advertDeadline = now + settings.advertInterval
    masterAdverInterval = settings.advertInterval
    masterAddress = nil
    return [.sendAdvert(priority: effectivePriority)] + move(to: .master)
  }

  private mutating func becomeBackup(now: Duration) -> [MachineAction] {
    advertDeadline = nil
    if state != .master { masterAdverInterval = settings.advertInterval }
    let actions = move(to: .backup)
    masterDownDeadline = now + masterDownInterval
    return actions
  }

  private mutating func move(to next: VRRPState) -> [MachineAction] {
    let previous = state
    state = next
    if next != .backup { masterDownDeadline = nil }
    if next != .master { advertDeadline = nil }
    return previous == next ? [] : [.transition(from: previous, to: next)]
  }
}
