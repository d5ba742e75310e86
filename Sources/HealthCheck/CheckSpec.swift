import KeeperCore
import Synchronization

/// Where a checker connects: the real server's address and port, possibly overridden by
/// `connect_ip`/`connect_port`, and optionally the local address to bind (`bindto`/`bind_port`),
/// the device the socket is bound to (`bind_if`, SO_BINDTODEVICE) and the mark its packets carry
/// (`fwmark`, SO_MARK), as keepalived's checker sockets.
/// Invariant: `address` is a numeric IPv4 or IPv6 literal (resolution is the config's job).
///
/// 32 bytes inline: the bind settings, which few checkers have, are one shared reference (nil
/// when none is set), as the checker box holding a target is one per real server.
public struct CheckTarget: Hashable, Sendable, CustomStringConvertible {
  public var address: String
  public var port: UInt16
  private var binding: Binding?

  /// `bindto`, `bind_port`, `bind_if` and `fwmark`; compared and hashed as values.
  /// Invariant: at least one is set (otherwise the target holds nil).
  private final class Binding: Hashable, Sendable {
    let address: String?
    let port: UInt16?
    let interface: String?
    let fwmark: UInt32?
    private init(address: String?, port: UInt16?, interface: String?, fwmark: UInt32?) {
      self.address = address
      self.port = port
      self.interface = interface
      self.fwmark = fwmark
    }
    /// nil when none is set. Not a failable init: a class's failable init allocates the object
    /// before it can fail, a malloc and free per real server of a large configuration.
    static func make(address: String?, port: UInt16?, interface: String?, fwmark: UInt32?) -> Binding? {
      guard address != nil || port != nil || interface != nil || fwmark != nil else { return nil }
      return Binding(address: address, port: port, interface: interface, fwmark: fwmark)
    }
    static func == (lhs: Binding, rhs: Binding) -> Bool {
      lhs === rhs
        || (lhs.address == rhs.address && lhs.port == rhs.port && lhs.interface == rhs.interface
          && lhs.fwmark == rhs.fwmark)
    }
    func hash(into hasher: inout Hasher) {
      hasher.combine(address)
      hasher.combine(port)
      hasher.combine(interface)
      hasher.combine(fwmark)
    }
  }

  public var bindAddress: String? {
    get { binding?.address }
    set { rebind(address: newValue) }
  }
  public var bindPort: UInt16? {
    get { binding?.port }
    set { rebind(port: newValue) }
  }
  /// An interface name; the probe's connection uses only this device.
  public var bindInterface: String? {
    get { binding?.interface }
    set { rebind(interface: newValue) }
  }
  /// The firewall mark of the probe's packets (policy routing, nftables); nil or 0 sets none.
  public var fwmark: UInt32? {
    get { binding?.fwmark }
    set { rebind(fwmark: newValue) }
  }

  public init(
    address: String, port: UInt16, bindAddress: String? = nil, bindPort: UInt16? = nil,
    bindInterface: String? = nil, fwmark: UInt32? = nil
  ) {
    self.address = address
    self.port = port
    self.binding = Binding.make(
      address: bindAddress, port: bindPort, interface: bindInterface, fwmark: fwmark)
  }

  private mutating func rebind(
    address: String?? = .none, port: UInt16?? = .none, interface: String?? = .none,
    fwmark: UInt32?? = .none
  ) {
    binding = Binding.make(
      address: address ?? bindAddress, port: port ?? bindPort, interface: interface ?? bindInterface,
      fwmark: fwmark ?? self.fwmark)
  }

  public var description: String {
    address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
  }
}

/// TCP_CHECK: a connect within `connectTimeout`, then a clean close.
/// 40 bytes (the timeout kept as nanoseconds): the checker box holding it is one per real server.
public struct TCPCheck: Hashable, Sendable {
  public var target: CheckTarget
  private var timeoutNanoseconds: Int64
  public var connectTimeout: Duration {
    get { .nanoseconds(timeoutNanoseconds) }
    set { timeoutNanoseconds = newValue.nanoseconds }
  }

