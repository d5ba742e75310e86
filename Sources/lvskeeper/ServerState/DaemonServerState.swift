import Foundation
import IPVSSync
import KeeperCore

/// `lvskeeper server VS RS drain|maint|ready|weight N`: an operator's runtime state for one real
/// server, laid over the checkers' verdict by the reconciler (see `AdminOverride`).
///
/// Invariants: a request that names an unknown service or server, an unknown state or a weight
/// outside 0...65535 changes nothing; the state file is written before the state takes effect, so
/// what runs is always what a restart would restore. Setting a state runs no script: notify_up
/// and notify_down stay the checkers' (they keep checking), and only a quorum the state itself
/// crosses runs quorum_up/quorum_down, as a failure would.
extension Daemon {
  func setServerState(_ request: ControlRequest, peer: ControlPeer?) async -> ControlResponse {
    let resolved: (service: VirtualServiceSpec, server: RealServerSpec, state: ServerAdminState?)
    switch resolveServerState(request, peer: peer) {
    case .failure(let refusal):
      logger.warning(
        "server: refused \(Self.describe(request)) from \(peer.map { "\($0)" } ?? "an unknown peer"): \(refusal.message)"
      )
      return .failure(refusal.message)
    case .success(let value): resolved = value
    }
    let id = RealServerID(service: resolved.service.key, server: resolved.server.key)
    let previous = adminStates[id]
    var next = adminStates
    next[id] = resolved.state
    do {
      try stateFile.save(Self.records(next))
    } catch {
      logger.error("server: \(id): \(error); nothing changed")
      return .failure("\(error); nothing changed")
    }
    adminStates = next
    reconciler?.setAdminOverride(id, resolved.state?.override)
    // The announcement counts the state as the kernel will: a drained service can lose its VIP.
    evaluateAnnouncements()
    DaemonMetrics.adminState(
      service: id.service.description, server: id.server.description, state: resolved.state?.state)
    let was = previous?.summary ?? "ready"
    let now = resolved.state?.summary ?? "ready"
    logger.notice(
      "server: \(id.service) \(id.server) \(now) (was \(was)), by \(peer.map { "\($0)" } ?? "an unknown peer")"
    )
    await reconcileAndWait(only: [id.service], reason: "server \(id.server) \(now)")
    return ControlResponse(ok: true, message: "\(id.service) \(id.server): \(now) (was \(was))")
  }

  /// Checks a request against the configuration in force; nil state means `ready`.
  private func resolveServerState(_ request: ControlRequest, peer: ControlPeer?) -> Result<
    (service: VirtualServiceSpec, server: RealServerSpec, state: ServerAdminState?), ReloadRefusal
  > {
    guard let serviceText = request.service, let serverText = request.server, let action = request.action
    else {
      return .failure(ReloadRefusal(message: "usage: server VS RS drain|maint|ready|weight N"))
    }
    let state: ServerAdminState?
    switch action.lowercased() {
    case "ready": state = nil
    case "drain": state = ServerAdminState(state: .drain, by: peer, at: Date())
    case "maint": state = ServerAdminState(state: .maint, by: peer, at: Date())
    case "weight":
      guard let weight = request.weight, (0...ServerAdminState.maximumWeight).contains(weight) else {
        let given = request.weight.map { "\($0)" } ?? "none"
        return .failure(
          ReloadRefusal(
            message: "weight wants a number from 0 to \(ServerAdminState.maximumWeight), got \(given)"))
      }
      state = ServerAdminState(state: .weight, weight: weight, by: peer, at: Date())
    default:
      return .failure(
        ReloadRefusal(message: "unknown state '\(action)'; expected drain, maint, ready or weight N"))
    }
    let service: VirtualServiceSpec
    switch Self.findService(serviceText, in: mapping.ipvs) {
    case .failure(let refusal): return .failure(refusal)
    case .success(let found): service = found
    }
    guard let server = Self.findServer(serverText, in: service) else {
      let known = service.realServers.map(\.key.description).joined(separator: ", ")
      return .failure(
        ReloadRefusal(
          message:
            "no real server '\(serverText)' in \(service.key) (configured: \(known.isEmpty ? "none" : known))"
        ))
    }
    return .success((service, server, state))
  }

  /// `TCP 10.0.0.1:80`, `tcp [2001:db8::1]:80`, `FWM 7`, `FWM 7 inet6`: a configured service.
  nonisolated static func findService(_ text: String, in spec: IPVSSpec) -> Result<
    VirtualServiceSpec, ReloadRefusal
  > {
    let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
    let unknown = ReloadRefusal(
      message: "no virtual service '\(text)' (write it as status prints it: 'TCP 10.0.0.1:80', 'FWM 7')")
    guard words.count >= 2 else { return .failure(unknown) }
    let matches: [VirtualServiceSpec]
    if words[0].uppercased() == "FWM" {
      guard let mark = UInt32(words[1]), words.count <= 3 else { return .failure(unknown) }
      let family: AddressFamily?
      switch words.count == 3 ? words[2].lowercased() : nil {
      case nil: family = nil
      case "inet"?, "ipv4"?: family = .inet
      case "inet6"?, "ipv6"?: family = .inet6
      default: return .failure(unknown)
      }
      matches = spec.services.filter {
        guard case .fwmark(let m, let f) = $0.key else { return false }
        return m == mark && (family == nil || family == f)
      }
    } else {
      guard words.count == 2, let (address, port) = parseEndpoint(words[1]) else { return .failure(unknown) }
      let proto = words[0].uppercased()
      matches = spec.services.filter {
        guard case .inet(let a, let p, let pr) = $0.key else { return false }
        return a == address && p == port && pr.description == proto
      }
    }
    guard let first = matches.first else { return .failure(unknown) }
    guard matches.count == 1 else {
      return .failure(
        ReloadRefusal(
          message:
            "'\(text)' names \(matches.count) virtual services (\(matches.map(\.key.description).joined(separator: ", "))); add the family"
        ))
    }
    return .success(first)
  }

