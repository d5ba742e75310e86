import KeeperCore

/// Timing and behaviour settings that cascade virtual_server -> real_server -> checker.
struct CheckerDefaults {
  var connectTimeout: Double?
  var retry: Int?
  var delayBeforeRetry: Double?
  var warmup: Double?
  var delayLoop: Double?
  var alpha: Bool?
  var virtualhost: String?

  /// Reads a cascading statement into self; false if `node` is not one.
  mutating func apply(_ node: ConfigNode, reader: StatementReader) -> Bool {
    switch node.name {
    case "connect_timeout": connectTimeout = reader.secondsValue(node, 0.001...86400) ?? connectTimeout
    case "retry", "nb_get_retry": retry = reader.integerValue(node, 0...Int(Int32.max)) ?? retry
    case "delay_before_retry": delayBeforeRetry = reader.secondsValue(node, 0...86400) ?? delayBeforeRetry
    case "warmup": warmup = reader.secondsValue(node, 0...86400) ?? warmup
    case "delay_loop": delayLoop = reader.secondsValue(node, 0.001...86400) ?? delayLoop
    case "alpha": alpha = reader.flag(node) ?? alpha
    case "virtualhost": virtualhost = reader.stringValue(node) ?? virtualhost
    default: return false
    }
    return true
  }

  /// Values set here win; unset ones come from `outer`.
  func over(_ outer: CheckerDefaults) -> CheckerDefaults {
    CheckerDefaults(
      connectTimeout: connectTimeout ?? outer.connectTimeout, retry: retry ?? outer.retry,
      delayBeforeRetry: delayBeforeRetry ?? outer.delayBeforeRetry, warmup: warmup ?? outer.warmup,
      delayLoop: delayLoop ?? outer.delayLoop, alpha: alpha ?? outer.alpha,
      virtualhost: virtualhost ?? outer.virtualhost)
  }
}

/// Reads a checker block (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, MYSQL_CHECK) of a real server.
struct CheckerBuilder {
  let reader: StatementReader
  var log: DiagnosticLog { reader.log }

  static let supported: Set<String> = [
    "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "MYSQL_CHECK", "BFD_CHECK",
  ]

