import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore

/// The configuration's virtual servers as the reconciler and the health monitor need them.
///
/// Invariant: every real server of every virtual server has one health id; that id maps to the
/// IPVS destination in each kernel service its virtual server expands to (a `virtual_server group`
/// expands to one kernel service per member address and port, keepalived's semantics).
struct ServiceMapping: Sendable {
  var ipvs: IPVSSpec
  /// What the health monitor watches; the daemon hands it over (`takeMonitored`) rather than
  /// keep a second list of every real server beside the monitor's (33 bytes each).
  private(set) var monitored: [MonitoredServer]
  /// Real servers mapped (`monitored.count` before `takeMonitored`).
  let realServerCount: Int
  /// Health id → the IPVS destinations whose weight follows it.
  var destinations: HealthDestinations
  /// Quorum scripts per kernel service (`quorum_up`, `quorum_down`); no entry for a service
  /// that has neither.
  var quorumScripts: [ServiceKey: (up: RunnableScript?, down: RunnableScript?)]
  /// Virtual servers with `omega`: their kernel services and real servers, whose down scripts
  /// run when the daemon stops.
  var omega: [(services: [ServiceKey], servers: [HealthCheck.RealServerID])] = []
  /// `startup_script` and `shutdown_script`, resolved, with their timeouts.
  var startupScript: (script: RunnableScript, timeout: Duration)?
  var shutdownScript: (script: RunnableScript, timeout: Duration)?

  /// Maps every virtual server of `config` (a load without a sink).
  init(_ config: KeeperConfiguration) throws {
    var builder = Builder()
    builder.reserveCapacity(realServers: config.virtualServers.reduce(0) { $0 + $1.realServers.count })
    self = try builder.finish(config)
  }

  /// Builds a mapping one virtual server at a time, in file order: from a streaming load
  /// (`ServiceMappingStream`) or from a whole model.
  struct Builder {
    private var services: [VirtualServiceSpec] = []
    private var monitored: [MonitoredServer] = []
    private var destinations = HealthDestinations()
    private var quorumScripts: [ServiceKey: (up: RunnableScript?, down: RunnableScript?)] = [:]
    private var omega: [(services: [ServiceKey], servers: [HealthCheck.RealServerID])] = []
    /// Servers of `finish`'s configuration already added (they lead its `virtualServers`).
    var addedFromModel = 0

    mutating func reserveCapacity(realServers: Int) {
      monitored.reserveCapacity(realServers)
    }

