import Foundation
import Glibc
import XCTest

/// Fails the test with a clear message when a required program is missing.
func requireTool(_ path: String, package: String) throws {
  guard FileManager.default.isExecutableFile(atPath: path) else {
    throw XCTSkipFailure("\(path) is missing: install the Debian package \(package)")
  }
}

/// Thrown (not skipped) when the environment lacks a tool: the test fails with this message.
struct XCTSkipFailure: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}

/// Runs a program to completion and returns its stdout; throws on a non-zero exit.
@discardableResult
func runTool(_ path: String, _ args: [String]) throws -> String {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = args
  let out = Pipe()
  let err = Pipe()
  p.standardOutput = out
  p.standardError = err
  try p.run()
  let data = out.fileHandleForReading.readDataToEndOfFile()
  let errData = err.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  guard p.terminationStatus == 0 else {
    throw XCTSkipFailure(
      "\(path) \(args.joined(separator: " ")) exited \(p.terminationStatus): \(String(decoding: errData, as: UTF8.self))"
    )
  }
  return String(decoding: data, as: UTF8.self)
}

/// True once something accepts TCP connections on 127.0.0.1:port (polls up to `seconds`).
func waitForListener(port: UInt16, seconds: Double) -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = port.bigEndian
    let r = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    close(fd)
    if r == 0 { return true }
    Thread.sleep(forTimeInterval: 0.05)
  }
  return false
}

func makeTempDir(_ prefix: String) throws -> URL {
  let url = URL(fileURLWithPath: "/tmp").appendingPathComponent(
    "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// A private nginx on 127.0.0.1: plain HTTP on `port` and TLS (self-signed) on `tlsPort`, with
/// two name-based virtual hosts: a.example (default, body `bodyA`) and b.example (`bodyB`).
final class NginxInstance {
  static let bodyA = "hello from a\n"
  static let bodyB = "hello from b\n"
  let dir: URL
  let port: UInt16
  let tlsPort: UInt16
  private var process: Process?

  init() throws {
    try requireTool("/usr/sbin/nginx", package: "nginx-light")
    try requireTool("/usr/bin/openssl", package: "openssl")
    dir = try makeTempDir("lvsk-nginx")
    port = try MisbehavingServer.closedPort()
    tlsPort = try MisbehavingServer.closedPort()
    let d = dir.path
    for site in ["a", "b"] {
      try FileManager.default.createDirectory(atPath: "\(d)/www-\(site)", withIntermediateDirectories: true)
      try (site == "a" ? Self.bodyA : Self.bodyB).write(
        toFile: "\(d)/www-\(site)/index.html", atomically: true, encoding: .utf8)
    }
    try runTool(
      "/usr/bin/openssl",
      [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=a.example",
        "-keyout", "\(d)/key.pem", "-out", "\(d)/cert.pem",
      ])
    var servers = ""
    for site in ["a", "b"] {
      let flag = site == "a" ? " default_server" : ""
      servers += """
          server { listen 127.0.0.1:\(port)\(flag); server_name \(site).example; root \(d)/www-\(site); }
          server { listen 127.0.0.1:\(tlsPort) ssl\(flag); server_name \(site).example; root \(d)/www-\(site);
                   ssl_certificate \(d)/cert.pem; ssl_certificate_key \(d)/key.pem; }

        """
    }
    let conf = """
      daemon off;
      master_process off;
      user root;
      worker_processes 1;
      pid \(d)/nginx.pid;
      error_log \(d)/error.log;
      events { worker_connections 1024; }
      http {
        log_format sni '$server_port $ssl_server_name $host $request_uri';
        access_log \(d)/access.log sni;
        default_type text/plain;
        client_body_temp_path \(d)/tmp-body;
        proxy_temp_path \(d)/tmp-proxy;
        fastcgi_temp_path \(d)/tmp-fcgi;
        uwsgi_temp_path \(d)/tmp-uwsgi;
        scgi_temp_path \(d)/tmp-scgi;
      \(servers)
      }
      """
    try conf.write(toFile: "\(d)/nginx.conf", atomically: true, encoding: .utf8)
    try start()
  }

  func start() throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
    p.arguments = ["-p", dir.path, "-c", "\(dir.path)/nginx.conf", "-e", "\(dir.path)/error.log"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    process = p
    guard waitForListener(port: port, seconds: 10), waitForListener(port: tlsPort, seconds: 10) else {
      let log = (try? String(contentsOfFile: "\(dir.path)/error.log", encoding: .utf8)) ?? ""
      stop()
      throw XCTSkipFailure("nginx did not start: \(log)")
    }
  }

  /// The access log so far: one "PORT SNI HOST URI" line per request ("-" where there is none).
  /// nginx writes a request's line after it has sent the response (its log phase), so a client
  /// can hold the answer before the line is in the file: with `lines`, waits up to 5 s for that
  /// many.
  func accessLog(lines: Int = 0) -> [String] {
    let deadline = Date().addingTimeInterval(5)
    while true {
      let text = (try? String(contentsOfFile: "\(dir.path)/access.log", encoding: .utf8)) ?? ""
      let log = text.split(separator: "\n").map(String.init)
      if log.count >= lines || Date() >= deadline { return log }
      usleep(20_000)
    }
  }

  func stop() {
    guard let p = process else { return }
    if p.isRunning {
      kill(p.processIdentifier, SIGKILL)
    }
    p.waitUntilExit()
    process = nil
  }

  deinit {
    stop()
    try? FileManager.default.removeItem(at: dir)
  }
}
