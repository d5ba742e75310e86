import Foundation
import XCTest

@testable import KeeperConfig

/// Interfaces the tests pretend exist, so "missing interface" warnings do not depend on the host.
let testInterfaces: Set<String> = ["lo", "eth0", "eth1", "eth2", "eth3", "bond0"]

func testLoader(configID: String = "testhost") -> ConfigLoader {
  ConfigLoader(configID: configID, interfaces: testInterfaces)
}

/// Loads text that must be valid; fails the test with every diagnostic otherwise. The streaming
/// check (`ConfigLoader.check`, what check-config runs) must agree: same warnings, same counts.
func loadValid(
  _ text: String, configID: String = "testhost", file: StaticString = #filePath, line: UInt = #line
) -> LoadedConfig? {
  do {
    let loaded = try testLoader(configID: configID).load(text: text, fileName: "test.conf")
    assertCheckAgrees(
      text, configID: configID, fileName: "test.conf", with: .success(loaded), file: file, line: line)
    return loaded
  } catch {
    XCTFail("expected a valid configuration, got:\n\(error)", file: file, line: line)
    return nil
  }
}

/// Loads text that must be invalid and returns its error diagnostics. The streaming check must
/// report exactly the same diagnostics, in the same order.
func loadErrors(
  _ text: String, fileName: String = "test.conf", file: StaticString = #filePath, line: UInt = #line
) -> [Diagnostic] {
  do {
    let loaded = try testLoader().load(text: text, fileName: fileName)
    XCTFail("expected errors, configuration loaded with warnings: \(loaded.warnings)", file: file, line: line)
    return []
  } catch {
    assertCheckAgrees(
      text, configID: "testhost", fileName: fileName, with: .failure(error), file: file, line: line)
    return error.errors
  }
}

/// Fails unless `ConfigLoader.check(text:)` (which keeps no virtual server models) gives what
/// `load(text:)` gave: the same diagnostics in the same order, and on success the same counts.
func assertCheckAgrees(
  _ text: String, configID: String, fileName: String, with loaded: Result<LoadedConfig, ConfigErrors>,
  file: StaticString = #filePath, line: UInt = #line
) {
  let checked: Result<CheckedConfig, ConfigErrors>
  do {
    checked = .success(try testLoader(configID: configID).check(text: text, fileName: fileName))
  } catch {
    checked = .failure(error)
  }
  switch (loaded, checked) {
  case (.success(let model), .success(let summary)):
    XCTAssertEqual(summary.warnings, model.warnings, "check's warnings", file: file, line: line)
    XCTAssertEqual(
      [summary.vrrpInstances, summary.virtualServers, summary.realServers],
      [
        model.configuration.vrrpInstances.count, model.configuration.virtualServers.count,
        model.configuration.virtualServers.reduce(0) { $0 + $1.realServers.count },
      ], "check's counts", file: file, line: line)
  case (.failure(let loadErrors), .failure(let checkErrors)):
    XCTAssertEqual(
      checkErrors.diagnostics, loadErrors.diagnostics, "check's diagnostics", file: file, line: line)
  case (.success, .failure(let errors)):
    XCTFail("load succeeded, check failed:\n\(errors)", file: file, line: line)
  case (.failure(let errors), .success):
    XCTFail("load failed, check succeeded; load's errors:\n\(errors)", file: file, line: line)
  }
}

/// A scratch directory removed when the test ends.
final class ScratchDirectory {
  let path: String

  init() throws {
    path = NSTemporaryDirectory() + "keeperconfig-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  @discardableResult
  func write(_ relative: String, _ text: String) throws -> String {
    let full = path + "/" + relative
    try FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: full, atomically: true, encoding: .utf8)
    return full
  }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }
}

/// The repository root, found from this source file's path.
let repositoryRoot: String = {
  var url = URL(fileURLWithPath: #filePath)
  for _ in 0..<3 { url.deleteLastPathComponent() }
  return url.path
}()

/// A small valid configuration exercising most blocks; used by the fuzz test as its seed.
let representativeConfig = """
  global_defs {
    router_id lb1
    vrrp_garp_master_delay 2
    lvs_sync_daemon eth0 VI_1 id 7
  }
  vrrp_script chk_nginx {
    script "/usr/bin/pgrep nginx"
    interval 2
    weight -20
    fall 2
    rise 2
  }
  vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
      auth_type PASS
      auth_pass secret
    }
    virtual_ipaddress {
      10.0.0.100/24 dev eth0 label eth0:vip
      10.0.0.101
    }
    track_script {
      chk_nginx
    }
    notify_master "/etc/lvskeeper/notify.sh MASTER"
  }
  virtual_server 10.0.0.100 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    protocol TCP
    persistence_timeout 50
    sorry_server 10.0.1.99 80
    real_server 10.0.1.1 80 {
      weight 2
      HTTP_GET {
        url {
          path /health
          status_code 200-299 301
        }
        connect_timeout 3
      }
    }
    real_server 10.0.1.2 80 {
      TCP_CHECK {
        connect_port 8080
      }
    }
  }
  """
