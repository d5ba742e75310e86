import Foundation
import XCTest

@testable import KeeperConfig

/// Interfaces the tests pretend exist, so "missing interface" warnings do not depend on the host.
let testInterfaces: Set<String> = ["lo", "eth0", "eth1", "eth2", "eth3", "bond0"]

func testLoader(configID: String = "testhost") -> ConfigLoader {
  ConfigLoader(configID: configID, interfaces: testInterfaces)
}

/// Loads text that must be valid; fails the test with every diagnostic otherwise.
func loadValid(
  _ text: String, configID: String = "testhost", file: StaticString = #filePath, line: UInt = #line
) -> LoadedConfig? {
  do {
    return try testLoader(configID: configID).load(text: text, fileName: "test.conf")
  } catch {
    XCTFail("expected a valid configuration, got:\n\(error)", file: file, line: line)
    return nil
  }
}

/// Loads text that must be invalid and returns its error diagnostics.
func loadErrors(
  _ text: String, fileName: String = "test.conf", file: StaticString = #filePath, line: UInt = #line
) -> [Diagnostic] {
  do {
    let loaded = try testLoader().load(text: text, fileName: fileName)
    XCTFail("expected errors, configuration loaded with warnings: \(loaded.warnings)", file: file, line: line)
    return []
  } catch {
    return error.errors
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
