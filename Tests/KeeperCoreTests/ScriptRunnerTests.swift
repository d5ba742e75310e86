import Foundation
import Glibc
import XCTest

@testable import KeeperCore

/// The one script runner against real processes and real accounts: identity, environment,
/// signal state, descriptors, timeouts that kill the whole process group, and stop.
final class ScriptRunnerTests: XCTestCase {
  var dir: URL!

  override class func setUp() {
    super.setUp()
    try? TestAccounts.create()
  }

  override class func tearDown() {
    TestAccounts.remove()
    super.tearDown()
  }

  override func setUpWithError() throws {
    try TestAccounts.create()
    dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
      "lvsk-runner-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    // Scripts running as the test user write their reports here.
    chmod(dir.path, 0o777)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(at: dir)
  }

  func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

  func read(_ name: String) throws -> String {
    try String(contentsOfFile: path(name), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  static func run(
    _ line: String, user: ScriptUser? = nil, timeout: Duration? = nil, killGroupOnExit: Bool = false,
    on runner: ScriptRunner = .shared
  ) async throws -> ScriptExit {
    let script = try RunnableScript(ScriptCommand(parsing: line, user: user), scriptUser: nil)
    return await script.run(timeout: timeout, killGroupOnExit: killGroupOnExit, on: runner)
  }

  func testRunsAsTheConfiguredUserWithItsGroups() async throws {
    let uid = try XCTUnwrap(TestAccounts.id("passwd", TestAccounts.user))
    let primary = try XCTUnwrap(TestAccounts.id("group", TestAccounts.primaryGroup))
    let extra = try XCTUnwrap(TestAccounts.id("group", TestAccounts.extraGroup))
    let other = try XCTUnwrap(TestAccounts.id("group", TestAccounts.otherGroup))
    let report =
      "id -u > \(path("uid")); id -g > \(path("gid")); id -G > \(path("groups")); id -un > \(path("name"))"

    let exit1 = try await Self.run(report, user: ScriptUser(user: TestAccounts.user))
    XCTAssertEqual(exit1, .exited(0))
    XCTAssertEqual(try read("uid"), "\(uid)")
    XCTAssertEqual(try read("gid"), "\(primary)")
    XCTAssertEqual(Set(try read("groups").split(separator: " ").compactMap { UInt32($0) }), [primary, extra])
    XCTAssertEqual(try read("name"), TestAccounts.user)

    // USER GROUP: the named group becomes the primary one; the user's own groups stay.
    let withGroup = try await Self.run(
      report, user: ScriptUser(user: TestAccounts.user, group: TestAccounts.otherGroup))
    XCTAssertEqual(withGroup, .exited(0))
    XCTAssertEqual(try read("gid"), "\(other)")
    XCTAssertEqual(
      Set(try read("groups").split(separator: " ").compactMap { UInt32($0) }), [other, primary, extra])

    XCTAssertThrowsError(
      try RunnableScript(
        ScriptCommand(parsing: "true", user: ScriptUser(user: "no-such-lvsk")), scriptUser: nil)
    ) {
      XCTAssertEqual($0 as? ScriptIdentityError, .unknownUser("no-such-lvsk"))
    }
    XCTAssertThrowsError(
      try RunnableScript(
        ScriptCommand(parsing: "true", user: ScriptUser(user: TestAccounts.user, group: "no-such-lvsk")),
        scriptUser: nil)
    ) { XCTAssertEqual($0 as? ScriptIdentityError, .unknownGroup("no-such-lvsk")) }
  }

  func testScriptUserDefaultsAndOverrides() throws {
    let global = ScriptUser(user: TestAccounts.user)
    let own = ScriptUser(user: "nobody")
    XCTAssertEqual(
      try RunnableScript(ScriptCommand(parsing: "true"), scriptUser: global).identity.userName,
      TestAccounts.user)
    XCTAssertEqual(
      try RunnableScript(ScriptCommand(parsing: "true", user: own), scriptUser: global).identity.userName,
      "nobody")
    // Neither given: keepalived_script where it exists, else the daemon's own user.
    let fallback = try RunnableScript(ScriptCommand(parsing: "true"), scriptUser: nil).identity
    if ScriptIdentity.user(named: ScriptUser.keepalivedDefault) != nil {
      XCTAssertEqual(fallback.userName, ScriptUser.keepalivedDefault)
    } else {
      XCTAssertEqual(fallback.uid, getuid())
    }
    TestAccounts.run(
      "/usr/sbin/useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", ScriptUser.keepalivedDefault)
    defer { TestAccounts.run("/usr/sbin/userdel", ScriptUser.keepalivedDefault) }
    XCTAssertEqual(
      try RunnableScript(ScriptCommand(parsing: "true"), scriptUser: nil).identity.userName,
      ScriptUser.keepalivedDefault)
    XCTAssertEqual(
      try RunnableScript(ScriptCommand(parsing: "true"), scriptUser: global).identity.userName,
      TestAccounts.user)
  }

  func testCleanEnvironmentSignalStateAndDescriptors() async throws {
    setenv("LVSK_DAEMON_SECRET", "leaked", 1)
    defer { unsetenv("LVSK_DAEMON_SECRET") }
    // The daemon ignores SIGPIPE and SIGINT and blocks SIGTERM on its threads; a script must
    // start with none of that. A new runner's thread inherits this thread's mask.
    var blocked = sigset_t()
    sigemptyset(&blocked)
    sigaddset(&blocked, SIGTERM)
    sigaddset(&blocked, SIGUSR1)
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &blocked, &previous)
    let oldInt = signal(SIGINT, SIG_IGN)
    let runner = ScriptRunner()
    let leaky = open("/dev/null", O_RDONLY)  // no O_CLOEXEC: still must not reach the script
    defer {
      close(leaky)
      signal(SIGINT, oldInt)
      pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
    let line =
      "env > \(path("env")); grep -E '^Sig(Blk|Ign)' /proc/self/status > \(path("signals")); ls -l /proc/$$/fd > \(path("fds"))"
    let exit2 = try await Self.run(line, user: ScriptUser(user: TestAccounts.user), on: runner)
    XCTAssertEqual(exit2, .exited(0))
    let environment = Dictionary(
      uniqueKeysWithValues: try read("env").split(separator: "\n").compactMap { line -> (String, String)? in
        guard let eq = line.firstIndex(of: "=") else { return nil }
        return (String(line[..<eq]), String(line[line.index(after: eq)...]))
      })
    XCTAssertNil(environment["LVSK_DAEMON_SECRET"], "the daemon's environment leaked")
    XCTAssertEqual(environment["PATH"], ScriptRunner.searchPath)
    XCTAssertEqual(environment["USER"], TestAccounts.user)
    XCTAssertEqual(environment["LOGNAME"], TestAccounts.user)
    XCTAssertEqual(environment["HOME"], "/nonexistent")
    // sh itself adds PWD (and dash nothing else).
    XCTAssertEqual(
      Set(environment.keys).subtracting(["PWD"]), ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG"])
    XCTAssertEqual(try read("signals"), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000")
    // Lines look like "lrwx------ 1 root root 64 ... 2 -> /dev/null". The script's stdio is
    // /dev/null read-write (dash keeps a copy of it on fd 10 while redirecting); our read-only
    // /dev/null, sockets, the runner's epoll and eventfd must not be there.
    let links = try read("fds").split(separator: "\n").filter { $0.contains(" -> ") }
    XCTAssertTrue(links.contains { $0.hasSuffix(" 0 -> /dev/null") }, "stdin is /dev/null: \(links)")
    XCTAssertFalse(
      links.contains { $0.hasPrefix("lr-x") && $0.hasSuffix("-> /dev/null") }, "inherited: \(links)")
    XCTAssertFalse(
      links.contains {
        $0.contains("socket:") || $0.contains("eventfd") || $0.contains("eventpoll") || $0.contains("pidfd")
      },
      "\(links)")
    await runner.terminateAll(settle: .zero, grace: .milliseconds(200))
  }

  func testTimeoutKillsTheWholeGroupAndBackgroundChildrenDoNotHoldTheNextRun() async throws {
    // The shape from the issue: a check that leaves a background child. Each run must end at its
    // timeout with everything it started gone, so the next run starts on time.
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<4 {
      let exit = try await Self.run(
        "echo run >> \(path("runs")); sleep 3011.\(Self.tag) & sleep 3012.\(Self.tag)",
        timeout: .milliseconds(300),
        killGroupOnExit: true)
      XCTAssertEqual(exit, .timedOut)
    }
    XCTAssertLessThan(clock.now - start, .seconds(20), "four runs, each ended by its 0.3 s timeout")
    XCTAssertEqual(try read("runs").split(separator: "\n").count, 4)
    XCTAssertEqual(Self.processes(matching: "sleep 301", tagged: true), [], "a sleep outlived its run")

    // A check that exits at once but leaves a child: the child is killed when the check exits.
    let exit3 = try await Self.run("sleep 3013.\(Self.tag) & exit 0", killGroupOnExit: true)
    XCTAssertEqual(exit3, .exited(0))
    try await Task.sleep(for: .milliseconds(100))
    XCTAssertEqual(Self.processes(matching: "sleep 3013.\(Self.tag)"), [])
  }

  func testNotifyChildrenLingerUntilStopThenNothingOutlivesIt() async throws {
    let runner = ScriptRunner()
    let exit4 = try await Self.run("sleep 3021.\(Self.tag) & echo $! > \(path("bg"))", on: runner)
    XCTAssertEqual(exit4, .exited(0))
    let background = try XCTUnwrap(Int32(try read("bg")))
    XCTAssertTrue(
      Self.alive(background), "a notify script's background child keeps running, as in keepalived")
    // A script that ignores SIGTERM, still running at stop.
    let stubborn = ExitBox()
    try RunnableScript(parsing: "trap '' TERM; sleep 3022.\(Self.tag); sleep 3022.\(Self.tag)").run(
      on: runner
    ) { stubborn.exit = $0 }
    try await Task.sleep(for: .milliseconds(200))
    XCTAssertEqual(runner.running, 2)
    let clock = ContinuousClock()
    let start = clock.now
    await runner.terminateAll(settle: .milliseconds(100), grace: .milliseconds(500))
    XCTAssertLessThan(clock.now - start, .seconds(3))
    XCTAssertEqual(stubborn.exit, .signalled(SIGKILL))
    XCTAssertFalse(Self.alive(background), "the background child outlived stop")
    XCTAssertEqual(Self.processes(matching: "sleep 302", tagged: true), [])
    XCTAssertEqual(runner.running, 0)
    let exit5 = try await Self.run("true", on: runner)
    XCTAssertEqual(exit5, .failedToStart("the daemon is stopping"))
  }

  func testStartFailuresAreReported() async throws {
    let exit6 = try await Self.run("no-such-program-lvsk")
    XCTAssertEqual(exit6, .failedToStart("program not found: no-such-program-lvsk"))
    let plain = path("plain")
    try "not a program".write(toFile: plain, atomically: true, encoding: .utf8)
    let exit7 = try await Self.run(plain)
    XCTAssertEqual(exit7, .failedToStart("cannot execute \(plain): Permission denied"))
    let exit8 = try await Self.run("/bin/sh -c 'exit 3'")
    XCTAssertEqual(exit8, .exited(3))
    let exit9 = try await Self.run("kill -TERM $$")
    XCTAssertEqual(exit9, .signalled(SIGTERM))
  }

  func testManyRunsLeaveNoDescriptorOrZombie() async throws {
    _ = try await Self.run("/bin/true")  // the runner's own epoll and eventfd exist from here on
    let before = Self.descriptorCount()
    await withTaskGroup(of: ScriptExit.self) { group in
      for _ in 0..<200 { group.addTask { (try? await Self.run("/bin/true")) ?? .timedOut } }
      for await exit in group { XCTAssertEqual(exit, .exited(0)) }
    }
    XCTAssertEqual(Self.descriptorCount(), before)
    XCTAssertEqual(ScriptRunner.shared.running, 0)
  }

  // MARK: helpers

  static func descriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
  }

  static func alive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    return stat.split(separator: ")").last?.split(separator: " ").first != "Z"
  }

  /// Appended to every sleep's duration (`sleep 3011.TAG`), so the process checks see only this
  /// test process's scripts, not those of another test run on the machine.
  static let tag = String(getpid())

  /// Live processes whose command line contains `text` (with `tagged`, followed by `.TAG`).
  static func processes(matching text: String, tagged: Bool = false) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
      guard alive(pid), let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
        return false
      }
      let line = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
      guard let range = line.range(of: text), !line.contains("xctest") else { return false }
      return !tagged || line[range.upperBound...].contains(".\(tag) ")
    }
  }
}

/// A run's exit, set on the runner's thread and read by the test.
final class ExitBox: @unchecked Sendable {
  private let lock = NSLock()
  private var value: ScriptExit?
  var exit: ScriptExit? {
    get { lock.withLock { value } }
    set { lock.withLock { value = newValue } }
  }
}
