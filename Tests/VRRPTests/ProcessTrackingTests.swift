import Foundation
import KeeperCore
import XCTest

@testable import VRRP

/// `vrrp_track_process`: keepalived's matching rules (comm, full command, param_match), the
/// census's quorum and delays, the proc connector's wire format, and a VRRPService following real
/// processes started by the test through the kernel's process events.
final class ProcessTrackingTests: XCTestCase {
  static func commandLine(_ arguments: String...) -> [UInt8] { arguments.flatMap { Array($0.utf8) + [0] } }

  func testPatternsMatchAsKeepalivedDoes() {
    let sleep = Self.commandLine("/usr/bin/sleep", "10", "20")
    let cases: [(String, ProcessPattern, String, [UInt8], Bool)] = [
      ("comm equal", ProcessPattern(name: "sleep"), "sleep", sleep, true),
      ("comm differs", ProcessPattern(name: "slee"), "sleep", sleep, false),
      ("comm ignores arguments", ProcessPattern(name: "sleep"), "sleep", Self.commandLine("x", "y"), true),
      (
        "full command compares argv[0]", ProcessPattern(name: "sleep", fullCommand: true), "sleep", sleep,
        false
      ),
      ("full command path", ProcessPattern(name: "/usr/bin/sleep", fullCommand: true), "x", sleep, true),
      (
        "arguments default to exact", ProcessPattern(name: "/usr/bin/sleep", parameters: ["10", "20"]), "x",
        sleep, true
      ),
      ("exact: one missing", ProcessPattern(name: "/usr/bin/sleep", parameters: ["10"]), "x", sleep, false),
      (
        "exact without parameters wants none", ProcessPattern(name: "/usr/bin/sleep", match: .exact), "x",
        sleep, false
      ),
      (
        "exact without parameters, none given", ProcessPattern(name: "/usr/bin/sleep", match: .exact), "x",
        Self.commandLine("/usr/bin/sleep"), true
      ),
      (
        "partial: leading whole arguments",
        ProcessPattern(name: "/usr/bin/sleep", parameters: ["10"], match: .partial),
        "x", sleep, true
      ),
      (
        "partial: not a prefix of an argument",
        ProcessPattern(name: "/usr/bin/sleep", parameters: ["1"], match: .partial), "x", sleep, false
      ),
      (
        "initial: last one a prefix",
        ProcessPattern(name: "/usr/bin/sleep", parameters: ["10", "2"], match: .initial),
        "x", sleep, true
      ),
      (
        "initial: earlier ones whole",
        ProcessPattern(name: "/usr/bin/sleep", parameters: ["1", "20"], match: .initial),
        "x", sleep, false
      ),
      (
        "partial without parameters: any", ProcessPattern(name: "/usr/bin/sleep", match: .partial), "x",
        sleep,
        true
      ),
    ]
    for (name, pattern, comm, commandLine, expected) in cases {
      XCTAssertEqual(pattern.matches(comm: comm, commandLine: commandLine), expected, name)
    }
  }

  static func sighting(_ pid: Int32, _ comm: String) -> ProcessSighting {
    ProcessSighting(pid: pid, comm: comm, commandLine: commandLine(comm))
  }

