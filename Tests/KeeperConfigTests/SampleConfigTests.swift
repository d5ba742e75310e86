import Foundation
import XCTest

@testable import KeeperConfig

/// Every sample shipped with keepalived (Debian: /usr/share/doc/keepalived/samples) either loads, or
/// fails only with the listed errors, which name a feature lvskeeper does not run.
final class SampleConfigTests: XCTestCase {
  static let directory = "/usr/share/doc/keepalived/samples"

  /// nil: the sample must load. Otherwise the exact "LINE:COL: message fragment" of every error.
  static let expectations: [String: (configID: String, errors: [String]?)] = [
    "keepalived.conf.HTTP_GET.port": ("host", nil),
    "keepalived.conf.IPv6": ("host", ["24:9: unsupported checker 'SMTP_CHECK'"]),
    "keepalived.conf.PING_CHECK": ("host", ["23:2: unsupported checker 'PING_CHECK'"]),
    "keepalived.conf.SMTP_CHECK": (
      "host",
      [
        "39:9: unsupported checker 'SMTP_CHECK'", "58:9: unsupported checker 'SMTP_CHECK'",
        "89:9: unsupported checker 'SMTP_CHECK'",
      ]
    ),
    "keepalived.conf.SSL_GET": ("host", nil),
    "keepalived.conf.UDP_CHECK": ("host", ["23:9: unsupported checker 'UDP_CHECK'"]),
    // Loaded as `-i high`, the id the sample is written for.
    "keepalived.conf.conditional_conf": (
      "high",
      [
        "3:7: unsupported keyword 'net_namespace' in the top level"
      ]
    ),
    "keepalived.conf.fwmark": ("host", nil),
    "keepalived.conf.inhibit": ("host", nil),
    "keepalived.conf.misc_check": ("host", nil),
    "keepalived.conf.misc_check_arg": ("host", nil),
    "keepalived.conf.quorum": ("host", nil),
    "keepalived.conf.sample": ("host", nil),
    "keepalived.conf.status_code": ("host", nil),
    "keepalived.conf.track_interface": ("host", nil),
    "keepalived.conf.virtual_server_group": ("host", nil),
    "keepalived.conf.virtualhost": ("host", nil),
    "keepalived.conf.vrrp": ("host", nil),
    "keepalived.conf.vrrp.localcheck": ("host", nil),
    // The sample lists instances directly in vrrp_sync_group; keepalived 2.2.7 itself reports
    // "Unknown keyword 'VI_2'" for these lines.
    "keepalived.conf.vrrp.lvs_syncd": (
      "host",
      [
        "4:3: unknown keyword 'VI_2' in vrrp_sync_group (instance names belong inside 'group { }')",
        "5:3: unknown keyword 'VI_3' in vrrp_sync_group (instance names belong inside 'group { }')",
        "11:5: unsupported keyword 'lvs_sync_daemon_interface' in vrrp_instance: the sync daemon is started only by",
      ]
    ),
    "keepalived.conf.vrrp.routes": ("host", nil),
    // keepalived skips the sample's two rules with `to 192.168.100./24` (and 200.) with a message;
    // so does lvskeeper, with a warning.
    "keepalived.conf.vrrp.rules": ("host", nil),
    "keepalived.conf.vrrp.scripts": ("host", nil),
    "keepalived.conf.vrrp.static_ipaddress": ("host", nil),
    "keepalived.conf.vrrp.sync": ("host", nil),
  ]

