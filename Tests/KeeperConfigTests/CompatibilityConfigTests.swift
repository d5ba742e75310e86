import XCTest

@testable import KeeperConfig

/// keepalived 2.2 blocks and leniencies: `vrrp_track_process` and `track_process`, FILE_CHECK with
/// a top-level `track_file`, and a `vrrp_script` without `script` (a warning, the script dropped).
final class CompatibilityConfigTests: XCTestCase {
  static let instance = """
    vrrp_instance VI_1 {
      interface eth0
      virtual_router_id 7
      virtual_ipaddress { 10.0.0.1 }
    %@
    }
    """

  static func withInstance(_ top: String, tracking: String) -> String {
    top + "\n" + instance.replacingOccurrences(of: "%@", with: tracking)
  }

  func testTrackProcessKeywordsAndDefaults() throws {
    let text = Self.withInstance(
      """
      vrrp_track_process web {
        process nginx
        quorum 2
        quorum_max 4
        delay 1.5
        terminate_delay 3
        weight -20 reverse
      }
      vrrp_track_process api {
        process /usr/bin/python3 /srv/api.py --port
        param_match initial
      }
      vrrp_track_process cmd {
        process /usr/sbin/sshd
        full_command
        fork_delay 0.25
      }
      vrrp_track_process none {
        process rogue
        quorum_max 0
      }
      vrrp_track_process exact {
        process /bin/sleep 10
      }
      """,
      tracking:
        "  track_process {\n    web\n    api weight 10\n    cmd weight 5 reverse\n    none\n    exact\n  }")
    let loaded = try XCTUnwrap(loadValid(text))
    XCTAssertEqual(loaded.warnings, [])
    let processes = Dictionary(
      uniqueKeysWithValues: loaded.configuration.vrrpTrackProcesses.map { ($0.name, $0) })
    let web = try XCTUnwrap(processes["web"])
    XCTAssertEqual(web.process, "nginx")
    XCTAssertFalse(web.fullCommand)
    XCTAssertEqual(web.paramMatch, .none)
    XCTAssertEqual([web.quorum, web.quorumMax], [2, 4])
    XCTAssertEqual(web.forkDelay, 1.5, "delay sets both delays")
    XCTAssertEqual(web.terminateDelay, 3)
    XCTAssertEqual(web.weight, -20)
    XCTAssertTrue(web.weightReverse)
    let api = try XCTUnwrap(processes["api"])
    XCTAssertEqual(api.parameters, ["/srv/api.py", "--port"])
    XCTAssertEqual(api.paramMatch, .initial)
    XCTAssertTrue(api.fullCommand, "param_match implies the full command line")
    XCTAssertEqual(api.quorum, 1)
    XCTAssertNil(api.quorumMax)
    XCTAssertEqual(api.weight, 0)
    let cmd = try XCTUnwrap(processes["cmd"])
    XCTAssertTrue(cmd.fullCommand)
    XCTAssertEqual(cmd.paramMatch, .none)
    XCTAssertEqual([cmd.forkDelay, cmd.terminateDelay], [0.25, 0])
    let none = try XCTUnwrap(processes["none"])
    XCTAssertEqual([none.quorum, none.quorumMax], [0, 0], "quorum_max 0: up while none runs")
    let exact = try XCTUnwrap(processes["exact"])
    XCTAssertEqual(exact.paramMatch, .exact, "arguments without param_match match exactly")
    XCTAssertTrue(exact.fullCommand)
    let tracked = loaded.configuration.vrrpInstances[0].trackProcesses
    XCTAssertEqual(tracked.map(\.name), ["web", "api", "cmd", "none", "exact"])
    XCTAssertEqual(tracked[1].weight, 10)
    XCTAssertEqual(tracked[2].weight, 5)
    XCTAssertTrue(tracked[2].reverse)
  }

  func testTrackProcessErrorsAndWarnings() throws {
    let errors = loadErrors(
      Self.withInstance(
        """
        vrrp_track_process a {
          quorum 2
        }
        vrrp_track_process b {
          process x
          quorum 3
          quorum_max 2
        }
        vrrp_track_process c {
          process x
          param_match sometimes
          quorum 0
          weight 300
        }
        """, tracking: "  track_process {\n    missing\n  }"))
    let messages = errors.map { "\($0.line):\($0.column): \($0.message)" }
    XCTAssertEqual(messages.count, 6, "\(messages)")
    XCTAssertTrue(messages[0].hasPrefix("1:1: vrrp_track_process 'a' has no 'process'"), messages[0])
    XCTAssertTrue(messages[1].hasPrefix("7:3: quorum_max 2 is less than quorum 3"), messages[1])
    XCTAssertTrue(messages[2].contains("param_match must be exact, partial or initial, not 'sometimes'"))
    XCTAssertTrue(messages[3].hasPrefix("12:10:"), messages[3])
    XCTAssertTrue(messages[4].hasPrefix("13:10:"), messages[4])
    XCTAssertTrue(
      messages[5].contains(
        "track_process 'missing' of vrrp_instance 'VI_1' is not a defined vrrp_track_process"))

    let long = try XCTUnwrap(
      loadValid(Self.withInstance("vrrp_track_process l {\n  process a-very-long-daemon\n}", tracking: "")))
    XCTAssertEqual(long.warnings.count, 1)
    XCTAssertEqual(long.warnings.first?.line, 2)
    XCTAssertTrue(long.warnings.first?.message.contains("15-byte process name") == true)
  }

