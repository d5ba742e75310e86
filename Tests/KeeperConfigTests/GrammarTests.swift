import KeeperCore
import XCTest

@testable import KeeperConfig

/// The lexical and preprocessing features of keepalived.conf(5): braces, comments, quotes,
/// includes, conditionals, parameters and repetition.
final class GrammarTests: XCTestCase {
  private func instance(_ body: String) -> String {
    "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n\(body)\n}\n"
  }

  func testBracePlacements() throws {
    let variants = [
      "vrrp_instance VI_1 {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {\n10.0.0.1\n}\n}",
      "vrrp_instance VI_1\n{\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress\n{\n10.0.0.1\n}\n}",
      "vrrp_instance VI_1 { interface eth0\nvirtual_router_id 1\nvirtual_ipaddress { 10.0.0.1 } }",
      "vrrp_instance VI_1 {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {10.0.0.1}}",
    ]
    for text in variants {
      let config = try XCTUnwrap(loadValid(text)).configuration
      XCTAssertEqual(
        config.vrrpInstances.first?.virtualIPAddresses.map(\.address.description), ["10.0.0.1"], text)
    }
  }

  func testCommentsOutsideQuotesOnly() throws {
    let text = instance(
      """
       ! a bang comment
       # a hash comment
       priority 120 # trailing
       notify_master "/bin/echo #not-a-comment !nor-this"   ! but this is
      """)
    let vi = try XCTUnwrap(loadValid(text)?.configuration.vrrpInstances.first)
    XCTAssertEqual(vi.priority, 120)
    XCTAssertEqual(vi.notify.master?.argv, ["/bin/echo", "#not-a-comment", "!nor-this"])
  }

  func testQuotesJoinAndEscape() throws {
    let text = """
      vrrp_script s {
        script "/bin/check 'two words'"
      }
      vrrp_script t {
        script ab" c"d
      }
      vrrp_script u {
        script "tab\\there \\"q\\" \\x41\\101"
      }
      """
    let scripts = try XCTUnwrap(loadValid(text)).configuration.vrrpScripts
    XCTAssertEqual(scripts[0].script.argv, ["/bin/check", "two words"])
    XCTAssertEqual(scripts[1].script.command, "ab cd")
    XCTAssertEqual(scripts[2].script.command, "tab\there \"q\" AA")
  }

  func testIncludeWithGlobBracesAndRelativeDirectory() throws {
    let scratch = try ScratchDirectory()
    let main = try scratch.write(
      "main.conf",
      """
      include conf.d/{a,b}.conf
      include conf.d/vs/*.conf
      include conf.d/none-*.conf
      """)
    try scratch.write("conf.d/a.conf", "global_defs {\n router_id from_a\n}\n")
    try scratch.write("conf.d/b.conf", "include nested/c.conf\n")
    try scratch.write("conf.d/nested/c.conf", "vrrp_script c { script /bin/true }\n")
    try scratch.write("conf.d/vs/1.conf", "virtual_server 10.0.0.1 80 {\n real_server 10.0.1.1 80 {\n }\n}\n")
    try scratch.write("conf.d/vs/2.conf", "virtual_server 10.0.0.2 80 {\n real_server 10.0.1.2 80 {\n }\n}\n")
    let loaded = try testLoader().load(path: main)
    XCTAssertEqual(loaded.configuration.globalDefs.routerID, "from_a")
    XCTAssertEqual(loaded.configuration.vrrpScripts.map(\.name), ["c"])
    XCTAssertEqual(
      loaded.configuration.virtualServers.map { $0.key.address?.description }, ["10.0.0.1", "10.0.0.2"])
    XCTAssertEqual(loaded.configuration.vrrpScripts[0].location.file, scratch.path + "/conf.d/nested/c.conf")
    let warning = try XCTUnwrap(loaded.warnings.first { $0.message.contains("matched no files") })
    XCTAssertEqual(warning.location, SourceLocation(file: main, line: 3, column: 9))
  }

