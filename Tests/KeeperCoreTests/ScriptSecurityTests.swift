import Foundation
import Glibc
import XCTest

@testable import KeeperCore

/// keepalived's script security rules on real files, owners and modes.
final class ScriptSecurityTests: XCTestCase {
  var root: String!
  let rootIdentity = ScriptIdentity(userName: "root", uid: 0, gid: 0, groups: [0], home: "/root")

  override func setUpWithError() throws {
    try TestAccounts.create()
    // Under /tmp (root-owned, sticky, world-writable): accepted as a path component.
    root = "/tmp/lvsk-security-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
    chmod(root, 0o755)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(atPath: root)
  }

  func makeScript(_ name: String, mode: mode_t = 0o755) throws -> String {
    let path = "\(root!)/\(name)"
    try "#!/bin/sh\nexit 0\n".write(toFile: path, atomically: false, encoding: .utf8)
    chmod(path, mode)
    return path
  }

  func findings(_ line: String, as identity: ScriptIdentity? = nil) throws -> [ScriptSecurity.Finding] {
    ScriptSecurity.check(
      try ScriptCommand(parsing: line), as: identity ?? rootIdentity, searchPath: ScriptRunner.searchPath)
  }

  func testRootOwnedPathsAreSafeAndStickyTmpIsAccepted() throws {
    let script = try makeScript("ok")
    XCTAssertEqual(try findings(script), [])
    XCTAssertEqual(try findings("\(script) with arguments"), [])
    XCTAssertEqual(try findings("/usr/bin/ping -c 1 ::1"), [])
    XCTAssertEqual(try findings("ping -c 1 ::1"), [], "found through PATH")
    XCTAssertEqual(try findings("test -f /etc/passwd && exit 0"), [], "a shell line runs /bin/sh")
  }

  func testEveryWayANonRootUserCouldChangeTheScript() throws {
    let group = try XCTUnwrap(TestAccounts.id("group", TestAccounts.primaryGroup))
    let user = try XCTUnwrap(TestAccounts.id("passwd", TestAccounts.user))

    let worldWritable = try makeScript("world", mode: 0o757)
    XCTAssertEqual(
      try findings(worldWritable),
      [.unsafe(script: worldWritable, path: worldWritable, why: "is writable by everyone")])

    let groupWritable = try makeScript("group", mode: 0o775)
    chown(groupWritable, 0, group)
    XCTAssertEqual(
      try findings(groupWritable),
      [.unsafe(script: groupWritable, path: groupWritable, why: "is writable by group \(group)")])
    chown(groupWritable, 0, 0)
    XCTAssertEqual(try findings(groupWritable), [], "group-writable by root's group is fine")

    let owned = try makeScript("owned")
    chown(owned, user, 0)
    XCTAssertEqual(
      try findings(owned), [.unsafe(script: owned, path: owned, why: "is owned by uid \(user), not root")])

    // A directory on the path that someone else can write: they could swap the script.
    let subdirectory = "\(root!)/bin"
    mkdir(subdirectory, 0o777)
    chmod(subdirectory, 0o777)
    let inside = "\(subdirectory)/check"
    try "#!/bin/sh\n".write(toFile: inside, atomically: false, encoding: .utf8)
    chmod(inside, 0o755)
    XCTAssertEqual(
      try findings(inside), [.unsafe(script: inside, path: subdirectory, why: "is writable by everyone")])
    chmod(subdirectory, 0o1777)
    XCTAssertEqual(try findings(inside), [], "a sticky directory is accepted, as /tmp is")

    // A symlink to an unsafe file: the target is checked too.
    let link = try makeScript("target", mode: 0o757)
    let linked = "\(root!)/link"
    symlink(link, linked)
    XCTAssertEqual(try findings(linked).count, 1)

    // The same unsafe script run as an unprivileged user: nothing to protect.
    let identity = try ScriptIdentity.resolve(ScriptUser(user: TestAccounts.user))
    XCTAssertEqual(try findings(worldWritable, as: identity), [])
  }

  func testMissingProgram() throws {
    XCTAssertEqual(try findings("/nonexistent/lvsk-check"), [.notFound("/nonexistent/lvsk-check")])
    XCTAssertEqual(try findings("no-such-program-lvsk"), [.notFound("no-such-program-lvsk")])
  }
}