  public init(target: CheckTarget, connectTimeout: Duration = .seconds(5)) {
    self.target = target
    self.timeoutNanoseconds = connectTimeout.nanoseconds
  }
}

/// HTTP protocol version sent in the request line (keepalived's `http_protocol`).
public enum HTTPVersionChoice: String, Hashable, Sendable {
  case http10 = "1.0"
  case http11 = "1.1"
}

/// One `url` block: every url of an HTTP_GET/SSL_GET must pass for the checker to pass.
/// Invariant: `digest`, when set, is 32 lowercase hex characters (MD5 as genhash prints it).
public struct URLCheck: Hashable, Sendable {
  public var path: String
  public var statusCodes: StatusCodeSet
  public var digest: String?
  public var virtualHost: String?

  public init(
    path: String, statusCodes: StatusCodeSet = .success, digest: String? = nil, virtualHost: String? = nil
  ) {
    self.path = path
    self.statusCodes = statusCodes
    self.digest = digest?.lowercased()
    self.virtualHost = virtualHost
  }
}

/// HTTP_GET and SSL_GET. `connectTimeout` bounds each url's whole exchange (connect, TLS,
/// request, response head and body), so a server that trickles bytes fails.
public struct HTTPCheck: Hashable, Sendable {
  public var target: CheckTarget
  public var urls: [URLCheck]
  public var connectTimeout: Duration
  public var version: HTTPVersionChoice
  /// Host header for urls without their own `virtualhost`.
  public var virtualHost: String?
  /// SSL_GET sends TLS SNI only when this is set (keepalived's `enable_sni`), naming `sniName`,
  /// else the url's `virtualhost`, else `virtualHost`; an IP address is never sent as SNI.
  public var enableSNI: Bool
  /// keepalived's `sni_name`: the SNI for every url.
  public var sniName: String?
  /// Largest body read when a digest is needed; a larger body fails the check.
  public var maxBodyBytes: Int

  public init(
    target: CheckTarget, urls: [URLCheck], connectTimeout: Duration = .seconds(5),
    version: HTTPVersionChoice = .http10, virtualHost: String? = nil, enableSNI: Bool = false,
    sniName: String? = nil, maxBodyBytes: Int = 8 << 20
  ) {
    self.target = target
    self.urls = urls
    self.connectTimeout = connectTimeout
    self.version = version
    self.virtualHost = virtualHost
    self.enableSNI = enableSNI
    self.sniName = sniName
    self.maxBodyBytes = maxBodyBytes
  }
}

/// MYSQL_CHECK: reads the server greeting; with `user`, logs in and sends COM_QUIT.
/// caching_sha2_password full authentication encrypts the password with `serverPublicKey`, or,
/// when it is nil, with the key the server sends on request (trusting the network, as
/// `mysql --get-server-public-key` does).
public struct MySQLCheck: Hashable, Sendable {
  public var target: CheckTarget
  public var connectTimeout: Duration
  public var user: String?
  public var password: String
  public var serverPublicKey: MySQLServerPublicKey?
  /// Sent in the login (CLIENT_CONNECT_WITH_DB): a database the user cannot use fails the check.
  public var database: String?

  public init(
    target: CheckTarget, connectTimeout: Duration = .seconds(5), user: String? = nil, password: String = "",
    serverPublicKey: MySQLServerPublicKey? = nil, database: String? = nil
  ) {
    self.target = target
    self.connectTimeout = connectTimeout
    self.user = user
    self.password = password
    self.serverPublicKey = serverPublicKey
    self.database = database
  }
}

/// SMTP_CHECK: the 220 greeting banner, `HELO heloName` answered by 250, then `QUIT` answered by
/// any reply (keepalived's check_smtp.c), all within `connectTimeout`.
/// Invariant: `heloName` is non-empty and holds no CR, LF or NUL (it is sent as one command line).
public struct SMTPCheck: Hashable, Sendable {
  /// keepalived's SMTP_DEFAULT_HELO.
  public static let defaultHeloName = "smtpchecker.keepalived.org"

  public var target: CheckTarget
  public var connectTimeout: Duration
  public var heloName: String

