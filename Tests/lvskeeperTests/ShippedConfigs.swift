import Foundation
import KeeperConfig
import XCTest

/// The example configurations shipped in etc/, loaded as the daemon loads them.
enum ShippedConfigs {
  static let directory: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("etc").path
  }()

  /// Loads `etc/NAME`; the test host lacks eth0/eth1, which the loader only warns about.
  static func load(_ name: String) throws -> LoadedConfig {
    let path = directory + "/" + name
    do {
      return try ConfigLoader(configID: "test", interfaces: ["lo"]).load(path: path)
    } catch {
      XCTFail("\(name) does not load:\n\(error)")
      throw error
    }
  }
}
