import KeeperCore

/// The checkers' last report per real server (`IPVSReconciler.setHealth`), held per kernel service
/// as an array of its destinations sorted by key rather than one dictionary entry per real server:
/// an entry is 24 bytes instead of a 40-byte bucket (service key, destination key, health) at a
/// load of ~0.6, 66 bytes per real server at 10,000.
///
/// Invariant: each service's array is sorted by destination and holds each destination at most once;
/// no service has an empty array.
struct HealthTable: Sendable {
  private struct Entry: Sendable {
    var server: DestinationKey
    var health: RealServerHealth
  }
  private var services: [ServiceKey: [Entry]] = [:]

  subscript(_ id: RealServerID) -> RealServerHealth? {
    get {
      guard let entries = services[id.service] else { return nil }
      let index = Self.index(of: id.server, in: entries)
      return index < entries.count && entries[index].server == id.server ? entries[index].health : nil
    }
    set {
      var entries = services.removeValue(forKey: id.service) ?? []
      let index = Self.index(of: id.server, in: entries)
      let found = index < entries.count && entries[index].server == id.server
      switch (newValue, found) {
      case (let health?, true): entries[index].health = health
      case (let health?, false): entries.insert(Entry(server: id.server, health: health), at: index)
      case (nil, true): entries.remove(at: index)
      case (nil, false): break
      }
      if !entries.isEmpty { services[id.service] = entries }
    }
  }

  /// The first index whose destination is not below `server`.
  private static func index(of server: DestinationKey, in entries: [Entry]) -> Int {
    entries.firstIndex(notBelow: server, by: \.server)
  }
}
