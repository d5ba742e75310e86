import Foundation
import XCTest

/// Real accounts for script tests: a user with a primary and a supplementary group, and a second
/// group to name on a script line. Created with the system's tools (the tests run as root),
/// removed again by `remove()`.
enum TestAccounts {
  static let user = "lvsk-script-u"
  static let primaryGroup = "lvsk-script-g1"
  static let extraGroup = "lvsk-script-g2"
  static let otherGroup = "lvsk-script-g3"

  static func create() throws {
    for group in [primaryGroup, extraGroup, otherGroup] where run("/usr/bin/getent", "group", group) != 0 {
      guard run("/usr/sbin/groupadd", group) == 0 else {
        throw XCTSkip("groupadd \(group) failed (not root?)")
      }
    }
    if run("/usr/bin/getent", "passwd", user) != 0 {
      guard
        run(
          "/usr/sbin/useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
          "/usr/sbin/nologin",
          "--gid", primaryGroup, "--groups", extraGroup, user) == 0
      else { throw XCTSkip("useradd \(user) failed (not root?)") }
    }
  }

  static func remove() {
    _ = run("/usr/sbin/userdel", user)
    for group in [primaryGroup, extraGroup, otherGroup] { _ = run("/usr/sbin/groupdel", group) }
  }

  /// `getent`'s numeric id of a user or group.
  static func id(_ database: String, _ name: String) -> UInt32? {
    let pipe = Pipe()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/getent")
    process.arguments = [database, name]
    process.standardOutput = pipe
    guard (try? process.run()) != nil else { return nil }
    process.waitUntilExit()
    let line = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let fields = line.split(separator: ":", omittingEmptySubsequences: false)
    return fields.count > 2 ? UInt32(fields[2]) : nil
  }

  @discardableResult
  static func run(_ program: String, _ arguments: String...) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
  }
}
