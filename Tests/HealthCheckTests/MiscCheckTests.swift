import Foundation
import Glibc
import KeeperCore
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// MISC_CHECK with real processes: exit codes, dynamic weight, timeout killing the whole
/// process group, running as another user, and no zombies or descriptor leaks.
final class MiscCheckTests: XCTestCase {
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  var dir: URL!

  override func setUpWithError() throws {
    dir = try makeTempDir("lvsk-misc")
    chmod(dir.path, 0o755)
  }

  override func tearDown() {
    try? group.syncShutdownGracefully()
    try? FileManager.default.removeItem(at: dir)
  }

  func script(_ name: String, _ body: String) throws -> String {
    let path = dir.appendingPathComponent(name).path
    try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
    chmod(path, 0o755)
    return path
  }

  func misc(_ text: String, user: String? = nil, timeout: Duration = .seconds(5), dynamic: Bool = false)
    throws
    -> MiscCheck
  {
    MiscCheck(
      script: try RunnableScript(parsing: text, user: user.map { ScriptUser(user: $0) }), timeout: timeout,
      dynamic: dynamic)
  }

  func run(_ check: MiscCheck) throws -> ProbeOutcome {
    try MiscProbe(check: check).run(on: group.next()).wait()
  }

  func testExitCodesAndDynamicWeight() throws {
    let cases: [(String, Bool, ProbeOutcome)] = [
      ("exit 0", false, .up(weight: nil)),
      ("exit 1", false, .down(reason: "exit status 1")),
      ("exit 7", false, .down(reason: "exit status 7")),
      ("exit 7", true, .up(weight: 5)),
      ("exit 2", true, .up(weight: 0)),
      ("exit 1", true, .down(reason: "exit status 1")),
      ("kill -TERM $$", false, .down(reason: "killed by signal 15")),
    ]
    for (i, (body, dynamic, expected)) in cases.enumerated() {
      let path = try script("s\(i)", body)
      let outcome = try run(try misc(path, dynamic: dynamic))
      XCTAssertEqual(outcome, expected, "\(body) dynamic=\(dynamic)")
    }
    let missing = try run(try misc("/nonexistent/check"))
    XCTAssertEqual(missing, .down(reason: "cannot execute /nonexistent/check: No such file or directory"))
    XCTAssertEqual(
      try run(try misc("no-such-program-lvsk")), .down(reason: "program not found: no-such-program-lvsk"))
    let viaShell = try run(try misc("test -d / && exit 3", dynamic: true))
    XCTAssertEqual(viaShell, .up(weight: 1), "a string with && runs through /bin/sh -c")
  }

  func testTimeoutKillsWholeProcessGroup() throws {
    let pids = dir.appendingPathComponent("pids").path
    let path = try script("slow", "sleep 30 &\necho $! > \(pids)\nsleep 30")
    let clock = ContinuousClock()
    let start = clock.now
    let outcome = try run(try misc(path, timeout: .milliseconds(500)))
    XCTAssertLessThan(clock.now - start, .seconds(2), "verdict by misc_timeout + margin")
    guard case .down(let reason) = outcome else { return XCTFail("\(outcome)") }
    XCTAssertTrue(reason.contains("timed out"), reason)
    let background = try XCTUnwrap(
      Int32(String(contentsOfFile: pids, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    // The background sleep was in the script's process group: it must be gone (or a zombie
    // waiting for init, never still sleeping).
    Thread.sleep(forTimeInterval: 0.2)
    let state = (try? String(contentsOfFile: "/proc/\(background)/stat", encoding: .utf8))?
      .split(separator: ")").last?.split(separator: " ").first
    XCTAssertTrue(
      state == nil || state == "Z", "background child still alive: state \(state.map(String.init) ?? "-")")
  }

  func testRunsAsUser() throws {
    let path = try script("whoami", "[ \"$(id -u)\" = 65534 ] && [ \"$(id -g)\" = 65534 ] && exit 0\nexit 1")
    XCTAssertEqual(try run(try misc(path, user: "nobody")), .up(weight: nil))
    XCTAssertEqual(try run(try misc(path)), .down(reason: "exit status 1"), "as root")
    XCTAssertThrowsError(try misc(path, user: "no-such-user-lvsk")) { error in
      XCTAssertEqual(error as? ScriptIdentityError, .unknownUser("no-such-user-lvsk"))
    }
  }

  func testNoZombiesNoDescriptorLeakNoInheritedDescriptors() throws {
    // A descriptor opened without O_CLOEXEC must still not reach the child.
    let leaky = open("/dev/null", O_RDONLY)
    defer { close(leaky) }
    let listing = dir.appendingPathComponent("fd-list.txt").path
    let lister = try script("fds", "ls -l /proc/$$/fd > \(listing)")
    XCTAssertEqual(try run(try misc(lister)), .up(weight: nil))
    // Lines look like "lrwx------ 1 root root 64 ... 2 -> /dev/null".
    let links = try String(contentsOfFile: listing, encoding: .utf8).split(separator: "\n").filter {
      $0.contains(" -> ")
    }
    // Our O_RDONLY /dev/null would show as "lr-x ... -> /dev/null"; the child's own stdio is
    // read-write (dash may keep a read-write copy of stdout on fd 10+ while redirecting).
    XCTAssertFalse(
      links.contains { $0.hasPrefix("lr-x") && $0.hasSuffix("-> /dev/null") }, "inherited: \(links)")
    XCTAssertTrue(links.contains { $0.hasSuffix(" 0 -> /dev/null") }, "stdin is /dev/null: \(links)")
    XCTAssertFalse(
      links.contains { $0.contains("socket:") || $0.contains("eventfd") || $0.contains("eventpoll") },
      "\(links)")
    let ok = try script("ok", "exit 0")
    let before = openDescriptorCount()
    let check = try misc(ok)
    let futures = (0..<200).map { _ in MiscProbe(check: check).run(on: group.next()) }
    for f in futures { XCTAssertEqual(try f.wait(), .up(weight: nil)) }
    XCTAssertEqual(openDescriptorCount(), before)
    XCTAssertEqual(zombieChildren(), [], "every child reaped")
  }

  func zombieChildren() -> [Int32] {
    let me = getpid()
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let tail = stat.split(separator: ")").last
      else { return false }
      let fields = tail.split(separator: " ")
      return fields.count > 2 && fields[0] == "Z" && Int32(fields[1]) == me
    }
  }
}
