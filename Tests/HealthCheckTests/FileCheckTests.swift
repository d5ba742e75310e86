import Foundation
import KeeperCore
import XCTest

@testable import HealthCheck

/// FILE_CHECK's verdicts, case by case as keepalived's check_file.c computes them, and the probe
/// reading a real file as keepalived reads a track_file.
final class FileCheckTests: XCTestCase {
  func testVerdictsFollowCheckFile() {
    let cases: [(String, FileCheck, Int, ProbeOutcome)] = [
      (
        "weight 0, zero: up at its own weight", FileCheck(path: "/f", weight: 0, baseWeight: 5), 0,
        .up(weight: nil)
      ),
      (
        "weight 0, non-zero: down", FileCheck(path: "/f", weight: 0, baseWeight: 5), 3,
        .down(reason: "/f holds 3")
      ),
      (
        "weight 0 reverse, zero: down", FileCheck(path: "/f", weight: 0, reverse: true, baseWeight: 5), 0,
        .down(reason: "/f holds 0 (reverse)")
      ),
      (
        "weight 0 reverse, non-zero: up", FileCheck(path: "/f", weight: 0, reverse: true, baseWeight: 5), -2,
        .up(weight: nil)
      ),
      ("value x weight added", FileCheck(path: "/f", weight: 10, baseWeight: 5), 2, .up(weight: 25)),
      (
        "reverse subtracts", FileCheck(path: "/f", weight: 10, reverse: true, baseWeight: 50), 2,
        .up(weight: 30)
      ),
      ("kept at 0", FileCheck(path: "/f", weight: 10, baseWeight: 5), -1, .up(weight: 0)),
      ("kept at 65535", FileCheck(path: "/f", weight: 1000, baseWeight: 100), 1000, .up(weight: 65535)),
      (
        "-65535 or below: down", FileCheck(path: "/f", weight: 100, baseWeight: 5), -700,
        .down(reason: "/f holds -700: weight -65535")
      ),
    ]
    for (name, check, value, expected) in cases {
      XCTAssertEqual(check.outcome(for: value), expected, name)
    }
  }

  func testProbeReadsTheFileAsKeepalivedDoes() throws {
    let path = NSTemporaryDirectory() + "lvsk-filecheck-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let check = FileCheck(path: path, weight: 1, baseWeight: 10)
    let readings: [(String?, Int)] = [
      (nil, 10), ("5\n", 15), ("  0x10 and text", 26), ("010", 18), ("not a number", 10), ("", 10), ("-3", 7),
    ]
    for (content, weight) in readings {
      if let content {
        try content.write(toFile: path, atomically: true, encoding: .utf8)
      }
      XCTAssertEqual(
        check.outcome(for: TrackFileValue.read(path)), .up(weight: weight), "\(content ?? "missing file")")
    }
  }
}
