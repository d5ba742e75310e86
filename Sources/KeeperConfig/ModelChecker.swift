import KeeperCore

/// A health checker attached to a real server, with the cascade
/// virtual_server -> real_server -> checker already applied.
///
/// Invariant: exactly the spec matching `type` is set (`http` for HTTP_GET/SSL_GET, `misc` for
/// MISC_CHECK, `mysql` for MYSQL_CHECK); `connectTimeout > 0`, `retry >= 0`, `delayLoop > 0`.
public struct HealthCheckSpec: Codable, Equatable, Sendable {
  /// The checker block keyword.
  public enum CheckerType: String, Codable, Sendable {
    case tcp = "TCP_CHECK"
    case http = "HTTP_GET"
    case ssl = "SSL_GET"
    case misc = "MISC_CHECK"
    case mysql = "MYSQL_CHECK"
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
  /// Extra attempts after a failure before the server is declared down; default 1 (0 for MISC_CHECK).
  public var retry: Int
  /// Seconds; default 3 for HTTP_GET/SSL_GET, 1 otherwise.
  public var delayBeforeRetry: Double
  /// Random delay before the first check, at most this many seconds; default `delayLoop`.
  public var warmup: Double
  public var delayLoop: Double
  public var alpha: Bool
  public var http: HTTPCheckSpec?
  public var misc: MiscCheckSpec?
  public var mysql: MySQLCheckSpec?
  /// BFD_CHECK's `name`: the bfd_instance whose session decides (it exists and notifies checkers).
  public var bfdName: String? = nil
  public var location: SourceLocation
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