    /// Adds one virtual server, with the groups it may name and the global settings its scripts need.
    /// All or nothing: everything that can throw is built before the builder changes, so a server
    /// that failed here can be added again later (`ServiceMappingStream` keeps it for `finish`).
    mutating func add(
      _ virtualServer: VirtualServer, groups: [String: VirtualServerGroup], globalDefs: GlobalDefs
    ) throws {
      let keys = try ServiceMapping.serviceKeys(virtualServer, groups: groups)
      // The same for every kernel service of the virtual server: built once, shared by them all.
      let realServers = try virtualServer.realServers.map { try ServiceMapping.realServerSpec($0) }
      let up = try ScriptMapping.runnable(virtualServer.quorumUp, globalDefs, virtualServer.location)
      let down = try ScriptMapping.runnable(virtualServer.quorumDown, globalDefs, virtualServer.location)
      let name = HealthCheck.RealServerID.ServiceName(
        ServiceMapping.describe(virtualServer.key, virtualServer.protocol))
      let watched = try virtualServer.realServers.map { realServer in
        let id = ServiceMapping.healthID(name, realServer)
        // Most real servers have one checker: no array of one is built for it. Either way the
        // checkers are mapped before the notify scripts (the first error is the same).
        if realServer.checkers.count == 1 {
          return MonitoredServer(
            id: id,
            checker: try ServiceMapping.checker(
              realServer.checkers[0], realServer, virtualServer, globalDefs),
            notifyUp: try ScriptMapping.runnable(realServer.notifyUp, globalDefs, realServer.location),
            notifyDown: try ScriptMapping.runnable(realServer.notifyDown, globalDefs, realServer.location))
        }
        return MonitoredServer(
          id: id,
          checkers: try realServer.checkers.map {
            try ServiceMapping.checker($0, realServer, virtualServer, globalDefs)
          },
          notifyUp: try ScriptMapping.runnable(realServer.notifyUp, globalDefs, realServer.location),
          notifyDown: try ScriptMapping.runnable(realServer.notifyDown, globalDefs, realServer.location))
      }
      let attributes = ServiceMapping.attributes(virtualServer)
      let sorry = virtualServer.sorryServer.map { sorry in
        let forwarding = ServiceMapping.forwarding(sorry.forwarding)
        return SorryServerSpec(
          key: ServiceMapping.destinationKey(sorry.address, sorry.port), weight: 1,
          forwarding: forwarding.method, tunnel: forwarding.tunnel, inhibit: sorry.inhibit)
      }
      for key in keys {
        services.append(
          VirtualServiceSpec(
            key: key, attributes: attributes(key.family), realServers: realServers,
            quorum: UInt32(clamping: virtualServer.quorum),
            hysteresis: UInt32(clamping: virtualServer.hysteresis),
            sorryServer: sorry, drainTimeout: .milliseconds(Int64(virtualServer.drainTimeout * 1000))))
        // Only services with a script get an entry: the table is one per kernel service, and
        // two empty scripts per entry cost ~40 bytes per real server at 10 per virtual server.
        if up != nil || down != nil { quorumScripts[key] = (up, down) }
      }
      destinations.addVirtualServer(
        name, services: keys,
        servers: virtualServer.realServers.map { ServiceMapping.destinationKey($0.address, $0.port) })
      monitored.append(contentsOf: watched)
      if virtualServer.omega { omega.append((keys, watched.map(\.id))) }
    }

    /// Adds the servers of `config` not added yet (all after the first `addedFromModel`) and the
    /// settings of `global_defs`.
    consuming func finish(_ config: KeeperConfiguration) throws -> ServiceMapping {
      let groups = Dictionary(
        config.virtualServerGroups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
      for virtualServer in config.virtualServers.dropFirst(addedFromModel) {
        try add(virtualServer, groups: groups, globalDefs: config.globalDefs)
      }
      let timeouts = config.globalDefs.lvsTimeouts.map {
        IPVSTimeouts(
          tcp: UInt32(clamping: $0.tcp ?? 0), tcpFin: UInt32(clamping: $0.tcpFin ?? 0),
          udp: UInt32(clamping: $0.udp ?? 0))
      }
      func lifecycle(_ script: LifecycleScript?) throws -> (RunnableScript, Duration)? {
        guard let script,
          let runnable = try ScriptMapping.runnable(script.command, config.globalDefs, script.location)
        else { return nil }
        return (runnable, .milliseconds(Int64(script.timeout * 1000)))
      }
      return ServiceMapping(
        ipvs: IPVSSpec(services: services, timeouts: timeouts), monitored: monitored,
        destinations: destinations, quorumScripts: quorumScripts, omega: omega,
        startupScript: try lifecycle(config.globalDefs.startupScript),
        shutdownScript: try lifecycle(config.globalDefs.shutdownScript))
    }
  }

  /// `monitored`, leaving it empty.
  mutating func takeMonitored() -> [MonitoredServer] {
    defer { monitored = [] }
    return monitored
  }

  private init(
    ipvs: IPVSSpec, monitored: [MonitoredServer], destinations: HealthDestinations,
    quorumScripts: [ServiceKey: (up: RunnableScript?, down: RunnableScript?)],
    omega: [(services: [ServiceKey], servers: [HealthCheck.RealServerID])],
    startupScript: (script: RunnableScript, timeout: Duration)?,
    shutdownScript: (script: RunnableScript, timeout: Duration)?
  ) {
    self.ipvs = ipvs
    self.monitored = monitored
    self.realServerCount = monitored.count
    self.destinations = destinations
    self.quorumScripts = quorumScripts
    self.omega = omega
    self.startupScript = startupScript
    self.shutdownScript = shutdownScript
  }

