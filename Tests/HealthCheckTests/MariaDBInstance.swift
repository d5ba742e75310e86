import Foundation
import Glibc
import XCTest

/// A private mariadbd on 127.0.0.1:<random> with its own datadir, started as root and
/// administered through its unix socket (root authenticates by unix_socket).
final class MariaDBInstance {
  let dir: URL
  let port: UInt16
  private var process: Process?
  var socketPath: String { "\(dir.path)/sock" }

  init() throws {
    try requireTool("/usr/sbin/mariadbd", package: "mariadb-server")
    try requireTool("/usr/bin/mariadb-install-db", package: "mariadb-server")
    try requireTool("/usr/bin/mariadb", package: "mariadb-client")
    dir = try makeTempDir("lvsk-mariadb")
    port = try MisbehavingServer.closedPort()
    try runTool(
      "/usr/bin/mariadb-install-db",
      [
        "--no-defaults", "--datadir=\(dir.path)/data", "--user=root", "--skip-test-db",
        "--auth-root-authentication-method=socket",
      ])
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/sbin/mariadbd")
    p.arguments = [
      "--no-defaults", "--datadir=\(dir.path)/data", "--socket=\(socketPath)", "--port=\(port)",
      "--bind-address=127.0.0.1", "--user=root", "--pid-file=\(dir.path)/pid",
      "--log-error=\(dir.path)/err.log",
      "--skip-log-bin", "--innodb-buffer-pool-size=16M", "--skip-name-resolve", "--max-connections=500",
      "--plugin-load-add=auth_ed25519",
    ]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    process = p
    guard waitForListener(port: port, seconds: 30) else {
      let log = (try? String(contentsOfFile: "\(dir.path)/err.log", encoding: .utf8)) ?? ""
      stop()
      throw XCTSkipFailure("mariadbd did not start: \(log)")
    }
  }

  /// Runs SQL as root over the socket; returns tab-separated rows without headers.
  @discardableResult
  func sql(_ statement: String) throws -> String {
    try runTool(
      "/usr/bin/mariadb", ["--no-defaults", "-S", socketPath, "-u", "root", "-N", "-B", "-e", statement])
  }

  func status(_ name: String) throws -> Int {
    let row = try sql("SHOW GLOBAL STATUS LIKE '\(name)'")
    return Int(row.split(separator: "\t").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
  }

  func stop() {
    guard let p = process else { return }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    process = nil
  }

  deinit {
    stop()
    try? FileManager.default.removeItem(at: dir)
  }
}
