import HealthCheck
import IPVSSync

/// Health id → the IPVS destinations whose weight follows it: the real server's destination in
/// each kernel service its virtual server expands to.
///
/// Stored as the virtual server's list of kernel services (one list per virtual server) and, per
/// health id, an index into those lists plus the destination, rather than an array per real server:
/// at 36,000 real servers that array was one allocation each. Invariant: `self[id]` lists the
/// destinations in the order they were added, as the dictionary of arrays it replaces did.
struct HealthDestinations: Sendable {
  /// 16 bytes: the index goes in the room after the destination's 10 (24 in the other order,
  /// one per real server, in a table of 1.6 buckets per entry).
  private struct Entry: Sendable {
    var server: DestinationKey
    var services: Int32
  }
  private var serviceLists: [[ServiceKey]] = []
  private var entries: [HealthCheck.RealServerID: Entry] = [:]
  /// Destinations of an id added again (two real servers with the same id), after its first ones.
  private var repeated: [HealthCheck.RealServerID: [IPVSSync.RealServerID]] = [:]

  /// Room for `count` ids, so a large configuration's ids go in without rehashing as it grows.
  mutating func reserveCapacity(_ count: Int) { entries.reserveCapacity(count) }

  /// Starts a virtual server whose real servers follow in `add`, expanded to `services`.
  mutating func addVirtualServer(_ services: [ServiceKey]) { serviceLists.append(services) }

  /// `id`'s destination `server` in every service of the virtual server added last.
  mutating func add(_ id: HealthCheck.RealServerID, _ server: DestinationKey) {
    let services = Int32(serviceLists.count - 1)
    guard entries[id] != nil else {
      entries[id] = Entry(server: server, services: services)
      return
    }
    repeated[id, default: []] += serviceLists[Int(services)].map {
      IPVSSync.RealServerID(service: $0, server: server)
    }
  }

  subscript(_ id: HealthCheck.RealServerID) -> [IPVSSync.RealServerID]? {
    guard let entry = entries[id] else { return nil }
    let first = serviceLists[Int(entry.services)].map {
      IPVSSync.RealServerID(service: $0, server: entry.server)
    }
    return repeated[id].map { first + $0 } ?? first
  }

  var count: Int { entries.count }

  var ids: [HealthCheck.RealServerID] { Array(entries.keys) }

  /// Every id with its destinations, in no particular order.
  var all: [(id: HealthCheck.RealServerID, destinations: [IPVSSync.RealServerID])] {
    entries.keys.compactMap { id in self[id].map { (id, $0) } }
  }
}