  public init(target: CheckTarget, connectTimeout: Duration = .seconds(5), heloName: String = defaultHeloName)
  {
    self.target = target
    self.connectTimeout = connectTimeout
    self.heloName = heloName
  }
}

/// MISC_CHECK: runs `script` (with the user it resolved to) on the script runner, killing its
/// process group after `timeout`. Exit 0 is up, 1 down; with `dynamic`, 2...255 is up with weight
/// exit-2.
public struct MiscCheck: Hashable, Sendable {
  public var script: RunnableScript
  public var timeout: Duration
  public var dynamic: Bool

  public init(script: RunnableScript, timeout: Duration = .seconds(5), dynamic: Bool = false) {
    self.script = script
    self.timeout = timeout
    self.dynamic = dynamic
  }
}

/// PING_CHECK: an ICMP echo (ICMPv6 for an IPv6 target) answered within `connectTimeout`.
/// `target.port` is not used.
public struct PingCheck: Hashable, Sendable {
  public var target: CheckTarget
  public var connectTimeout: Duration

  public init(target: CheckTarget, connectTimeout: Duration = .seconds(5)) {
    self.target = target
    self.connectTimeout = connectTimeout
  }
}

/// UDP_CHECK (keepalived check_udp.c): `payload` is sent on a connected UDP socket (32 bytes of
/// "keepalived check - " when nil). An ICMP unreachable is down; a reply is up (with
/// `requireReply`, only one that passes `replyRule`); silence for `connectTimeout` is up unless a
/// reply is required. Invariant: `replyRule` is nil unless `requireReply`.
public struct UDPCheck: Hashable, Sendable {
  public var target: CheckTarget
  public var connectTimeout: Duration
  public var payload: [UInt8]?
  public var requireReply: Bool
  /// Expected leading bytes; `replyMask` has 0x0f/0xf0/0xff where a nibble is a wildcard.
  public var replyData: [UInt8]
  public var replyMask: [UInt8]
  public var minReplyLength: Int
  public var maxReplyLength: Int

  public init(
    target: CheckTarget, connectTimeout: Duration = .seconds(5), payload: [UInt8]? = nil,
    requireReply: Bool = false, replyData: [UInt8] = [], replyMask: [UInt8] = [], minReplyLength: Int = 0,
    maxReplyLength: Int = 255
  ) {
    self.target = target
    self.connectTimeout = connectTimeout
    self.payload = payload
    self.requireReply = requireReply
    self.replyData = replyData
    self.replyMask = replyMask
    self.minReplyLength = minReplyLength
    self.maxReplyLength = maxReplyLength
  }
}

/// DNS_CHECK: a query for `name`/`type` (class IN, recursion desired) over UDP; up when the
/// answer to it has RCODE 0 and a record of `type`. Invariant: `type` is one of
/// A, NS, CNAME, SOA, MX, TXT, AAAA (1, 2, 5, 6, 15, 16, 28).
public struct DNSCheck: Hashable, Sendable {
  public var target: CheckTarget
  public var connectTimeout: Duration
  public var type: UInt16
  public var name: String

  /// The code of a type name DNS_CHECK accepts (A, NS, CNAME, SOA, MX, TXT, AAAA), else nil.
  public static func typeCode(_ name: String) -> UInt16? {
    DNSMessage.types.first { $0.name == name.uppercased() }?.code
  }

  public init(
    target: CheckTarget, connectTimeout: Duration = .seconds(5), type: UInt16 = 6, name: String = "."
  ) {
    self.target = target
    self.connectTimeout = connectTimeout
    self.type = type
    self.name = name
  }
}

/// The checkers lvskeeper runs. Only checkers that really run exist as cases, so a config
/// naming anything else cannot be turned into a `CheckerSpec`.
///
/// Every case but `.tcp` is `indirect`: a value is as large as its largest inline payload, and
/// the checker box (one per distinct checker, usually one per real server) held ~170 bytes of
/// spec for every TCP_CHECK because HTTP_GET's and MYSQL_CHECK's settings are larger; now the
/// other kinds pay one allocation of their own size instead.
public enum CheckerSpec: Hashable, Sendable, CustomStringConvertible {
  case tcp(TCPCheck)
  indirect case http(HTTPCheck)
  indirect case https(HTTPCheck)
  indirect case mysql(MySQLCheck)
  indirect case smtp(SMTPCheck)
  indirect case misc(MiscCheck)
  indirect case ping(PingCheck)
  indirect case udp(UDPCheck)
  indirect case dns(DNSCheck)
  indirect case file(FileCheck)
  indirect case bfd(BFDSessionCheck)