  // MARK: IPVS

  static func serviceKeys(_ virtualServer: VirtualServer, groups: [String: VirtualServerGroup]) throws
    -> [ServiceKey]
  {
    let proto = ipvsProtocol(virtualServer.protocol)
    let key = virtualServer.key
    switch key.kind {
    case .address:
      guard let address = key.address, let port = key.port else {
        throw MappingError(
          location: virtualServer.location, message: "virtual_server without address and port")
      }
      return [
        .inet(address: address, port: UInt16(clamping: port), protocol: proto)
      ]
    case .fwmark:
      return [.fwmark(key.fwmark ?? 0, family: virtualServer.ipFamily ?? .inet)]
    case .group:
      guard let name = key.group, let group = groups[name] else {
        throw MappingError(
          location: virtualServer.location, message: "no virtual_server_group \(key.group ?? "")")
      }
      var keys: [ServiceKey] = []
      for member in group.members {
        if let mark = member.fwmark {
          keys.append(.fwmark(mark, family: member.family ?? virtualServer.ipFamily ?? .inet))
          continue
        }
        guard let first = member.first, let port = member.port else { continue }
        for address in expand(first, member.last ?? first) {
          keys.append(.inet(address: address, port: UInt16(clamping: port), protocol: proto))
        }
      }
      return keys
    }
  }

  /// Addresses from `first` to `last` inclusive, varying the last 16 bits as keepalived's ranges do.
  static func expand(_ first: IPAddress, _ last: IPAddress) -> [IPAddress] {
    let count = first.bytes.count
    guard count == last.bytes.count, first.bytes[..<(count - 2)] == last.bytes[..<(count - 2)] else {
      return [first]
    }
    let low = Int(first.bytes[count - 2]) << 8 | Int(first.bytes[count - 1])
    let high = Int(last.bytes[count - 2]) << 8 | Int(last.bytes[count - 1])
    guard low <= high else { return [first] }
    return (low...high).compactMap { value in
      var bytes = first.bytes
      bytes[count - 2] = UInt8(value >> 8)
      bytes[count - 1] = UInt8(value & 0xff)
      return IPAddress(bytes: bytes)
    }
  }

  static func attributes(_ virtualServer: VirtualServer) -> (IPVSAddressFamily) -> ServiceAttributes {
    var flags: ServiceFlags = []
    if virtualServer.persistence != nil { flags.insert(.persistent) }
    if virtualServer.onePacketScheduling { flags.insert(.onePacket) }
    if virtualServer.schedulerFlags.flag1 { flags.insert(.scheduler1) }
    if virtualServer.schedulerFlags.flag2 { flags.insert(.scheduler2) }
    if virtualServer.schedulerFlags.flag3 { flags.insert(.scheduler3) }
    let timeout = UInt32(clamping: virtualServer.persistence?.timeout ?? 0)
    let granularity = virtualServer.persistence?.granularity
    return { family in
      var netmask = ServiceAttributes.defaultNetmask(family)
      if let granularity {
        let prefix = granularity.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
        netmask = family == .inet ? ServiceAttributes.ipv4Netmask(prefixLength: prefix) : UInt32(prefix)
      }
      return ServiceAttributes(
        scheduler: virtualServer.scheduler.rawValue, flags: flags, timeout: timeout, netmask: netmask)
    }
  }

