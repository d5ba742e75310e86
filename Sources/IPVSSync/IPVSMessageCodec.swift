import KeeperCore

/// Numbers from `<linux/ip_vs.h>` (stable UAPI), spelled out so the codec stays pure Swift.
enum IPVSCommand {
  static let newService: UInt8 = 1, setService: UInt8 = 2, delService: UInt8 = 3, getService: UInt8 = 4
  static let newDest: UInt8 = 5, setDest: UInt8 = 6, delDest: UInt8 = 7, getDest: UInt8 = 8
  static let newDaemon: UInt8 = 9, delDaemon: UInt8 = 10, getDaemon: UInt8 = 11
  static let setConfig: UInt8 = 12, getConfig: UInt8 = 13, getInfo: UInt8 = 15, flush: UInt8 = 17
  static let genlVersion: UInt8 = 1
}

enum IPVSAttr {
  // IPVS_CMD_ATTR_*
  static let service: UInt16 = 1, dest: UInt16 = 2, daemon: UInt16 = 3
  static let timeoutTCP: UInt16 = 4, timeoutTCPFin: UInt16 = 5, timeoutUDP: UInt16 = 6
  // IPVS_SVC_ATTR_*
  static let svcAF: UInt16 = 1, svcProtocol: UInt16 = 2, svcAddr: UInt16 = 3, svcPort: UInt16 = 4
  static let svcFwmark: UInt16 = 5, svcSched: UInt16 = 6, svcFlags: UInt16 = 7, svcTimeout: UInt16 = 8
  static let svcNetmask: UInt16 = 9, svcStats: UInt16 = 10, svcPEName: UInt16 = 11, svcStats64: UInt16 = 12
  // IPVS_DEST_ATTR_*
  static let destAddr: UInt16 = 1, destPort: UInt16 = 2, destFwd: UInt16 = 3, destWeight: UInt16 = 4
  static let destUThresh: UInt16 = 5, destLThresh: UInt16 = 6, destActive: UInt16 = 7,
    destInactive: UInt16 = 8
  static let destPersist: UInt16 = 9, destStats: UInt16 = 10, destAF: UInt16 = 11, destStats64: UInt16 = 12
  static let destTunType: UInt16 = 13, destTunPort: UInt16 = 14, destTunFlags: UInt16 = 15
  // IPVS_DAEMON_ATTR_*
  static let daemonState: UInt16 = 1, daemonIfName: UInt16 = 2, daemonSyncID: UInt16 = 3
  static let daemonMaxLen: UInt16 = 4, daemonGroup: UInt16 = 5, daemonGroup6: UInt16 = 6
  static let daemonPort: UInt16 = 7, daemonTTL: UInt16 = 8
  // IPVS_INFO_ATTR_*
  static let infoVersion: UInt16 = 1, infoConnTabSize: UInt16 = 2
}

/// Encodes IPVS requests and decodes replies. Pure: the same inputs give the same bytes, which the
/// golden tests pin down.
struct IPVSMessageCodec {
  var family: UInt16
  var portID: UInt32

  func message(_ command: UInt8, flags: UInt16 = Netlink.request | Netlink.ack, sequence: UInt32)
    -> NetlinkMessage
  {
    NetlinkMessage.generic(
      family: family, flags: flags, sequence: sequence, portID: portID, command: command,
      version: IPVSCommand.genlVersion)
  }

  /// The request that performs `operation`.
  func encode(_ operation: IPVSOperation, sequence: UInt32) -> [UInt8] {
    switch operation {
    case .addService(let key, let attributes):
      serviceMessage(IPVSCommand.newService, key, attributes, sequence)
    case .editService(let key, let attributes):
      serviceMessage(IPVSCommand.setService, key, attributes, sequence)
    case .deleteService(let key):
      serviceMessage(IPVSCommand.delService, key, nil, sequence)
    case .addDestination(let service, let key, let attributes):
      destinationMessage(IPVSCommand.newDest, service, key, attributes, sequence)
    case .editDestination(let service, let key, let attributes):
      destinationMessage(IPVSCommand.setDest, service, key, attributes, sequence)
    case .deleteDestination(let service, let key):
      destinationMessage(IPVSCommand.delDest, service, key, nil, sequence)
    }
  }

