/// The timing settings of one session (keepalived's `bfd_instance`), intervals in microseconds.
public struct BFDTiming: Sendable, Equatable, Codable {
  /// `min_rx`: bfd.RequiredMinRxInterval.
  public var minRx: UInt32
  /// `min_tx`: bfd.DesiredMinTxInterval while Up.
  public var minTx: UInt32
  /// `idle_tx`: bfd.DesiredMinTxInterval while not Up (RFC 5880 6.8.3 asks for at least 1 s).
  public var idleTx: UInt32
  /// `multiplier`: bfd.DetectMult.
  public var multiplier: UInt8
  /// `passive`: send nothing until the neighbor has sent something (RFC 5880 6.1).
  public var passive: Bool

  /// keepalived's defaults: 10 ms, 10 ms, 1000 ms, 5, active.
  public init(
    minRx: UInt32 = 10_000, minTx: UInt32 = 10_000, idleTx: UInt32 = 1_000_000, multiplier: UInt8 = 5,
    passive: Bool = false
  ) {
    self.minRx = minRx
    self.minTx = minTx
    self.idleTx = idleTx
    self.multiplier = multiplier
    self.passive = passive
  }
}

/// The RFC 5880 state machine of one single-hop asynchronous session, as keepalived runs it.
/// Pure: time is an offset on the caller's clock, randomness is passed in. The engine sends what
/// `transmit` returns and calls `receive` / `expire` at the deadlines this value names.
///
/// Invariants: `transmitDeadline` is nil exactly while nothing is to be sent periodically (a passive
/// session that has heard nothing, or a neighbor asking for no packets); `detectionDeadline` is set
/// once a packet has been received and moves with every packet; `reportedUp` is keepalived's view
/// given to trackers: it turns true on entering Up and false on leaving Up, except when the neighbor
/// signalled AdminDown (RFC 5880 3.2: that is not a path failure, keepalived sends no event).
public struct BFDSession: Sendable {
  public let timing: BFDTiming
  public let localDiscriminator: UInt32
  public private(set) var state: BFDState = .down
  public private(set) var diagnostic: BFDDiagnostic = .none
  public private(set) var remoteDiscriminator: UInt32 = 0
  public private(set) var remoteState: BFDState = .down
  public private(set) var remoteDiagnostic: BFDDiagnostic = .none
  /// bfd.RemoteMinRxInterval: 1 µs until the neighbor says otherwise (RFC 5880 6.8.1).
  public private(set) var remoteMinRx: UInt32 = 1
  public private(set) var remoteMinTx: UInt32 = 0
  public private(set) var remoteMultiplier: UInt8 = 0
  /// The interval our periodic packets are sent at, before jitter.
  public private(set) var transmitInterval: UInt32
  /// Detection time: the neighbor's multiplier times the agreed interval of its packets.
  public private(set) var detectionTime: UInt64 = 0
  /// A Poll Sequence is running (RFC 5880 6.5): every packet carries P until an F comes back.
  public private(set) var polling = false
  /// A P was received: the next packet, sent at once, carries F.
  public private(set) var finalDue = false
  public private(set) var transmitDeadline: Duration?
  public private(set) var detectionDeadline: Duration?
  public private(set) var reportedUp = false
  /// Whether a packet has arrived since the session started or was last reset.
  private var heardFrom = false

  public init(timing: BFDTiming, localDiscriminator: UInt32) {
    self.timing = timing
    self.localDiscriminator = localDiscriminator
    transmitInterval = max(timing.idleTx, 1)
  }

  /// Starts the session in Down: an active session sends its first packet at once (keepalived
  /// does at start), a passive one waits for the neighbor.
  public mutating func start(now: Duration) {
    transmitDeadline = timing.passive ? nil : now
  }

  /// What we advertise as bfd.DesiredMinTxInterval: `min_tx` only while Up (RFC 5880 6.8.3).
  public var advertisedMinTx: UInt32 { state == .up ? timing.minTx : timing.idleTx }

  /// The packet to send now; with `final`, the reply to a Poll.
  public func packet(final: Bool) -> BFDControlPacket {
    BFDControlPacket(
      diagnostic: diagnostic, state: state, poll: polling && !final, final: final,
      detectMultiplier: timing.multiplier, myDiscriminator: localDiscriminator,
      yourDiscriminator: remoteDiscriminator, desiredMinTx: advertisedMinTx, requiredMinRx: timing.minRx)
  }

  /// The periodic packet due at `now`, and the next deadline: the interval less 0-25 % jitter
  /// (10-25 % with a multiplier of 1), RFC 5880 6.8.7.
  public mutating func transmit(now: Duration, jitter: Double) -> BFDControlPacket {
    let final = finalDue
    finalDue = false
    let packet = packet(final: final)
    schedule(now: now, jitter: jitter)
    return packet
  }