  func testEverySampleLoadsOrFailsOnlyAsListed() throws {
    guard let files = try? FileManager.default.contentsOfDirectory(atPath: Self.directory) else {
      XCTFail("\(Self.directory) is missing: install the Debian package 'keepalived'")
      return
    }
    let samples = files.filter { $0.hasPrefix("keepalived.conf.") }.sorted()
    XCTAssertEqual(
      Set(samples), Set(Self.expectations.keys), "a sample without an expectation (or vice versa)")
    for sample in samples {
      guard let expectation = Self.expectations[sample] else { continue }
      let path = Self.directory + "/" + sample
      let loader = ConfigLoader(configID: expectation.configID, interfaces: testInterfaces)
      do {
        let loaded = try loader.load(path: path)
        XCTAssertNil(expectation.errors, "\(sample) loaded but errors were expected")
        XCTAssertFalse(
          loaded.configuration.vrrpInstances.isEmpty && loaded.configuration.virtualServers.isEmpty, sample)
      } catch {
        guard let expected = expectation.errors else {
          XCTFail("\(sample) should load:\n\(error)")
          continue
        }
        let actual = error.errors
        XCTAssertEqual(actual.count, expected.count, "\(sample):\n\(error)")
        for (diagnostic, want) in zip(actual, expected) {
          XCTAssertEqual(diagnostic.file, path)
          XCTAssertTrue(
            "\(diagnostic.line):\(diagnostic.column): \(diagnostic.message)".hasPrefix(want),
            "\(sample): got \(diagnostic), want \(want)")
        }
      }
    }
  }

  func testSampleModelsKeepTheirMeaning() throws {
    let loader = ConfigLoader(configID: "host", interfaces: testInterfaces)
    let quorumText = try String(contentsOfFile: Self.directory + "/keepalived.conf.quorum", encoding: .utf8)
    let quorum = try loader.load(text: quorumText).configuration.virtualServers[0]
    XCTAssertTrue(quorum.omega)
    XCTAssertEqual(quorum.quorum, 7)
    XCTAssertEqual(quorum.hysteresis, 2)
    XCTAssertTrue(quorum.alpha)
    XCTAssertEqual(quorum.realServers.count, 10)
    XCTAssertEqual(quorum.realServers[0].checkers[0].connectPort, 80)
    XCTAssertEqual(quorum.quorumUp?.argv, ["/usr/local/sbin/quorum-up.sh"])

    let codes = try loader.load(path: Self.directory + "/keepalived.conf.status_code").configuration
    let urls = try XCTUnwrap(codes.virtualServers[0].realServers[0].checkers[0].http?.urls)
    XCTAssertEqual(
      urls[0].statusCodes.map { [$0.lower, $0.upper] }, [[200, 299], [400, 499], [503, 503], [505, 505]])
    XCTAssertEqual(urls[1].digest, "9b3a0c85a887a256d6939da88aabd8cd")

    let group = try loader.load(path: Self.directory + "/keepalived.conf.virtual_server_group").configuration
    XCTAssertEqual(group.virtualServerGroups[0].members.count, 6)
    XCTAssertEqual(group.virtualServerGroups[0].members[3].last?.description, "192.168.200.10")
    XCTAssertEqual(group.virtualServers[0].key.group, "VSG_1")

    let sync = try loader.load(path: Self.directory + "/keepalived.conf.vrrp.sync").configuration
    XCTAssertEqual(sync.syncGroups.map(\.instances.count), [7, 2])
    XCTAssertEqual(sync.vrrpInstances.first { $0.name == "VI_3" }?.syncGroup, "G2")

    let misc = try loader.load(path: Self.directory + "/keepalived.conf.misc_check_arg").configuration
    let check = misc.virtualServers[0].realServers[0].checkers[0]
    XCTAssertEqual(check.misc?.path.argv, ["/usr/local/bin/script.sh", "arg1", "arg2"])
    XCTAssertEqual(check.retry, 0)
    XCTAssertEqual(check.misc?.timeout, 6)
  }

  /// Against the real keepalived: no sample that lvskeeper accepts draws "Unknown keyword" from
  /// `keepalived -t`, so lvskeeper is not more lenient than keepalived on them.
  func testKeepalivedAgreesOnAcceptedSamples() throws {
    let candidates = ["/usr/sbin/keepalived", "/usr/local/sbin/keepalived"]
    guard let keepalived = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) })
    else {
      XCTFail("keepalived is not installed: install the Debian package 'keepalived'")
      return
    }
    for (sample, expectation) in Self.expectations.sorted(by: { $0.key < $1.key })
    where expectation.errors == nil {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: keepalived)
      process.arguments = ["-t", "-l", "-D", "-f", Self.directory + "/" + sample]
      let pipe = Pipe()
      process.standardOutput = pipe
      process.standardError = pipe
      try process.run()
      let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      XCTAssertFalse(output.contains("Unknown keyword"), "\(sample): keepalived says:\n\(output)")
    }
  }
}
