/// The verdict on a packet from the protocol-51 socket, with the AH sequence number when it verified.
public struct AuthenticatedVerdict: Sendable, Equatable {
  public var verdict: ReceiveVerdict
  /// The VRID the packet was for, when it could be read (for per-instance drop counting).
  public var vrid: UInt8?
  /// Set once the ICV and SPI verified.
  public var sequence: UInt32?
}

extension ReceiveFilter {
  /// Validates an IPv4 packet carrying AH (RFC 2402) around a VRRPv2 advert, in keepalived's order
  /// (`vrrp_check_packet`, `vrrp_in_chk_ipsecah`): the VRID's instance must use AH, the ICV must verify
  /// under its key, the SPI must be the source address, and the sequence number must exceed the
  /// instance's counter (which then takes that value). The advert inside is judged like any other.
  /// `sequences` runs parallel to `instances`. Pure apart from the counters it advances.
  public static func judgeAuthenticated(
    _ packet: [UInt8], against instances: [ReceiveExpectation], sequences: inout [AHSequenceCounter]
  ) -> AuthenticatedVerdict {
    let parsed: AHPacket
    do {
      parsed = try AHPacket.parse(packet)
    } catch {
      return AuthenticatedVerdict(verdict: .dropped(.malformed, detail: error.description), vrid: nil)
    }
    let vrid = parsed.vrrp[1]
    func drop(_ reason: DropReason, _ detail: String, sequence: UInt32? = nil) -> AuthenticatedVerdict {
      AuthenticatedVerdict(verdict: .dropped(reason, detail: detail), vrid: vrid, sequence: sequence)
    }
    let candidates = instances.indices.filter { instances[$0].vrid == vrid }
    guard !candidates.isEmpty else { return drop(.unknownVRID, "vrid \(vrid)") }
    guard let index = candidates.first(where: { instances[$0].ahKey != nil }),
      let key = instances[index].ahKey
    else { return drop(.authentication, "AH header but auth_type is not AH") }
    let expected = instances[index]
    do {
      _ = try AHPacket.open(packet, key: key, unicast: !expected.unicastPeers.isEmpty)
    } catch {
      return drop(.authentication, error.description)
    }
    let sequence = parsed.header.sequence
    // An unlisted unicast sender holding the key must not advance the counter.
    if !expected.unicastPeers.isEmpty && !expected.unicastPeers.contains(parsed.source) {
      return drop(.unlistedPeer, "source \(parsed.source)", sequence: sequence)
    }
    guard index < sequences.count else { return drop(.malformed, "no sequence counter for vrid \(vrid)") }
    let last = sequences[index].value
    guard sequences[index].accept(sequence) else {
      return drop(.replay, "sequence \(sequence) not above \(last)", sequence: sequence)
    }
    var inner = expected
    inner.ahKey = nil
    let verdict = judge(
      ReceivedPacket(
        source: parsed.source, destination: parsed.destination, hopLimit: parsed.ttl, payload: parsed.vrrp),
      against: [inner])
    switch verdict {
    case .accepted(_, let advert, let intervalMismatch, let addressMismatch):
      guard advert.authentication == .ah else {
        return drop(.authentication, "AH around an advert with auth type \(advert.authentication.typeCode)")
      }
      return AuthenticatedVerdict(
        verdict: .accepted(
          index: index, advert: advert, intervalMismatch: intervalMismatch, addressMismatch: addressMismatch),
        vrid: vrid, sequence: sequence)
    case .dropped:
      return AuthenticatedVerdict(verdict: verdict, vrid: vrid, sequence: sequence)
    }
  }
}
