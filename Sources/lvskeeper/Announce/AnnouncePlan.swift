import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore

/// What the configuration asks to announce (docs/scaleout.md): one entry per VIP that has at least
/// one `virtual_server IP PORT { announce }`, with every such virtual server of that VIP.
///
/// Invariant: `vips` holds each address once, in the order of their first virtual server; every
/// `AnnouncedVIP` has at least one service.
struct AnnounceSpec: Sendable, Equatable {
  /// `announce_interface`: the tun device that holds the VIPs.
  var interface: String
  /// `announce_table`: where the per-VIP routes go.
  var table: UInt32
  /// `announce_withdraw_delay`: the routers' convergence time granted at stop.
  var withdrawDelay: Duration
  var vips: [AnnouncedVIP]

  /// RTPROT value the routes carry (RTPROT_* above 4 are free for routing daemons;
  /// /etc/iproute2/rt_protos names 186-192 for BIRD, FRR and others; 250 is unassigned).
  static let routeProtocol: UInt8 = 250

  init(
    interface: String = "lvsk-announce", table: UInt32 = 100, withdrawDelay: Duration = .seconds(2),
    vips: [AnnouncedVIP] = []
  ) {
    self.interface = interface
    self.table = table
    self.withdrawDelay = withdrawDelay
    self.vips = vips
  }

  init(_ config: KeeperConfiguration) {
    let defs = config.globalDefs
    var order: [IPAddress] = []
    var services: [IPAddress: [AnnouncedService]] = [:]
    for virtualServer in config.virtualServers where virtualServer.announce {
      guard let address = virtualServer.key.address else { continue }
      if services[address] == nil { order.append(address) }
      let name = ServiceMapping.describe(virtualServer.key, virtualServer.protocol)
      // The kernel service the reconciler and `lvskeeper server` key it by (an announced virtual
      // server is always IP and port, one service: fwmark and group ones are refused).
      let serviceName = HealthCheck.RealServerID.ServiceName(name)
      let service = try? ServiceMapping.serviceKeys(virtualServer, groups: [:]).first
      services[address, default: []].append(
        AnnouncedService(
          name: name,
          servers: virtualServer.realServers.map { realServer in
            AnnouncedRealServer(
              id: ServiceMapping.healthID(serviceName, realServer),
              weight: UInt32(clamping: realServer.weight),
              admin: service.map {
                IPVSSync.RealServerID(
                  service: $0, server: ServiceMapping.destinationKey(realServer.address, realServer.port))
              })
          },
          quorum: UInt32(clamping: virtualServer.quorum),
          hysteresis: UInt32(clamping: virtualServer.hysteresis),
          minimumUpPercent: virtualServer.announceQuorum))
    }
    self.init(
      interface: defs.announceInterface, table: defs.announceTable,
      withdrawDelay: SchedulingMath.duration(defs.announceWithdrawDelay),
      vips: order.map { AnnouncedVIP(address: $0, services: services[$0] ?? []) })
  }

  var isEmpty: Bool { vips.isEmpty }
}

/// One VIP under announcement and the virtual servers (ports) that decide it: it is announced
/// while ALL of them are at quorum (docs/scaleout.md says why ALL and not ANY).
struct AnnouncedVIP: Sendable, Equatable {
  var address: IPAddress
  var services: [AnnouncedService]
}

/// One `virtual_server IP PORT { announce }`: keepalived's `quorum`/`hysteresis` over the live
/// weight, and lvskeeper's `announce_quorum P%` over the count of real servers up.
struct AnnouncedService: Sendable, Equatable {
  var name: String
  var servers: [AnnouncedRealServer]
  var quorum: UInt32 = 1
  var hysteresis: UInt32 = 0
  /// nil: at least one real server up.
  var minimumUpPercent: Int?
}

/// A real server as the announcement counts it: its health id, configured weight, and the id an
/// operator's `lvskeeper server` state is kept under (nil: no state can apply).
struct AnnouncedRealServer: Sendable, Equatable {
  var id: HealthCheck.RealServerID
  var weight: UInt32
  var admin: IPVSSync.RealServerID? = nil
}