  func testIncludeErrorPositionsPointIntoTheIncludedFile() throws {
    let scratch = try ScratchDirectory()
    let main = try scratch.write("main.conf", "global_defs {\n include part.conf\n}\n")
    try scratch.write("part.conf", "router_id x\n  bogus_keyword 1\n")
    XCTAssertThrowsError(try testLoader().load(path: main)) { error in
      let errors = (error as? ConfigErrors)?.errors ?? []
      XCTAssertEqual(
        errors.map(\.description),
        [
          "\(scratch.path)/part.conf:2:3: error: unknown keyword 'bogus_keyword' in global_defs"
        ])
    }
  }

  func testIncludeLoopIsAnErrorNotACrash() throws {
    let scratch = try ScratchDirectory()
    let main = try scratch.write("loop.conf", "include loop.conf\n")
    XCTAssertThrowsError(try testLoader().load(path: main)) { error in
      XCTAssertTrue(
        (error as? ConfigErrors)?.errors.first?.message.contains("include loop") ?? false, "\(error)")
    }
  }

  func testConditionalLines() throws {
    let text = """
      global_defs {
        @main router_id main_router
        @backup router_id backup_router
      }
      vrrp_instance VI {
        interface eth0
        virtual_router_id 9
        @main priority 200
        @^main priority 50
        unicast_peer {
          @^main 10.0.0.1
          @^backup 10.0.0.2
        }
      }
      """
    let main = try XCTUnwrap(loadValid(text, configID: "main")).configuration
    XCTAssertEqual(main.globalDefs.routerID, "main_router")
    XCTAssertEqual(main.vrrpInstances[0].priority, 200)
    XCTAssertEqual(main.vrrpInstances[0].unicastPeers.map(\.description), ["10.0.0.2"])
    let backup = try XCTUnwrap(loadValid(text, configID: "backup")).configuration
    XCTAssertEqual(backup.globalDefs.routerID, "backup_router")
    XCTAssertEqual(backup.vrrpInstances[0].priority, 50)
    XCTAssertEqual(backup.vrrpInstances[0].unicastPeers.map(\.description), ["10.0.0.1"])
    let other = try XCTUnwrap(loadValid(text, configID: "other")).configuration
    XCTAssertEqual(other.globalDefs.routerID, ConfigLoader.shortHostName())
    XCTAssertEqual(other.vrrpInstances[0].unicastPeers.count, 2)
  }

  func testDefaultConfigIDIsShortHostName() {
    XCTAssertEqual(ConfigLoader().configID, ConfigLoader.shortHostName())
    XCTAssertFalse(ConfigLoader.shortHostName().contains("."))
  }

  func testParametersRecursiveAtUseTime() throws {
    // The example of keepalived.conf(5) "Parameter substitution".
    let text = """
      $ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}
      $ADDRESS_BASE_SUB=0
      vrrp_instance VI {
        interface eth0
        virtual_router_id 9
        virtual_ipaddress {
          ${ADDRESS_BASE}.100/32
      $ADDRESS_BASE_SUB=10
          ${ADDRESS_BASE}.100/32
        }
        @main $PRIORITY=240
        @^main $PRIORITY=10
        priority $PRIORITY
        notify "/bin/echo ${UNDEFINED} $UNDEF2"
      }
      """
    let vi = try XCTUnwrap(loadValid(text, configID: "main")?.configuration.vrrpInstances.first)
    XCTAssertEqual(vi.virtualIPAddresses.map(\.address.description), ["10.2.0.100", "10.2.10.100"])
    XCTAssertEqual(vi.priority, 240)
    // Undefined parameters stay as written; `$` makes it a shell line (ScriptLine's rule).
    XCTAssertEqual(vi.notify.notify?.command, "/bin/echo ${UNDEFINED} $UNDEF2")
    XCTAssertEqual(vi.notify.notify?.argv, ["/bin/sh", "-c", "/bin/echo ${UNDEFINED} $UNDEF2"])
  }

