import KeeperCore

/// A health checker attached to a real server, with the cascade
/// virtual_server -> real_server -> checker already applied.
///
/// Invariant: exactly the spec matching `type` is set (`http` for HTTP_GET/SSL_GET, `misc` for
/// MISC_CHECK, `mysql` for MYSQL_CHECK, `smtp` for SMTP_CHECK); `connectTimeout > 0`, `retry >= 0`, `delayLoop > 0`.
public struct HealthCheckSpec: Codable, Equatable, Sendable {
  /// The checker block keyword.
  public enum CheckerType: String, Codable, Sendable {
    case tcp = "TCP_CHECK"
    case http = "HTTP_GET"
    case ssl = "SSL_GET"
    case misc = "MISC_CHECK"
    case mysql = "MYSQL_CHECK"
    case smtp = "SMTP_CHECK"
    case ping = "PING_CHECK"
    case udp = "UDP_CHECK"
    case dns = "DNS_CHECK"
    case file = "FILE_CHECK"
    case bfd = "BFD_CHECK"
  }

  public var type: CheckerType
  /// Defaults to the real server address.
  public var connectIP: IPAddress
  /// Defaults to the real server port.
  public var connectPort: Int
  public var bindTo: IPAddress?
  public var bindPort: Int?
  public var bindInterface: String?
  public var fwmark: UInt32?
  /// Seconds, default 5 (cascaded).
  public var connectTimeout: Double
  /// Extra attempts after a failure before the server is declared down; default 1 (0 for
  /// MISC_CHECK, 3 for DNS_CHECK).
  public var retry: Int
  /// Seconds; default 3 for HTTP_GET/SSL_GET, delay_loop for DNS_CHECK, 1 otherwise.
  public var delayBeforeRetry: Double
  /// Random delay before the first check, at most this many seconds; default `delayLoop`.
  public var warmup: Double
  public var delayLoop: Double
  public var alpha: Bool
  /// The kind's own settings, each out of line (`SubSpec`): a checker has at most one of them,
  /// and inline every checker paid for all (~300 bytes; one checker per real server).
  public var http: HTTPCheckSpec? {
    get { httpBox?.value }
    set { httpBox = newValue.map(SubSpec.init) }
  }
  public var misc: MiscCheckSpec? {
    get { miscBox?.value }
    set { miscBox = newValue.map(SubSpec.init) }
  }
  public var mysql: MySQLCheckSpec? {
    get { mysqlBox?.value }
    set { mysqlBox = newValue.map(SubSpec.init) }
  }
  public var smtp: SMTPCheckSpec? {
    get { smtpBox?.value }
    set { smtpBox = newValue.map(SubSpec.init) }
  }
  public var udp: UDPCheckSpec? {
    get { udpBox?.value }
    set { udpBox = newValue.map(SubSpec.init) }
  }
  public var dns: DNSCheckSpec? {
    get { dnsBox?.value }
    set { dnsBox = newValue.map(SubSpec.init) }
  }
  /// FILE_CHECK: the `track_file` followed.
  public var file: FileCheckSpec? {
    get { fileBox?.value }
    set { fileBox = newValue.map(SubSpec.init) }
  }
  /// BFD_CHECK's `name`: the bfd_instance whose session decides (it exists and notifies checkers).
  public var bfdName: String? = nil
  public var location: SourceLocation

  private var httpBox: SubSpec<HTTPCheckSpec>?
  private var miscBox: SubSpec<MiscCheckSpec>?
  private var mysqlBox: SubSpec<MySQLCheckSpec>?
  private var smtpBox: SubSpec<SMTPCheckSpec>?
  private var udpBox: SubSpec<UDPCheckSpec>?
  private var dnsBox: SubSpec<DNSCheckSpec>?
  private var fileBox: SubSpec<FileCheckSpec>?

  /// The JSON keys are the public names (`http`, not `httpBox`): `dump-config` is unchanged.
  private enum CodingKeys: String, CodingKey {
    case type, connectIP, connectPort, bindTo, bindPort, bindInterface, fwmark, connectTimeout, retry
    case delayBeforeRetry, warmup, delayLoop, alpha, bfdName, location
    case httpBox = "http"
    case miscBox = "misc"
    case mysqlBox = "mysql"
    case smtpBox = "smtp"
    case udpBox = "udp"
    case dnsBox = "dns"
    case fileBox = "file"
  }

  public init(
    type: CheckerType, connectIP: IPAddress, connectPort: Int, bindTo: IPAddress?, bindPort: Int?,
    bindInterface: String?, fwmark: UInt32?, connectTimeout: Double, retry: Int, delayBeforeRetry: Double,
    warmup: Double, delayLoop: Double, alpha: Bool, http: HTTPCheckSpec? = nil, misc: MiscCheckSpec? = nil,
    mysql: MySQLCheckSpec? = nil, smtp: SMTPCheckSpec? = nil, udp: UDPCheckSpec? = nil,
    dns: DNSCheckSpec? = nil, file: FileCheckSpec? = nil, bfdName: String? = nil, location: SourceLocation
  ) {
    self.type = type
    self.connectIP = connectIP
    self.connectPort = connectPort
    self.bindTo = bindTo
    self.bindPort = bindPort
    self.bindInterface = bindInterface
    self.fwmark = fwmark
    self.connectTimeout = connectTimeout
    self.retry = retry
    self.delayBeforeRetry = delayBeforeRetry
    self.warmup = warmup
    self.delayLoop = delayLoop
    self.alpha = alpha
    self.bfdName = bfdName
    self.location = location
    self.http = http
    self.misc = misc
    self.mysql = mysql
    self.smtp = smtp
    self.udp = udp
    self.dns = dns
    self.file = file
  }
}

