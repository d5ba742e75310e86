/// The minimal ordered operations that turn the kernel's table into the desired one.
///
/// Order: per service (in key order) add or edit the service, then add/edit destinations, then
/// delete destinations (so a sorry server is in place before the pool leaves); services no longer
/// wanted lose their destinations and then themselves, last. Changes are edits in place: Linux 6.1's
/// `ip_vs_edit_service`/`ip_vs_edit_dest` accept every attribute (scheduler, flags, persistence,
/// pe, forwarding method, tunnel, thresholds), so nothing is ever deleted and re-added.
///
/// Invariant: a pure function of its inputs; services outside `desired` and `retired` never appear.
public struct ReconcilePlan: Sendable, Hashable {
  public var operations: [IPVSOperation]
  /// Destinations being drained and when draining began (carried to the next plan).
  public var draining: [RealServerID: ContinuousClock.Instant]

  /// - Parameters:
  ///   - desired: the services lvskeeper owns and how they should be.
  ///   - retired: services lvskeeper owned but which left the configuration: deleted if present.
  ///   - actual: what the kernel holds (at least every service in `desired` and `retired` it has).
  ///   - draining: drain start times from the previous plan.
  public init(
    desired: [ServiceKey: DesiredService], retired: Set<ServiceKey>, actual: IPVSTable,
    draining previous: [RealServerID: ContinuousClock.Instant], now: ContinuousClock.Instant
  ) {
    var ops: [IPVSOperation] = []
    var draining: [RealServerID: ContinuousClock.Instant] = [:]
    for key in desired.keys.sorted() {
      guard let want = desired[key] else { continue }
      guard let have = actual.services[key] else {
        ops.append(.addService(key, want.attributes))
        for d in want.destinations.keys.sorted() {
          if let a = want.destinations[d] { ops.append(.addDestination(key, d, a)) }
        }
        continue
      }
      if have.attributes != want.attributes { ops.append(.editService(key, want.attributes)) }
      // Destinations are visited unordered and only the resulting (usually few) operations are
      // sorted, so the no-op plan of a large service sorts nothing.
      var changes: [(DestinationKey, IPVSOperation)] = []
      var quiesces: [(DestinationKey, IPVSOperation)] = []
      var deletions: [(DestinationKey, IPVSOperation)] = []
      for (d, a) in want.destinations {
        if let current = have.destinations[d] {
          if !current.attributes.isEquivalent(to: a) { changes.append((d, .editDestination(key, d, a))) }
        } else {
          changes.append((d, .addDestination(key, d, a)))
        }
      }
      for (d, current) in have.destinations where want.destinations[d] == nil {
        if want.configured.contains(d) {
          // Failed without inhibit: keepalived removes it at once.
          deletions.append((d, .deleteDestination(key, d)))
          continue
        }
        // Gone from the configuration: quiesce, then delete when idle or when the drain times out.
        let id = RealServerID(service: key, server: d)
        let started = previous[id] ?? now
        let idle = current.activeConnections == 0 && current.inactiveConnections == 0
        if idle || now - started >= want.drainTimeout {
          deletions.append((d, .deleteDestination(key, d)))
        } else {
          draining[id] = started
          if current.attributes.weight != 0 {
            var quiesced = current.attributes
            quiesced.weight = 0
            quiesces.append((d, .editDestination(key, d, quiesced)))
          }
        }
      }
      for group in [changes, quiesces, deletions] {
        ops += group.sorted { $0.0 < $1.0 }.map(\.1)
      }
    }
    for key in retired.sorted() where desired[key] == nil {
      guard let have = actual.services[key] else { continue }
      for d in have.destinations.keys.sorted() { ops.append(.deleteDestination(key, d)) }
      ops.append(.deleteService(key))
    }
    operations = ops
    self.draining = draining
  }
}