  public var description: String {
    switch self {
    case .tcp(let c): return "TCP_CHECK \(c.target)"
    case .http(let c): return "HTTP_GET \(c.target)"
    case .https(let c): return "SSL_GET \(c.target)"
    case .mysql(let c): return "MYSQL_CHECK \(c.target)"
    case .smtp(let c): return "SMTP_CHECK \(c.target)"
    case .misc(let c): return "MISC_CHECK \(c.script.command.command)"
    case .ping(let c): return "PING_CHECK \(c.target.address)"
    case .udp(let c): return "UDP_CHECK \(c.target)"
    case .dns(let c): return "DNS_CHECK \(c.target)"
    case .file(let c): return "FILE_CHECK \(c.path)"
    case .bfd(let c): return "BFD_CHECK \(c.name)"
    }
  }
}

/// When probes run and how results become up/down (keepalived's delay_loop, warmup, retry,
/// delay_before_retry, alpha, plus rise/fall). Invariant: counts are >= 1 except `retry` >= 0.
public struct CheckSchedule: Hashable, Sendable {
  public var delayLoop: Duration
  /// The first probe starts at a random instant in [0, warmup].
  public var warmup: Duration
  /// A failed probe is retried this many times before it counts as one failure.
  public var retry: Int
  public var delayBeforeRetry: Duration
  /// Consecutive successes needed to go up, failures needed to go down.
  public var rise: Int
  public var fall: Int
  /// Start down (and need `rise` successes); without alpha start up like keepalived.
  public var alpha: Bool

  public init(
    delayLoop: Duration = .seconds(60), warmup: Duration = .zero, retry: Int = 1,
    delayBeforeRetry: Duration = .seconds(1), rise: Int = 1, fall: Int = 1, alpha: Bool = false
  ) {
    self.delayLoop = delayLoop
    self.warmup = warmup
    self.retry = max(0, retry)
    self.delayBeforeRetry = delayBeforeRetry
    self.rise = max(1, rise)
    self.fall = max(1, fall)
    self.alpha = alpha
  }
}

/// A checker as configured: what to probe and when. Two equal `Checker`s share one probe.
///
/// A value type held in one immutable heap box: the daemon's mapping, the monitor's runner and
/// its index all hold the same checker, and a copy costs a reference instead of the ~200 bytes
/// of spec and schedule (one per real server, so it counts). The box also keeps the hash, so
/// interning and comparing 36,000 checkers at a reload does not rehash every spec.
public struct Checker: Hashable, Sendable {
  private final class Storage: Sendable {
    let spec: CheckerSpec
    let shared: SharedSchedule
    let hash: Int
    var schedule: CheckSchedule { shared.value }
    init(spec: CheckerSpec, schedule: CheckSchedule) {
      self.spec = spec
      self.shared = SharedSchedule.interned(schedule)
      var hasher = Hasher()
      hasher.combine(spec)
      hasher.combine(schedule)
      self.hash = hasher.finalize()
    }
  }
  private var storage: Storage

  public var spec: CheckerSpec {
    get { storage.spec }
    set { storage = Storage(spec: newValue, schedule: storage.schedule) }
  }
  public var schedule: CheckSchedule {
    get { storage.schedule }
    set { storage = Storage(spec: storage.spec, schedule: newValue) }
  }

  public init(_ spec: CheckerSpec, schedule: CheckSchedule) {
    storage = Storage(spec: spec, schedule: schedule)
  }

  public static func == (lhs: Checker, rhs: Checker) -> Bool {
    lhs.storage === rhs.storage
      || (lhs.storage.hash == rhs.storage.hash && lhs.spec == rhs.spec && lhs.schedule == rhs.schedule)
  }

