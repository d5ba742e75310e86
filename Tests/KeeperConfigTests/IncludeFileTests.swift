import Foundation
import XCTest

@testable import KeeperConfig

#if canImport(Glibc)
  import Glibc
#endif

/// Only regular files are read as configuration; a literal include that names nothing is an
/// error, a pattern that matches nothing a warning.
final class IncludeFileTests: XCTestCase {
  private func load(_ path: String) -> Result<LoadedConfig, ConfigErrors> {
    do {
      return .success(try testLoader().load(path: path))
    } catch {
      return .failure(error)
    }
  }

  private func errorDescriptions(_ path: String) -> [String] {
    switch load(path) {
    case .success(let loaded): return ["loaded, warnings: \(loaded.warnings)"]
    case .failure(let errors): return errors.errors.map(\.description)
    }
  }

  func testLiteralIncludeThatDoesNotExistIsAnError() throws {
    let scratch = try ScratchDirectory()
    let main = try scratch.write("main.conf", "global_defs {\n  include   missing.conf\n}\n")
    XCTAssertEqual(
      errorDescriptions(main),
      ["\(main):2:13: error: cannot read included file '\(scratch.path)/missing.conf': no such file"])
  }

  func testGlobThatMatchesNothingStaysAWarning() throws {
    let scratch = try ScratchDirectory()
    let main = try scratch.write("main.conf", "include conf.d/*.conf\ninclude {x,y}.conf\n")
    guard case .success(let loaded) = load(main) else { return XCTFail("expected a valid configuration") }
    XCTAssertEqual(
      loaded.warnings.map(\.description),
      [
        "\(main):1:9: warning: include pattern 'conf.d/*.conf' matched no files",
        "\(main):2:9: warning: include pattern '{x,y}.conf' matched no files",
      ])
  }

  /// keepalived's include variants (lib/parser.c include_t): R, M, W and B checks.
  func testIncludeVariantsThatMatchNothing() throws {
    let scratch = try ScratchDirectory()
    try scratch.write("a.conf", "\n")
    try FileManager.default.createDirectory(
      atPath: scratch.path + "/d.conf", withIntermediateDirectories: true)
    let variants = ["include", "includer", "includem", "includew", "includeb", "includea"]
    // Per variant: a wildcard that matches nothing, braces that match nothing, braces of which one
    // alternative matches nothing, and a wildcard that matches a directory.
    let patterns = ["none-*.conf", "{x,y}.conf", "{a,zz}.conf", "d*.conf"]
    var lines: [String] = []
    for variant in variants { for pattern in patterns { lines.append("\(variant) \(pattern)") } }
    let main = try scratch.write("main.conf", lines.joined(separator: "\n"))
    let diagnostics: [Diagnostic]
    switch load(main) {
    case .success(let loaded): diagnostics = loaded.warnings
    case .failure(let errors): diagnostics = errors.diagnostics
    }
    var seen: [String: String] = [:]
    for diagnostic in diagnostics { seen[lines[diagnostic.line - 1]] = diagnostic.severity.rawValue }
    let expected: [String: [String?]] = [
      "include": ["warning", "warning", nil, "warning"],
      "includer": ["warning", "warning", nil, "error"],
      "includem": ["warning", "error", nil, "warning"],
      "includew": ["error", "warning", nil, "warning"],
      "includeb": ["warning", "error", "error", "warning"],
      "includea": ["error", "error", "error", "error"],
    ]
    for variant in variants {
      for (pattern, want) in zip(patterns, expected[variant] ?? []) {
        let line = "\(variant) \(pattern)"
        XCTAssertEqual(seen[line], want, line)
      }
    }
  }

