import Foundation
import XCTest

@testable import KeeperConfig

/// `ConfigLoader.check` (what `check-config` runs) builds each top-level block, checks it and keeps
/// only what the checks spanning blocks need: these prove that errors found across blocks (a name
/// defined after its use, a duplicate far from the first, an address owned twice) are still found,
/// at the same FILE:LINE:COL and in the same order as a full load, and that streaming the stages
/// (lines parsed as they are read, blocks assembled as they close) orders diagnostics as running
/// the stages one after the other did.
final class StreamingCheckTests: XCTestCase {
  private func checkErrors(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
    do {
      let checked = try testLoader().check(text: text, fileName: "test.conf")
      XCTFail("expected errors, the check passed with warnings \(checked.warnings)", file: file, line: line)
      return []
    } catch {
      return error.diagnostics.map(\.description)
    }
  }

  func testReferencesAndDuplicatesAcrossVirtualServersAreFound() {
    let text = """
      virtual_server 10.0.0.1 80 {
        real_server 10.0.1.1 80 {
          FILE_CHECK {
            track_file later
          }
        }
        real_server 10.0.1.2 80 {
          FILE_CHECK {
            track_file nowhere
          }
        }
      }
      virtual_server group later_group {
        real_server 10.0.1.3 80 {
        }
      }
      virtual_server group no_group {
      }
      virtual_server 10.0.0.1 80 {
        real_server 10.0.1.4 80 {
        }
      }
      track_file later {
        file /run/later
      }
      virtual_server_group later_group {
        10.0.0.9 80
      }
      """
    XCTAssertEqual(
      checkErrors(text),
      [
        "test.conf:8:5: error: FILE_CHECK track_file 'nowhere' is not a defined track_file",
        "test.conf:17:1: error: virtual_server group 'no_group' is not a defined virtual_server_group",
        "test.conf:17:1: warning: virtual_server group no_group TCP has no real_server",
        "test.conf:19:1: error: duplicate virtual_server 10.0.0.1 80 TCP (first defined at test.conf:1:1)",
      ])
    // The same diagnostics as a load that keeps every model (compared inside loadErrors).
    XCTAssertEqual(loadErrors(text).count, 3)
  }

  func testBFDChecksResolveAgainstInstancesDefinedLater() {
    let text = """
      virtual_server 10.0.0.1 80 {
        real_server 10.0.1.1 80 {
          BFD_CHECK {
            name later_bfd
          }
          BFD_CHECK {
            name later_bfd
          }
          BFD_CHECK {
            name no_bfd
          }
        }
      }
      bfd_instance later_bfd {
        neighbor_ip 10.0.1.1
      }
      """
    XCTAssertEqual(
      checkErrors(text),
      [
        "test.conf:6:5: error: BFD_CHECK 'later_bfd' is given twice for the same real server",
        "test.conf:9:5: error: BFD_CHECK names 'no_bfd', which is not a defined bfd_instance",
      ])
    XCTAssertEqual(loadErrors(text).count, 2)
  }

  func testAnnouncedAddressOwnedByALaterInstanceAndScriptsOfDroppedServersAreChecked() {
    let text = """
      virtual_server 192.0.2.10 80 {
        announce
        real_server 10.0.1.1 80 {
          notify_up "/bin/true" no-such-user-lvskeeper
        }
      }
      vrrp_instance VI_1 {
        interface eth0
        virtual_router_id 51
        priority 100
        virtual_ipaddress {
          192.0.2.10/32
        }
      }
      """
    let errors = checkErrors(text)
    XCTAssertEqual(errors.count, 2, "\(errors)")
    XCTAssertTrue(errors[0].hasPrefix("test.conf:3:3: error: notify_up: "), "\(errors)")
    XCTAssertEqual(
      errors[1],
      "test.conf:12:5: error: 192.0.2.10 is announced by virtual_server at test.conf:1:1 and also owned by vrrp_instance VI_1: an address is either announced or under VRRP/static_ipaddress, not both"
    )
    XCTAssertEqual(loadErrors(text).count, 2)
  }