/// UDP_CHECK specifics (keepalived check_udp.c). Invariant: `replyData`/`replyMask` are empty
/// unless `requireReply`; `replyMask` is empty or as long as `replyData`;
/// 0 <= minReplyLength <= maxReplyLength <= 65535.
public struct UDPCheckSpec: Codable, Equatable, Sendable {
  /// `payload HEX`; nil sends keepalived's 32-byte filler.
  public var payload: [UInt8]?
  public var requireReply = false
  public var replyData: [UInt8] = []
  /// 0x0f/0xf0/0xff where `require_reply` had an X nibble (ignored in the reply).
  public var replyMask: [UInt8] = []
  public var minReplyLength = 0
  public var maxReplyLength = 255
}

/// DNS_CHECK specifics. Invariant: `type` is A, NS, CNAME, SOA, MX, TXT or AAAA; `name` has no
/// empty label ("." is the root).
public struct DNSCheckSpec: Codable, Equatable, Sendable {
  public var type = "SOA"
  public var name = "."
}

/// FILE_CHECK specifics: `track_file NAME` (a top-level `track_file` block, resolved once the
/// whole configuration is read) and `weight N [reverse]` (default: the track_file's own).
///
/// Invariant: after loading, `path` is the track_file's `file`; `weight` is -65535...65535.
public struct FileCheckSpec: Codable, Equatable, Sendable {
  public var trackFile: String
  public var path: String = ""
  /// nil until resolved when FILE_CHECK gives none: the track_file's weight then applies.
  public var weight: Int?
  public var reverse = false
}

/// HTTP_GET / SSL_GET specifics. Invariant: `urls` is non-empty.
public struct HTTPCheckSpec: Codable, Equatable, Sendable {
  /// The HTTP request version; `1.0C` is 1.0 with `Connection: close`.
  public enum ProtocolVersion: String, Codable, Sendable {
    case http10 = "1.0"
    case http11 = "1.1"
    case http10Close = "1.0C"
  }

  public var urls: [URLCheck]
  public var httpProtocol: ProtocolVersion = .http10
  /// Send TLS SNI (SSL_GET): `sniName`, else the url's virtualhost, else the cascaded virtualhost.
  public var enableSNI = false
  /// keepalived's `sni_name`; setting it enables SNI.
  public var sniName: String?
}

/// One `url { path; digest; status_code; virtualhost }`.
///
/// Invariant: `statusCodes` is non-empty (default 200-299); `digest` is 32 lowercase hex digits.
public struct URLCheck: Codable, Equatable, Sendable {
  public var path: String
  public var digest: String?
  public var statusCodes: [StatusCodeRange]
  /// Cascaded from checker, real server and virtual server.
  public var virtualhost: String?
  public var location: SourceLocation
}

/// An inclusive range of HTTP status codes. Invariant: 100 <= lower <= upper <= 999.
public struct StatusCodeRange: Codable, Equatable, Sendable {
  public var lower: Int
  public var upper: Int

  public func contains(_ code: Int) -> Bool { code >= lower && code <= upper }
}

/// MISC_CHECK specifics. Invariant: `path.argv` is non-empty.
public struct MiscCheckSpec: Codable, Equatable, Sendable {
  public var path: ScriptCommand
  /// Seconds; defaults to the checker's delay_loop.
  public var timeout: Double
  public var dynamic = false
}

/// MYSQL_CHECK specifics (lvskeeper addition): log in to MySQL/MariaDB with the MySQL protocol
/// handshake; the server is up when authentication succeeds (or is refused with a normal
/// access-denied error when no user is configured, proving a live server).
public struct MySQLCheckSpec: Codable, Equatable, Sendable {
  public var user: String?
  public var password: String?
  public var database: String?
  /// `server_public_key PATH`: the server's RSA key for caching_sha2_password full authentication
  /// over plain TCP; without it the checker asks the server for its key (trusting the network).
  public var serverPublicKey: PublicKeyFile? = nil
}

/// SMTP_CHECK specifics. Invariant: `heloName` is 1...505 bytes without CR, LF or NUL, so
/// `HELO <name>` CRLF fits keepalived's 512-byte command buffer.
public struct SMTPCheckSpec: Codable, Equatable, Sendable {
  /// keepalived's default, SMTP_DEFAULT_HELO in check_smtp.h.
  public static let defaultHeloName = "smtpchecker.keepalived.org"
  public var heloName = defaultHeloName
}

/// A PEM public key file named in the configuration, read when the configuration loads (so a
/// reload re-reads it).
///
/// Invariant: `pem` holds a `PUBLIC KEY` (SPKI with the rsaEncryption algorithm) or
/// `RSA PUBLIC KEY` (PKCS#1) block whose body is base64 DER; whether it is a usable RSA key
/// (size, encoding) is for the checker to judge.
public struct PublicKeyFile: Codable, Equatable, Sendable {
  /// The path as resolved: relative paths are taken from the directory of the file naming them.
  public var path: String
  public var pem: String
  /// Where the keyword stands, for errors found later (the daemon's RSA parse).
  public var location: SourceLocation
}

/// A value kept out of line behind one reference, compared and encoded as the value itself (the
/// JSON is the value's). Immutable: a change makes a new box.
public final class SubSpec<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
  public let value: Value

  public init(_ value: Value) { self.value = value }

  public init(from decoder: any Decoder) throws { value = try Value(from: decoder) }

  public func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }

  public static func == (lhs: SubSpec, rhs: SubSpec) -> Bool { lhs === rhs || lhs.value == rhs.value }
}
