import KeeperCore
import Logging

/// Everything one running instance owns: its machine, send socket, announcement timers and counters.
/// Confined to the service's loop thread. Invariant: `ownsAddresses` is true exactly while the VIPs
/// have been installed for a Master.
final class InstanceRuntime {
  let spec: VRRPInstanceSpec
  var machine: InstanceMachine
  let sender: any AdvertSending
  let announcer: any AddressAnnouncing
  let expectation: ReceiveExpectation
  let destinations: [IPAddress]
  var counters = VRRPCounters()
  var ownFault = false
  var groupFault = false
  var faultReasons: [String] = []
  var ownsAddresses = false
  var garpDeadlines: [Duration] = []
  var garpRefreshDeadline: Duration?
  /// Paced announcements (`announceInterval` > 0): addresses still to announce, and when the next
  /// one goes out.
  var pacedAnnouncements: [IPAddress] = []
  var nextPacedAnnouncement: Duration?
  var lastPacedAnnouncement: Duration?
  var syncGroup: Int?
  var loggedIntervalMismatch: UInt16?
  /// keepalived's AH sequence counter, shared by sending and receiving (AH instances only).
  var ahSequence = AHSequenceCounter()
  /// The IPv4 identification of the next AH advert: keepalived counts from 1 and skips 0, which
  /// would make the kernel pick one after the ICV was computed.
  var ipIdentification: UInt16 = 0

  init(spec: VRRPInstanceSpec, network: any VRRPNetwork) throws(VRRPRuntimeError) {
    self.spec = spec
    let ipv6 = spec.isIPv6
    let source: IPAddress
    if let configured = spec.sourceAddress {
      source = configured
    } else {
      let all = network.addresses(of: spec.interface, ipv6: ipv6)
      guard let first = ipv6 ? all.first(where: \.isLinkLocal) ?? all.first : all.first else {
        throw .noSourceAddress(instance: spec.name, interface: spec.interface)
      }
      source = first
    }
    do {
      sender = try network.makeSender(
        interface: spec.advertDevice, source: source, authenticationHeader: spec.ahKey != nil)
      announcer = try network.makeAnnouncer(interface: spec.addressDevice)
    } catch {
      throw .system(instance: spec.name, error)
    }
    let group = spec.multicastGroup ?? (ipv6 ? IPAddress.vrrpMulticast6 : IPAddress.vrrpMulticast4)
    destinations = spec.unicastPeers.isEmpty ? [group] : spec.unicastPeers
    expectation = ReceiveExpectation(
      version: spec.version, vrid: spec.vrid, advertInterval: spec.wireInterval,
      authentication: spec.authentication, unicastPeers: spec.unicastPeers,
      addresses: spec.virtualAddresses.map(\.address), v3ChecksumAsV2: spec.v3ChecksumAsV2,
      ahKey: spec.ahKey)
    let interval: Duration =
      spec.version == .v2 ? .seconds(Int(spec.wireInterval)) : .milliseconds(Int(spec.wireInterval) * 10)
    machine = InstanceMachine(
      settings: MachineSettings(
        version: spec.version, priority: spec.priority, advertInterval: interval, preempt: spec.preempt,
        preemptDelay: .milliseconds(Int(spec.preemptDelay * 1000)), primaryAddress: source,
        initialState: spec.startState))
  }

  var multicastGroup: IPAddress? { spec.unicastPeers.isEmpty ? destinations.first : nil }

  func sendAdvert(priority: UInt8, logger: Logger) {
    let advert = VRRPAdvert(
      version: spec.version, vrid: spec.vrid, priority: priority, advertInterval: spec.wireInterval,
      addresses: spec.virtualAddresses.map(\.address), authentication: spec.authentication)
    // One sequence number and identification per advert round, also with several unicast peers
    // (keepalived vrrp_update_pkt with a null address).
    var sequence: UInt32 = 0
    if spec.ahKey != nil {
      sequence = ahSequence.next()
      ipIdentification &+= 1
      if ipIdentification == 0 { ipIdentification = 1 }
    }
    for destination in destinations {
      var bytes = advert.encode(
        source: sender.source, destination: destination, v3ChecksumAsV2: spec.v3ChecksumAsV2)
      if let key = spec.ahKey {
        bytes = AHPacket.seal(
          vrrp: bytes, source: sender.source, destination: destination, identification: ipIdentification,
          sequence: sequence, key: key, unicast: !spec.unicastPeers.isEmpty)
      }
      do {
        try sender.send(bytes, to: destination)
        counters.sent += 1
        if priority == 0 { counters.priorityZeroSent += 1 }
      } catch {
        logger.warning("\(spec.name): advert to \(destination) failed: \(error)")
      }
    }
  }

  /// Installs every virtual and excluded address, then the virtual routes and rules (a route may
  /// name a VIP as its `src`); already-present ones are adopted. A failed entry is logged by name
  /// and does not stop the others.
  func installAddresses(_ owner: any AddressOwning, logger: Logger) {
    for vip in spec.virtualAddresses + spec.excludedAddresses {
      do {
        if try !owner.add(vip, defaultDevice: spec.addressDevice) {
          logger.info("\(spec.name): adopted \(vip.address) already on the interface")
        }
      } catch {
        logger.error("\(spec.name): cannot add \(vip.address): \(error)")
      }
    }
    for route in spec.virtualRoutes {
      do { try owner.add(route) } catch { logger.error("\(spec.name): cannot add route \(route): \(error)") }
    }
    for rule in spec.virtualRules {
      do { try owner.add(rule) } catch { logger.error("\(spec.name): cannot add rule \(rule): \(error)") }
    }
    ownsAddresses = true
  }