  func testCensusCountsForksExecsAndExitsAgainstTheQuorum() {
    let spec = VRRPTrackProcessSpec(
      name: "web", pattern: ProcessPattern(name: "nginx"), quorum: 2, quorumMax: 3)
    var census = ProcessCensus(specs: [spec])
    XCTAssertEqual(census.hasQuorum, [false], "nothing running")
    census.scan([Self.sighting(10, "nginx"), Self.sighting(11, "bash")], now: .zero)
    XCTAssertEqual(census.counts, [1])
    census.fork(parent: 11, child: 12, now: .zero)
    XCTAssertEqual(census.counts, [1], "a fork of an untracked process does not count")
    census.fork(parent: 10, child: 13, now: .zero)
    XCTAssertEqual(census.counts, [2], "a fork of a tracked process counts (same program)")
    XCTAssertEqual(census.hasQuorum, [true])
    census.exec(Self.sighting(12, "nginx"), now: .zero)
    census.exec(Self.sighting(14, "nginx"), now: .zero)
    XCTAssertEqual(census.counts, [4])
    XCTAssertEqual(census.hasQuorum, [false], "above quorum_max")
    census.exec(Self.sighting(13, "perl"), now: .zero)
    XCTAssertEqual(census.counts, [3], "an exec into another program stops counting")
    XCTAssertEqual(census.hasQuorum, [true])
    census.exit(10, now: .zero)
    census.exit(99, now: .zero)
    XCTAssertEqual(census.counts, [2])
    census.exit(12, now: .zero)
    XCTAssertEqual(census.hasQuorum, [false])

    let none = VRRPTrackProcessSpec(
      name: "none", pattern: ProcessPattern(name: "bad"), quorum: 0, quorumMax: 0)
    var absent = ProcessCensus(specs: [none])
    XCTAssertEqual(absent.hasQuorum, [true], "quorum_max 0: up while none runs")
    absent.exec(Self.sighting(5, "bad"), now: .zero)
    XCTAssertEqual(absent.hasQuorum, [false])
  }

  func testDelaysHoldAQuorumChangeUntilTheyEndOrItChangesBack() {
    let spec = VRRPTrackProcessSpec(
      name: "p", pattern: ProcessPattern(name: "p"), forkDelay: 2, terminateDelay: 3)
    var census = ProcessCensus(specs: [spec])
    census.scan([Self.sighting(1, "p")], now: .zero)
    XCTAssertEqual(census.hasQuorum, [true])
    census.exit(1, now: .seconds(10))
    XCTAssertEqual(census.hasQuorum, [true], "terminate_delay holds the loss")
    XCTAssertEqual(census.nextDeadline, .seconds(13))
    XCTAssertFalse(census.expire(now: .seconds(12)))
    XCTAssertTrue(census.expire(now: .seconds(13)))
    XCTAssertEqual(census.hasQuorum, [false])

    census.exec(Self.sighting(2, "p"), now: .seconds(20))
    XCTAssertEqual(census.hasQuorum, [true], "an exec gains the quorum at once")
    census.exit(2, now: .seconds(21))
    census.exec(Self.sighting(3, "p"), now: .seconds(22))
    XCTAssertEqual(census.hasQuorum, [true], "back within the delay: the wait is cancelled")
    XCTAssertNil(census.nextDeadline)
    XCTAssertFalse(census.expire(now: .seconds(30)))
    XCTAssertEqual(census.hasQuorum, [true])

    census.exit(3, now: .seconds(40))
    _ = census.expire(now: .seconds(43))
    XCTAssertEqual(census.hasQuorum, [false])
    census.scan([Self.sighting(4, "q")], now: .seconds(44))
    census.exec(Self.sighting(4, "p"), now: .seconds(45))
    census.fork(parent: 4, child: 5, now: .seconds(46))
    XCTAssertEqual(census.counts, [2])
    XCTAssertEqual(census.hasQuorum, [true], "the exec gained it at once; the fork only added")
  }

