import Foundation
import XCTest

@testable import KeeperConfig

/// Pathological inputs that once ran for minutes end in an error naming the cap and where it was
/// hit. No timing is asserted: a test that hangs is the failure.
final class ConfigLimitsTests: XCTestCase {
  /// The errors of loading `path`, which must fail.
  private func errors(loading path: String, file: StaticString = #filePath, line: UInt = #line)
    -> [Diagnostic]
  {
    do {
      _ = try testLoader().load(path: path)
      XCTFail("expected errors", file: file, line: line)
      return []
    } catch {
      return error.errors
    }
  }

  func testFilesThatIncludeEachOtherAreIncludeLoops() throws {
    let scratch = try ScratchDirectory()
    for name in ["a", "b", "c"] { try scratch.write("\(name).conf", "include *.conf\n") }
    let errors = errors(loading: scratch.path + "/a.conf")
    XCTAssertFalse(errors.isEmpty)
    for error in errors {
      XCTAssertTrue(error.message.hasPrefix("include loop: '"), error.description)
      XCTAssertTrue(error.message.hasSuffix("' is already being read"), error.description)
      XCTAssertEqual(error.line, 1)
      XCTAssertEqual(error.column, 9)
    }
    XCTAssertEqual(
      errors.first?.description,
      "\(scratch.path)/a.conf:1:9: error: include loop: '\(scratch.path)/a.conf' is already being read")
  }

  func testIncludeFanOutStopsAtTheIncludedFilesCap() throws {
    // Eight levels of four files, each including all four of the next level: 4^8 includes.
    let scratch = try ScratchDirectory()
    for level in 0..<8 {
      for index in 0..<4 {
        try scratch.write("l\(level)/f\(index).conf", level < 7 ? "include ../l\(level + 1)/*.conf\n" : "\n")
      }
    }
    let main = try scratch.write("main.conf", "include l0/*.conf\n")
    let errors = errors(loading: main)
    XCTAssertEqual(errors.count, 1, "\(errors)")
    let error = try XCTUnwrap(errors.first)
    XCTAssertEqual(
      error.message,
      "configuration too large: more than 10000 files included (cap: included files); reading stopped")
    XCTAssertTrue(error.file.hasPrefix(scratch.path + "/l"), error.description)
    XCTAssertEqual(error.line, 1)
    XCTAssertEqual(error.column, 9)
  }

  func testIncludeChainStopsAtTheIncludeDepthCap() throws {
    let scratch = try ScratchDirectory()
    for index in 0..<20 { try scratch.write("f\(index).conf", "include f\(index + 1).conf\n") }
    try scratch.write("f20.conf", "\n")
    XCTAssertEqual(
      errors(loading: scratch.path + "/f0.conf").map(\.description),
      [
        "\(scratch.path)/f16.conf:1:9: error: configuration too large: includes nested deeper than 16 levels (cap: include depth); reading stopped"
      ])
  }

  func testDoublingParameterStopsAtTheSubstitutionsPerLineCap() {
    for (name, form) in [("braces", "${A%d}${A%d}"), ("spaced", "$A%d $A%d")] {
      var lines = ["$A0=x"]
      for level in 1...40 {
        lines.append("$A\(level)=" + form.replacingOccurrences(of: "%d", with: String(level - 1)))
      }
      lines += ["global_defs {", name == "braces" ? "  router_id ${A40}" : "  router_id $A40", "}"]
      XCTAssertEqual(
        loadErrors(lines.joined(separator: "\n")).map(\.description),
        [
          "test.conf:43:13: error: configuration too large: more than 10000 parameter substitutions in one line (cap: substitutions per line; recursive definition?); reading stopped"
        ], name)
    }
  }

  /// `$Mn` is two lines of `$M(n-1)`: 2^n lines.
  private func multiLineDoubling(levels: Int) -> String {
    var lines = ["$M0=router_id x"]
    for level in 1...levels {
      lines += ["$M\(level)=$M\(level - 1) \\", "$M\(level - 1)"]
    }
    lines += ["global_defs {", "$M\(levels)", "}"]
    return lines.joined(separator: "\n")
  }

  func testDeepMultiLineParameterStopsAtTheExpansionDepthCap() {
    XCTAssertEqual(
      loadErrors(multiLineDoubling(levels: 40)).map(\.description),
      [
        "test.conf:83:1: error: configuration too large: parameters or ~SEQ/~LST nested deeper than 32 levels (cap: expansion depth); reading stopped"
      ])
  }

  func testWideMultiLineParameterStopsAtTheSubstitutionsCap() {
    // 2^20 lines of "router_id x", under the depth cap: the whole-configuration cap stops it.
    XCTAssertEqual(
      loadErrors(multiLineDoubling(levels: 20)).map(\.description),
      [
        "test.conf:43:1: error: configuration too large: more than 500000 parameter substitutions (cap: substitutions); reading stopped"
      ])
  }

  func testLongParameterStopsAtTheLineBytesCapBeforeTheLineIsBuilt() {
    // Each level is 16 copies of the one below: 1 KiB * 16^3 = 4 MiB in one line.
    var lines = ["$B0=" + String(repeating: "x", count: 1024)]
    for level in 1...3 {
      lines.append("$B\(level)=" + String(repeating: "${B\(level - 1)}", count: 16))
    }
    lines.append("  $B3")
    XCTAssertEqual(
      loadErrors(lines.joined(separator: "\n")).map(\.description),
      [
        "test.conf:5:3: error: configuration too large: parameter substitution makes a line longer than 1048576 bytes (cap: expanded line bytes); reading stopped"
      ])
  }

  func testNestedSequencesStopAtTheRepetitionsCap() {
    XCTAssertEqual(
      loadErrors("~SEQ(a,1,1000) ~SEQ(b,1,1000) ~SEQ(c,1,1000) ~SEQ(d,1,1000) $d\n").map(\.description),
      [
        "test.conf:1:46: error: configuration too large: ~SEQ/~LST repeat more than 200000 lines (cap: repetitions); reading stopped"
      ])
    // One sequence longer than the whole budget is refused before its values are made.
    XCTAssertEqual(
      loadErrors("global_defs {\n ~SEQ(i,1,500000) router_id r$i\n}\n").map(\.description),
      [
        "test.conf:2:2: error: configuration too large: ~SEQ/~LST repeat more than 200000 lines (cap: repetitions); reading stopped"
      ])
  }

  func testDeeplyNestedSequencesStopAtTheExpansionDepthCap() {
    let text = (1...40).map { "~SEQ(v\($0),1,1) " }.joined() + "$v40\n"
    XCTAssertEqual(
      loadErrors(text).map(\.description),
      [
        "test.conf:1:440: error: configuration too large: parameters or ~SEQ/~LST nested deeper than 32 levels (cap: expansion depth); reading stopped"
      ])
  }

  func testLineAndByteCapsNameTheLineWhereTheyAreReached() {
    var limits = ConfigLimits()
    limits.maxLines = 3
    let log = DiagnosticLog()
    let lines = Preprocessor(configID: "x", log: log, limits: limits)
    lines.processText(Array("a\nb\nc\nd\ne\n".utf8), file: "big.conf")
    XCTAssertEqual(lines.lines.count, 3)
    XCTAssertEqual(
      log.diagnostics.map(\.description),
      [
        "big.conf:4:1: error: configuration too large: more than 3 lines after includes and expansion (cap: expanded lines); reading stopped"
      ])

    limits = ConfigLimits()
    limits.maxBytes = 10
    let byteLog = DiagnosticLog()
    let bytes = Preprocessor(configID: "x", log: byteLog, limits: limits)
    bytes.processText(Array("abcd\nefgh\nijkl\n".utf8), file: "big.conf")
    XCTAssertEqual(
      byteLog.diagnostics.map(\.description),
      [
        "big.conf:3:1: error: configuration too large: more than 10 bytes after includes and expansion (cap: expanded bytes); reading stopped"
      ])
  }

  func testAFileLargerThanTheByteCapIsNotRead() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.write("big.conf", String(repeating: "# padding\n", count: 100))
    var limits = ConfigLimits()
    limits.maxBytes = 500
    let log = DiagnosticLog()
    let preprocessor = Preprocessor(configID: "x", log: log, limits: limits)
    preprocessor.processFile(path: path, includedFrom: nil)
    XCTAssertEqual(preprocessor.bytesRead, 0)
    XCTAssertEqual(
      log.diagnostics.map(\.description),
      [
        "\(path):1:1: error: configuration too large: more than 500 bytes read from configuration files (cap: bytes read); reading stopped"
      ])
  }

  func testKeepalivedStyleGeneratedConfigurationStaysWellUnderTheCaps() throws {
    // A sequence-generated service with 2,000 real servers, parameters in every line.
    let text = """
      $RS=real_server 10.1.${A}.${B} 80 { \\
        weight $W \\
        TCP_CHECK { \\
          connect_timeout 3 \\
        } \\
      }
      $W=2
      virtual_server 10.0.0.1 80 {
        ~SEQ(A, 1, 20) ~SEQ(B, 1, 100) $RS
      }
      """
    let loaded = try XCTUnwrap(loadValid(text))
    XCTAssertEqual(loaded.configuration.virtualServers.first?.realServers.count, 2000)
  }
}
