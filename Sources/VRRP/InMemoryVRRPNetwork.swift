import Foundation
import KeeperCore

#if canImport(Glibc)
  import Glibc
#endif

/// A `VRRPNetwork` without a kernel, for unit tests: it records every VIP added or removed, every
/// announcement and every advert sent, keeps the addresses present per device, and delivers adverts a
/// test injects to the service's receivers. Invariant: all state is guarded by one condition lock,
/// which `wait(for:until:)` also waits on, so a test can follow the loop thread without sleeping.
public final class InMemoryVRRPNetwork: VRRPNetwork, @unchecked Sendable {
  /// One thing the service did to the network, in order.
  public enum Event: Equatable, Sendable {
    case added(IPAddress, device: String)
    case removed(IPAddress, device: String)
    case announced(IPAddress, interface: String)
    case sent(payload: [UInt8], from: IPAddress, to: IPAddress)
    case routeAdded(IPRoute)
    case routeRemoved(IPRoute)
    case ruleAdded(IPRule)
    case ruleRemoved(IPRule)
    case vmacCreated(VMACSpec, base: String, mac: [UInt8])
    case vmacDeleted(VMACSpec)
  }

  private let condition = NSCondition()
  private var recorded: [Event] = []
  private var present: [String: Set<IPAddress>] = [:]
  private var routes: Set<IPRoute> = []
  private var rules: Set<IPRule> = []
  private var interfaceAddresses: [String: [IPAddress]]
  private var linksDown: Set<String> = []
  private var receivers: [InMemoryAdvertReceiver] = []

  /// `interfaces` gives each known interface its own addresses (the default advert source).
  public init(interfaces: [String: [IPAddress]] = [:]) {
    interfaceAddresses = interfaces
  }

  /// Everything recorded so far.
  public var events: [Event] { locked { recorded } }

  /// The VIPs on `device` now.
  public func addresses(on device: String) -> Set<IPAddress> { locked { present[device] ?? [] } }

