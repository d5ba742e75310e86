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

/// Where a checker connects from and to: keepalived's connection keywords (`conn_opts_t`).
struct ConnectionOptions {
  var connectIP: IPAddress?
  var connectPort: Int?
  var bindTo: IPAddress?
  var bindPort: Int?
  var bindInterface: String?
  var fwmark: UInt32?
  var connectTimeout: Double?

  /// True when any of them is set (keepalived's test for whether an SMTP_CHECK with `host`
  /// blocks also checks the real server itself).
  var anySet: Bool {
    connectIP != nil || connectPort != nil || bindTo != nil || bindPort != nil || bindInterface != nil
      || fwmark != nil || connectTimeout != nil
  }
}

/// Reads a checker block (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, MYSQL_CHECK, SMTP_CHECK) of a
/// real server.
struct CheckerBuilder {
  let reader: StatementReader
  var log: DiagnosticLog { reader.log }

  static let supported: Set<String> = [
    "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "MYSQL_CHECK", "SMTP_CHECK", "PING_CHECK", "UDP_CHECK",
    "DNS_CHECK", "FILE_CHECK", "BFD_CHECK",
  ]

  /// The checkers a checker block stands for: one, except for an SMTP_CHECK with the deprecated
  /// `host { }` blocks, which is one checker per host, plus one for the real server itself when the
  /// block sets a connection keyword of its own (keepalived's smtp_check_end_handler). A real
  /// server is up only while all of them pass.
  ///
  /// `inherited` already folds virtual server and real server settings; `vsDelayLoop` is the final fallback.
  func checkers(
    _ node: ConfigNode, type: HealthCheckSpec.CheckerType, inherited: CheckerDefaults, realAddress: IPAddress,
    realPort: Int, vsDelayLoop: Double
  ) -> [HealthCheckSpec] {
    var hosts: [ConfigNode] = []
    guard
      let main = checker(
        node, type: type, inherited: inherited, realAddress: realAddress, realPort: realPort,
        vsDelayLoop: vsDelayLoop, hosts: &hosts)
    else { return [] }
    guard type == .smtp, !hosts.isEmpty else { return [main.spec] }
    log.warning(
      "the SMTP_CHECK host block is deprecated (as in keepalived): each host is a checker of its own; define additional SMTP_CHECKs instead",
      at: hosts[0].location)
    var result = main.ownConnection ? [main.spec] : []
    for host in hosts {
      guard let options = hostOptions(host) else { continue }
      var spec = main.spec
      // A host starts from the real server's address and port, and takes its timeout from the
      // real or virtual server, never from the SMTP_CHECK block (keepalived's smtp_host_handler).
      spec.connectIP = options.connectIP ?? realAddress
      spec.connectPort = options.connectPort ?? realPort
      spec.bindTo = options.bindTo
      spec.bindPort = options.bindPort
      spec.bindInterface = options.bindInterface
      spec.fwmark = options.fwmark
      spec.connectTimeout = options.connectTimeout ?? inherited.connectTimeout ?? 5
      spec.location = host.location
      if spec.connectPort == 0 {
        log.error("SMTP_CHECK host needs 'connect_port': the real server has no port", at: host.location)
        continue
      }
      if let bindTo = spec.bindTo, bindTo.family != spec.connectIP.family {
        log.error("bindto \(bindTo) is not of the same family as \(spec.connectIP)", at: host.location)
        continue
      }
      result.append(spec)
    }
    return result
  }

  /// A `host { }` block of SMTP_CHECK: its connection keywords. The other common checker keywords
  /// are accepted, as keepalived does, but have no effect there (keepalived copies the checker's).
  private func hostOptions(_ node: ConfigNode) -> ConnectionOptions? {
    guard let children = reader.block(node) else { return nil }
    if let argument = node.arguments.first {
      log.error("'host' takes no arguments", at: argument.location)
    }
    var options = ConnectionOptions()
    for child in children {
      if connectionKeyword(child, into: &options) { continue }
      switch child.name {
      case "retry", "nb_get_retry", "delay_before_retry", "warmup", "delay_loop", "alpha":
        log.warning(
          "'\(child.name)' has no effect in an SMTP_CHECK host block (keepalived ignores it there too); set it in SMTP_CHECK",
          at: child.location)
      default: reader.reject(child, in: "host")
      }
    }
    return options
  }