  func serviceMessage(
    _ command: UInt8, _ key: ServiceKey, _ attributes: ServiceAttributes?, _ sequence: UInt32
  )
    -> [UInt8]
  {
    var m = message(command, sequence: sequence)
    m.nest(IPVSAttr.service) { Self.putService(&$0, key, attributes) }
    return m.bytes
  }

  func destinationMessage(
    _ command: UInt8, _ service: ServiceKey, _ key: DestinationKey, _ attributes: DestinationAttributes?,
    _ sequence: UInt32
  ) -> [UInt8] {
    var m = message(command, sequence: sequence)
    m.nest(IPVSAttr.service) { Self.putService(&$0, service, nil) }
    m.nest(IPVSAttr.dest) { d in
      d.put(IPVSAttr.destAddr, payload: key.address.kernelBytes)
      d.put(IPVSAttr.destPort, be16: key.port)
      d.put(IPVSAttr.destAF, u16: key.address.family.kernelValue)
      guard let a = attributes else { return }
      d.put(IPVSAttr.destFwd, u32: a.forwarding.rawValue)
      d.put(IPVSAttr.destWeight, u32: a.weight)
      if a.forwarding == .tunnel {
        d.put(IPVSAttr.destTunType, u8: a.tunnel.type.rawValue)
        d.put(IPVSAttr.destTunPort, be16: a.tunnel.port)
        d.put(IPVSAttr.destTunFlags, u16: a.tunnel.flags.rawValue)
      }
      d.put(IPVSAttr.destUThresh, u32: a.upperThreshold)
      d.put(IPVSAttr.destLThresh, u32: a.lowerThreshold)
    }
    return m.bytes
  }

  /// A dump of the destinations of `service`.
  func destinationDump(_ service: ServiceKey, sequence: UInt32) -> [UInt8] {
    var m = message(IPVSCommand.getDest, flags: Netlink.request | Netlink.dump, sequence: sequence)
    m.nest(IPVSAttr.service) { Self.putService(&$0, service, nil) }
    return m.bytes
  }

  func setTimeouts(_ t: IPVSTimeouts, sequence: UInt32) -> [UInt8] {
    var m = message(IPVSCommand.setConfig, sequence: sequence)
    m.put(IPVSAttr.timeoutTCP, u32: t.tcp)
    m.put(IPVSAttr.timeoutTCPFin, u32: t.tcpFin)
    m.put(IPVSAttr.timeoutUDP, u32: t.udp)
    return m.bytes
  }

  func startDaemon(_ c: SyncDaemonConfig, sequence: UInt32) -> [UInt8] {
    var m = message(IPVSCommand.newDaemon, sequence: sequence)
    m.nest(IPVSAttr.daemon) { d in
      d.put(IPVSAttr.daemonState, u32: c.role.rawValue)
      d.put(IPVSAttr.daemonIfName, string: c.interface)
      d.put(IPVSAttr.daemonSyncID, u32: c.syncID)
      if let maxLength = c.maxLength { d.put(IPVSAttr.daemonMaxLen, u16: maxLength) }
      if let group = c.group {
        d.put(group.family == .inet ? IPVSAttr.daemonGroup : IPVSAttr.daemonGroup6, payload: group.bytes)
      }
      if let port = c.port { d.put(IPVSAttr.daemonPort, u16: port) }
      if let ttl = c.ttl { d.put(IPVSAttr.daemonTTL, u8: ttl) }
    }
    return m.bytes
  }

  func stopDaemon(_ role: SyncDaemonRole, sequence: UInt32) -> [UInt8] {
    var m = message(IPVSCommand.delDaemon, sequence: sequence)
    m.nest(IPVSAttr.daemon) { $0.put(IPVSAttr.daemonState, u32: role.rawValue) }
    return m.bytes
  }

