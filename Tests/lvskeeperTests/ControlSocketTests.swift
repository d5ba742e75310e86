import Foundation
import NIOPosix
import XCTest

@testable import lvskeeper

#if canImport(Glibc)
  import Glibc
#endif

/// `ControlServer` and `ControlClient` talking over a real Unix socket.
final class ControlSocketTests: XCTestCase {
  /// What the handler saw, in order.
  final class RequestLog: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var seen: [ControlRequest.Command] = []
    private var seenPeers: [ControlPeer?] = []
    func append(_ command: ControlRequest.Command, _ peer: ControlPeer? = nil) {
      lock.withLock {
        seen.append(command)
        seenPeers.append(peer)
      }
    }
    var commands: [ControlRequest.Command] { lock.withLock { seen } }
    var peers: [ControlPeer?] { lock.withLock { seenPeers } }
  }

  private var scratch = ""
  private var group: MultiThreadedEventLoopGroup?

  override func setUpWithError() throws {
    // Short: sun_path holds 108 bytes.
    scratch = "/tmp/lvsk-ctl-" + UUID().uuidString.prefix(8)
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  }

  override func tearDown() async throws {
    try await group?.shutdownGracefully()
    try? FileManager.default.removeItem(atPath: scratch)
  }

  static let sampleReport = StatusReport(
    daemon: DaemonStatus(
      pid: 42, configPath: "/etc/keepalived/keepalived.conf",
      startedAt: Date(timeIntervalSince1970: 1_700_000_000),
      dryRun: true,
      lastReload: ReloadOutcome(
        at: Date(timeIntervalSince1970: 1_700_000_060), succeeded: true, message: "VRRP unchanged")),
    vrrpInstances: [
      InstanceStatus(
        name: "VI_1", interface: "eth0", virtualRouterID: 51, state: "MASTER", configuredPriority: 150,
        effectivePriority: 130, masterAddress: "192.168.10.2", lastTransitionAt: nil,
        lastTransitionReason: nil,
        virtualAddresses: ["192.168.10.100/24"])
    ],
    virtualServices: [],
    pendingOperations: [
      OperationStatus(operation: "add service TCP 10.0.0.1:80", error: "dry run: not applied", attempts: 0)
    ])

  private func startServer(at path: String, log: RequestLog) async throws -> ControlServer {
    let group = try XCTUnwrap(group)
    return try await ControlServer.start(path: path, group: group) { request, peer in
      log.append(request.command, peer)
      switch request.command {
      case .status: return ControlResponse(ok: true, status: Self.sampleReport)
      case .reload: return .failure("x.conf:3:1: error: unknown keyword 'bogus'")
      case .stop: return ControlResponse(ok: true, message: "stopping")
      case .server:
        return ControlResponse(
          ok: true,
          message: [request.service, request.server, request.action].compactMap { $0 }.joined(separator: "|"))
      }
    }
  }

  /// The client blocks; run it off the cooperative pool so the server's tasks keep running.
  private func send(_ request: ControlRequest, to path: String) async throws -> ControlResponse {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        do {
          continuation.resume(returning: try ControlClient(path: path, timeoutSeconds: 10).send(request))
        } catch {
          continuation.resume(throwing: error)
        }
      }
    }
  }

  private func exchange(_ bytes: [UInt8], with path: String) async throws -> [UInt8] {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        do {
          continuation.resume(returning: try TestSockets.unixStreamExchange(path: path, request: bytes))
        } catch {
          continuation.resume(throwing: error)
        }
      }
    }
  }

  func testRequestsReachTheHandlerAndAnswersDecode() async throws {
    let path = scratch + "/run/control.sock"
    let log = RequestLog()
    let listener = try await startServer(at: path, log: log)

    let status = try await send(ControlRequest(command: .status), to: path)
    XCTAssertEqual(status, ControlResponse(ok: true, status: Self.sampleReport))

    let reload = try await send(ControlRequest(command: .reload), to: path)
    XCTAssertFalse(reload.ok)
    XCTAssertEqual(reload.error, "x.conf:3:1: error: unknown keyword 'bogus'")
    XCTAssertNil(reload.status)

    let stop = try await send(ControlRequest(command: .stop), to: path)
    XCTAssertEqual(stop, ControlResponse(ok: true, message: "stopping"))
    XCTAssertEqual(log.commands, [.status, .reload, .stop])

    // `server` carries its words as fields; the kernel names the peer (SO_PEERCRED): this process.
    let server = try await send(
      ControlRequest(command: .server, service: "TCP 10.0.0.1:80", server: "10.0.0.2:80", action: "drain"),
      to: path)
    XCTAssertEqual(server, ControlResponse(ok: true, message: "TCP 10.0.0.1:80|10.0.0.2:80|drain"))
    let peer = try XCTUnwrap(log.peers.last ?? nil)
    XCTAssertEqual(peer.uid, getuid())
    XCTAssertEqual(peer.pid, getpid())
    XCTAssertEqual(peer.user, getuid() == 0 ? "root" : peer.user)

    await listener.close()
    XCTAssertFalse(FileManager.default.fileExists(atPath: path), "close removes the socket file")
  }

  func testSocketIsRootOnly() async throws {
    let directory = scratch + "/run"
    let path = directory + "/control.sock"
    let umaskBefore = umask(0o022)
    umask(umaskBefore)
    let server = try await startServer(at: path, log: RequestLog())
    var info = stat()
    XCTAssertEqual(lstat(path, &info), 0)
    XCTAssertEqual(info.st_mode & S_IFMT, S_IFSOCK)
    XCTAssertEqual(info.st_mode & 0o7777, 0o600, String(info.st_mode & 0o7777, radix: 8))
    XCTAssertEqual(stat(directory, &info), 0)
    XCTAssertEqual(info.st_mode & 0o7777, 0o700, String(info.st_mode & 0o7777, radix: 8))
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory), ["control.sock"], "no staging left")
    let umaskAfter = umask(0o022)
    umask(umaskAfter)
    XCTAssertEqual(umaskAfter, umaskBefore, "the process umask is never changed")
    await server.close()
  }

  /// In a directory others can read (as /run is), a stale file at the path is replaced and the
  /// socket is still 0600: it is bound in a private directory and renamed into place.
  func testSocketInSharedDirectoryReplacesStaleFile() async throws {
    let directory = scratch + "/shared"
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    let path = directory + "/control.sock"
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("stale".utf8)))
    let log = RequestLog()
    let server = try await startServer(at: path, log: log)
    var info = stat()
    XCTAssertEqual(lstat(path, &info), 0)
    XCTAssertEqual(info.st_mode & S_IFMT, S_IFSOCK)
    XCTAssertEqual(info.st_mode & 0o7777, 0o600, String(info.st_mode & 0o7777, radix: 8))
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["control.sock"])
    let status = try await send(ControlRequest(command: .status), to: path)
    XCTAssertEqual(status.ok, true)
    await server.close()
  }

  func testMalformedAndOversizedRequestsAreRefused() async throws {
    let path = scratch + "/run/control.sock"
    let log = RequestLog()
    let server = try await startServer(at: path, log: log)
    let cases: [(name: String, request: [UInt8], error: String)] = [
      ("not JSON", Array("hello\n".utf8), "malformed request"),
      ("unknown command", Array("{\"command\":\"explode\"}\n".utf8), "malformed request"),
      (
        "no newline within the limit", [UInt8](repeating: UInt8(ascii: "x"), count: 5000),
        "longer than 4096 bytes"
      ),
    ]
    for item in cases {
      let answer = try await exchange(item.request, with: path)
      XCTAssertEqual(answer.last, UInt8(ascii: "\n"), item.name)
      let response = try ControlCoding.decoder().decode(ControlResponse.self, from: Data(answer))
      XCTAssertFalse(response.ok, item.name)
      XCTAssertTrue(response.error?.contains(item.error) ?? false, "\(item.name): \(response.error ?? "nil")")
    }
    XCTAssertEqual(log.commands, [], "refused requests never reach the handler")
    await server.close()
  }

  func testClientToMissingSocketExplainsItself() throws {
    let path = scratch + "/nothing-here.sock"
    XCTAssertThrowsError(try ControlClient(path: path).send(ControlRequest(command: .status))) { error in
      guard case .connect(let failedPath, let code) = error as? ControlClientError else {
        return XCTFail("expected ControlClientError.connect, got \(error)")
      }
      XCTAssertEqual(failedPath, path)
      XCTAssertEqual(code, ENOENT)
      XCTAssertEqual(
        "\(error)", "cannot connect to \(path): No such file or directory (is lvskeeper running?)")
    }
  }
}
