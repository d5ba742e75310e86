/// A BFD session state as carried in the Sta field (RFC 5880 section 4.1).
public enum BFDState: UInt8, Sendable, CustomStringConvertible {
  case adminDown = 0
  case down = 1
  case initializing = 2
  case up = 3

  public var description: String {
    switch self {
    case .adminDown: return "AdminDown"
    case .down: return "Down"
    case .initializing: return "Init"
    case .up: return "Up"
    }
  }
}

/// The Diag field (RFC 5880 section 4.1): why the sender's session last left Up. Values above 8
/// are reserved; keepalived drops packets carrying them, and so do we.
public enum BFDDiagnostic: UInt8, Sendable, CustomStringConvertible {
  case none = 0
  case detectionTimeExpired = 1
  case echoFailed = 2
  case neighborSignaledDown = 3
  case forwardingPlaneReset = 4
  case pathDown = 5
  case concatenatedPathDown = 6
  case administrativelyDown = 7
  case reverseConcatenatedPathDown = 8

  public var description: String {
    switch self {
    case .none: return "No Diagnostic"
    case .detectionTimeExpired: return "Control Detection Time Expired"
    case .echoFailed: return "Echo Function Failed"
    case .neighborSignaledDown: return "Neighbor Signaled Session Down"
    case .forwardingPlaneReset: return "Forwarding Plane Reset"
    case .pathDown: return "Path Down"
    case .concatenatedPathDown: return "Concatenated Path Down"
    case .administrativelyDown: return "Administratively Down"
    case .reverseConcatenatedPathDown: return "Reverse Concatenated Path Down"
    }
  }
}

/// Why a received datagram is not a usable BFD Control packet; each reason is counted.
public enum BFDDecodeError: Error, Equatable, Sendable, CustomStringConvertible {
  case tooShort(Int)
  case lengthMismatch(field: Int, received: Int)
  case version(UInt8)
  case reservedDiagnostic(UInt8)
  case zeroMultiplier
  case multipoint
  case zeroMyDiscriminator
  case zeroYourDiscriminator(BFDState)
  case pollAndFinal
  case authentication

  public var description: String {
    switch self {
    case .tooShort(let n): return "packet of \(n) bytes, shorter than 24"
    case .lengthMismatch(let field, let received):
      return "length field \(field) does not fit the \(received) bytes received"
    case .version(let v): return "version \(v), not 1"
    case .reservedDiagnostic(let d): return "reserved diagnostic \(d)"
    case .zeroMultiplier: return "detect multiplier 0"
    case .multipoint: return "multipoint bit set"
    case .zeroMyDiscriminator: return "my discriminator 0"
    case .zeroYourDiscriminator(let s): return "your discriminator 0 in state \(s)"
    case .pollAndFinal: return "both poll and final set"
    case .authentication: return "authentication present (not configured)"
    }
  }
}

/// One BFD Control packet without authentication (RFC 5880 section 4.1): 24 bytes on the wire.
/// Intervals are microseconds. Invariant of `decode`: every packet it returns passes the checks of
/// RFC 5880 section 6.8.6 that do not need a session (and keepalived's: no reserved diagnostic, not
/// both P and F).
public struct BFDControlPacket: Sendable, Equatable {
  public static let length = 24
  public var diagnostic: BFDDiagnostic
  public var state: BFDState
  public var poll: Bool
  public var final: Bool
  public var controlPlaneIndependent: Bool
  public var demand: Bool
  public var detectMultiplier: UInt8
  public var myDiscriminator: UInt32
  public var yourDiscriminator: UInt32
  public var desiredMinTx: UInt32
  public var requiredMinRx: UInt32
  public var requiredMinEchoRx: UInt32

  public init(
    diagnostic: BFDDiagnostic = .none, state: BFDState, poll: Bool = false, final: Bool = false,
    controlPlaneIndependent: Bool = false, demand: Bool = false, detectMultiplier: UInt8,
    myDiscriminator: UInt32, yourDiscriminator: UInt32, desiredMinTx: UInt32, requiredMinRx: UInt32,
    requiredMinEchoRx: UInt32 = 0
  ) {
    self.diagnostic = diagnostic
    self.state = state
    self.poll = poll
    self.final = final
    self.controlPlaneIndependent = controlPlaneIndependent
    self.demand = demand
    self.detectMultiplier = detectMultiplier
    self.myDiscriminator = myDiscriminator
    self.yourDiscriminator = yourDiscriminator
    self.desiredMinTx = desiredMinTx
    self.requiredMinRx = requiredMinRx
    self.requiredMinEchoRx = requiredMinEchoRx
  }

  /// The 24 wire bytes: version 1, no authentication, multipoint clear.
  public func encode() -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: Self.length)
    bytes[0] = 1 << 5 | diagnostic.rawValue
    var flags = state.rawValue << 6
    if poll { flags |= 0x20 }
    if final { flags |= 0x10 }
    if controlPlaneIndependent { flags |= 0x08 }
    if demand { flags |= 0x02 }
    bytes[1] = flags
    bytes[2] = detectMultiplier
    bytes[3] = UInt8(Self.length)
    for (offset, value) in [
      (4, myDiscriminator), (8, yourDiscriminator), (12, desiredMinTx), (16, requiredMinRx),
      (20, requiredMinEchoRx),
    ] {
      bytes[offset] = UInt8(truncatingIfNeeded: value >> 24)
      bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
      bytes[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
      bytes[offset + 3] = UInt8(truncatingIfNeeded: value)
    }
    return bytes
  }

  /// Decodes a received datagram strictly; anything a session may not act on is an error.
  public static func decode(_ bytes: some RandomAccessCollection<UInt8>) throws(BFDDecodeError)
    -> BFDControlPacket
  {
    let b = Array(bytes)
    guard b.count >= length else { throw .tooShort(b.count) }
    let version = b[0] >> 5
    guard version == 1 else { throw .version(version) }
    // RFC 5880 6.8.6: the Length field is at least 24 (26 with authentication) and no more than the
    // datagram; the bytes after it are ignored.
    let field = Int(b[3])
    let authenticated = b[1] & 0x04 != 0
    guard field >= (authenticated ? 26 : length), field <= b.count else {
      throw .lengthMismatch(field: field, received: b.count)
    }
    guard let diagnostic = BFDDiagnostic(rawValue: b[0] & 0x1f) else {
      throw .reservedDiagnostic(b[0] & 0x1f)
    }
    guard b[2] != 0 else { throw .zeroMultiplier }
    guard b[1] & 0x01 == 0 else { throw .multipoint }
    func word(_ at: Int) -> UInt32 {
      UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }
    let mine = word(4)
    guard mine != 0 else { throw .zeroMyDiscriminator }
    let state = BFDState(rawValue: b[1] >> 6) ?? .down  // two bits: always a valid state
    let yours = word(8)
    guard yours != 0 || state == .down || state == .adminDown else { throw .zeroYourDiscriminator(state) }
    let poll = b[1] & 0x20 != 0
    let final = b[1] & 0x10 != 0
    guard !(poll && final) else { throw .pollAndFinal }
    // No bfd_instance configures authentication (keepalived has none either): RFC 5880 6.8.6 says
    // discard.
    guard !authenticated else { throw .authentication }
    return BFDControlPacket(
      diagnostic: diagnostic, state: state, poll: poll, final: final,
      controlPlaneIndependent: b[1] & 0x08 != 0,
      demand: b[1] & 0x02 != 0, detectMultiplier: b[2], myDiscriminator: mine, yourDiscriminator: yours,
      desiredMinTx: word(12), requiredMinRx: word(16), requiredMinEchoRx: word(20))
  }
}
