import KeeperCore
import XCTest

@testable import VRRP

final class TrackingTests: XCTestCase {
  func testTrackingPolicy() {
    let cases: [(String, UInt8, [TrackSignal], UInt8, Bool)] = [
      ("nothing tracked", 100, [], 100, false),
      (
        "interface down without weight faults", 100, [.interface(name: "eth1", up: false, weight: nil)], 100,
        true
      ),
      ("interface up with +10", 100, [.interface(name: "eth1", up: true, weight: 10)], 110, false),
      (
        "interface up with +10 reverse", 100, [.interface(name: "eth1", up: true, weight: 10, reverse: true)],
        90, false
      ),
      (
        "interface up, no weight, reverse faults", 100,
        [.interface(name: "eth1", up: true, weight: nil, reverse: true)], 100, true
      ),
      (
        "script up -20 reverse adds nothing", 100, [.script(name: "c", up: true, weight: -20, reverse: true)],
        100, false
      ),
      (
        "script down -20 reverse adds 20", 100, [.script(name: "c", up: false, weight: -20, reverse: true)],
        120, false
      ),
      (
        "script ok, weight 0 reverse faults", 100, [.script(name: "c", up: true, weight: 0, reverse: true)],
        100, true
      ),
      ("file 3 x weight 5 reverse", 100, [.file(path: "/f", value: 3, weight: 5, reverse: true)], 85, false),
      (
        "file 0, weight 0 reverse faults", 100, [.file(path: "/f", value: 0, weight: 0, reverse: true)], 100,
        true
      ),
      ("file contribution capped at 253", 1, [.file(path: "/f", value: 254, weight: 254)], 254, false),
      ("interface down with +10", 100, [.interface(name: "eth1", up: false, weight: 10)], 100, false),
      ("interface down with -30", 100, [.interface(name: "eth1", up: false, weight: -30)], 70, false),
      ("script down weight 0 faults", 100, [.script(name: "chk", up: false, weight: 0)], 100, true),
      (
        "script up +5 and down -20", 100,
        [.script(name: "a", up: true, weight: 5), .script(name: "b", up: false, weight: -20)], 85, false
      ),
      ("clamped to 254", 250, [.script(name: "a", up: true, weight: 50)], 254, false),
      ("clamped to 1", 10, [.script(name: "a", up: false, weight: -50)], 1, false),
      ("owner keeps 255", 255, [.script(name: "a", up: false, weight: -50)], 255, false),
      ("file value times weight", 100, [.file(path: "/f", value: 3, weight: -10)], 70, false),
      ("file non-zero with weight 0 faults", 100, [.file(path: "/f", value: 1, weight: 0)], 100, true),
      ("file -254 faults", 100, [.file(path: "/f", value: -254, weight: 1)], 1, true),
    ]
    for (name, base, signals, priority, fault) in cases {
      let outcome = TrackingPolicy.evaluate(base: base, signals: signals)
      XCTAssertEqual(outcome.priority, priority, name)
      XCTAssertEqual(outcome.fault, fault, name)
    }
  }

  func testRiseFall() {
    var check = RiseFall(rise: 2, fall: 3)
    let results: [(Bool, Bool)] = [
      (true, false), (false, false), (true, false), (true, true), (false, true), (false, true), (true, true),
      (false, true), (false, true), (false, false),
    ]
    for (index, (success, up)) in results.enumerated() {
      _ = check.record(success: success)
      XCTAssertEqual(check.isUp, up, "result \(index)")
    }
  }

  func testCommandSplitting() throws {
    let cases: [(String, [String]?)] = [
      ("/bin/echo a b", ["/bin/echo", "a", "b"]),
      ("/usr/bin/x 'two words' \"and \\\"more\\\"\"", ["/usr/bin/x", "two words", "and \"more\""]),
      ("killall -0 nginx", ["killall", "-0", "nginx"]),
      ("test -f /a && exit 1", nil),
      ("echo $HOME", nil),
      ("'unbalanced", nil),
    ]
    for (command, argv) in cases {
      let line = try? ScriptLine(parsing: command)
      XCTAssertEqual(line.flatMap { $0.needsShell ? nil : $0.words }, argv, command)
    }
    XCTAssertEqual(
      try ScriptCommand(parsing: "/n.sh").argv(extra: ["INSTANCE", "VI_1", "MASTER", "100"]),
      ["/n.sh", "INSTANCE", "VI_1", "MASTER", "100"])
    XCTAssertEqual(
      try ScriptCommand(parsing: "echo x > /f").argv(extra: ["GROUP", "G"]),
      ["/bin/sh", "-c", "echo x > /f \"$@\"", "sh", "GROUP", "G"])
  }
}