  /// Removes the virtual rules, routes and addresses (keepalived's order), including ones a killed
  /// earlier run left behind.
  func removeAddresses(_ owner: any AddressOwning, logger: Logger) {
    for rule in spec.virtualRules {
      do { try owner.remove(rule) } catch {
        logger.error("\(spec.name): cannot remove rule \(rule): \(error)")
      }
    }
    for route in spec.virtualRoutes {
      do { try owner.remove(route) } catch {
        logger.error("\(spec.name): cannot remove route \(route): \(error)")
      }
    }
    for vip in spec.virtualAddresses + spec.excludedAddresses {
      do {
        if try owner.remove(vip, defaultDevice: spec.addressDevice) && !ownsAddresses {
          logger.info("\(spec.name): removed stale \(vip.address) left by an earlier run")
        }
      } catch {
        logger.error("\(spec.name): cannot remove \(vip.address): \(error)")
      }
    }
    ownsAddresses = false
  }

  /// One round of gratuitous ARP / unsolicited NA for every address of the instance: sent at once,
  /// or queued one `announceInterval` apart (keepalived's vrrp_garp_interval / vrrp_gna_interval).
  func announce(now: Duration, logger: Logger) {
    let addresses = (spec.virtualAddresses + spec.excludedAddresses).map(\.address)
    guard spec.announceInterval > 0 else {
      for address in addresses { send(address, logger: logger) }
      return
    }
    pacedAnnouncements += addresses
    firePaced(now: now, logger: logger)
  }

  private func send(_ address: IPAddress, logger: Logger) {
    do { try announcer.announce(address) } catch { logger.warning("\(spec.name): \(error)") }
  }

  /// Sends the next queued announcement when it is at least one interval after the previous one.
  private func firePaced(now: Duration, logger: Logger) {
    let interval = SecondsDuration.from(spec.announceInterval)
    guard !pacedAnnouncements.isEmpty else {
      nextPacedAnnouncement = nil
      return
    }
    if let last = lastPacedAnnouncement, now < last + interval {
      nextPacedAnnouncement = last + interval
      return
    }
    send(pacedAnnouncements.removeFirst(), logger: logger)
    lastPacedAnnouncement = now
    nextPacedAnnouncement = pacedAnnouncements.isEmpty ? nil : now + interval
  }

  /// garp_master_repeat announcements now, again after garp_master_delay, then every
  /// garp_master_refresh (RFC 5798 6.4.1 asks for at least one on becoming Master).
  func scheduleAnnouncements(now: Duration, logger: Logger) {
    for _ in 0..<max(1, spec.garpMasterRepeat) { announce(now: now, logger: logger) }
    garpDeadlines = spec.garpMasterDelay > 0 ? [now + .milliseconds(Int(spec.garpMasterDelay * 1000))] : []
    garpRefreshDeadline =
      spec.garpMasterRefresh > 0 ? now + .milliseconds(Int(spec.garpMasterRefresh * 1000)) : nil
  }

  func cancelAnnouncements() {
    garpDeadlines = []
    garpRefreshDeadline = nil
    pacedAnnouncements = []
    nextPacedAnnouncement = nil
  }

  func fireAnnouncements(now: Duration, logger: Logger) {
    if let first = garpDeadlines.first, first <= now {
      garpDeadlines.removeFirst()
      for _ in 0..<max(1, spec.garpMasterRepeat) { announce(now: now, logger: logger) }
    }
    if let refresh = garpRefreshDeadline, refresh <= now {
      for _ in 0..<max(1, spec.garpMasterRefreshRepeat) { announce(now: now, logger: logger) }
      garpRefreshDeadline = now + .milliseconds(Int(spec.garpMasterRefresh * 1000))
    }
    firePaced(now: now, logger: logger)
  }

  var nextAnnouncement: Duration? {
    [garpDeadlines.first, garpRefreshDeadline, nextPacedAnnouncement].compactMap { $0 }.min()
  }

  func status() -> VRRPInstanceStatus {
    VRRPInstanceStatus(
      name: spec.name, state: machine.state, basePriority: spec.priority,
      effectivePriority: machine.effectivePriority, masterAddress: machine.masterAddress?.description,
      faultReasons: faultReasons, ownsAddresses: ownsAddresses, counters: counters)
  }
}

/// Why the VRRP service could not start.
public enum VRRPRuntimeError: Error, CustomStringConvertible {
  case noSourceAddress(instance: String, interface: String)
  case system(instance: String, SystemCallError)
  case spec(VRRPSpecError)
  case alreadyStarted

  public var description: String {
    switch self {
    case .noSourceAddress(let instance, let interface):
      return "vrrp_instance \(instance): interface \(interface) has no address to send adverts from"
    case .system(let instance, let error): return "vrrp_instance \(instance): \(error)"
    case .spec(let error): return error.description
    case .alreadyStarted: return "the VRRP service is already running"
    }
  }
}