  nonisolated static func findServer(_ text: String, in service: VirtualServiceSpec) -> RealServerSpec? {
    guard let (address, port) = parseEndpoint(text) else { return nil }
    return service.realServers.first { $0.key.address == address && $0.key.port == port }
  }

  /// `10.0.0.2:80` or `[2001:db8::2]:80`.
  nonisolated static func parseEndpoint(_ text: String) -> (IPAddress, UInt16)? {
    guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
      return nil
    }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") {
      host = String(host.dropFirst().dropLast())
      guard host.contains(":") else { return nil }
    } else if host.contains(":") {
      return nil
    }
    return IPAddress(host).map { ($0, port) }
  }

  private static func describe(_ request: ControlRequest) -> String {
    [request.service, request.server, request.action, request.weight.map { "\($0)" }].compactMap { $0 }
      .joined(separator: " ")
  }

  nonisolated static func records(_ states: [RealServerID: ServerAdminState]) -> [ServerStateRecord] {
    states.sorted { $0.key < $1.key }.map {
      ServerStateRecord(
        service: $0.key.service.description, server: $0.key.server.description, admin: $0.value)
    }
  }

  var stateFile: ServerStateFile { ServerStateFile(directory: options.stateDirectory) }

  /// At start: the states of the state file whose servers are configured. A file that cannot be
  /// read is ignored with a warning (every server starts health-driven); records of servers no
  /// longer configured are dropped with a log line (the file forgets them at the next change).
  func restoreServerStates() {
    let records: [ServerStateRecord]
    do {
      records = try stateFile.load()
    } catch {
      logger.warning("server state: \(error); ignored, every real server starts health-driven")
      return
    }
    for record in records {
      guard case .success(let service) = Self.findService(record.service, in: mapping.ipvs),
        let server = Self.findServer(record.server, in: service)
      else {
        logger.warning(
          "server state: \(record.service) \(record.server) (\(record.admin.summary)) is not configured; dropped"
        )
        continue
      }
      let id = RealServerID(service: service.key, server: server.key)
      adminStates[id] = record.admin
      logger.notice(
        "server state: \(id.service) \(id.server) \(record.admin.summary), restored from \(stateFile.path)")
    }
    publishAdminStates()
  }

  /// At reload, before the new spec goes to the reconciler: states of servers the new
  /// configuration lacks are dropped, and a weight override of a server whose configuration
  /// changed is cleared (the new configuration's weight wins). drain and maint stay.
  func carryServerStates(from old: IPVSSpec, to new: IPVSSpec) {
    guard !adminStates.isEmpty else { return }
    var oldServers: [RealServerID: RealServerSpec] = [:]
    for service in old.services {
      for server in service.realServers {
        oldServers[RealServerID(service: service.key, server: server.key)] = server
      }
    }
    var newServers: [RealServerID: RealServerSpec] = [:]
    for service in new.services {
      for server in service.realServers {
        newServers[RealServerID(service: service.key, server: server.key)] = server
      }
    }
    var next = adminStates
    for (id, state) in adminStates {
      guard let now = newServers[id] else {
        next[id] = nil
        logger.notice(
          "server state: \(id.service) \(id.server) \(state.summary) dropped: no longer configured")
        continue
      }
      if state.state == .weight, oldServers[id] != now {
        next[id] = nil
        logger.notice(
          "server state: \(id.service) \(id.server) weight override cleared: its configuration changed (weight \(now.weight))"
        )
      }
    }
    guard next != adminStates else { return }
    for id in adminStates.keys where next[id] == nil {
      reconciler?.setAdminOverride(id, nil)
      DaemonMetrics.adminState(service: id.service.description, server: id.server.description, state: nil)
    }
    adminStates = next
    evaluateAnnouncements()
    do {
      try stateFile.save(Self.records(next))
    } catch {
      logger.error("server state: \(error); the file keeps states the running daemon no longer has")
    }
  }

  /// Hands every state to the reconciler (a new one after a reload, or at start) and the metrics.
  func publishAdminStates() {
    for (id, state) in adminStates {
      reconciler?.setAdminOverride(id, state.override)
      DaemonMetrics.adminState(
        service: id.service.description, server: id.server.description, state: state.state)
    }
  }
}