  public func hash(into hasher: inout Hasher) { hasher.combine(storage.hash) }
}

/// Names a real server within one virtual server; chosen by the daemon, opaque here.
///
/// The daemon's ids read `SERVICE -> HOST:PORT` (`TCP 10.0.0.1:80 -> 10.0.0.2:80`). Such an id
/// is held as its virtual server's name (one box shared by all its real servers) with the address
/// and port, 24 bytes and no allocation per real server, rather than a ~30-character string each.
/// Invariant: two ids are equal exactly when their texts (`rawValue`) are equal; an id made from
/// text takes the shared form only when the text is that form's canonical rendering.
public struct RealServerID: Hashable, Sendable, CustomStringConvertible {
  /// A virtual server's name as its real servers' ids start, with its hash computed once.
  public final class ServiceName: Sendable {
    public let text: String
    let hash: Int
    public init(_ text: String) {
      self.text = text
      var hasher = Hasher()
      hasher.combine(text)
      hash = hasher.finalize()
    }
  }
  /// The whole text when `address` is nil; otherwise the part before ` -> `.
  private let service: ServiceName
  private let address: IPAddress?
  private let port: UInt16

  /// `SERVICE -> HOST:PORT`.
  public init(service: ServiceName, address: IPAddress, port: UInt16) {
    self.init(service: service, address: Optional(address), port: port)
  }

  private init(service: ServiceName, address: IPAddress?, port: UInt16) {
    self.service = service
    self.address = address
    self.port = port
  }

  public init(_ rawValue: String) {
    if let parts = Self.parts(rawValue) {
      self.init(service: ServiceName(parts.service), address: parts.address, port: parts.port)
    } else {
      self.init(service: ServiceName(rawValue), address: nil, port: 0)
    }
  }

  public var rawValue: String {
    guard let address else { return service.text }
    return "\(service.text) -> \(address.withPort(port))"
  }

  public var description: String { rawValue }

  /// The service name, address and port of a `SERVICE -> HOST:PORT` id; nil for other text.
  public var parts: (service: String, address: IPAddress, port: UInt16)? {
    address.map { (service.text, $0, port) }
  }

  /// `text` split as `SERVICE -> HOST:PORT` when it is exactly how such an id renders; else nil.
  private static func parts(_ text: String) -> (service: String, address: IPAddress, port: UInt16)? {
    // The last ` -> `: the endpoint never contains one, a service name may ("group ->").
    guard
      let arrow = text.indices.reversed().lazy.compactMap({ start in
        text[start...].hasPrefix(" -> ") ? start..<text.index(start, offsetBy: 4) : nil
      }).first
    else { return nil }
    let endpoint = text[arrow.upperBound...]
    guard let colon = endpoint.lastIndex(of: ":"),
      let port = UInt16(endpoint[endpoint.index(after: colon)...])
    else { return nil }
    var host = endpoint[..<colon]
    if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
    guard let address = IPAddress(String(host)) else { return nil }
    let service = String(text[..<arrow.lowerBound])
    guard "\(service) -> \(address.withPort(port))" == text else { return nil }
    return (service, address, port)
  }

  public static func == (lhs: RealServerID, rhs: RealServerID) -> Bool {
    lhs.address == rhs.address && lhs.port == rhs.port
      && (lhs.service === rhs.service
        || (lhs.service.hash == rhs.service.hash && lhs.service.text == rhs.service.text))
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(service.hash)
    hasher.combine(address)
    hasher.combine(port)
  }
}

/// A real server to watch: up only while every checker is up. No checkers means always up.
///
/// The notify scripts (about 100 bytes each, usually absent) live in one shared box, and a single
/// checker is held inline, so a server is 40 bytes (its id 24) however many copies the daemon and
/// the monitor keep, with no array of its own. Equality compares the scripts' values, not the boxes.
public struct MonitoredServer: Hashable, Sendable {
  public var id: RealServerID
  /// Most real servers have exactly one checker: it is held inline rather than in an array of
  /// one (a 48-byte allocation per real server).
  private enum CheckerList: Hashable, Sendable {
    case one(Checker)
    case many([Checker])
  }
  private var checkerList: CheckerList
  private var scripts: NotifyScripts?

