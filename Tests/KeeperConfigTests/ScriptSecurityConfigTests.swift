import Foundation
import XCTest

@testable import KeeperConfig

/// `enable_script_security`, `script_user` and script users at load: refused scripts are errors
/// at FILE:LINE:COL, and the same findings without the keyword are warnings.
final class ScriptSecurityConfigTests: XCTestCase {
  func config(security: Bool, script: String, extra: String = "") -> String {
    """
    global_defs {
      router_id t
      \(security ? "enable_script_security" : "")
    }
    vrrp_script chk {
      script "\(script)"
    }
    vrrp_instance VI_1 {
      interface lo
      virtual_router_id 9
      priority 100
      virtual_ipaddress { 192.0.2.9/32 }
      track_script { chk }
      \(extra)
    }
    """
  }

  func testUnsafeRootScriptIsAnErrorWithSecurityAndAWarningWithout() throws {
    let scratch = try ScratchDirectory()
    chmod(scratch.path, 0o755)
    let safe = try scratch.write("safe.sh", "#!/bin/sh\nexit 0\n")
    chmod(safe, 0o755)
    let unsafe = try scratch.write("unsafe.sh", "#!/bin/sh\nexit 0\n")
    chmod(unsafe, 0o777)

    XCTAssertNotNil(loadValid(config(security: true, script: safe)))

    let errors = loadErrors(config(security: true, script: unsafe))
    XCTAssertEqual(errors.count, 1, "\(errors)")
    XCTAssertEqual(errors.first?.location.description, "test.conf:5:1")
    XCTAssertTrue(
      errors.first?.message.contains("script '\(unsafe)' runs as root but \(unsafe) is writable by everyone")
        ?? false,
      "\(errors)")

    let loaded = try XCTUnwrap(loadValid(config(security: false, script: unsafe)))
    XCTAssertTrue(
      loaded.warnings.contains {
        $0.message.contains("is writable by everyone; 'enable_script_security' would refuse it")
          && $0.location.description == "test.conf:5:1"
      }, "\(loaded.warnings)")

    // The same unsafe script for an unprivileged user is nothing to refuse.
    XCTAssertNotNil(
      loadValid(
        config(security: true, script: unsafe).replacingOccurrences(
          of: "router_id t", with: "router_id t\n script_user nobody")))

    // A notify script on the instance is checked the same way.
    let notifyErrors = loadErrors(
      config(security: true, script: safe, extra: "notify_master \"\(unsafe) x\""))
    XCTAssertEqual(notifyErrors.first?.location.description, "test.conf:8:1")
    XCTAssertTrue(
      notifyErrors.first?.message.hasPrefix("notify_master of vrrp_instance VI_1:") ?? false,
      "\(notifyErrors)")
  }

  func testUnknownScriptUserOrGroupIsAnError() throws {
    let errors = loadErrors(
      config(security: false, script: "/bin/true", extra: "notify \"/bin/true\" no-such-user-lvsk"))
    XCTAssertEqual(
      errors.map(\.message), ["notify of vrrp_instance VI_1: script user 'no-such-user-lvsk' does not exist"])
    let groupErrors = loadErrors(
      config(security: false, script: "/bin/true", extra: "notify \"/bin/true\" nobody no-such-group-lvsk"))
    XCTAssertEqual(
      groupErrors.map(\.message),
      ["notify of vrrp_instance VI_1: script group 'no-such-group-lvsk' does not exist"])
  }

  func testMissingProgramIsAWarning() throws {
    let loaded = try XCTUnwrap(loadValid(config(security: true, script: "/nonexistent/lvsk-check")))
    XCTAssertTrue(
      loaded.warnings.contains {
        $0.message == "vrrp_script chk: script '/nonexistent/lvsk-check' cannot be found or executed"
      },
      "\(loaded.warnings)")
  }
}