  /// Waits until `condition` holds for the recorded events, or `timeout` passes; returns whether it held.
  public func wait(for timeout: Duration, until predicate: ([Event]) -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout / .seconds(1))
    condition.lock()
    defer { condition.unlock() }
    while !predicate(recorded) {
      if !condition.wait(until: deadline) { return predicate(recorded) }
    }
    return true
  }

  /// Delivers `packet` to the service's advert receivers of `interface` and its family.
  public func inject(_ packet: ReceivedPacket, interface: String) {
    let targets = locked {
      receivers.filter { $0.interface == interface && $0.ipv6 == !packet.source.isIPv4 && !$0.carriesAH }
    }
    for receiver in targets { receiver.enqueue(packet) }
  }

  /// Takes `interface` down or up, as the tracking loop will see it.
  public func setLink(_ interface: String, up: Bool) {
    locked {
      if up { linksDown.remove(interface) } else { linksDown.insert(interface) }
    }
  }

  public func makeAddressOwner() throws(SystemCallError) -> any AddressOwning { Owner(network: self) }

  public func makeAnnouncer(interface: String) throws(SystemCallError) -> any AddressAnnouncing {
    Announcements(network: self, interface: interface)
  }

  public func makeSender(interface: String, source: IPAddress, authenticationHeader: Bool)
    throws(SystemCallError) -> any AdvertSending
  {
    Sender(network: self, source: source)
  }

  public func makeReceiver(interface: String, ipv6: Bool, groups: [IPAddress], authenticationHeader: Bool)
    throws(SystemCallError) -> any AdvertReceiving
  {
    let receiver = try InMemoryAdvertReceiver(
      interface: interface, ipv6: ipv6, carriesAH: authenticationHeader && !ipv6)
    locked { receivers.append(receiver) }
    return receiver
  }

  /// None: the loop samples `isLinkUp` every 100 ms.
  public func makeLinkEvents() throws(SystemCallError) -> (any LinkEventSource)? { nil }

  public func addresses(of interface: String, ipv6: Bool) -> [IPAddress] {
    locked { (interfaceAddresses[interface] ?? []).filter { $0.isIPv4 != ipv6 } }
  }

  public func isLinkUp(_ interface: String) -> Bool { locked { !linksDown.contains(interface) } }

  private func locked<R>(_ body: () -> R) -> R {
    condition.lock()
    defer { condition.unlock() }
    return body()
  }

  private func record(_ event: Event, _ change: () -> Void = {}) {
    condition.lock()
    change()
    recorded.append(event)
    condition.broadcast()
    condition.unlock()
  }

  private final class Owner: AddressOwning {
    let network: InMemoryVRRPNetwork
    init(network: InMemoryVRRPNetwork) { self.network = network }

    func add(_ vip: VirtualAddressSpec, defaultDevice: String) throws(SystemCallError) -> Bool {
      let device = vip.device ?? defaultDevice
      guard !isPresent(vip, defaultDevice: defaultDevice) else { return false }
      network.record(.added(vip.address, device: device)) {
        network.present[device, default: []].insert(vip.address)
      }
      return true
    }

    func remove(_ vip: VirtualAddressSpec, defaultDevice: String) throws(SystemCallError) -> Bool {
      let device = vip.device ?? defaultDevice
      guard isPresent(vip, defaultDevice: defaultDevice) else { return false }
      network.record(.removed(vip.address, device: device)) {
        network.present[device, default: []].remove(vip.address)
      }
      return true
    }

    func isPresent(_ vip: VirtualAddressSpec, defaultDevice: String) -> Bool {
      network.addresses(on: vip.device ?? defaultDevice).contains(vip.address)
    }

    func add(_ route: IPRoute) throws(SystemCallError) -> Bool {
      guard !network.locked({ network.routes.contains(route) }) else { return false }
      network.record(.routeAdded(route)) { network.routes.insert(route) }
      return true
    }

    func remove(_ route: IPRoute) throws(SystemCallError) -> Bool {
      guard network.locked({ network.routes.contains(route) }) else { return false }
      network.record(.routeRemoved(route)) { network.routes.remove(route) }
      return true
    }

    func add(_ rule: IPRule) throws(SystemCallError) -> Bool {
      guard !network.locked({ network.rules.contains(rule) }) else { return false }
      network.record(.ruleAdded(rule)) { network.rules.insert(rule) }
      return true
    }

    func remove(_ rule: IPRule) throws(SystemCallError) -> Bool {
      guard network.locked({ network.rules.contains(rule) }) else { return false }
      network.record(.ruleRemoved(rule)) { network.rules.remove(rule) }
      return true
    }

    func createVMAC(_ vmac: VMACSpec, base: String, mac: [UInt8]) throws(SystemCallError) {
      network.record(.vmacCreated(vmac, base: base, mac: mac))
    }

    func deleteVMAC(_ vmac: VMACSpec, base: String) throws(SystemCallError) -> Bool {
      network.record(.vmacDeleted(vmac))
      return true
    }
  }

  private final class Announcements: AddressAnnouncing {
    let network: InMemoryVRRPNetwork
    let interface: String
    init(network: InMemoryVRRPNetwork, interface: String) {
      self.network = network
      self.interface = interface
    }

    func announce(_ address: IPAddress) throws(SystemCallError) {
      network.record(.announced(address, interface: interface))
    }
  }

  private final class Sender: AdvertSending {
    let network: InMemoryVRRPNetwork
    let source: IPAddress
    init(network: InMemoryVRRPNetwork, source: IPAddress) {
      self.network = network
      self.source = source
    }

    func send(_ payload: [UInt8], to destination: IPAddress) throws(SystemCallError) {
      network.record(.sent(payload: payload, from: source, to: destination))
    }
  }
}

/// An advert receiver fed by `InMemoryVRRPNetwork.inject`: a queue, and a pipe that is readable
/// while the queue holds packets (one byte per packet), so the service's poll wakes as for a socket.
final class InMemoryAdvertReceiver: AdvertReceiving, @unchecked Sendable {
  let interface: String
  let ipv6: Bool
  let carriesAH: Bool
  private let lock = NSLock()
  private var queue: [ReceivedPacket] = []
  private var pipeEnds: [Int32] = [-1, -1]

  var fd: Int32 { pipeEnds[0] }

  init(interface: String, ipv6: Bool, carriesAH: Bool) throws(SystemCallError) {
    self.interface = interface
    self.ipv6 = ipv6
    self.carriesAH = carriesAH
    guard pipe(&pipeEnds) == 0 else { throw SystemCallError("pipe") }
    for end in pipeEnds {
      _ = fcntl(end, F_SETFD, FD_CLOEXEC)
      _ = fcntl(end, F_SETFL, O_NONBLOCK)
    }
  }

  deinit { for end in pipeEnds where end >= 0 { close(end) } }

  func enqueue(_ packet: ReceivedPacket) {
    lock.withLock {
      queue.append(packet)
      var byte: UInt8 = 1
      _ = write(pipeEnds[1], &byte, 1)
    }
  }

  func receive() -> ReceivedPacket? {
    lock.withLock {
      guard !queue.isEmpty else { return nil }
      var byte: UInt8 = 0
      _ = read(pipeEnds[0], &byte, 1)
      return queue.removeFirst()
    }
  }

  func receiveIPv4Packet() -> [UInt8]? { nil }
}