  func testDirectoryAsConfigurationOrLiteralIncludeIsAnError() throws {
    let scratch = try ScratchDirectory()
    try FileManager.default.createDirectory(atPath: scratch.path + "/sub", withIntermediateDirectories: true)
    XCTAssertEqual(
      errorDescriptions(scratch.path + "/sub"),
      [
        "\(scratch.path)/sub:1:1: error: cannot read configuration file: it is a directory, not a regular file"
      ])
    let main = try scratch.write("main.conf", "include sub\n")
    XCTAssertEqual(
      errorDescriptions(main),
      [
        "\(main):1:9: error: cannot read included file '\(scratch.path)/sub': it is a directory, not a regular file"
      ])
  }

  func testFIFOIsRefusedWithoutBlocking() throws {
    // Nobody ever opens the FIFO for writing: an open(2) without O_NONBLOCK, or a read, would hang.
    let scratch = try ScratchDirectory()
    let fifo = scratch.path + "/pipe.conf"
    XCTAssertEqual(mkfifo(fifo, 0o600), 0)
    XCTAssertEqual(
      errorDescriptions(fifo),
      ["\(fifo):1:1: error: cannot read configuration file: it is a FIFO, not a regular file"])
    let main = try scratch.write("main.conf", "include pipe.conf\n")
    XCTAssertEqual(
      errorDescriptions(main),
      ["\(main):1:9: error: cannot read included file '\(fifo)': it is a FIFO, not a regular file"])
    // Matched by a pattern, it is skipped with a warning, like a directory.
    let globbing = try scratch.write("glob.main", "include pipe*\n")
    guard case .success(let loaded) = load(globbing) else { return XCTFail("expected a valid configuration") }
    XCTAssertTrue(
      loaded.warnings.map(\.description).contains(
        "\(globbing):1:9: warning: include pattern matched '\(fifo)', which is a FIFO; skipped"),
      "\(loaded.warnings)")
  }

  func testDeviceAndSocketAreRefused() throws {
    let scratch = try ScratchDirectory()
    let main = try scratch.write("main.conf", "include /dev/null\n")
    XCTAssertEqual(
      errorDescriptions(main),
      [
        "\(main):1:9: error: cannot read included file '/dev/null': it is a character device, not a regular file"
      ])

    let socketPath = scratch.path + "/control.sock"
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    XCTAssertGreaterThanOrEqual(fd, 0)
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      for (index, byte) in socketPath.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    XCTAssertEqual(bound, 0)
    XCTAssertEqual(
      errorDescriptions(socketPath),
      ["\(socketPath):1:1: error: cannot read configuration file: it is a socket, not a regular file"])
  }

  func testSymbolicLinkToARegularFileIsRead() throws {
    let scratch = try ScratchDirectory()
    let target = try scratch.write("real.conf", "global_defs {\n router_id via_link\n}\n")
    XCTAssertEqual(symlink(target, scratch.path + "/link.conf"), 0)
    let main = try scratch.write("main.conf", "include link.conf\n")
    guard case .success(let loaded) = load(main) else { return XCTFail("expected a valid configuration") }
    XCTAssertEqual(loaded.configuration.globalDefs.routerID, "via_link")
  }

  /// The parser tokenizes lines as it reaches them; an unterminated quote in an included file is
  /// still reported as if every line had been tokenized before parsing: that file is mentioned
  /// first, so its diagnostics sort before a brace error earlier in the main file.
  func testTokenizerErrorInIncludedFileKeepsItsPlaceBeforeParserErrors() throws {
    let scratch = try ScratchDirectory()
    let included = try scratch.write("b.conf", "vrrp_script s {\n script \"/bin/true\n}\n")
    let main = try scratch.write("main.conf", "}\ninclude b.conf\n")
    let descriptions = errorDescriptions(main)
    XCTAssertEqual(
      Array(descriptions.prefix(1)), ["\(included):2:9: error: unterminated quoted string"], "\(descriptions)"
    )
    XCTAssertEqual(
      descriptions.last, "\(main):1:1: error: unbalanced '}': no block is open here", "\(descriptions)")
  }
}