  /// Reads one of keepalived's connection keywords into `options`; false if `node` is not one.
  private func connectionKeyword(_ child: ConfigNode, into options: inout ConnectionOptions) -> Bool {
    switch child.name {
    case "connect_ip": options.connectIP = reader.addressValue(child) ?? options.connectIP
    case "connect_port": options.connectPort = portValue(child) ?? options.connectPort
    case "bindto": options.bindTo = reader.addressValue(child) ?? options.bindTo
    case "bind_port": options.bindPort = portValue(child) ?? options.bindPort
    case "bind_if": options.bindInterface = interfaceName(child) ?? options.bindInterface
    case "fwmark":
      options.fwmark = reader.integerValue(child, 0...Int(UInt32.max)).map { UInt32($0) } ?? options.fwmark
    case "connect_timeout":
      options.connectTimeout = reader.secondsValue(child, 0.001...86400) ?? options.connectTimeout
    default: return false
    }
    return true
  }

  /// One checker block as a spec; `ownConnection` says whether it set a connection keyword itself.
  /// SMTP_CHECK's `host` blocks are collected into `hosts`, unread.
  private func checker(
    _ node: ConfigNode, type: HealthCheckSpec.CheckerType, inherited: CheckerDefaults, realAddress: IPAddress,
    realPort: Int, vsDelayLoop: Double, hosts: inout [ConfigNode]
  ) -> (spec: HealthCheckSpec, ownConnection: Bool)? {
    guard let children = reader.block(node) else { return nil }
    if let argument = node.arguments.first {
      log.error("'\(node.name)' takes no arguments", at: argument.location)
    }
    // FILE_CHECK and BFD_CHECK have no connection and no hosts: they always judge the real server.
    if type == .file {
      return fileCheck(node, children, realAddress: realAddress, realPort: realPort).map { ($0, true) }
    }
    if type == .bfd {
      return bfdChecker(node, children, realAddress: realAddress, realPort: realPort, inherited: inherited)
        .map { ($0, true) }
    }
    var own = CheckerDefaults()
    var connection = ConnectionOptions()
    var heloName: String?
    var urls: [(ConfigNode, URLCheck)] = []
    var httpProtocol = HTTPCheckSpec.ProtocolVersion.http10
    var enableSNI = false
    var sniName: String?
    var miscPath: ScriptCommand?
    var miscTimeout: Double?
    var miscDynamic = false
    var user: ScriptUser?
    var mysql = MySQLCheckSpec()
    var udp = UDPCheckSpec()
    var dns = DNSCheckSpec()
    var dnsName: ConfigNode?
    var portNodes: [ConfigNode] = []
    let isHTTP = type == .http || type == .ssl
    for child in children {
      if type != .misc, child.name == "connect_timeout" {
        // Also kept apart: an SMTP_CHECK with hosts checks the real server only when set here.
        connection.connectTimeout = reader.secondsValue(child, 0.001...86400) ?? connection.connectTimeout
        own.connectTimeout = connection.connectTimeout ?? own.connectTimeout
        continue
      }
      if own.apply(child, reader: reader) { continue }
      if type != .misc, connectionKeyword(child, into: &connection) {
        if child.name == "connect_port" || child.name == "bind_port" { portNodes.append(child) }
        continue
      }
      switch (child.name, type) {
      case ("host", .smtp): hosts.append(child)
      case ("helo_name", .smtp):
        guard let name = reader.stringValue(child) else { continue }
        guard (1...505).contains(name.utf8.count),
          !name.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" })
        else {
          log.error(
            "helo_name must be 1 to 505 bytes on one line (HELO NAME CRLF fits 512 bytes)",
            at: child.arguments[0].location)
          continue
        }
        heloName = name
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
      case ("payload", .udp):
        guard reader.expect(child, arguments: 1...Int.max, usage: "payload HEX") else { continue }
        udp.payload = hexString(child, wildcards: false)?.data ?? udp.payload
      case ("require_reply", .udp):
        udp.requireReply = true
        if !child.arguments.isEmpty, let hex = hexString(child, wildcards: true) {
          (udp.replyData, udp.replyMask) = hex
        }
      case ("min_reply_length", .udp):
        udp.minReplyLength = reader.integerValue(child, 0...65535) ?? udp.minReplyLength
      case ("max_reply_length", .udp):
        udp.maxReplyLength = reader.integerValue(child, 0...65535) ?? udp.maxReplyLength
      case ("type", .dns):
        guard let value = reader.stringValue(child) else { continue }
        guard let known = Self.dnsTypes.first(where: { $0 == value.uppercased() }) else {
          log.error(
            "unknown DNS_CHECK type '\(value)' (one of \(Self.dnsTypes.joined(separator: ", ")))",
            at: child.arguments[0].location)
          continue
        }
        dns.type = known
      case ("name", .dns):
        guard let value = reader.stringValue(child) else { continue }
        if dnsName != nil {
          log.error("DNS_CHECK name already specified", at: child.location)
          continue
        }
        guard Self.validDNSName(value) else {
          log.error(
            "DNS_CHECK name '\(value)' is not a domain name (a label is empty or longer than 63 bytes, or the name is longer than 253)",
            at: child.arguments[0].location)
          continue
        }
        dnsName = child
        dns.name = value
      default: reader.reject(child, in: node.name)
      }
    }
    let settings = own.over(inherited)
    let delayLoop = settings.delayLoop ?? vsDelayLoop
    let port = connection.connectPort ?? realPort
    // With hosts and no connection keyword of its own, the block checks only its hosts.
    let checksRealServer = hosts.isEmpty || connection.anySet
    if type == .ping {
      for portNode in portNodes {
        log.warning(
          "'\(portNode.name)' has no effect on PING_CHECK (ICMP has no ports)", at: portNode.location)
      }
    }
    if type != .misc && type != .ping && port == 0 && checksRealServer {
      log.error("\(node.name) needs 'connect_port': the real server has no port", at: node.location)
      return nil
    }
    var spec = HealthCheckSpec(
      type: type, connectIP: connection.connectIP ?? realAddress, connectPort: port,
      bindTo: connection.bindTo,
      bindPort: connection.bindPort, bindInterface: connection.bindInterface, fwmark: connection.fwmark,
      connectTimeout: settings.connectTimeout ?? 5,
      retry: settings.retry ?? (type == .misc ? 0 : type == .dns ? 3 : 1),
      delayBeforeRetry: settings.delayBeforeRetry ?? (isHTTP ? 3 : type == .dns ? delayLoop : 1),
      warmup: settings.warmup ?? delayLoop,
      delayLoop: delayLoop, alpha: settings.alpha ?? false, http: nil, misc: nil, mysql: nil,
      location: node.location)
    if let bindTo = connection.bindTo, bindTo.family != spec.connectIP.family {
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
    case .smtp:
      spec.smtp = SMTPCheckSpec(heloName: heloName ?? SMTPCheckSpec.defaultHeloName)
    case .udp:
      if udp.minReplyLength > udp.maxReplyLength {
        log.error(
          "UDP_CHECK min_reply_length \(udp.minReplyLength) > max_reply_length \(udp.maxReplyLength): the check would always fail",
          at: node.location)
        return nil
      }
      spec.udp = udp
    case .dns:
      spec.dns = dns
    case .tcp, .ping, .file, .bfd:
      break
    }
    return (spec, checksRealServer && !hosts.isEmpty)
  }