  public var checkers: [Checker] {
    get {
      switch checkerList {
      case .one(let checker): [checker]
      case .many(let checkers): checkers
      }
    }
    set { checkerList = Self.list(newValue) }
  }

  /// The checkers without building an array: most callers only iterate them.
  public var checkerCount: Int {
    switch checkerList {
    case .one: 1
    case .many(let checkers): checkers.count
    }
  }

  /// Calls `body` with each checker in order.
  public func forEachChecker(_ body: (Checker) throws -> Void) rethrows {
    switch checkerList {
    case .one(let checker): try body(checker)
    case .many(let checkers): for checker in checkers { try body(checker) }
    }
  }

  private static func list(_ checkers: [Checker]) -> CheckerList {
    checkers.count == 1 ? .one(checkers[0]) : .many(checkers)
  }

  /// `notify_up` and `notify_down` of one real server; nil in `MonitoredServer` when it has neither.
  final class NotifyScripts: Sendable {
    let up: RunnableScript?
    let down: RunnableScript?
    private init(up: RunnableScript?, down: RunnableScript?) {
      self.up = up
      self.down = down
    }
    /// nil when neither is set (not a failable init, which would allocate first).
    static func make(up: RunnableScript?, down: RunnableScript?) -> NotifyScripts? {
      guard up != nil || down != nil else { return nil }
      return NotifyScripts(up: up, down: down)
    }
  }

  public var notifyUp: RunnableScript? {
    get { scripts?.up }
    set { scripts = NotifyScripts.make(up: newValue, down: notifyDown) }
  }
  public var notifyDown: RunnableScript? {
    get { scripts?.down }
    set { scripts = NotifyScripts.make(up: notifyUp, down: newValue) }
  }

  public init(
    id: RealServerID, checkers: [Checker], notifyUp: RunnableScript? = nil, notifyDown: RunnableScript? = nil
  ) {
    self.id = id
    self.checkerList = Self.list(checkers)
    self.scripts = NotifyScripts.make(up: notifyUp, down: notifyDown)
  }

  /// A server with exactly one checker, without the array of one the other init is given.
  public init(
    id: RealServerID, checker: Checker, notifyUp: RunnableScript? = nil, notifyDown: RunnableScript? = nil
  ) {
    self.id = id
    self.checkerList = .one(checker)
    self.scripts = NotifyScripts.make(up: notifyUp, down: notifyDown)
  }

  public static func == (lhs: MonitoredServer, rhs: MonitoredServer) -> Bool {
    lhs.id == rhs.id && lhs.checkerList == rhs.checkerList
      && (lhs.scripts === rhs.scripts || (lhs.notifyUp == rhs.notifyUp && lhs.notifyDown == rhs.notifyDown))
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(id)
    hasher.combine(checkerList)
    hasher.combine(notifyUp)
    hasher.combine(notifyDown)
  }
}

/// One `CheckSchedule` behind a reference, interned process-wide: a configuration has a handful of
/// distinct schedules, and each checker box and each engine verdict (one of each per real server)
/// held a 72-byte copy of one of them. Compared and hashed as the value.
/// Invariant: immutable; `interned(s).value == s`; the table is emptied when it exceeds
/// `tableLimit` distinct schedules (values already handed out stay valid), so it stays bounded
/// whatever a long run of reloads configures.
final class SharedSchedule: Hashable, Sendable {
  let value: CheckSchedule
  private init(_ value: CheckSchedule) { self.value = value }

  static let tableLimit = 4096
  private static let table = Mutex<[CheckSchedule: SharedSchedule]>([:])

  static func interned(_ schedule: CheckSchedule) -> SharedSchedule {
    table.withLock { t in
      if let known = t[schedule] { return known }
      if t.count >= tableLimit { t.removeAll() }
      let made = SharedSchedule(schedule)
      t[schedule] = made
      return made
    }
  }

  static func == (lhs: SharedSchedule, rhs: SharedSchedule) -> Bool { lhs === rhs || lhs.value == rhs.value }
  func hash(into hasher: inout Hasher) { hasher.combine(value) }
}
