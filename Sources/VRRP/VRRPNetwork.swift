import KeeperCore

/// Adds and removes VIPs on interfaces, routes and routing rules. Invariant: an entry already present
/// counts as added and an absent one as removed, so what a killed run left behind is adopted, never
/// duplicated.
public protocol AddressOwning: AnyObject {
  /// Adds the address; returns false when it was already there (adopted).
  @discardableResult
  func add(_ vip: VirtualAddressSpec, defaultDevice: String) throws(SystemCallError) -> Bool
  /// Removes the address; returns false when it was not there.
  @discardableResult
  func remove(_ vip: VirtualAddressSpec, defaultDevice: String) throws(SystemCallError) -> Bool
  /// Whether the address is configured on its device now.
  func isPresent(_ vip: VirtualAddressSpec, defaultDevice: String) -> Bool
  /// Installs the route; returns false when it was already there (adopted).
  @discardableResult
  func add(_ route: IPRoute) throws(SystemCallError) -> Bool
  /// Removes the route; returns false when it was not there.
  @discardableResult
  func remove(_ route: IPRoute) throws(SystemCallError) -> Bool
  /// Installs the rule; returns false when it was already there (adopted).
  @discardableResult
  func add(_ rule: IPRule) throws(SystemCallError) -> Bool
  /// Removes the rule; returns false when it was not there.
  @discardableResult
  func remove(_ rule: IPRule) throws(SystemCallError) -> Bool
  /// Creates the macvlan of a `use_vmac` instance on `base` with `mac` (replacing a leftover of the
  /// same name), sets keepalived's sysctls for it and brings it up.
  func createVMAC(_ vmac: VMACSpec, base: String, mac: [UInt8]) throws(SystemCallError)
  /// Deletes the macvlan and restores the base's sysctls; returns false when it was not there.
  @discardableResult
  func deleteVMAC(_ vmac: VMACSpec, base: String) throws(SystemCallError) -> Bool
}

/// Tells the link that this host now owns an address: a gratuitous ARP for IPv4, an unsolicited
/// neighbour advertisement for IPv6 (RFC 5798 6.4.1, RFC 4861 7.2.6).
public protocol AddressAnnouncing: AnyObject {
  func announce(_ address: IPAddress) throws(SystemCallError)
}

/// Sends one instance's adverts from its `source` address (the RFC 5798 6.4.3 tie-break address).
public protocol AdvertSending: AnyObject {
  var source: IPAddress { get }
  func send(_ payload: [UInt8], to destination: IPAddress) throws(SystemCallError)
}

/// Receives the adverts of one link and family. Invariant: `fd` becomes readable (poll) whenever a
/// packet is pending, and stays open for the receiver's lifetime.
public protocol AdvertReceiving: AnyObject {
  var fd: Int32 { get }
  /// True for the protocol-51 (AH) receiver, whose packets go through `receiveIPv4Packet()`.
  var carriesAH: Bool { get }
  /// One advert with its addressing; nil when nothing usable is pending.
  func receive() -> ReceivedPacket?
  /// One whole IPv4 datagram, header included; nil when nothing is pending.
  func receiveIPv4Packet() -> [UInt8]?
}

/// Wakes the loop when links change. Invariant: `fd` is pollable; `drain()` empties it.
public protocol LinkEventSource: AnyObject {
  var fd: Int32 { get }
  /// Reads every pending notification; true when at least one arrived.
  func drain() -> Bool
}

/// Every system call VRRP makes, behind one protocol, as `IPVSKernel` is for IPVS: the advert sockets,
/// VIP ownership, announcements and the interface facts the loop reads. `SystemVRRPNetwork` is the
/// kernel; `InMemoryVRRPNetwork` records what a service did and lets a test feed it adverts.
public protocol VRRPNetwork: Sendable {
  func makeAddressOwner() throws(SystemCallError) -> any AddressOwning
  func makeAnnouncer(interface: String) throws(SystemCallError) -> any AddressAnnouncing
  func makeSender(interface: String, source: IPAddress, authenticationHeader: Bool) throws(SystemCallError)
    -> any AdvertSending
  func makeReceiver(interface: String, ipv6: Bool, groups: [IPAddress], authenticationHeader: Bool)
    throws(SystemCallError) -> any AdvertReceiving
  /// Link change notifications; nil when the loop must sample instead.
  func makeLinkEvents() throws(SystemCallError) -> (any LinkEventSource)?
  /// The interface's addresses of one family, primary first (an instance's default source address).
  func addresses(of interface: String, ipv6: Bool) -> [IPAddress]
  /// Administratively up with a working lower layer.
  func isLinkUp(_ interface: String) -> Bool
}

/// The kernel: raw IP sockets for adverts, rtnetlink for VIPs, AF_PACKET and ICMPv6 for announcements,
/// getifaddrs and sysfs for interface facts.
public struct SystemVRRPNetwork: VRRPNetwork {
  public init() {}

  public func makeAddressOwner() throws(SystemCallError) -> any AddressOwning { try AddressOwner() }

  public func makeAnnouncer(interface: String) throws(SystemCallError) -> any AddressAnnouncing {
    try Announcer(interface: interface)
  }

  public func makeSender(interface: String, source: IPAddress, authenticationHeader: Bool)
    throws(SystemCallError) -> any AdvertSending
  {
    try AdvertSender(interface: interface, source: source, authenticationHeader: authenticationHeader)
  }

  public func makeReceiver(interface: String, ipv6: Bool, groups: [IPAddress], authenticationHeader: Bool)
    throws(SystemCallError) -> any AdvertReceiving
  {
    try AdvertReceiver(
      interface: interface, ipv6: ipv6, groups: groups, authenticationHeader: authenticationHeader)
  }

  public func makeLinkEvents() throws(SystemCallError) -> (any LinkEventSource)? { try LinkMonitor() }

  public func addresses(of interface: String, ipv6: Bool) -> [IPAddress] {
    InterfaceFacts.addresses(of: interface, ipv6: ipv6)
  }

  public func isLinkUp(_ interface: String) -> Bool { InterfaceFacts.isLinkUp(interface) }
}

extension AddressOwner: AddressOwning {}
extension Announcer: AddressAnnouncing {}
extension AdvertSender: AdvertSending {}
extension AdvertReceiver: AdvertReceiving {}
extension LinkMonitor: LinkEventSource {}