  /// The reply to a Poll, sent at once and outside the periodic rhythm.
  public mutating func takeFinal() -> BFDControlPacket? {
    guard finalDue else { return nil }
    finalDue = false
    return packet(final: true)
  }

  private mutating func schedule(now: Duration, jitter: Double) {
    let sending = !(timing.passive && !heardFrom) && remoteMinRx != 0 && state != .adminDown
    guard sending else {
      transmitDeadline = nil
      return
    }
    let low = timing.multiplier == 1 ? 0.10 : 0.0
    let reduction = low + (0.25 - low) * min(max(jitter, 0), 1)
    let micros = Double(transmitInterval) * (1 - reduction)
    transmitDeadline = now + .microseconds(Int64(micros))
  }

  /// What a received packet changed for the trackers.
  public enum Change: Equatable, Sendable {
    case none
    case state(from: BFDState, to: BFDState)
  }

  /// RFC 5880 6.8.6 for a packet already matched to this session (decode checked the rest).
  public mutating func receive(_ packet: BFDControlPacket, now: Duration, jitter: Double) -> Change {
    guard state != .adminDown else { return .none }
    let before = state
    let oldInterval = transmitInterval
    heardFrom = true
    remoteDiscriminator = packet.myDiscriminator
    remoteState = packet.state
    remoteDiagnostic = packet.diagnostic
    remoteMinRx = packet.requiredMinRx
    remoteMinTx = packet.desiredMinTx
    remoteMultiplier = packet.detectMultiplier
    if packet.final { polling = false }
    // The intervals in use change only outside Up or through a Poll Sequence (RFC 5880 6.8.3).
    if state != .up || packet.poll || packet.final { recomputeIntervals() }

    switch (state, packet.state) {
    case (let s, .adminDown) where s != .down: enterDown(.neighborSignaledDown)
    case (.down, .down): state = .initializing
    case (.down, .initializing), (.initializing, .initializing), (.initializing, .up): enterUp()
    case (.up, .down): enterDown(.neighborSignaledDown)
    default: break
    }
    if state != before { recomputeIntervals() }
    if packet.poll { finalDue = true }

    detectionDeadline = now + .microseconds(Int64(min(detectionTime, UInt64(Int64.max / 2))))
    if transmitDeadline == nil || transmitInterval < oldInterval {
      schedule(now: now, jitter: jitter)
    }
    return state == before ? .none : .state(from: before, to: state)
  }

  /// The detection time passed without a packet: Init and Up go Down (diag 1); in Down the
  /// neighbor's variables are forgotten (keepalived's reset), so the idle rate applies again.
  public mutating func expire(now: Duration) -> Change {
    let before = state
    detectionDeadline = nil
    remoteDiscriminator = 0
    if state == .initializing || state == .up {
      enterDown(.detectionTimeExpired)
    } else {
      remoteState = .down
      remoteMinRx = 1
      remoteMinTx = 0
      remoteMultiplier = 0
      heardFrom = false
      recomputeIntervals()
      if timing.passive { transmitDeadline = nil }
    }
    return state == before ? .none : .state(from: before, to: state)
  }

  private mutating func enterUp() {
    state = .up
    diagnostic = .none
    reportedUp = true
    // Going from idle_tx to min_tx changes bfd.DesiredMinTxInterval: a Poll Sequence (6.8.3).
    if timing.idleTx != timing.minTx { polling = true }
  }

  private mutating func enterDown(_ reason: BFDDiagnostic) {
    let wasUp = state == .up
    state = .down
    diagnostic = reason
    polling = false
    if wasUp && remoteState != .adminDown { reportedUp = false }
    if timing.passive {
      heardFrom = false
      transmitDeadline = nil
    }
  }

  /// keepalived's bfd_update_local_tx_intv / bfd_idle_local_tx_intv / bfd_update_remote_tx_intv.
  /// Going from idle_tx to min_tx is a decrease: it applies at once (RFC 5880 6.8.3 holds back only
  /// an increase until the Poll Sequence ends), as keepalived does. Holding it back breaks the
  /// neighbor, which times us by the min_tx we already advertise.
  private mutating func recomputeIntervals() {
    let desired =
      remoteState == .up && (state == .initializing || state == .up)
      ? timing.minTx : timing.idleTx
    transmitInterval = max(desired, remoteMinRx, 1)
    let remoteInterval = max(remoteMinTx, timing.minRx)
    detectionTime = UInt64(remoteMultiplier) * UInt64(remoteInterval)
  }
}
