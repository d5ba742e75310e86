import Foundation
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// Small blocking socket helpers for tests that talk to the daemon's real sockets.
enum TestSockets {
  struct SocketError: Error, CustomStringConvertible {
    var description: String
    init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
  }

  /// Fills a `sockaddr_un` for `path`; a leading `@` names an abstract socket.
  static func unixAddress(_ path: String) -> (sockaddr_un, socklen_t) {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var bytes = Array(path.utf8)
    let abstract = bytes.first == UInt8(ascii: "@")
    if abstract { bytes[0] = 0 }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let length = MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1)
    return (address, socklen_t(length))
  }

  static func bind(_ fd: Int32, unixPath path: String) throws {
    var (address, length) = unixAddress(path)
    let result = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
    }
    guard result == 0 else { throw SocketError("bind \(path)") }
  }

  /// Waits up to `timeout` for `fd` to be readable.
  static func waitReadable(_ fd: Int32, timeout: Duration) -> Bool {
    var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let milliseconds = Int32(
      timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    return poll(&pollFD, 1, milliseconds) == 1
  }

  /// Sends `request` on a fresh stream connection to `path` and reads until the peer closes.
  static func unixStreamExchange(path: String, request: [UInt8]) throws -> [UInt8] {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SocketError("socket") }
    defer { close(fd) }
    var (address, length) = unixAddress(path)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
    }
    guard connected == 0 else { throw SocketError("connect \(path)") }
    try writeAll(fd, request)
    return try readToEnd(fd)
  }

  static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      guard written > 0 else { throw SocketError("write") }
      offset += written
    }
  }

  /// Reads until end of file, giving up after 10 s of silence so a broken server fails the test.
  static func readToEnd(_ fd: Int32) throws -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      guard waitReadable(fd, timeout: .seconds(10)) else { throw SocketError("timed out reading") }
      let count = read(fd, &chunk, chunk.count)
      if count == 0 { return result }
      guard count > 0 else { throw SocketError("read") }
      result += chunk[..<count]
    }
  }

  /// A raw HTTP/1.1 request to 127.0.0.1:`port`; returns the status code and the body.
  static func httpGet(port: Int, path: String) throws -> (status: Int, head: String, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SocketError("socket") }
    defer { close(fd) }
    var address = loopback(port: port)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else { throw SocketError("connect 127.0.0.1:\(port)") }
    try writeAll(fd, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
    let response = String(decoding: try readToEnd(fd), as: UTF8.self)
    guard let split = response.range(of: "\r\n\r\n") else {
      throw SocketError("no header end in \(response)")
    }
    let head = String(response[..<split.lowerBound])
    let statusLine = head.split(separator: "\r\n").first ?? ""
    let fields = statusLine.split(separator: " ")
    guard fields.count >= 2, let status = Int(fields[1]) else {
      throw SocketError("bad status line \(statusLine)")
    }
    return (status, head, String(response[split.upperBound...]))
  }

  static func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return address
  }

  /// A TCP port on 127.0.0.1 with nothing listening: bound to learn a free number, then closed.
  static func closedLoopbackPort() throws -> Int {
    let listener = try TCPListener()
    let port = listener.port
    listener.close()
    return port
  }
}

/// A real TCP listener on 127.0.0.1 that accepts and closes connections on its own thread.
final class TCPListener: @unchecked Sendable {  // fd is immutable; `closed` is guarded by `lock`
  let fd: Int32
  let port: Int
  private let lock = NSLock()
  private var closed = false
  private var thread: Thread?

  init() throws {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { throw TestSockets.SocketError("socket") }
    var address = TestSockets.loopback(port: 0)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(descriptor, 64) == 0 else {
      let error = TestSockets.SocketError("bind/listen 127.0.0.1:0")
      Glibc.close(descriptor)
      throw error
    }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    fd = descriptor
    port = Int(UInt16(bigEndian: actual.sin_port))
  }

  /// Accepts (and immediately closes) connections until `close()`.
  func acceptInBackground() {
    let thread = Thread { [self] in
      while !isClosed {
        guard TestSockets.waitReadable(fd, timeout: .milliseconds(100)) else { continue }
        let client = accept(fd, nil, nil)
        if client >= 0 { Glibc.close(client) }
      }
    }
    self.thread = thread
    thread.start()
  }

  private var isClosed: Bool { lock.withLock { closed } }

  func close() {
    let wasOpen = lock.withLock {
      defer { closed = true }
      return !closed
    }
    // Give the accept thread time to leave poll() before the descriptor goes away.
    if wasOpen {
      if thread != nil { Thread.sleep(forTimeInterval: 0.15) }
      Glibc.close(fd)
    }
  }

  deinit { close() }
}

/// Runs `command` with /bin/sh and returns its output; throws with the output when it fails.
@discardableResult
func shell(_ command: String) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/sh")
  process.arguments = ["-c", command]
  let out = Pipe()
  process.standardOutput = out
  process.standardError = out
  try process.run()
  let data = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let text = String(decoding: data, as: UTF8.self)
  guard process.terminationStatus == 0 else { throw TestSockets.SocketError("\(command): \(text)") }
  return text
}
