import Foundation
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// A real `lvskeeper run` process with a temporary control socket and its own systemd notify
/// socket: tests wait for its READY=1, RELOADING=1 and WATCHDOG=1 datagrams instead of sleeping,
/// and read its log (stderr, kept in a file) after the fact.
final class DaemonProcess: @unchecked Sendable {  // all stored properties are immutable
  let process = Process()
  let socket: String
  let logPath: String
  let notifications: SystemdNotifierTests.NotifyListener
  private let exited = DispatchSemaphore(value: 0)

  /// Starts `lvskeeper run ARGUMENTS --control-socket SOCKET`, optionally under `prlimit` (open
  /// files) and `ip netns exec`.
  init(
    scratch: String, name: String, arguments: [String], socket: String? = nil,
    environment: [String: String] = [:], openFiles: Int? = nil, namespace: String? = nil
  ) throws {
    self.socket = socket ?? "\(scratch)/\(name).sock"
    logPath = "\(scratch)/\(name).log"
    notifications = try SystemdNotifierTests.NotifyListener(path: "\(scratch)/\(name).notify")
    var command = [try CommandLineTests.executable(), "run"] + arguments + ["--control-socket", self.socket]
    if let openFiles { command = ["/usr/bin/prlimit", "--nofile=\(openFiles):\(openFiles)", "--"] + command }
    if let namespace { command = ["/usr/sbin/ip", "netns", "exec", namespace] + command }
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    var env = ProcessInfo.processInfo.environment
    env["NOTIFY_SOCKET"] = notifications.path
    env.merge(environment) { $1 }
    process.environment = env
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    process.standardError = log
    process.standardOutput = log
    let exited = self.exited
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
  }

  var pid: Int32 { process.processIdentifier }

  /// The next notify datagram that starts with `prefix`, skipping others; nil after `timeout`.
  func notification(_ prefix: String, timeout: Duration = .seconds(30)) -> String? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      guard let message = notifications.receive(timeout: deadline - ContinuousClock.now) else { return nil }
      if message.hasPrefix(prefix) { return message }
    }
    return nil
  }

  /// Waits (up to `timeout`) for READY=1; fails the test with the log when it does not come.
  func waitReady(timeout: Duration = .seconds(30), file: StaticString = #filePath, line: UInt = #line) throws
  {
    // In slices, so a daemon that died is reported at once rather than after `timeout`.
    let deadline = ContinuousClock.now + timeout
    var ready = false
    while !ready && process.isRunning && ContinuousClock.now < deadline {
      ready = notification("READY=1", timeout: .seconds(1)) != nil
    }
    guard ready else {
      XCTFail("no READY=1 within \(timeout); log:\n\(log)", file: file, line: line)
      throw CancellationError()
    }
  }

  /// The exit status, or nil when the process is still running after `timeout`.
  func waitExit(timeout: Duration) -> Int32? {
    guard exited.wait(timeout: .now() + timeout.timeInterval) == .success else { return nil }
    exited.signal()
    return process.terminationStatus
  }

  func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

  var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  /// A control request answered within `timeout` seconds (the client's own bound).
  func request(_ command: ControlRequest.Command, timeout: Int = 10) throws -> ControlResponse {
    try ControlClient(path: socket, timeoutSeconds: timeout).send(ControlRequest(command: command))
  }

  /// Kills the process if it still runs and removes its notify socket.
  func cleanUp() {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    _ = waitExit(timeout: .seconds(10))
    notifications.close()
  }
}

/// Runs blocking work off the cooperative pool and hands back its result.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
  }
}