  /// A preprocessing error in an included file, read after a parse error earlier in the main
  /// file, still ranks the included file first: the whole-file pipeline preprocessed everything
  /// before parsing, and files are listed in the order of their first diagnostic.
  func testStagesKeepTheirOrderAcrossFiles() throws {
    let scratch = try ScratchDirectory()
    try scratch.write("inc.conf", "~SEQ(i, 1, 3\n")
    try scratch.write("quote.conf", "global_defs {\n  router_id \"open\n}\n")
    let main = try scratch.write("main.conf", "}\ninclude inc.conf\ninclude quote.conf\n")
    let loaded: [String]
    do {
      _ = try testLoader().load(path: main)
      loaded = []
    } catch {
      loaded = error.diagnostics.map(\.description)
    }
    let checked: [String]
    do {
      _ = try testLoader().check(path: main)
      checked = []
    } catch {
      checked = error.diagnostics.map(\.description)
    }
    let inc = scratch.path + "/inc.conf"
    let quote = scratch.path + "/quote.conf"
    XCTAssertEqual(loaded.count, 3, "\(loaded)")
    XCTAssertEqual(
      loaded.map { $0.components(separatedBy: ":").first ?? "" }, [inc, quote, main], "\(loaded)")
    XCTAssertTrue(loaded[0].contains("error: ~SEQ( is missing its closing ')'"), "\(loaded)")
    XCTAssertTrue(loaded[1].hasPrefix("\(quote):2:13: error: unterminated quoted string"), "\(loaded)")
    XCTAssertEqual(loaded[2], "\(main):1:1: error: unbalanced '}': no block is open here")
    XCTAssertEqual(checked, loaded)
  }

  /// Randomly damaged configurations spanning every cross-block check: the check and the full
  /// load agree on every one (diagnostics, order, counts).
  func testMutatedConfigurationsCheckAsTheyLoad() {
    let seed = """
      global_defs {
        router_id lb1
        enable_script_security
      }
      virtual_server 10.0.0.1 80 {
        delay_loop 6
        real_server 10.0.1.1 80 {
          weight 2
          FILE_CHECK {
            track_file state
          }
          BFD_CHECK {
            name bfd1
          }
          TCP_CHECK {
            connect_timeout 3
            bind_if eth9
          }
        }
        real_server 10.0.1.2 80 {
          notify_down "/bin/true"
          HTTP_GET {
            url {
              path /health
            }
          }
        }
      }
      virtual_server group grp {
        real_server 10.0.1.3 80 {
        }
      }
      virtual_server 192.0.2.10 80 {
        announce
      }
      vrrp_instance VI_1 {
        interface eth0
        virtual_router_id 51
        priority 100
        virtual_ipaddress {
          192.0.2.20/32
        }
      }
      track_file state {
        file /run/state
      }
      bfd_instance bfd1 {
        neighbor_ip 10.0.1.1
      }
      virtual_server_group grp {
        10.0.0.9 80
      }
      """
    var state: UInt64 = 0x5EED_C0DE
    func next() -> Int {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return Int(truncatingIfNeeded: (z ^ (z >> 31)) >> 1)
    }
    let original = seed.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var failures = 0
    for _ in 0..<400 {
      var lines = original
      for _ in 0..<(next() % 3 + 1) {
        let a = next() % lines.count
        let b = next() % lines.count
        switch next() % 4 {
        case 0: lines.remove(at: a)
        case 1: lines.insert(lines[a], at: b)
        case 2: lines.swapAt(a, b)
        default: lines[a] = lines[a].replacingOccurrences(of: "1", with: "2")
        }
        if lines.isEmpty { lines = ["}"] }
      }
      let text = lines.joined(separator: "\n")
      do {
        let loaded = try testLoader().load(text: text, fileName: "test.conf")
        assertCheckAgrees(text, configID: "testhost", fileName: "test.conf", with: .success(loaded))
      } catch {
        failures += 1
        assertCheckAgrees(text, configID: "testhost", fileName: "test.conf", with: .failure(error))
      }
    }
    XCTAssertGreaterThan(failures, 0, "some mutations should be rejected")
    XCTAssertLessThan(failures, 400, "some mutations should stay valid")
  }
}