  func testParameterThatExpandsToAConditional() throws {
    let text = instance("$IF_MAIN=@main\n$IF_MAIN priority 240")
    XCTAssertEqual(loadValid(text, configID: "main")?.configuration.vrrpInstances.first?.priority, 240)
    XCTAssertEqual(loadValid(text, configID: "x")?.configuration.vrrpInstances.first?.priority, 100)
  }

  func testMultiLineDefinitionsNested() throws {
    let text = """
      $RS= \\
      real_server 192.168.${VS_NUM}.${RS_NUM} 80 { \\
          weight ${RS_NUM} \\
          TCP_CHECK { \\
              connect_timeout 2 \\
          } \\

      }
      $VS= \\
      virtual_server 10.0.${VS_NUM}.4 80 { \\
          quorum 2 \\
          $RS_NUM=1 \\
          $RS \\
          $RS_NUM=2 \\
          $RS \\
      }
      $VS_NUM=0
      $VS
      $VS_NUM=1
      $VS
      """
    let servers = try XCTUnwrap(loadValid(text)).configuration.virtualServers
    XCTAssertEqual(servers.map { $0.key.address?.description }, ["10.0.0.4", "10.0.1.4"])
    XCTAssertEqual(servers[1].realServers.map(\.address.description), ["192.168.1.1", "192.168.1.2"])
    XCTAssertEqual(servers[1].realServers.map(\.weight), [1, 2])
    XCTAssertEqual(servers[0].realServers[0].location.line, 18)
  }

  func testPredefinedParameters() throws {
    let scratch = try ScratchDirectory()
    let main = try scratch.write(
      "x.conf", "vrrp_script s {\n script \"${_PWD}/check.sh ${_INSTANCE} a${_HASH}b${_BANG}\"\n}\n")
    let script = try testLoader(configID: "node7").load(path: main).configuration.vrrpScripts[0].script
    XCTAssertEqual(script.argv, [scratch.path + "/check.sh", "node7", "a#b!"])
  }

  func testSequenceAndListBlocks() throws {
    let text = instance(
      """
       virtual_ipaddress {
         ~SEQ(SUBNET, 0, 3) 10.0.${SUBNET}.1
         ~SEQx(X, 0x90, 0x10, 0xb0) fe80::20:${X}:1
         ~LST({A, B}, {10,1}, {20,4}) 192.168.${A}.${B}
       }
      """)
    let errors = loadErrors(text)  // mixing families in virtual_ipaddress is an error
    XCTAssertEqual(errors.count, 1)
    let valid = instance(
      " virtual_ipaddress {\n  ~SEQ(SUBNET, 0, 3) 10.0.${SUBNET}.1\n  ~LST({A, B}, {10,1}, {20,4}) 192.168.${A}.${B}\n }"
    )
    let vips = try XCTUnwrap(loadValid(valid)?.configuration.vrrpInstances.first?.virtualIPAddresses)
    XCTAssertEqual(
      vips.map(\.address.description),
      ["10.0.0.1", "10.0.1.1", "10.0.2.1", "10.0.3.1", "192.168.10.1", "192.168.20.4"])
    let six = instance(" virtual_ipaddress_excluded {\n  ~SEQx(X, 0x90, 0x10, 0xb0) fe80::20:${X}:1\n }")
    let excluded = try XCTUnwrap(
      loadValid(six)?.configuration.vrrpInstances.first?.excludedVirtualIPAddresses)
    XCTAssertEqual(excluded.map(\.address.description), ["fe80::20:90:1", "fe80::20:a0:1", "fe80::20:b0:1"])
  }

  func testColumnsFollowSubstitution() throws {
    // `$P` expands to "10"; the bad value after it must still be reported at its own column.
    let errors = loadErrors("$P=10\nglobal_defs {\n  vrrp_version $P x\n}\n")
    XCTAssertEqual(errors.map(\.location), [SourceLocation(file: "test.conf", line: 3, column: 19)])
  }

  func testCRLFLineEndings() throws {
    let text = "vrrp_instance VI_1 {\r\n interface eth0\r\n virtual_router_id 4\r\n}\r\n"
    XCTAssertEqual(loadValid(text)?.configuration.vrrpInstances.first?.virtualRouterID, 4)
  }
}