  /// `inherited` already folds virtual server and real server settings; `vsDelayLoop` is the final fallback.
  func checker(
    _ node: ConfigNode, type: HealthCheckSpec.CheckerType, inherited: CheckerDefaults, realAddress: IPAddress,
    realPort: Int, vsDelayLoop: Double
  ) -> HealthCheckSpec? {
    guard let children = reader.block(node) else { return nil }
    if let argument = node.arguments.first {
      log.error("'\(node.name)' takes no arguments", at: argument.location)
    }
    if type == .bfd {
      return bfdChecker(node, children, realAddress: realAddress, realPort: realPort, inherited: inherited)
    }
    var own = CheckerDefaults()
    var connectIP: IPAddress?
    var connectPort: Int?
    var bindTo: IPAddress?
    var bindPort: Int?
    var bindInterface: String?
    var fwmark: UInt32?
    var urls: [(ConfigNode, URLCheck)] = []
    var httpProtocol = HTTPCheckSpec.ProtocolVersion.http10
    var enableSNI = false
    var sniName: String?
    var miscPath: ScriptCommand?
    var miscTimeout: Double?
    var miscDynamic = false
    var user: ScriptUser?
    var mysql = MySQLCheckSpec()
    let isHTTP = type == .http || type == .ssl
    for child in children {
      if own.apply(child, reader: reader) { continue }
      switch (child.name, type) {
      case ("connect_ip", _) where type != .misc: connectIP = reader.addressValue(child) ?? connectIP
      case ("connect_port", _) where type != .misc: connectPort = portValue(child) ?? connectPort
      case ("bindto", _) where type != .misc: bindTo = reader.addressValue(child) ?? bindTo
      case ("bind_port", _) where type != .misc: bindPort = portValue(child) ?? bindPort
      case ("bind_if", _) where type != .misc: bindInterface = interfaceName(child) ?? bindInterface
      case ("fwmark", _) where type != .misc:
        fwmark = reader.integerValue(child, 0...Int(UInt32.max)).map { UInt32($0) } ?? fwmark
      case ("url", _) where isHTTP:
        if let url = url(child) { urls.append((child, url)) }
      case ("http_protocol", _) where isHTTP:
        guard let value = reader.stringValue(child) else { continue }
        guard let version = HTTPCheckSpec.ProtocolVersion(rawValue: value) else {
          log.error("http_protocol must be 1.0, 1.1 or 1.0C, not '\(value)'", at: child.arguments[0].location)
          continue
        }
        httpProtocol = version
      case ("fast_recovery", _) where isHTTP:
        // keepalived checks one url per delay_loop unless fast_recovery is set, in which case a
        // checker that is not up checks its urls back to back. lvskeeper always checks every url
        // in one pass, so fast_recovery is what it does; asking for the paced mode is an error.
        if reader.flag(child) == false {
          log.error(
            "'fast_recovery off' is not available: lvskeeper checks every url of a checker in one pass, with no delay between urls (keepalived's fast_recovery)",
            at: child.location)
        }
      case ("enable_sni", .ssl): enableSNI = reader.flag(child) ?? enableSNI
      case ("sni_name", .ssl):
        // As keepalived: naming the SNI also enables it.
        if let name = reader.stringValue(child) {
          sniName = name
          enableSNI = true
        }
      case ("misc_path", .misc): miscPath = reader.commandLine(child) ?? miscPath
      case ("misc_timeout", .misc): miscTimeout = reader.secondsValue(child, 0.001...86400) ?? miscTimeout
      case ("misc_dynamic", .misc): miscDynamic = reader.flag(child) ?? miscDynamic
      case ("user", .misc): user = reader.scriptUser(child) ?? user
      case ("user", .mysql): mysql.user = reader.stringValue(child) ?? mysql.user
      case ("password", .mysql): mysql.password = reader.stringValue(child) ?? mysql.password
      case ("database", .mysql): mysql.database = reader.stringValue(child) ?? mysql.database
      case ("server_public_key", .mysql):
        mysql.serverPublicKey =
          reader.stringValue(child).flatMap { publicKeyFile(child, $0) } ?? mysql.serverPublicKey
      default: reader.reject(child, in: node.name)
      }
    }
    let settings = own.over(inherited)
    let delayLoop = settings.delayLoop ?? vsDelayLoop
    let port = connectPort ?? realPort
    if type != .misc && port == 0 {
      log.error("\(node.name) needs 'connect_port': the real server has no port", at: node.location)
      return nil
    }
    var spec = HealthCheckSpec(
      type: type, connectIP: connectIP ?? realAddress, connectPort: port, bindTo: bindTo, bindPort: bindPort,
      bindInterface: bindInterface, fwmark: fwmark, connectTimeout: settings.connectTimeout ?? 5,
      retry: settings.retry ?? (type == .misc ? 0 : 1),
      delayBeforeRetry: settings.delayBeforeRetry ?? (isHTTP ? 3 : 1), warmup: settings.warmup ?? delayLoop,
      delayLoop: delayLoop, alpha: settings.alpha ?? false, http: nil, misc: nil, mysql: nil,
      location: node.location)
    if let bindTo, bindTo.family != spec.connectIP.family {
      log.error("bindto \(bindTo) is not of the same family as \(spec.connectIP)", at: node.location)
      return nil
    }
    switch type {
    case .http, .ssl:
      guard !urls.isEmpty else {
        log.error("\(node.name) has no 'url { ... }' to check", at: node.location)
        return nil
      }
      let resolved = urls.map { pair -> URLCheck in
        var url = pair.1
        url.virtualhost = url.virtualhost ?? settings.virtualhost
        return url
      }
      spec.http = HTTPCheckSpec(
        urls: resolved, httpProtocol: httpProtocol, enableSNI: enableSNI, sniName: sniName)
    case .misc:
      guard var path = miscPath else {
        log.error("MISC_CHECK has no 'misc_path'", at: node.location)
        return nil
      }
      if let user { path.user = user }
      spec.misc = MiscCheckSpec(path: path, timeout: miscTimeout ?? delayLoop, dynamic: miscDynamic)
    case .mysql:
      if let key = mysql.serverPublicKey, mysql.user == nil {
        log.warning(
          "server_public_key has no effect without 'user' (no login is attempted)", at: key.location)
      }
      spec.mysql = mysql
    case .tcp, .bfd:
      break
    }
    return spec
  }