  static func putService(
    _ m: inout NetlinkMessage, _ key: ServiceKey, _ attributes: ServiceAttributes?
  ) {
    m.put(IPVSAttr.svcAF, u16: key.family.kernelValue)
    switch key {
    case .fwmark(let mark, _):
      m.put(IPVSAttr.svcFwmark, u32: mark)
    case .inet(let address, let port, let proto):
      m.put(IPVSAttr.svcProtocol, u16: proto.rawValue)
      m.put(IPVSAttr.svcAddr, payload: address.kernelBytes)
      m.put(IPVSAttr.svcPort, be16: port)
    }
    guard let a = attributes else { return }
    m.put(IPVSAttr.svcSched, string: a.scheduler)
    if let engine = a.persistenceEngine { m.put(IPVSAttr.svcPEName, string: engine) }
    // struct ip_vs_flags { flags; mask }: the mask limits the change to the flags we manage.
    m.put(
      IPVSAttr.svcFlags,
      payload: littleEndianBytes(a.flags.rawValue) + littleEndianBytes(ServiceFlags.managed.rawValue))
    m.put(IPVSAttr.svcTimeout, u32: a.timeout)
    m.put(IPVSAttr.svcNetmask, u32: a.netmask)
  }

  // MARK: decoding

  static func decodeService(_ a: NetlinkAttributes) -> KernelService? {
    guard let rawFamily = a.u16(IPVSAttr.svcAF), let family = IPVSAddressFamily(kernelValue: rawFamily) else {
      return nil
    }
    let key: ServiceKey
    if let mark = a.u32(IPVSAttr.svcFwmark), mark != 0 {
      key = .fwmark(mark, family: family)
    } else {
      guard let p = a.u16(IPVSAttr.svcProtocol), let proto = IPVSProtocol(rawValue: p),
        let raw = a[IPVSAttr.svcAddr], let address = IPAddress(kernelBytes: raw, family: family),
        let port = a.be16(IPVSAttr.svcPort)
      else { return nil }
      key = .inet(address: address, port: port, protocol: proto)
    }
    var flags = ServiceFlags()
    if let raw = a[IPVSAttr.svcFlags], raw.count >= 4 {
      flags = ServiceFlags(rawValue: readLE(raw, at: raw.startIndex, as: UInt32.self))
    }
    let attributes = ServiceAttributes(
      scheduler: a.string(IPVSAttr.svcSched) ?? "", flags: flags, timeout: a.u32(IPVSAttr.svcTimeout) ?? 0,
      netmask: a.u32(IPVSAttr.svcNetmask) ?? ServiceAttributes.defaultNetmask(family),
      persistenceEngine: a.string(IPVSAttr.svcPEName))
    return KernelService(
      key: key, attributes: attributes,
      stats: decodeStats(a.nested(IPVSAttr.svcStats64), a.nested(IPVSAttr.svcStats)))
  }

