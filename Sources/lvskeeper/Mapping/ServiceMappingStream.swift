import KeeperConfig

/// Maps each virtual server while the configuration loads (`ConfigLoader.load(path:sink:)`), so a
/// server's parsed model is freed before the next one is read and the mapping's small, long-lived
/// allocations reuse that memory instead of landing between the blocks of a whole model freed
/// afterwards (at 10,000 real servers ~0.4 KB each stayed behind as holes in the heap).
///
/// Gives the mapping `ServiceMapping(config)` would: servers are mapped in file order; the first
/// one it cannot map yet (its `virtual_server_group` comes later) or cannot map at all is kept in
/// the model with every server after it, and `finish` maps those (throwing that server's error
/// first, as the whole-model mapping would). Servers with `announce` stay in the
/// model too (the announce plan reads them), already mapped.
final class ServiceMappingStream: VirtualServerSink {
  private var builder = ServiceMapping.Builder()
  private var groups: [String: VirtualServerGroup] = [:]
  private var groupsSeen = 0
  private let expectedRealServers: Int

  /// - Parameter expectedRealServers: room to make in the tables at once (a reload passes the
  ///   count in force); they grow past it as needed.
  init(expectedRealServers: Int = 0) {
    self.expectedRealServers = expectedRealServers
    builder.reserveCapacity(realServers: expectedRealServers)
  }

  func take(_ server: VirtualServer, globalDefs: GlobalDefs, groups: [VirtualServerGroup])
    -> VirtualServerSinkDecision
  {
    for group in groups.dropFirst(groupsSeen) where self.groups[group.name] == nil {
      self.groups[group.name] = group
    }
    groupsSeen = groups.count
    if server.key.kind == .group, self.groups[server.key.group ?? ""] == nil { return .kept }
    do {
      try builder.add(server, groups: self.groups, globalDefs: globalDefs)
    } catch {
      // `finish` maps it again from the model and throws there, in file order.
      return .kept
    }
    guard server.announce else { return .taken }
    builder.addedFromModel += 1
    return .takenAndKept
  }

  func discardTaken() {
    builder = ServiceMapping.Builder()
    builder.reserveCapacity(realServers: expectedRealServers)
    groups = [:]
    groupsSeen = 0
  }

  /// The mapping of the whole configuration `config` (the model of the load that fed this stream).
  /// The stream keeps nothing of it (the daemon hands parts of the mapping over and frees them).
  func finish(_ config: KeeperConfiguration) throws -> ServiceMapping {
    var taken = ServiceMapping.Builder()
    swap(&taken, &builder)
    return try taken.finish(config)
  }
}
