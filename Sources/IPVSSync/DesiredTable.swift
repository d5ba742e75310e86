/// One service as it should be in the kernel.
public struct DesiredService: Sendable, Hashable {
  public var attributes: ServiceAttributes
  public var destinations: [DestinationKey: DestinationAttributes]
  /// Destinations the configuration names (real servers and the sorry server). A kernel destination
  /// outside this set is drained; one inside it but not desired (failed, no inhibit) is deleted at once.
  public var configured: Set<DestinationKey>
  public var drainTimeout: Duration
}

/// The table the kernel should hold, computed from the spec and current health, with keepalived's
/// semantics: failed servers removed (or weight 0 with `inhibit_on_failure`), the sorry server
/// replacing the pool while below quorum, quorum changing with hysteresis.
///
/// Invariant: a pure function of its inputs; `quorumUp` holds the state for every spec service.
public struct DesiredTable: Sendable, Hashable {
  public var services: [ServiceKey: DesiredService]
  public var quorumUp: [ServiceKey: Bool]
  public var events: [QuorumEvent]

  /// - Parameters:
  ///   - health: last report per real server; absent = no result yet (see `RealServerSpec.upUntilChecked`).
  ///   - previousQuorum: quorum state from the previous evaluation; absent = first evaluation.
  ///   - admin: operators' overrides (`lvskeeper server`), laid over `health` (see `AdminOverride`).
  public init(
    spec: IPVSSpec, health: [RealServerID: RealServerHealth], previousQuorum: [ServiceKey: Bool],
    admin: [RealServerID: AdminOverride] = [:]
  ) {
    self.init(spec: spec, healthOf: { health[$0] }, previousQuorum: previousQuorum, admin: admin)
  }

  /// As `init(spec:health:previousQuorum:admin:)`, with the health read through `healthOf`.
  init(
    spec: IPVSSpec, healthOf health: (RealServerID) -> RealServerHealth?, previousQuorum: [ServiceKey: Bool],
    admin: [RealServerID: AdminOverride] = [:]
  ) {
    services = [:]
    quorumUp = [:]
    events = []
    for vs in spec.services {
      var liveWeight: UInt64 = 0
      var live: [DestinationKey: UInt32] = [:]
      for rs in vs.realServers {
        let id = RealServerID(service: vs.key, server: rs.key)
        // Not checked yet counts as the checkers would have it (`upUntilChecked`) once an override applies.
        var verdict = health(id)
        if let override = admin[id] {
          verdict = override.applied(to: verdict ?? (rs.upUntilChecked ? .up(weight: nil) : .down))
        }
        switch verdict {
        case .up(let dynamic)?:
          live[rs.key] = dynamic ?? rs.weight
        case .down?:
          break
        case nil:
          if rs.upUntilChecked { live[rs.key] = rs.weight }
        }
        liveWeight += UInt64(live[rs.key] ?? 0)
      }
      let up = Self.quorum(
        previous: previousQuorum[vs.key], liveWeight: liveWeight, quorum: vs.quorum, hysteresis: vs.hysteresis
      )
      quorumUp[vs.key] = up
      if previousQuorum[vs.key] != up {
        events.append(
          QuorumEvent(service: vs.key, up: up, liveWeight: liveWeight, initial: previousQuorum[vs.key] == nil)
        )
      }
      let useSorry = !up && vs.sorryServer != nil
      var destinations: [DestinationKey: DestinationAttributes] = [:]
      for rs in vs.realServers {
        var attributes = rs.attributes
        if let weight = live[rs.key], !useSorry {
          attributes.weight = weight
          destinations[rs.key] = attributes
        } else if rs.inhibitOnFailure {
          attributes.weight = 0
          destinations[rs.key] = attributes
        }
      }
      var configured = Set(vs.realServers.map(\.key))
      if let sorry = vs.sorryServer {
        configured.insert(sorry.key)
        var attributes = DestinationAttributes(
          forwarding: sorry.forwarding, weight: sorry.weight, tunnel: sorry.tunnel)
        if useSorry {
          destinations[sorry.key] = attributes
        } else if sorry.inhibit, destinations[sorry.key] == nil {
          attributes.weight = 0
          destinations[sorry.key] = attributes
        }
      }
      services[vs.key] = DesiredService(
        attributes: vs.attributes, destinations: destinations, configured: configured,
        drainTimeout: vs.drainTimeout)
    }
  }

  /// keepalived check_api `update_quorum_state`: lost when the live weight is 0 or below
  /// quorum-hysteresis, gained at quorum+hysteresis; first evaluation compares with quorum alone.
  public static func quorum(previous: Bool?, liveWeight: UInt64, quorum: UInt32, hysteresis: UInt32) -> Bool {
    let weight = Int64(liveWeight)
    let (q, h) = (Int64(quorum), Int64(hysteresis))
    switch previous {
    case nil: return weight >= q && weight > 0
    case true?: return !(weight == 0 || weight < q - h)
    case false?: return weight >= q + h && weight > 0
    }
  }
}