  /// One pass over the attributes (this runs for every destination of a dump); a repeated
  /// attribute counts once, the last one, like every other lookup here.
  static func decodeDestination(_ a: NetlinkAttributes, serviceFamily: IPVSAddressFamily)
    -> KernelDestination?
  {
    var rawAddress: ArraySlice<UInt8>?
    var family: IPVSAddressFamily?
    var port: UInt16?
    var attributes = DestinationAttributes(weight: 0)
    var tunnel = TunnelSettings(type: .ipip, port: 0, flags: TunnelFlags(rawValue: 0))
    var (active, inactive, persistent): (UInt32, UInt32, UInt32) = (0, 0, 0)
    var stats64: NetlinkAttributes?
    var stats32: NetlinkAttributes?
    a.forEachAttribute { type, raw in
      let u32: UInt32 = NetlinkAttributes.integer(raw) ?? 0
      switch type {
      case IPVSAttr.destAddr: rawAddress = raw
      case IPVSAttr.destAF:
        family = NetlinkAttributes.integer(raw).flatMap { (v: UInt16) in IPVSAddressFamily(kernelValue: v) }
      case IPVSAttr.destPort: port = NetlinkAttributes.integer(raw).map { (v: UInt16) in v.byteSwapped }
      case IPVSAttr.destFwd: attributes.forwarding = ForwardingMethod(rawValue: u32 & 0x7) ?? .masquerade
      case IPVSAttr.destWeight: attributes.weight = u32
      case IPVSAttr.destUThresh: attributes.upperThreshold = u32
      case IPVSAttr.destLThresh: attributes.lowerThreshold = u32
      case IPVSAttr.destActive: active = u32
      case IPVSAttr.destInactive: inactive = u32
      case IPVSAttr.destPersist: persistent = u32
      case IPVSAttr.destTunType: tunnel.type = raw.first.flatMap(TunnelType.init(rawValue:)) ?? .ipip
      case IPVSAttr.destTunPort:
        tunnel.port = NetlinkAttributes.integer(raw).map { (v: UInt16) in v.byteSwapped } ?? 0
      case IPVSAttr.destTunFlags: tunnel.flags = TunnelFlags(rawValue: NetlinkAttributes.integer(raw) ?? 0)
      case IPVSAttr.destStats64: stats64 = NetlinkAttributes(raw)
      case IPVSAttr.destStats: stats32 = NetlinkAttributes(raw)
      default: break
      }
    }
    guard let rawAddress, let port,
      let address = IPAddress(kernelBytes: rawAddress, family: family ?? serviceFamily)
    else { return nil }
    attributes.tunnel = tunnel
    return KernelDestination(
      key: DestinationKey(address: address, port: port), attributes: attributes,
      activeConnections: active, inactiveConnections: inactive, persistentConnections: persistent,
      stats: decodeStats(stats64, stats32))
  }

  /// Prefers the 64-bit counters; falls back to the legacy 32-bit set (where the byte counters are
  /// already 64-bit). One pass over the attributes: this runs for every destination of a dump.
  static func decodeStats(_ stats64: NetlinkAttributes?, _ stats32: NetlinkAttributes?) -> IPVSStats {
    var s = IPVSStats()
    guard let a = stats64 ?? stats32 else { return s }
    let wide = stats64 != nil
    a.forEachAttribute { type, raw in
      let width = wide || type == 4 || type == 5 ? 8 : 4
      guard raw.count >= width else { return }
      let v =
        width == 8
        ? readLE(raw, at: raw.startIndex, as: UInt64.self)
        : UInt64(readLE(raw, at: raw.startIndex, as: UInt32.self))
      switch type {
      case 1: s.connections = v
      case 2: s.inPackets = v
      case 3: s.outPackets = v
      case 4: s.inBytes = v
      case 5: s.outBytes = v
      case 6: s.connectionRate = v
      case 7: s.inPacketRate = v
      case 8: s.outPacketRate = v
      case 9: s.inByteRate = v
      case 10: s.outByteRate = v
      default: break
      }
    }
    return s
  }

  static func decodeDaemon(_ a: NetlinkAttributes) -> SyncDaemonConfig? {
    guard let state = a.u32(IPVSAttr.daemonState), let role = SyncDaemonRole(rawValue: state) else {
      return nil
    }
    var group: IPAddress?
    if let raw = a[IPVSAttr.daemonGroup6] {
      group = IPAddress(bytes: Array(raw))
    } else if let raw = a[IPVSAttr.daemonGroup] {
      group = IPAddress(bytes: Array(raw))
    }
    return SyncDaemonConfig(
      role: role, interface: a.string(IPVSAttr.daemonIfName) ?? "", syncID: a.u32(IPVSAttr.daemonSyncID) ?? 0,
      maxLength: a.u16(IPVSAttr.daemonMaxLen), group: group, port: a.u16(IPVSAttr.daemonPort),
      ttl: a.u8(IPVSAttr.daemonTTL))
  }
}
