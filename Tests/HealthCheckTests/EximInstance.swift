import Foundation
import Glibc
import XCTest

/// A private Exim (Debian's exim4-daemon-light) on 127.0.0.1, in the foreground (`-bdf`) with a
/// throwaway configuration: a two-line 220 banner, HELO refused with 550 for `refusedHelo`, and, with
/// `refuseConnections`, every connection refused with a 554 banner (an `acl_smtp_connect` deny).
final class EximInstance {
  static let binary = "/usr/sbin/exim4"
  static let refusedHelo = "refused.example"
  let dir: URL
  let port: UInt16
  private var process: Process?

  init(refuseConnections: Bool = false) throws {
    try requireTool(Self.binary, package: "exim4-daemon-light")
    dir = try makeTempDir("lvsk-exim")
    port = try MisbehavingServer.closedPort()
    let d = dir.path
    for sub in ["spool", "log"] {
      try FileManager.default.createDirectory(atPath: "\(d)/\(sub)", withIntermediateDirectories: true)
    }
    // Exim writes its spool and logs as its own user.
    try runTool("/bin/chown", ["-R", "Debian-exim:Debian-exim", d])
    let connectVerdict = refuseConnections ? "deny message = 554 no SMTP service here" : "accept"
    let conf = """
      primary_hostname = mx.lvskeeper.test
      spool_directory = \(d)/spool
      log_file_path = \(d)/log/%slog
      pid_file_path = \(d)/exim.pid
      local_interfaces = 127.0.0.1
      daemon_smtp_ports = \(port)
      rfc1413_hosts =
      host_lookup =
      tls_advertise_hosts =
      keep_environment =
      log_selector = +smtp_connection
      smtp_banner = $primary_hostname ESMTP lvskeeper test\\nsecond banner line
      acl_smtp_connect = check_connect
      acl_smtp_helo = check_helo
      begin acl
      check_connect:
        \(connectVerdict)
      check_helo:
        deny message = HELO \(Self.refusedHelo) refused
             condition = ${if eq{$sender_helo_name}{\(Self.refusedHelo)}}
        accept
      begin routers
      begin transports

      """
    try conf.write(toFile: "\(d)/exim.conf", atomically: true, encoding: .utf8)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.binary)
    p.arguments = ["-bdf", "-oX", String(port), "-C", "\(d)/exim.conf"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    process = p
    guard waitForListener(port: port, seconds: 10) else {
      stop()
      throw XCTSkipFailure("exim did not start: \(mainLog())")
    }
  }

  /// Exim's main log so far (one line per connection, HELO refusal, and so on).
  func mainLog() -> String {
    (try? String(contentsOfFile: "\(dir.path)/log/mainlog", encoding: .utf8)) ?? ""
  }

  func stop() {
    guard let p = process else { return }
    if p.isRunning { kill(p.processIdentifier, SIGTERM) }
    p.waitUntilExit()
    process = nil
  }

  deinit {
    stop()
    try? FileManager.default.removeItem(at: dir)
  }
}
