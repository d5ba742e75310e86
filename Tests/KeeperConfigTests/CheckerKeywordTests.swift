import XCTest

@testable import KeeperConfig

/// Checker and virtual_server keywords that keepalived gives an effect: they reach the model
/// (whose effect on probes is shown in HealthCheckTests), or they are errors that say what
/// lvskeeper lacks.
final class CheckerKeywordTests: XCTestCase {
  private func service(_ body: String, checker: String = "SSL_GET") -> String {
    """
    virtual_server 10.0.0.1 443 {
      real_server 10.0.1.1 443 {
        \(checker) {
          \(body)
          url {
            path /
          }
        }
      }
    }
    """
  }

  private func checker(_ body: String, type: String = "SSL_GET") throws -> HealthCheckSpec {
    let loaded = try XCTUnwrap(loadValid(service(body, checker: type)))
    return try XCTUnwrap(loaded.configuration.virtualServers.first?.realServers.first?.checkers.first)
  }

  func testBindIfAndFwmarkReachTheChecker() throws {
    let spec = try checker("bind_if eth1\n fwmark 42", type: "HTTP_GET")
    XCTAssertEqual(spec.bindInterface, "eth1")
    XCTAssertEqual(spec.fwmark, 42)
    XCTAssertNil(try checker("", type: "HTTP_GET").bindInterface)
    // keepalived accepts fwmark 0, meaning no mark.
    XCTAssertEqual(try checker("fwmark 0", type: "HTTP_GET").fwmark, 0)
  }

  func testBindIfOnAnInterfaceThisHostLacksIsAWarning() throws {
    let loaded = try XCTUnwrap(loadValid(service("bind_if eth9")))
    XCTAssertEqual(
      loaded.warnings.map(\.description),
      ["test.conf:3:5: warning: interface 'eth9' for bind_if of SSL_GET does not exist on this host"])
  }

  func testBindIfMustBeAnInterfaceName() {
    XCTAssertEqual(
      loadErrors(service("bind_if averyveryverylongname0")).map(\.description),
      ["test.conf:4:15: error: invalid interface name 'averyveryverylongname0' (1 to 15 bytes, no '/')"])
    XCTAssertEqual(
      loadErrors(service("bind_if a/b")).map(\.description),
      ["test.conf:4:15: error: invalid interface name 'a/b' (1 to 15 bytes, no '/')"])
  }

  func testSNIOnlyWhenEnabledAndSNINameEnablesIt() throws {
    XCTAssertEqual(try checker("virtualhost a.example").http?.enableSNI, false)
    XCTAssertEqual(try checker("enable_sni").http?.enableSNI, true)
    XCTAssertEqual(try checker("enable_sni off").http?.enableSNI, false)
    let named = try XCTUnwrap(try checker("sni_name c.example").http)
    XCTAssertTrue(named.enableSNI)
    XCTAssertEqual(named.sniName, "c.example")
    // SNI is TLS: HTTP_GET does not take it.
    XCTAssertEqual(
      loadErrors(service("enable_sni", checker: "HTTP_GET")).map(\.description),
      ["test.conf:4:7: error: unknown keyword 'enable_sni' in HTTP_GET"])
  }

  func testFastRecoveryIsLvskeepersOnlyModeAndOffIsAnError() throws {
    XCTAssertNotNil(try checker("fast_recovery", type: "HTTP_GET").http)
    XCTAssertNotNil(try checker("fast_recovery on").http)
    XCTAssertEqual(
      loadErrors(service("fast_recovery off")).map(\.description),
      [
        "test.conf:4:7: error: 'fast_recovery off' is not available: lvskeeper checks every url of a checker in one pass, with no delay between urls (keepalived's fast_recovery)"
      ])
  }

  func testHaSuspendIsAnErrorSayingWhatIsMissing() {
    let text = """
      virtual_server 10.0.0.1 80 {
        omega
        ha_suspend
        real_server 10.0.1.1 80 {
        }
      }
      """
    XCTAssertEqual(
      loadErrors(text).map(\.description),
      [
        "test.conf:3:3: error: unsupported keyword 'ha_suspend' in virtual_server: keepalived's ha_suspend suspends the service's checkers while its virtual address is not on this host; lvskeeper's health checker is not told which addresses are local"
      ])
  }
}