  /// keepalived removes a vrrp_script that has no `script` ("No script set for vrrp_script -
  /// removing") and ignores track_script entries naming it: lvskeeper warns at each place and
  /// loads the rest, as the conditional_conf sample needs when no `@high`/`@low` line applies.
  func testVRRPScriptWithoutScriptIsAWarningAndUntracked() throws {
    let text = """
      vrrp_script chk {
        interval 1
      }
      vrrp_script real {
        script "/bin/true"
      }
      vrrp_sync_group G {
        group { VI_1 }
        track_script { chk }
      }
      """
    let loaded = try XCTUnwrap(
      loadValid(Self.withInstance(text, tracking: "  track_script {\n    chk\n    real\n  }")))
    // (The host may lack the user keepalived_script, which adds a warning of its own.)
    XCTAssertEqual(
      loaded.warnings.filter { !$0.message.contains("scripts run as root") }
        .map { "\($0.line):\($0.column): \($0.message)" },
      [
        "1:1: vrrp_script 'chk' has no 'script' and is ignored (keepalived removes it too)",
        "7:1: sync group 'G' has only one instance",
        "7:1: track_script 'chk' of sync group 'G' is ignored: that vrrp_script has no 'script'",
        "16:5: track_script 'chk' of vrrp_instance 'VI_1' is ignored: that vrrp_script has no 'script'",
      ])
    XCTAssertEqual(loaded.configuration.vrrpScripts.map(\.name), ["real"])
    XCTAssertEqual(loaded.configuration.vrrpInstances[0].trackScripts.map(\.name), ["real"])
    XCTAssertEqual(loaded.configuration.syncGroups[0].trackScripts, [])
    // A name that was never defined is still an error: a typo would otherwise drop tracking.
    XCTAssertEqual(
      loadErrors(Self.withInstance("", tracking: "  track_script {\n    typo\n  }")).map(\.message),
      ["track_script 'typo' of vrrp_instance 'VI_1' is not a defined vrrp_script"])
  }

  func testFileCheckTakesItsTrackFile() throws {
    let text = """
      virtual_server 10.0.0.1 80 {
        real_server 10.0.1.1 80 {
          weight 5
          FILE_CHECK {
            track_file state
          }
        }
        real_server 10.0.1.2 80 {
          FILE_CHECK {
            track_file state
            weight -3 reverse
          }
        }
      }
      track_file state {
        file /run/state
        weight 2
      }
      """
    let loaded = try XCTUnwrap(loadValid(text))
    let servers = loaded.configuration.virtualServers[0].realServers
    XCTAssertEqual(servers[0].checkers[0].type, .file)
    XCTAssertEqual(servers[0].checkers[0].file?.path, "/run/state", "resolved after the whole file")
    XCTAssertEqual(servers[0].checkers[0].file?.weight, 2, "the track_file's weight by default")
    XCTAssertEqual(servers[0].checkers[0].file?.reverse, false)
    XCTAssertEqual(servers[1].checkers[0].file?.weight, -3)
    XCTAssertEqual(servers[1].checkers[0].file?.reverse, true)

    let errors = loadErrors(
      """
      virtual_server 10.0.0.1 80 {
        real_server 10.0.1.1 80 {
          FILE_CHECK {
            connect_timeout 3
          }
          FILE_CHECK {
            track_file nowhere
            weight 70000
          }
        }
      }
      """)
    XCTAssertEqual(
      errors.map { "\($0.line):\($0.column): \($0.message)" },
      [
        "3:5: FILE_CHECK has no 'track_file'",
        "4:7: unknown keyword 'connect_timeout' in FILE_CHECK",
        "6:5: FILE_CHECK track_file 'nowhere' is not a defined track_file",
        "8:14: weight 70000 is out of range -65535..65535",
      ].sorted())
  }

  /// Where keepalived only logs and goes on, and going on cannot silently change traffic,
  /// lvskeeper warns at FILE:LINE:COL and goes on the same way.
  func testKeepalivedLeniencies() throws {
    let text = """
      vrrp_track_file empty {
        weight 2
      }
      vrrp_instance VI_1 {
        state master
        interface eth0
        virtual_router_id 7
        virtual_ipaddress { 10.0.0.1 }
        track_file { empty }
      }
      vrrp_instance VI_2 {
        interface eth0
        virtual_router_id 8
        virtual_ipaddress { 10.0.0.2 }
      }
      vrrp_sync_group G {
        group {
          VI_1
          VI_2
          VI_1
        }
      }
      """
    let loaded = try XCTUnwrap(loadValid(text))
    XCTAssertEqual(
      loaded.warnings.map { "\($0.line):\($0.column): \($0.message)" },
      [
        "1:1: vrrp_track_file 'empty' has no 'file' and is ignored (keepalived ignores it too)",
        "5:9: state must be MASTER or BACKUP, not 'master'; BACKUP is used (as keepalived does)",
        "9:16: track_file 'empty' of vrrp_instance 'VI_1' is ignored: that track_file has no 'file'",
        "20:5: vrrp_instance 'VI_1' is listed twice in sync group 'G'; the repeat is ignored",
      ])
    let instance = loaded.configuration.vrrpInstances[0]
    XCTAssertEqual(instance.initialState, .backup)
    XCTAssertEqual(instance.trackFiles, [])
    XCTAssertEqual(loaded.configuration.syncGroups[0].instances, ["VI_1", "VI_2"])
  }
}
