import KeeperCore

#if canImport(Glibc)
  import Glibc
#endif

/// A failed system call at the I/O edge, with the errno it returned.
public struct SystemCallError: Error, Equatable, Sendable, CustomStringConvertible {
  public var operation: String
  public var code: Int32

  public init(_ operation: String, code: Int32 = errno) {
    self.operation = operation
    self.code = code
  }

  public var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
}

/// Small, typed wrappers for the socket calls the edge needs.
enum Socket {
  static func open(_ domain: Int32, _ type: Int32, _ proto: Int32) throws(SystemCallError) -> Int32 {
    let fd = socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), proto)
    guard fd >= 0 else { throw SystemCallError("socket(\(domain), \(type), \(proto))") }
    return fd
  }

  static func set<T>(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: T, _ what: String)
    throws(SystemCallError)
  {
    let rc = withUnsafeBytes(of: value) { setsockopt(fd, level, name, $0.baseAddress, socklen_t($0.count)) }
    guard rc == 0 else { throw SystemCallError("setsockopt \(what)") }
  }

  static func bindToDevice(_ fd: Int32, _ device: String) throws(SystemCallError) {
    let rc = device.withCString { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0, socklen_t(strlen($0) + 1)) }
    guard rc == 0 else { throw SystemCallError("SO_BINDTODEVICE \(device)") }
  }

  static func interfaceIndex(_ name: String) throws(SystemCallError) -> UInt32 {
    let index = if_nametoindex(name)
    guard index != 0 else { throw SystemCallError("if_nametoindex \(name)") }
    return index
  }

  /// Fills a sockaddr_storage for `address` (with `scope` as IPv6 scope id) and calls `body`.
  static func withSockaddr<R>(
    _ address: IPAddress, port: UInt16 = 0, scope: UInt32 = 0,
    _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
  ) -> R {
    var storage = sockaddr_storage()
    let length: Int
    let bytes = address.bytes
    if address.isIPv4 {
      length = MemoryLayout<sockaddr_in>.size
      withUnsafeMutableBytes(of: &storage) { raw in
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes) }
        raw.storeBytes(of: sin, as: sockaddr_in.self)
      }
    } else {
      length = MemoryLayout<sockaddr_in6>.size
      withUnsafeMutableBytes(of: &storage) { raw in
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        sin6.sin6_scope_id = scope
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
        raw.storeBytes(of: sin6, as: sockaddr_in6.self)
      }
    }
    return withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
    }
  }

  /// Binds or sends with a socket address given as raw bytes (sockaddr_nl, sockaddr_ll).
  static func withRawSockaddr<R>(_ bytes: [UInt8], _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var storage = sockaddr_storage()
    withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
    return withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(bytes.count)) }
    }
  }

  static func bind(_ fd: Int32, _ address: IPAddress, scope: UInt32 = 0) throws(SystemCallError) {
    let rc = withSockaddr(address, scope: scope) { Glibc.bind(fd, $0, $1) }
    guard rc == 0 else { throw SystemCallError("bind \(address)") }
  }

  static func send(_ fd: Int32, _ bytes: [UInt8], to address: IPAddress, scope: UInt32 = 0)
    throws(SystemCallError)
  {
    let rc = withSockaddr(address, scope: scope) { sa, len in
      bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, len) }
    }
    guard rc >= 0 else { throw SystemCallError("sendto \(address)") }
  }
}

/// Facts about a network interface read from the kernel (getifaddrs and sysfs).
enum InterfaceFacts {
  /// The interface's addresses of one family, in kernel order (primary first).
  static func addresses(of name: String, ipv6: Bool) -> [IPAddress] {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let head = list else { return [] }
    defer { freeifaddrs(head) }
    var result: [IPAddress] = []
    var cursor: UnsafeMutablePointer<ifaddrs>? = head
    while let entry = cursor {
      defer { cursor = entry.pointee.ifa_next }
      guard let sa = entry.pointee.ifa_addr, String(cString: entry.pointee.ifa_name) == name else { continue }
      if !ipv6 && Int32(sa.pointee.sa_family) == AF_INET {
        let sin = UnsafeRawPointer(sa).load(as: sockaddr_in.self)
        if let a = IPAddress(bytes: withUnsafeBytes(of: sin.sin_addr) { Array($0) }) { result.append(a) }
      } else if ipv6 && Int32(sa.pointee.sa_family) == AF_INET6 {
        let sin6 = UnsafeRawPointer(sa).load(as: sockaddr_in6.self)
        if let a = IPAddress(bytes: withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }) { result.append(a) }
      }
    }
    return result
  }

  /// Administratively up and with a working lower layer (operstate up, or unknown for dummies).
  static func isLinkUp(_ name: String) -> Bool {
    guard let flags = readSysfs(name, "flags"), let value = Int(flags.dropFirst(2), radix: 16),
      value & Int(IFF_UP) != 0
    else { return false }
    let state = readSysfs(name, "operstate") ?? "down"
    return state == "up" || state == "unknown"
  }

  static func macAddress(_ name: String) -> [UInt8]? {
    guard let text = readSysfs(name, "address") else { return nil }
    let parts = text.split(separator: ":").compactMap { UInt8($0, radix: 16) }
    return parts.count == 6 ? parts : nil
  }

  static func readSysfs(_ name: String, _ leaf: String) -> String? {
    readSmallFile("/sys/class/net/\(name)/\(leaf)")
  }
}

/// Reads a small text file, trimmed of surrounding whitespace; nil when it cannot be read.
func readSmallFile(_ path: String) -> String? {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var buffer = [UInt8](repeating: 0, count: 4096)
  let n = read(fd, &buffer, buffer.count)
  guard n >= 0 else { return nil }
  let text = String(decoding: buffer.prefix(n), as: UTF8.self)
  return String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
}
