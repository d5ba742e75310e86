import HealthCheck
import IPVSSync
import KeeperCore

/// Health id → the IPVS destinations whose weight follows it: the real server's destination in
/// each kernel service its virtual server expands to.
///
/// A health id is its virtual server's name with the real server's address and port
/// (`ServiceMapping.healthID`), so nothing per id is stored here beyond that destination: per
/// virtual server, its kernel services and its real servers' destinations sorted (16 bytes each,
/// found by binary search), and the virtual servers by name. At 36,000 real servers a dictionary
/// entry per id cost ~64 bytes each. Invariant: `self[id]` lists the destinations in the order they
/// were added: the id's first virtual server's services, then once more for each repeat of the
/// same id (a real server listed twice, or two virtual servers with the same name), in order.
struct HealthDestinations: Sendable {
  private struct VirtualServer: Sendable {
    var name: HealthCheck.RealServerID.ServiceName
    var services: [ServiceKey]
    /// Sorted; a destination listed twice is here twice.
    var servers: [DestinationKey]
  }
  private var virtualServers: [VirtualServer] = []
  /// Name → indices into `virtualServers`, ascending (more than one only for repeated names).
  private var byName: [String: [Int32]] = [:]

  /// A virtual server named `name` (`ServiceMapping.describe`), expanded to `services`, whose real
  /// servers are at `servers` (their ids are `name` with each one's address and port).
  mutating func addVirtualServer(
    _ name: HealthCheck.RealServerID.ServiceName, services: [ServiceKey], servers: [DestinationKey]
  ) {
    byName[name.text, default: []].append(Int32(virtualServers.count))
    virtualServers.append(VirtualServer(name: name, services: services, servers: servers.sorted()))
  }

  subscript(_ id: HealthCheck.RealServerID) -> [IPVSSync.RealServerID]? {
    guard let parts = id.parts, let indices = byName[parts.service] else { return nil }
    let server = DestinationKey(address: parts.address, port: parts.port)
    var found: [IPVSSync.RealServerID] = []
    for index in indices {
      let entry = virtualServers[Int(index)]
      var at = entry.servers.firstIndex(notBelow: server) { $0 }
      while at < entry.servers.count && entry.servers[at] == server {
        found += entry.services.map { IPVSSync.RealServerID(service: $0, server: server) }
        at += 1
      }
    }
    return found.isEmpty ? nil : found
  }

  /// Distinct ids.
  var count: Int { ids.count }

  /// Every distinct id, in the order first added.
  var ids: [HealthCheck.RealServerID] {
    var seen = Set<HealthCheck.RealServerID>()
    var ids: [HealthCheck.RealServerID] = []
    for entry in virtualServers {
      for server in entry.servers {
        let id = HealthCheck.RealServerID(service: entry.name, address: server.address, port: server.port)
        if seen.insert(id).inserted { ids.append(id) }
      }
    }
    return ids
  }

  /// Every id with its destinations.
  var all: [(id: HealthCheck.RealServerID, destinations: [IPVSSync.RealServerID])] {
    ids.compactMap { id in self[id].map { (id, $0) } }
  }
}
