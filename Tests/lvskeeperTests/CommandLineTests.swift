import Foundation
import XCTest

/// Runs the built `lvskeeper` executable and checks exit codes and output formats.
final class CommandLineTests: XCTestCase {
  struct Outcome {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  static let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  /// The products directory holding the test bundle also holds the executable.
  static func executable() throws -> String {
    var candidates: [URL] = []
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
      candidates.append(bundle.bundleURL.deletingLastPathComponent())
    }
    candidates.append(Bundle.main.bundleURL)
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    candidates.append(URL(fileURLWithPath: repositoryRoot + "/.build/debug"))
    for directory in candidates {
      let path = directory.appendingPathComponent("lvskeeper").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw XCTSkip("lvskeeper executable not found next to the test bundle (build the package first)")
  }

  func run(_ arguments: [String]) throws -> Outcome { try Self.runBinary(arguments) }

  /// Runs the built executable to completion and collects its output.
  static func runBinary(_ arguments: [String]) throws -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try executable())
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Outcome(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self))
  }

  private var scratch = ""

  override func setUpWithError() throws {
    scratch = NSTemporaryDirectory() + "lvskeeper-cli-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(atPath: scratch)
  }

  private func write(_ name: String, _ text: String) throws -> String {
    let path = scratch + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  static let valid = """
    global_defs {
      router_id cli
      smtp_server 10.0.0.9
    }
    virtual_server 10.0.0.1 80 {
      real_server 10.0.1.1 80 {
        TCP_CHECK {
        }
      }
    }
    """

  static let invalid = """
    virtual_server 10.0.0.1 80 {
      lb_algo bogus
      real_server 10.0.1.300 80 {
        ICMP_CHECK {
        }
      }
    """

  func testCheckConfigValidPrintsWarningsAndExitsZero() throws {
    let path = try write("ok.conf", Self.valid)
    let outcome = try run(["check-config", "--config", path])
    XCTAssertEqual(outcome.status, 0, outcome.stderr)
    XCTAssertEqual(
      outcome.stderr, "\(path):3:3: warning: keyword 'smtp_server' in global_defs is ignored by lvskeeper\n")
    XCTAssertTrue(outcome.stdout.contains("configuration OK"), outcome.stdout)
  }

  func testCheckConfigInvalidListsEveryErrorAndExitsOne() throws {
    let path = try write("bad.conf", Self.invalid)
    let outcome = try run(["check-config", "--config", path])
    XCTAssertEqual(outcome.status, 1)
    let lines = outcome.stderr.split(separator: "\n").map(String.init)
    XCTAssertEqual(
      lines,
      [
        "\(path):1:1: error: unbalanced '{': block 'virtual_server' is never closed",
        "\(path):1:1: warning: virtual_server 10.0.0.1 80 TCP has no real_server",
        "\(path):2:11: error: unknown scheduler 'bogus' (expected one of: rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos)",
        "\(path):3:15: error: invalid IP address '10.0.1.300'",
        "\(path):4:5: error: unsupported checker 'ICMP_CHECK': lvskeeper cannot run this health check (supported: TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, MYSQL_CHECK, SMTP_CHECK, PING_CHECK, UDP_CHECK, DNS_CHECK, FILE_CHECK, BFD_CHECK)",
        "\(path): 4 errors; configuration is invalid",
      ])
    XCTAssertEqual(outcome.stdout, "")
  }

  func testKeepalivedStyleTestFlag() throws {
    let good = try write("ok.conf", Self.valid)
    let bad = try write("bad.conf", Self.invalid)
    XCTAssertEqual(try run(["-t", "-f", good]).status, 0)
    XCTAssertEqual(try run(["-f", good, "-t"]).status, 0)
    XCTAssertEqual(try run(["--config-test", "--use-file=\(good)", "-l", "-D"]).status, 0)
    let failed = try run(["-t", "-f", bad])
    XCTAssertEqual(failed.status, 1)
    XCTAssertTrue(failed.stderr.contains("\(bad):2:11: error: unknown scheduler 'bogus' ("), failed.stderr)
  }

  func testConfigIDSelectsConditionalLines() throws {
    let path = try write("cond.conf", "global_defs {\n @one router_id a\n @two bogus_keyword\n}\n")
    XCTAssertEqual(try run(["-t", "-f", path, "-i", "one"]).status, 0)
    let two = try run(["check-config", "--config", path, "--config-id", "two"])
    XCTAssertEqual(two.status, 1)
    XCTAssertTrue(two.stderr.hasPrefix("\(path):3:7: error: unknown keyword 'bogus_keyword'"), two.stderr)
  }

  func testDumpConfigPrintsSortedJSONWithDefaults() throws {
    let path = try write("ok.conf", Self.valid)
    let outcome = try run(["dump-config", "--config", path])
    XCTAssertEqual(outcome.status, 0, outcome.stderr)
    let object = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
    let servers = try XCTUnwrap(object?["virtualServers"] as? [[String: Any]])
    XCTAssertEqual(servers.first?["delayLoop"] as? Double, 60)
    XCTAssertEqual(servers.first?["scheduler"] as? String, "wlc")
    let keys = outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    XCTAssertEqual(keys, keys.sorted(), "top-level keys are sorted")
    let failed = try run(["dump-config", "--config", try write("bad.conf", Self.invalid)])
    XCTAssertEqual(failed.status, 1)
    XCTAssertEqual(failed.stdout, "")
  }

  /// keepalived.conf(5) users expect a director config to need IPVS: without it `run` must stop at
  /// once and say why, not run VRRP alone with a silently empty table.
  func testRunWithVirtualServersFailsClearlyWithoutKernelIPVS() throws {
    guard !FileManager.default.fileExists(atPath: "/proc/net/ip_vs") else {
      throw XCTSkip("this kernel has IPVS loaded; the refusal is exercised on kernels without it")
    }
    let path = try write("ok.conf", Self.valid)
    let outcome = try run(["run", "--config", path, "--control-socket", scratch + "/ctl.sock"])
    XCTAssertEqual(outcome.status, 1)
    XCTAssertTrue(outcome.stderr.contains("kernel IPVS is not available"), outcome.stderr)
    XCTAssertTrue(outcome.stderr.contains("--dry-run"), outcome.stderr)
    XCTAssertEqual(try run(["run", "--config", scratch + "/missing.conf"]).status, 1)
  }

  func testExampleConfigurationsPass() throws {
    for name in ["nat-master", "nat-backup", "dr-master", "dr-backup"] {
      let path = Self.repositoryRoot + "/etc/\(name).conf"
      let outcome = try run(["check-config", "--config", path])
      XCTAssertEqual(outcome.status, 0, "\(name): \(outcome.stderr)")
      XCTAssertFalse(outcome.stderr.contains("error:"), outcome.stderr)
    }
  }

  /// The package's conffile (packaging/lvskeeper.conf) is a commented example that passes as it is.
  func testPackagedExampleConfigurationPassesWithoutWarnings() throws {
    let outcome = try run(["check-config", "--config", Self.repositoryRoot + "/packaging/lvskeeper.conf"])
    XCTAssertEqual(outcome.status, 0, outcome.stderr)
    XCTAssertEqual(outcome.stderr, "")
  }

  /// `--version` (and keepalived's `-v`) print VERSION's first line, which scripts/package turns
  /// into the Debian version.
  func testVersionMatchesVersionFile() throws {
    let file = try String(contentsOfFile: Self.repositoryRoot + "/VERSION", encoding: .utf8)
    let expected = file.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    XCTAssertFalse(expected.isEmpty)
    for flag in ["--version", "-v"] {
      let outcome = try run([flag])
      XCTAssertEqual(outcome.status, 0, outcome.stderr)
      XCTAssertEqual(outcome.stdout, expected + "\n", flag)
    }
  }

  /// swift-argument-parser's completion machinery reaches the root command instead of being taken
  /// for keepalived-style options of `run`.
  func testCompletionScriptIsGenerated() throws {
    let bash = try run(["--generate-completion-script", "bash"])
    XCTAssertEqual(bash.status, 0, bash.stderr)
    XCTAssertTrue(bash.stdout.contains("\ncomplete -o filenames -F _lvskeeper lvskeeper"), bash.stdout)
    for subcommand in ["check-config", "dump-config", "run", "status", "reload", "stop"] {
      XCTAssertTrue(bash.stdout.contains(subcommand), "completion lacks \(subcommand)")
    }
    XCTAssertEqual(try run(["--generate-completion-script=zsh"]).status, 0)
  }

  func testSystemdUnitChecksConfigBeforeStart() throws {
    let unit = try String(contentsOfFile: Self.repositoryRoot + "/systemd/lvskeeper.service", encoding: .utf8)
    XCTAssertTrue(
      unit.contains("ExecStartPre=/usr/sbin/lvskeeper check-config --config /etc/lvskeeper/lvskeeper.conf"))
    XCTAssertTrue(unit.contains("Type=notify"))
  }
}
