/// `ipvsadm -Ln [options]` output parsed into services and destinations: the independent reader the
/// kernel tests assert against.
///
/// Services are keyed as ipvsadm prints them: "TCP 10.0.0.1:80", "UDP [2001:db8::1]:53", "FWM 7",
/// "FWM 7 IPv6"; destinations by "addr:port", with the remaining columns as tokens.
struct IpvsadmListing {
  struct Service {
    var scheduler: String
    /// Everything after the scheduler: "persistent 300", "mask 255.255.255.0", "ops", "sh-fallback,sh-port"...
    var flags: [String]
    var destinations: [String: [String]] = [:]
  }

  var header = ""
  var services: [String: Service] = [:]

  init(_ output: String) {
    var current: String?
    for line in output.split(separator: "\n") {
      let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
      guard let first = tokens.first else { continue }
      if first == "IP" {
        header = String(line)
      } else if first == "->", tokens.count >= 2, tokens[1] != "RemoteAddress:Port", let key = current {
        services[key]?.destinations[tokens[1]] = Array(tokens.dropFirst(2))
      } else if ["TCP", "UDP", "SCTP"].contains(first), tokens.count >= 3 {
        let key = "\(first) \(tokens[1])"
        services[key] = Service(scheduler: tokens[2], flags: Array(tokens.dropFirst(3)))
        current = key
      } else if first == "FWM", tokens.count >= 3 {
        let v6 = tokens[2] == "IPv6"
        let key = "FWM \(tokens[1])" + (v6 ? " IPv6" : "")
        let rest = Array(tokens.dropFirst(v6 ? 3 : 2))
        services[key] = Service(scheduler: rest.first ?? "", flags: Array(rest.dropFirst()))
        current = key
      }
    }
  }

  /// Reads the kernel's table with `ipvsadm -Ln` plus `options`.
  static func read(_ options: String = "") throws -> IpvsadmListing {
    IpvsadmListing(try run("ipvsadm -Ln \(options)"))
  }

  func service(_ key: String) throws -> Service {
    guard let s = services[key] else {
      throw TestFailure(description: "ipvsadm does not list \(key); it lists \(services.keys.sorted())")
    }
    return s
  }

  /// Forward method and weight of a destination in the plain `-Ln` layout.
  func destination(_ service: String, _ address: String) throws -> (forward: String, weight: Int) {
    guard let columns = try self.service(service).destinations[address], columns.count >= 2,
      let weight = Int(columns[1])
    else { throw TestFailure(description: "ipvsadm lists no destination \(address) in \(service)") }
    return (columns[0], weight)
  }
}