  static func realServerSpec(_ realServer: RealServer) throws -> RealServerSpec {
    let forwarding = forwarding(realServer.forwarding)
    return RealServerSpec(
      key: destinationKey(realServer.address, realServer.port),
      weight: UInt32(clamping: realServer.weight), forwarding: forwarding.method, tunnel: forwarding.tunnel,
      upperThreshold: UInt32(clamping: realServer.upperThreshold ?? 0),
      lowerThreshold: UInt32(clamping: realServer.lowerThreshold ?? 0),
      inhibitOnFailure: realServer.inhibitOnFailure,
      // keepalived: a server is up until its checkers say otherwise, unless `alpha` starts it down.
      upUntilChecked: !realServer.alpha || realServer.checkers.isEmpty)
  }

  static func forwarding(_ method: KeeperConfig.ForwardingMethod) -> (
    method: IPVSSync.ForwardingMethod, tunnel: TunnelSettings
  ) {
    switch method.kind {
    case .nat: return (.masquerade, TunnelSettings())
    case .dr: return (.directRoute, TunnelSettings())
    case .tun:
      let type: TunnelType =
        switch method.tunnelType {
        case .gue: .gue
        case .gre: .gre
        case .ipip, nil: .ipip
        }
      let flags: TunnelFlags =
        switch method.tunnelChecksum {
        case .csum: .csum
        case .remcsum: .remcsum
        case .nocsum, nil: .nocsum
        }
      return (
        .tunnel, TunnelSettings(type: type, port: UInt16(clamping: method.tunnelPort ?? 0), flags: flags)
      )
    }
  }

  static func ipvsProtocol(_ proto: ServiceProtocol) -> IPVSProtocol {
    switch proto {
    case .tcp: .tcp
    case .udp: .udp
    case .sctp: .sctp
    }
  }

  static func destinationKey(_ address: IPAddress, _ port: Int) -> DestinationKey {
    DestinationKey(address: address, port: UInt16(clamping: port))
  }

  // MARK: health

  static func checker(
    _ spec: HealthCheckSpec, _ realServer: RealServer, _ virtualServer: VirtualServer, _ global: GlobalDefs
  )
    throws -> Checker
  {
    let target = CheckTarget(
      address: spec.connectIP.description, port: UInt16(clamping: spec.connectPort),
      bindAddress: spec.bindTo?.description, bindPort: spec.bindPort.map { UInt16(clamping: $0) },
      bindInterface: spec.bindInterface, fwmark: spec.fwmark)
    let timeout = duration(spec.connectTimeout)
    let checker: CheckerSpec
    switch spec.type {
    case .tcp:
      checker = .tcp(TCPCheck(target: target, connectTimeout: timeout))
    case .http, .ssl:
      let http = spec.http
      let urls = (http?.urls ?? []).map { url in
        URLCheck(
          path: url.path,
          statusCodes: StatusCodeSet(ranges: url.statusCodes.map { $0.lower...$0.upper }) ?? .success,
          digest: url.digest, virtualHost: url.virtualhost)
      }
      let check = HTTPCheck(
        target: target, urls: urls, connectTimeout: timeout,
        version: http?.httpProtocol == .http11 ? .http11 : .http10,
        virtualHost: realServer.virtualhost ?? virtualServer.virtualhost, enableSNI: http?.enableSNI ?? false,
        sniName: http?.sniName)
      checker = spec.type == .ssl ? .https(check) : .http(check)
    case .mysql:
      checker = .mysql(
        MySQLCheck(
          target: target, connectTimeout: timeout, user: spec.mysql?.user,
          password: spec.mysql?.password ?? "",
          serverPublicKey: try spec.mysql?.serverPublicKey.map(serverPublicKey),
          database: spec.mysql?.database))
    case .smtp:
      checker = .smtp(
        SMTPCheck(
          target: target, connectTimeout: timeout,
          heloName: spec.smtp?.heloName ?? SMTPCheck.defaultHeloName))
    case .ping:
      checker = .ping(PingCheck(target: target, connectTimeout: timeout))
    case .udp:
      guard let udp = spec.udp else {
        throw MappingError(location: spec.location, message: "UDP_CHECK without its settings")
      }
      checker = .udp(
        UDPCheck(
          target: target, connectTimeout: timeout, payload: udp.payload, requireReply: udp.requireReply,
          replyData: udp.replyData, replyMask: udp.replyMask, minReplyLength: udp.minReplyLength,
          maxReplyLength: udp.maxReplyLength))
    case .dns:
      guard let dns = spec.dns else {
        throw MappingError(location: spec.location, message: "DNS_CHECK without its settings")
      }
      let code = DNSCheck.typeCode(dns.type) ?? 6
      checker = .dns(DNSCheck(target: target, connectTimeout: timeout, type: code, name: dns.name))
    case .misc:
      guard let misc = spec.misc, let script = try ScriptMapping.runnable(misc.path, global, spec.location)
      else {
        throw MappingError(location: spec.location, message: "MISC_CHECK without a runnable misc_path")
      }
      checker = .misc(MiscCheck(script: script, timeout: duration(misc.timeout), dynamic: misc.dynamic))
    case .file:
      guard let file = spec.file else {
        throw MappingError(location: spec.location, message: "FILE_CHECK without a track_file")
      }
      // Read every second from the start, with no retry: the file's value is the verdict.
      let check = FileCheck(
        path: file.path, weight: file.weight ?? 1, reverse: file.reverse, baseWeight: realServer.weight)
      return Checker(.file(check), schedule: CheckSchedule(delayLoop: .seconds(1), retry: 0))
    case .bfd:
      // keepalived's BFD_CHECK follows the session's events and has no delay_loop or retry: read
      // the session every 100 ms, one reading decides.
      checker = .bfd(BFDSessionCheck(name: spec.bfdName ?? ""))
      return Checker(
        checker,
        schedule: CheckSchedule(
          delayLoop: .milliseconds(100), retry: 0, delayBeforeRetry: .zero, alpha: spec.alpha))
    }
    let schedule = CheckSchedule(
      delayLoop: duration(spec.delayLoop), warmup: duration(spec.warmup), retry: spec.retry,
      delayBeforeRetry: duration(spec.delayBeforeRetry), alpha: spec.alpha)
    return Checker(checker, schedule: schedule)
  }

