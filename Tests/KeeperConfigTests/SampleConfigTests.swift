import Foundation
import XCTest

@testable import KeeperConfig

/// Every sample shipped with keepalived (Debian: /usr/share/doc/keepalived/samples) loads as
/// `lvskeeper check-config` loads it (no `-i`, so `@ID` lines for other hosts drop out), except
/// `keepalived.conf.vrrp.lvs_syncd`, which `keepalived -t` rejects too, and the samples listed in
/// `knownFailures`, each failing only for a feature being added right now. A listed sample that
/// starts to load fails this test, so the list only shrinks.
final class SampleConfigTests: XCTestCase {
  static let directory = "/usr/share/doc/keepalived/samples"

  /// The config id of the walk: matches no `@ID` line of any sample, as on a host not named in them.
  static let configID = "lvskeeper-sample-walk"

  /// keepalived 2.2.7 itself reports "Unknown keyword 'VI_2'" for these lines (the sample lists
  /// instances directly in vrrp_sync_group) and lvs_sync_daemon_interface is gone from 2.x.
  static let rejectedByKeepalived: [String: [String]] = [
    "keepalived.conf.vrrp.lvs_syncd": [
      "4:3: unknown keyword 'VI_2' in vrrp_sync_group (instance names belong inside 'group { }')",
      "5:3: unknown keyword 'VI_3' in vrrp_sync_group (instance names belong inside 'group { }')",
      "11:5: unsupported keyword 'lvs_sync_daemon_interface' in vrrp_instance: the sync daemon is started only by",
    ]
  ]

  /// Samples that fail only for a feature another change is adding (issue #13): the feature, and
  /// the exact "LINE:COL: message" prefix of every error.
  static let knownFailures: [String: (feature: String, errors: [String])] = [:]

  func testEverySampleLoadsAsCheckConfigDoes() throws {
    guard let files = try? FileManager.default.contentsOfDirectory(atPath: Self.directory) else {
      XCTFail("\(Self.directory) is missing: install the Debian package 'keepalived' (scripts/setup-deps)")
      return
    }
    let samples = files.filter { $0.hasPrefix("keepalived.conf.") }.sorted()
    XCTAssertGreaterThanOrEqual(samples.count, 25, "keepalived 2.2.7 ships 25 sample configurations")
    for name in Set(Self.knownFailures.keys).union(Self.rejectedByKeepalived.keys) {
      XCTAssertTrue(samples.contains(name), "listed sample \(name) is not shipped")
    }
    for sample in samples {
      let expected = Self.rejectedByKeepalived[sample] ?? Self.knownFailures[sample]?.errors
      let path = Self.directory + "/" + sample
      do {
        let loaded = try ConfigLoader(configID: Self.configID, interfaces: testInterfaces).load(path: path)
        XCTAssertNil(
          expected,
          "\(sample) loads now: remove it from the known failures (\(Self.knownFailures[sample]?.feature ?? ""))"
        )
        XCTAssertFalse(
          loaded.configuration.vrrpInstances.isEmpty && loaded.configuration.virtualServers.isEmpty, sample)
      } catch {
        guard let expected else {
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

  /// With `-i high` (the id conditional_conf is written for) the sample also asks for
  /// `net_namespace`, which lvskeeper does not implement (README: unsupported).
  func testConditionalSampleForItsOwnID() {
    let path = Self.directory + "/keepalived.conf.conditional_conf"
    XCTAssertThrowsError(try ConfigLoader(configID: "high", interfaces: testInterfaces).load(path: path)) {
      error in
      let messages = (error as? ConfigErrors)?.errors.map { "\($0.line):\($0.column): \($0.message)" } ?? []
      // Only net_namespace: its use_vmac line loads since VMAC is supported.
      XCTAssertEqual(messages.count, 1, "\(messages)")
      XCTAssertTrue(
        messages.first?.hasPrefix("3:7: unsupported keyword 'net_namespace' in the top level") == true)
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
    let samples = (try? FileManager.default.contentsOfDirectory(atPath: Self.directory)) ?? []
    for sample in samples.filter({ $0.hasPrefix("keepalived.conf.") }).sorted()
    where Self.knownFailures[sample] == nil && Self.rejectedByKeepalived[sample] == nil {
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