  /// The proc connector's datagrams, byte for byte as the kernel sends them (x86-64, little
  /// endian): nlmsghdr, cn_msg, then proc_event with its 8-byte timestamp.
  func testConnectorMessagesDecode() {
    func message(what: UInt32, _ data: [Int32]) -> [UInt8] {
      var bytes: [UInt8] = []
      func put32(_ v: UInt32) { withUnsafeBytes(of: v) { bytes += $0 } }
      let payload = 16 + 24
      put32(UInt32(16 + 20 + payload))
      bytes += [3, 0, 0, 0]  // NLMSG_DONE, flags
      put32(7)
      put32(0)
      put32(1)  // CN_IDX_PROC
      put32(1)  // CN_VAL_PROC
      put32(42)
      put32(0)
      bytes += [UInt8(payload), 0, 0, 0]
      put32(what)
      put32(0)  // cpu
      bytes += [UInt8](repeating: 9, count: 8)  // timestamp
      for value in data { put32(UInt32(bitPattern: value)) }
      bytes += [UInt8](repeating: 0, count: 24 - 4 * data.count)
      return bytes
    }
    let events = [
      message(what: 1, [100, 100, 200, 200]), message(what: 1, [100, 100, 201, 200]),
      message(what: 2, [200, 200]), message(what: 0x200, [200, 200]), message(what: 0x8000_0000, [202, 200]),
      message(what: 0x8000_0000, [200, 200, 0, 9]), message(what: 0x4, [200, 200]),
    ].flatMap { ProcessEventSocket.parse($0) }
    XCTAssertEqual(
      ProcessEventSocket.parse(message(what: 2, [7, 7]) + message(what: 0x8000_0000, [7, 7])),
      [.exec(pid: 7), .exit(pid: 7)], "two messages in one datagram")
    XCTAssertEqual(
      events, [.fork(parent: 100, child: 200), .exec(pid: 200), .comm(pid: 200), .exit(pid: 200)],
      "threads (pid != tgid) and uid changes are left out")
  }

  /// A VRRPService (in-memory network) tracking a copy of /bin/sleep under a name of this test's
  /// own: no process means Fault (weight 0, quorum 2), two processes bring it up, the one whose
  /// arguments match exactly adds its weight, and killing one brings back the Fault. The
  /// processes are real; the service learns of them from the kernel's process events.
  func testInstanceFollowsRealProcesses() throws {
    guard getuid() == 0 else { throw XCTSkip("the proc connector needs CAP_NET_ADMIN") }
    let directory = "/tmp/lvsk-tp-\(getpid())-\(UUID().uuidString.prefix(6))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let name = "lvskp\(getpid())"
    let program = directory + "/" + name
    try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: program)

    var spec = VRRPServiceNetworkTests.spec()
    spec.instances[0].trackProcesses = [TrackedObjectSpec(name: "pair"), TrackedObjectSpec(name: "exact")]
    spec.processes = [
      VRRPTrackProcessSpec(name: "pair", pattern: ProcessPattern(name: name), quorum: 2),
      VRRPTrackProcessSpec(
        name: "exact", pattern: ProcessPattern(name: program, parameters: ["3600"]), weight: 20),
    ]
    let service = try VRRPService(spec: spec, network: InMemoryVRRPNetwork())
    try service.start()
    defer { service.stop() }
    func instance() -> VRRPInstanceStatus? { service.status().instances.first }
    XCTAssertTrue(wait(5) { instance()?.state == .fault }, "no process: below quorum")
    XCTAssertEqual(instance()?.faultReasons, ["process pair lacks its quorum"])

    var running: [Process] = []
    defer {
      for process in running where process.isRunning {
        process.terminate()
        process.waitUntilExit()
      }
    }
    func start(_ argument: String) throws -> Process {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: program)
      process.arguments = [argument]
      try process.run()
      running.append(process)
      return process
    }
    let first = try start("3600")
    XCTAssertTrue(wait(5) { instance()?.effectivePriority == 120 }, "the exact match adds 20")
    XCTAssertEqual(instance()?.state, .fault, "one of two")
    _ = try start("3601")
    XCTAssertTrue(wait(5) { instance()?.state == .master }, "two: quorum")
    XCTAssertEqual(instance()?.effectivePriority, 120, "3601 is not an exact match")
    first.terminate()
    first.waitUntilExit()
    XCTAssertTrue(wait(5) { instance()?.state == .fault }, "one left: below quorum")
    XCTAssertEqual(instance()?.effectivePriority, 100, "the exact match is gone")
  }

  func wait(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      Thread.sleep(forTimeInterval: 0.02)
    }
    return condition()
  }
}