  /// DNS_CHECK's types (keepalived.conf(5) 2.2): A, NS, CNAME, SOA, MX, TXT, AAAA.
  static let dnsTypes = ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"]

  /// "." (the root) or labels of 1 to 63 bytes, optionally ending in ".", at most 253 bytes.
  static func validDNSName(_ name: String) -> Bool {
    if name == "." { return true }
    var labels = name.split(separator: ".", omittingEmptySubsequences: false)
    if labels.count > 1, labels.last?.isEmpty == true { labels.removeLast() }
    return name.utf8.count <= 254 && labels.allSatisfy { (1...63).contains($0.utf8.count) }
  }

  /// keepalived's hex strings (parser.c read_hex_str) from every argument of `node`: hex digits in
  /// pairs, a lone digit before a space or the end is one byte, spaces separate; with `wildcards`
  /// an X nibble matches anything (its mask nibble is set). Nil (with an error) if invalid or empty.
  private func hexString(_ node: ConfigNode, wildcards: Bool) -> (data: [UInt8], mask: [UInt8])? {
    let text = Array(node.arguments.map(\.text).joined(separator: " ").utf8)
    var data: [UInt8] = []
    var mask: [UInt8] = []
    var i = 0
    func nibble(_ c: UInt8) -> (value: UInt8, mask: UInt8)? {
      switch c {
      case 0x30...0x39: return (c - 0x30, 0)
      case 0x41...0x46: return (c - 0x41 + 10, 0)
      case 0x61...0x66: return (c - 0x61 + 10, 0)
      case 0x58,
        0x78 where wildcards:
        return (0, 0x0f)
      default: return nil
      }
    }
    var valid = true
    while i < text.count {
      if text[i] == 0x20 || text[i] == 0x09 {
        i += 1
        continue
      }
      guard let high = nibble(text[i]) else {
        valid = false
        break
      }
      i += 1
      var byte = high
      if i < text.count, text[i] != 0x20, text[i] != 0x09 {
        guard let low = nibble(text[i]) else {
          valid = false
          break
        }
        byte = (high.value << 4 | low.value, high.mask << 4 | low.mask)
        i += 1
      }
      data.append(byte.value)
      mask.append(byte.mask)
    }
    guard valid, !data.isEmpty, data.count <= 65535 else {
      log.error(
        "invalid hex string for '\(node.name)' (hex digits\(wildcards ? ", X for any nibble," : "") separated by spaces)",
        at: node.arguments.first?.location ?? node.location)
      return nil
    }
    return (data, mask.contains { $0 != 0 } ? mask : [])
  }