  /// The config layer checked the PEM's shape; this parses the RSA key itself.
  static func serverPublicKey(_ file: PublicKeyFile) throws -> MySQLServerPublicKey {
    do {
      return try MySQLServerPublicKey(pem: file.pem)
    } catch {
      throw MappingError(location: file.location, message: "server_public_key file '\(file.path)': \(error)")
    }
  }

  static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }

  // MARK: names

  /// How ipvsadm names a virtual server: `TCP 10.0.0.1:80`, `FWM 7`, or the group's name.
  static func describe(_ key: VirtualServerKey, _ proto: ServiceProtocol) -> String {
    switch key.kind {
    case .address: "\(proto.rawValue) \(hostPort(key.address, key.port ?? 0))"
    case .fwmark: "FWM \(key.fwmark ?? 0)"
    case .group: "group \(key.group ?? "")"
    }
  }

  /// The health id of `realServer` in the virtual server `describe` names `serviceName`:
  /// `TCP 10.0.0.1:80 -> 10.0.0.2:80`, as the monitor reports it and `status` shows it. Every
  /// real server of one virtual server shares its `serviceName` box.
  static func healthID(_ serviceName: HealthCheck.RealServerID.ServiceName, _ realServer: RealServer)
    -> HealthCheck.RealServerID
  {
    guard let port = UInt16(exactly: realServer.port) else {
      // Not reached for a loaded configuration (ports are 0...65535): the text form.
      return HealthCheck.RealServerID(
        "\(serviceName.text) -> \(hostPort(realServer.address, realServer.port))")
    }
    return HealthCheck.RealServerID(service: serviceName, address: realServer.address, port: port)
  }

  static func hostPort(_ address: IPAddress?, _ port: Int) -> String {
    address?.withPort(port) ?? "?:\(port)"
  }
}