  /// `BFD_CHECK { name NAME [alpha] }`: keepalived's check_bfd.c takes only these two; the
  /// connection and timing keywords of other checkers have no meaning here and are errors.
  private func bfdChecker(
    _ node: ConfigNode, _ children: [ConfigNode], realAddress: IPAddress, realPort: Int,
    inherited: CheckerDefaults
  ) -> HealthCheckSpec? {
    var name: String?
    var alpha = inherited.alpha ?? false
    for child in children {
      switch child.name {
      case "name":
        guard let value = reader.stringValue(child) else { continue }
        if let name {
          log.error("BFD_CHECK already names '\(name)'", at: child.location)
        } else {
          name = value
        }
      case "alpha": alpha = reader.flag(child) ?? alpha
      default: reader.reject(child, in: "BFD_CHECK")
      }
    }
    guard let name else {
      log.error("BFD_CHECK has no 'name' of a bfd_instance", at: node.location)
      return nil
    }
    var spec = HealthCheckSpec(
      type: .bfd, connectIP: realAddress, connectPort: realPort, bindTo: nil, bindPort: nil,
      bindInterface: nil,
      fwmark: nil, connectTimeout: 0, retry: 0, delayBeforeRetry: 0, warmup: 0, delayLoop: 0.1, alpha: alpha,
      http: nil, misc: nil, mysql: nil, location: node.location)
    spec.bfdName = name
    return spec
  }

  /// An interface name as SO_BINDTODEVICE takes it: 1 to 15 bytes (IFNAMSIZ less the NUL), no '/'.
  private func interfaceName(_ node: ConfigNode) -> String? {
    guard let name = reader.stringValue(node) else { return nil }
    guard (1...15).contains(name.utf8.count), !name.contains("/"), name != ".", name != ".." else {
      log.error("invalid interface name '\(name)' (1 to 15 bytes, no '/')", at: node.arguments[0].location)
      return nil
    }
    return name
  }

  private func portValue(_ node: ConfigNode) -> Int? {
    guard reader.plain(node), reader.expect(node, arguments: 1...1, usage: "\(node.name) PORT") else {
      return nil
    }
    return reader.port(node.arguments[0])
  }

  private func url(_ node: ConfigNode) -> URLCheck? {
    guard let children = reader.block(node) else { return nil }
    var path: String?
    var digest: String?
    var codes: [StatusCodeRange] = []
    var virtualhost: String?
    for child in children {
      switch child.name {
      case "path": path = reader.stringValue(child) ?? path
      case "digest":
        guard let value = reader.stringValue(child) else { continue }
        let lower = value.lowercased()
        guard lower.utf8.count == 32,
          lower.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else {
          log.error(
            "digest must be 32 hexadecimal digits (an MD5 sum), not '\(value)'",
            at: child.arguments[0].location)
          continue
        }
        digest = lower
      case "status_code":
        guard reader.plain(child),
          reader.expect(child, arguments: 1...Int.max, usage: "status_code CODE|FROM-TO ...")
        else {
          continue
        }
        for argument in child.arguments {
          if let range = statusRange(argument) { codes.append(range) }
        }
      case "virtualhost": virtualhost = reader.stringValue(child) ?? virtualhost
      default: reader.reject(child, in: "url")
      }
    }
    guard let path else {
      log.error("url block has no 'path'", at: node.location)
      return nil
    }
    if codes.isEmpty { codes = [StatusCodeRange(lower: 200, upper: 299)] }
    return URLCheck(
      path: path, digest: digest, statusCodes: codes, virtualhost: virtualhost, location: node.location)
  }

  private func statusRange(_ token: Token) -> StatusCodeRange? {
    let parts = token.text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
    let numbers = parts.map { Int($0) }
    guard let lower = numbers.first ?? nil, let upper = numbers.last ?? nil,
      (100...999).contains(lower), (100...999).contains(upper), lower <= upper
    else {
      log.error(
        "invalid status_code '\(token.text)' (expected CODE or FROM-TO within 100..999)", at: token.location)
      return nil
    }
    return StatusCodeRange(lower: lower, upper: upper)
  }
}