  /// FILE_CHECK takes only `track_file` and `weight` (keepalived's check_file.c); it does not
  /// probe, so no timing keyword applies.
  private func fileCheck(_ node: ConfigNode, _ children: [ConfigNode], realAddress: IPAddress, realPort: Int)
    -> HealthCheckSpec?
  {
    var file: FileCheckSpec?
    var weight: (Int, Bool)?
    for child in children {
      switch child.name {
      case "track_file":
        guard let name = reader.stringValue(child) else { continue }
        file = FileCheckSpec(trackFile: name)
      case "weight":
        guard reader.plain(child), reader.expect(child, arguments: 1...2, usage: "weight N [reverse]"),
          let value = reader.integer(child.arguments[0], -65535...65535, what: "weight")
        else { continue }
        if child.arguments.count == 2 && child.arguments[1].text != "reverse"
          && child.arguments[1].text != "noreverse"
        {
          log.error(
            "expected 'reverse' after the weight, not '\(child.arguments[1].text)'",
            at: child.arguments[1].location
          )
          continue
        }
        weight = (value, child.arguments.count == 2 && child.arguments[1].text == "reverse")
      default: reader.reject(child, in: node.name)
      }
    }
    guard var file else {
      // keepalived: "FILE_CHECK has no track_file specified - ignoring". Nothing would be checked,
      // so the server would stay up: an error here rather than a silently dropped checker.
      log.error("FILE_CHECK has no 'track_file'", at: node.location)
      return nil
    }
    // keepalived: a FILE_CHECK weight of 0 (or none) takes the track_file's weight and reverse.
    if let (value, reverse) = weight, value != 0 {
      file.weight = value
      file.reverse = reverse
    }
    return HealthCheckSpec(
      type: .file, connectIP: realAddress, connectPort: realPort, bindTo: nil, bindPort: nil,
      bindInterface: nil,
      fwmark: nil, connectTimeout: 1, retry: 0, delayBeforeRetry: 1, warmup: 0, delayLoop: 1, alpha: false,
      http: nil, misc: nil, mysql: nil, file: file, location: node.location)
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