/// Why a VIP is or is not announced right now.
enum AnnounceReason: Sendable, Equatable, CustomStringConvertible {
  /// Every service at quorum; `up`/`total` real servers summed over them.
  case atQuorum(up: Int, total: Int)
  /// A service has no health verdict yet for some of its real servers.
  case starting(service: String, known: Int, total: Int)
  /// `service` is below keepalived's quorum or `announce_quorum`.
  case quorumLost(service: String, up: Int, total: Int, liveWeight: UInt64)
  /// The daemon is stopping: every route is withdrawn before anything else stops.
  case shuttingDown

  var description: String {
    switch self {
    case .atQuorum(let up, let total): "at quorum (\(up) of \(total) real servers up)"
    case .starting(let service, let known, let total):
      "starting (\(service): \(known) of \(total) real servers checked)"
    case .quorumLost(let service, let up, let total, let weight):
      "quorum lost (\(service): \(up) of \(total) real servers up, live weight \(weight))"
    case .shuttingDown: "shutting down"
    }
  }

  /// A short word for metrics and JSON.
  var code: String {
    switch self {
    case .atQuorum: "at_quorum"
    case .starting: "starting"
    case .quorumLost: "quorum_lost"
    case .shuttingDown: "shutting_down"
    }
  }
}

/// The announcement decision for every VIP: a pure function of the spec, the real servers' last
/// health verdicts, the operators' `lvskeeper server` states and the previous quorum states
/// (keepalived's hysteresis needs them).
///
/// Invariant: a VIP is announced iff every one of its services has a verdict for each real server,
/// holds keepalived's quorum (with hysteresis, `DesiredTable.quorum`) and has at least
/// `minimumUpPercent` of its real servers up (at least one when unset), where a server counts as
/// the reconciler gives it to the kernel: its verdict with the operator's state laid over it by
/// `AdminOverride.applied(to:)` (drained: weight 0; in maintenance: down).
struct AnnounceDecision: Sendable, Equatable {
  /// A real server's last verdict: up with its weight (a MISC_CHECK dynamic weight replaces the
  /// configured one), or down. The reconciler's own type, so the override applies unchanged.
  typealias Verdict = RealServerHealth

  struct Outcome: Sendable, Equatable {
    var vip: IPAddress
    var announced: Bool
    var reason: AnnounceReason
  }

  var outcomes: [Outcome]
  /// Quorum state per service name, for the next evaluation.
  var quorumUp: [String: Bool]

  init(
    spec: AnnounceSpec, health: [HealthCheck.RealServerID: Verdict],
    admin: [IPVSSync.RealServerID: AdminOverride] = [:], previousQuorum: [String: Bool]
  ) {
    outcomes = []
    quorumUp = [:]
    for vip in spec.vips {
      var reason: AnnounceReason?
      var (up, total) = (0, 0)
      for service in vip.services {
        var (serviceUp, known) = (0, 0)
        var liveWeight: UInt64 = 0
        for server in service.servers {
          var verdict = health[server.id]
          if let checked = verdict, let id = server.admin, let override = admin[id] {
            verdict = override.applied(to: checked)
          }
          switch verdict {
          case .up(let weight)?:
            known += 1
            // Weight 0 (drained, `weight 0`, a dynamic 0): the kernel sends it no new
            // connection, so it does not hold the VIP up.
            let effective = weight ?? server.weight
            if effective > 0 {
              serviceUp += 1
              liveWeight += UInt64(effective)
            }
          case .down?: known += 1
          case nil: break
          }
        }
        up += serviceUp
        total += service.servers.count
        if known < service.servers.count {
          reason = reason ?? .starting(service: service.name, known: known, total: service.servers.count)
          continue
        }
        let keepalived = DesiredTable.quorum(
          previous: previousQuorum[service.name], liveWeight: liveWeight, quorum: service.quorum,
          hysteresis: service.hysteresis)
        quorumUp[service.name] = keepalived
        let percent = service.minimumUpPercent.map { serviceUp * 100 >= $0 * service.servers.count } ?? true
        if !keepalived || !percent || serviceUp == 0 {
          reason =
            reason
            ?? .quorumLost(
              service: service.name, up: serviceUp, total: service.servers.count, liveWeight: liveWeight)
        }
      }
      outcomes.append(
        Outcome(vip: vip.address, announced: reason == nil, reason: reason ?? .atQuorum(up: up, total: total))
      )
    }
  }
}
