import KeeperCore
import XCTest

/// The one command-line rule every script follows (misc_path, notify*, vrrp_script): words, quotes,
/// escapes, and when a shell is needed.
final class ScriptLineTests: XCTestCase {
  func testWordsQuotesEscapesAndShellDetection() throws {
    let cases: [(text: String, argv: [String], shell: Bool)] = [
      ("/bin/echo a b", ["/bin/echo", "a", "b"], false),
      ("check 'a b' \"c d\" e\\ f", ["check", "a b", "c d", "e f"], false),
      ("/usr/bin/x 'two words' \"and \\\"more\\\"\"", ["/usr/bin/x", "two words", "and \"more\""], false),
      ("  killall   -0\tnginx  ", ["killall", "-0", "nginx"], false),
      ("echo '' x", ["echo", "", "x"], false),
      ("echo '$HOME' 'a|b'", ["echo", "$HOME", "a|b"], false),
      ("echo \\$HOME", ["echo", "$HOME"], false),
      ("check | grep x", ["/bin/sh", "-c", "check | grep x"], true),
      ("test -f /a && exit 1", ["/bin/sh", "-c", "test -f /a && exit 1"], true),
      ("echo \"$HOME\"", ["/bin/sh", "-c", "echo \"$HOME\""], true),
      ("ls /tmp/*.pid", ["/bin/sh", "-c", "ls /tmp/*.pid"], true),
      ("[ -f /x ]", ["/bin/sh", "-c", "[ -f /x ]"], true),
      ("echo #x a#b", ["echo", "#x", "a#b"], false),
    ]
    for (text, argv, shell) in cases {
      let line = try ScriptLine(parsing: text)
      XCTAssertEqual(line.needsShell, shell, text)
      XCTAssertEqual(try ScriptLine.argv(text), argv, text)
    }
  }

  func testExtraArgumentsReachTheShellLineAsPositionals() throws {
    XCTAssertEqual(
      try ScriptLine.argv("/n.sh", extra: ["INSTANCE", "VI_1", "MASTER", "100"]),
      ["/n.sh", "INSTANCE", "VI_1", "MASTER", "100"])
    XCTAssertEqual(
      try ScriptLine.argv("logger -t vrrp >/dev/null", extra: ["GROUP", "G"]),
      ["/bin/sh", "-c", "logger -t vrrp >/dev/null \"$@\"", "sh", "GROUP", "G"])
  }

  func testProblems() {
    let cases: [(String, ScriptLine.Problem)] = [
      ("", .empty), ("   ", .empty), ("'' x", .empty), ("echo 'open", .unclosedQuote("'")),
      ("echo \"open", .unclosedQuote("\"")), ("echo x\\", .trailingBackslash),
    ]
    for (text, problem) in cases {
      XCTAssertThrowsError(try ScriptLine(parsing: text), text) { error in
        XCTAssertEqual(error as? ScriptLine.Problem, problem, text)
      }
    }
  }
}
