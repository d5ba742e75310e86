import Foundation
import HealthCheck
import KeeperConfig
import XCTest

@testable import lvskeeper

/// MYSQL_CHECK `server_public_key` from the configuration to the checker: the parsed RSA key
/// reaches `MySQLCheck.serverPublicKey`, and a PEM of the right shape that is no RSA key fails
/// the mapping at the keyword's file:line:col.
final class MySQLKeyMappingTests: XCTestCase {
  /// A 2048-bit RSA public key made with `openssl rsa -RSAPublicKey_out` (PKCS#1).
  static let pkcs1 = """
    -----BEGIN RSA PUBLIC KEY-----
    MIIBCgKCAQEArjP2EgAS7yvFsghJqfjtSC+9GTnIhE6tsZ9CRpqUsWkdNbUX6Pqz
    U7FbYSN+Q33CfWeZzHEiobWEnZnsYd5X+Rh7QufxeMlMZIj7m47eT4zQIYKi1QEl
    ks+RbHtpM2iZ4eEWC2dH2g7KWmNz3UPCPWND0e4Ekg7tCUoEg89xT+llE7Mx/OL1
    ck2xdiwybL+UToRCY7rrHgXk073vTpbft1Jso2QS2YLyn7eHqIQK9uIIFBzMbd3o
    KH/55Maw0WpN0/Pii25qK+IVv+mbNBcJ2i9ulwu9DVQplZBok8go0X4VuKpEi/d0
    X4wIRofRPqwanxRLy6zGAcBGit9U3rS5rQIDAQAB
    -----END RSA PUBLIC KEY-----

    """

  func load(key: String) throws -> (LoadedConfig, String) {
    let directory = NSTemporaryDirectory() + "mysqlkey-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
    try key.write(toFile: directory + "/server.pem", atomically: true, encoding: .utf8)
    let config = """
      virtual_server 10.0.0.1 3306 {
        real_server 10.0.1.1 3306 {
          MYSQL_CHECK {
            user monitor
            password s3cret
            server_public_key server.pem
          }
        }
      }

      """
    let path = directory + "/lvskeeper.conf"
    try config.write(toFile: path, atomically: true, encoding: .utf8)
    return (try ConfigLoader(configID: "test", interfaces: ["lo"]).load(path: path), path)
  }

  func testKeyReachesTheChecker() throws {
    let (loaded, _) = try load(key: Self.pkcs1)
    let mapping = try ServiceMapping(loaded.configuration)
    guard case .mysql(let check) = mapping.monitored.first?.checkers.first?.spec else {
      return XCTFail("expected a MYSQL_CHECK, got \(mapping.monitored)")
    }
    XCTAssertEqual(check.user, "monitor")
    XCTAssertEqual(check.password, "s3cret")
    XCTAssertEqual(check.serverPublicKey, try MySQLServerPublicKey(pem: Self.pkcs1))
  }

  func testNonRSAKeyFailsTheMappingAtTheKeyword() throws {
    // SEQUENCE { INTEGER 5 }: the PEM shape the config layer checks, but no RSA key.
    let (loaded, path) = try load(
      key: "-----BEGIN RSA PUBLIC KEY-----\nMAMCAQU=\n-----END RSA PUBLIC KEY-----\n")
    XCTAssertThrowsError(try ServiceMapping(loaded.configuration)) { error in
      let text = "\(error)"
      XCTAssertTrue(text.hasPrefix("\(path):6:25: error: server_public_key file '"), text)
      XCTAssertTrue(text.hasSuffix("server.pem': not an RSA public key of 1024 bits or more"), text)
    }
  }
}
