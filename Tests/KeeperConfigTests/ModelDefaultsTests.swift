import Foundation
import KeeperCore
import XCTest

@testable import KeeperConfig

/// Defaults, the virtual_server -> real_server -> checker cascade, and the JSON form of the model.
final class ModelDefaultsTests: XCTestCase {
  func testDefaultsWhenNothingIsSaid() throws {
    let text = """
      vrrp_instance VI {
        interface eth0
        virtual_router_id 7
        virtual_ipaddress {
          10.0.0.1
          fe80::1 dev eth1
        }
      }
      virtual_server 10.0.0.1 80 {
        real_server 10.0.1.1 80 {
          TCP_CHECK {
          }
          HTTP_GET {
            url {
              path /
            }
          }
          MISC_CHECK {
            misc_path /bin/true
          }
        }
      }
      """
    let loaded = try testLoader().load(
      text: text.replacingOccurrences(of: "fe80::1 dev eth1", with: "10.0.0.2"))
    let config = loaded.configuration
    XCTAssertEqual(config.globalDefs.lvsReconcileInterval, 10)
    XCTAssertEqual(config.globalDefs.vrrpMcastGroup4.description, "224.0.0.18")
    let vi = config.vrrpInstances[0]
    XCTAssertEqual(vi.priority, 100)
    XCTAssertEqual(vi.advertInterval, 1)
    XCTAssertEqual(vi.version, 2)
    XCTAssertEqual(vi.initialState, .backup)
    XCTAssertTrue(vi.preempt)
    XCTAssertEqual(vi.garpMasterDelay, 5)
    XCTAssertEqual(vi.garpMasterRepeat, 5)
    XCTAssertEqual(vi.virtualIPAddresses.map(\.prefixLength), [32, 32])
    XCTAssertEqual(vi.virtualIPAddresses.map(\.device), ["eth0", "eth0"])
    let vs = config.virtualServers[0]
    XCTAssertEqual(vs.scheduler, .wlc)
    XCTAssertEqual(vs.forwarding.kind, .nat)
    XCTAssertEqual(vs.protocol, .tcp)
    XCTAssertNil(vs.persistence)
    XCTAssertEqual(vs.delayLoop, 60)
    XCTAssertEqual(vs.quorum, 1)
    XCTAssertEqual(vs.drainTimeout, 60)
    let rs = vs.realServers[0]
    XCTAssertEqual(rs.weight, 1)
    XCTAssertEqual(rs.drainTimeout, 60)
    let (tcp, http, misc) = (rs.checkers[0], rs.checkers[1], rs.checkers[2])
    XCTAssertEqual([tcp.connectTimeout, http.connectTimeout, misc.connectTimeout], [5, 5, 5])
    XCTAssertEqual([tcp.retry, http.retry, misc.retry], [1, 1, 0])
    XCTAssertEqual([tcp.delayBeforeRetry, http.delayBeforeRetry, misc.delayBeforeRetry], [1, 3, 1])
    XCTAssertEqual(tcp.warmup, 60)
    XCTAssertEqual(tcp.connectIP.description, "10.0.1.1")
    XCTAssertEqual(tcp.connectPort, 80)
    XCTAssertEqual(http.http?.urls[0].statusCodes, [StatusCodeRange(lower: 200, upper: 299)])
    XCTAssertEqual(http.http?.httpProtocol, .http10)
    XCTAssertEqual(misc.misc?.timeout, 60)
  }

  func testCascadeVirtualToRealToChecker() throws {
    let text = """
      virtual_server 10.0.0.1 80 {
        real_server 10.0.1.1 80 {
          TCP_CHECK {
            connect_timeout 9
          }
          retry 4
          virtualhost rs.example
          HTTP_GET {
            url {
              path /
            }
          }
        }
        real_server 10.0.1.2 {
          TCP_CHECK {
          }
        }
        connect_timeout 2
        delay_before_retry 7
        delay_loop 11
        warmup 0
        virtualhost vs.example
        inhibit_on_failure
        drain_timeout 5
      }
      """
    let vs = try XCTUnwrap(loadValid(text)?.configuration.virtualServers.first)
    let first = vs.realServers[0]
    XCTAssertTrue(first.inhibitOnFailure)
    XCTAssertEqual(first.drainTimeout, 5)
    XCTAssertEqual(first.checkers[0].connectTimeout, 9)
    XCTAssertEqual(first.checkers[0].retry, 4)
    XCTAssertEqual(first.checkers[0].delayBeforeRetry, 7)
    XCTAssertEqual(first.checkers[0].delayLoop, 11)
    XCTAssertEqual(first.checkers[0].warmup, 0)
    XCTAssertEqual(first.checkers[1].connectTimeout, 2)
    XCTAssertEqual(first.checkers[1].http?.urls[0].virtualhost, "rs.example")
    let second = vs.realServers[1]
    XCTAssertEqual(second.port, 80, "port inherited from the virtual server")
    XCTAssertEqual(second.checkers[0].retry, 1)
    XCTAssertEqual(second.checkers[0].connectTimeout, 2)
  }

  func testGlobalDefsAndInstanceOverrides() throws {
    let text = """
      global_defs {
        router_id lb
        vrrp_version 3
        vrrp_garp_master_delay 1
        vrrp_garp_master_repeat 2
        vrrp_mcast_group4 224.0.0.20
        lvs_sync_daemon eth0 VI maxlen 1400 port 8849 ttl 2 group 224.0.0.82
        lvs_timeouts tcp 900 tcpfin 120 udp 300
        lvs_flush
        lvs_flush_on_stop VS
        lvs_reconcile_interval 2.5
        script_user nobody nogroup
        vrrp_rt_priority 50
        vrrp_priority -5
        vrrp_rlimit_rttime 20000
        vrrp_cpu_affinity 0 1
      }
      vrrp_instance VI {
        interface eth0
        virtual_router_id 9
        advert_int 0.25
        garp_master_repeat 3
        nopreempt
        accept
        virtual_ipaddress {
          192.168.1.1/24 brd 192.168.1.255 dev eth1 scope link label eth1:a
        }
      }
      """
    let config = try XCTUnwrap(loadValid(text)).configuration
    let defs = config.globalDefs
    XCTAssertEqual(defs.routerID, "lb")
    XCTAssertEqual(defs.lvsSyncDaemon?.syncID, 9, "sync id defaults to the instance's VRID")
    XCTAssertEqual(defs.lvsSyncDaemon?.maxLength, 1400)
    XCTAssertEqual(defs.lvsSyncDaemon?.port, 8849)
    XCTAssertEqual(defs.lvsSyncDaemon?.group?.description, "224.0.0.82")
    XCTAssertEqual(defs.lvsTimeouts, LVSTimeouts(tcp: 900, tcpFin: 120, udp: 300))
    XCTAssertTrue(defs.lvsFlush)
    XCTAssertEqual(defs.lvsFlushOnStop, .virtualServers)
    XCTAssertEqual(defs.lvsReconcileInterval, 2.5)
    XCTAssertEqual(defs.scriptUser, ScriptUser(user: "nobody", group: "nogroup"))
    XCTAssertEqual(defs.vrrpRealtimePriority, 50)
    XCTAssertEqual(defs.vrrpNice, -5)
    XCTAssertEqual(defs.vrrpRlimitRTTime, 20000)
    XCTAssertEqual(defs.vrrpCPUAffinity, [0, 1])
    let vi = config.vrrpInstances[0]
    XCTAssertEqual(vi.version, 3)
    XCTAssertEqual(vi.advertInterval, 0.25)
    XCTAssertEqual(vi.garpMasterDelay, 1)
    XCTAssertEqual(vi.garpMasterRepeat, 3)
    XCTAssertFalse(vi.preempt)
    XCTAssertTrue(vi.accept)
    let vip = vi.virtualIPAddresses[0]
    XCTAssertEqual(vip.broadcast?.description, "192.168.1.255")
    XCTAssertEqual(vip.device, "eth1")
    XCTAssertEqual(vip.scope, "link")
    XCTAssertEqual(vip.label, "eth1:a")
  }

  func testIPv6InstanceIsVersion3() throws {
    let text =
      "vrrp_instance V6 {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n  2001:db8::10/64\n }\n}\n"
    let vi = try XCTUnwrap(loadValid(text)?.configuration.vrrpInstances.first)
    XCTAssertEqual(vi.version, 3)
    XCTAssertEqual(vi.virtualIPAddresses[0].address.description, "2001:db8::10")
    XCTAssertEqual(vi.virtualIPAddresses[0].prefixLength, 64)
  }

  func testForwardingMethodsAndSchedulerFlags() throws {
    let text = """
      virtual_server 10.0.0.1 53 {
        protocol UDP
        lvs_sched sh
        sh-port
        sh-fallback
        ops
        lvs_method TUN type gue port 6080 csum
        persistence_timeout
        persistence_granularity 255.255.255.0
        real_server 2001:db8::1 53 {
          lvs_method TUN type gre nocsum
        }
        real_server 10.0.1.2 53 {
          lvs_method DR
        }
      }
      """
    let vs = try XCTUnwrap(loadValid(text)?.configuration.virtualServers.first)
    XCTAssertEqual(vs.schedulerFlags, SchedulerFlags(flag1: true, flag2: true, flag3: false))
    XCTAssertTrue(vs.onePacketScheduling)
    XCTAssertEqual(
      vs.forwarding, ForwardingMethod(kind: .tun, tunnelType: .gue, tunnelPort: 6080, tunnelChecksum: .csum))
    XCTAssertEqual(vs.persistence, Persistence(timeout: 360, granularity: IPAddress("255.255.255.0")))
    XCTAssertEqual(
      vs.realServers[0].forwarding, ForwardingMethod(kind: .tun, tunnelType: .gre, tunnelChecksum: .nocsum))
    XCTAssertEqual(vs.realServers[1].forwarding, .dr)
  }

  func testMySQLCheck() throws {
    let text = """
      virtual_server 10.0.0.1 3306 {
        real_server 10.0.1.1 3306 {
          MYSQL_CHECK {
            user monitor
            password "s3cret pass"
            database health
            connect_port 3307
            bindto 10.0.0.2
          }
        }
      }
      """
    let check = try XCTUnwrap(
      loadValid(text)?.configuration.virtualServers.first?.realServers.first?.checkers.first)
    XCTAssertEqual(check.type, .mysql)
    XCTAssertEqual(check.mysql, MySQLCheckSpec(user: "monitor", password: "s3cret pass", database: "health"))
    XCTAssertEqual(check.connectPort, 3307)
    XCTAssertEqual(check.bindTo?.description, "10.0.0.2")
    XCTAssertEqual(check.retry, 1)
  }

  func testJSONRoundTripAndSortedKeys() throws {
    let config = try XCTUnwrap(loadValid(representativeConfig)).configuration
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(config)
    let decoded = try JSONDecoder().decode(KeeperConfiguration.self, from: data)
    XCTAssertEqual(decoded, config)
    let text = String(decoding: data, as: UTF8.self)
    XCTAssertTrue(text.hasPrefix("{\"bfdInstances\":[],\"globalDefs\":{"), text)
    XCTAssertTrue(text.contains("\"vrrpMcastGroup4\":\"224.0.0.18\""))
  }

  func testIPAddressParsing() {
    XCTAssertEqual(IPAddress("10.1.2.3")?.description, "10.1.2.3")
    XCTAssertEqual(IPAddress("2001:DB8:0:0::1")?.description, "2001:db8::1")
    for bad in ["10.1.2", "10.1.2.3.4", "256.1.1.1", "1.2.3.4/24", "fe80::1::2", "", "host"] {
      XCTAssertNil(IPAddress(bad), bad)
    }
    XCTAssertEqual(IPAddress("10.0.0.255")?.advanced(by: 1)?.description, "10.0.1.0")
    XCTAssertNil(IPAddress("255.255.255.255")?.advanced(by: 1))
  }

  func testTrackFilesSyncGroupsAndGroupRanges() throws {
    let text = """
      vrrp_track_file maint {
        file /run/maint
        weight -50 reverse
        init_file 0 overwrite
      }
      vrrp_script up {
        script /bin/true
      }
      vrrp_sync_group G {
        group {
          A
          B
        }
        notify_master "/bin/notify master"
        track_script {
          up weight 10
        }
        track_file {
          maint
        }
      }
      vrrp_instance A {
        interface eth0
        virtual_router_id 1
        track_file {
          maint weight 5
        }
      }
      vrrp_instance B {
        interface eth1
        virtual_router_id 1
      }
      virtual_server_group VSG {
        10.0.0.8/29 80
        192.168.1.250-192.168.2.3 443
        2001:db8::2-a 80
        fwmark 7 inet6
      }
      virtual_server group VSG {
        real_server 10.0.1.1 80 {
        }
      }
      """
    let config = try XCTUnwrap(loadValid(text)).configuration
    XCTAssertEqual(config.vrrpTrackFiles.first?.weight, -50)
    XCTAssertEqual(config.vrrpTrackFiles.first?.weightReverse, true)
    XCTAssertEqual(config.vrrpTrackFiles.first?.initValue, 0)
    XCTAssertEqual(config.vrrpTrackFiles.first?.initOverwrite, true)
    let group = try XCTUnwrap(config.syncGroups.first)
    XCTAssertEqual(group.instances, ["A", "B"])
    XCTAssertEqual(group.notify.master?.argv, ["/bin/notify", "master"])
    XCTAssertEqual(group.trackScripts, [TrackedObject(name: "up", weight: 10)])
    XCTAssertEqual(config.vrrpInstances.map(\.syncGroup), ["G", "G"])
    XCTAssertEqual(config.vrrpInstances[0].trackFiles, [TrackedObject(name: "maint", weight: 5)])
    let members = try XCTUnwrap(config.virtualServerGroups.first?.members)
    XCTAssertEqual(members[0].first?.description, "10.0.0.8")
    XCTAssertEqual(members[0].last?.description, "10.0.0.15")
    XCTAssertEqual(members[1].first?.description, "192.168.1.250")
    XCTAssertEqual(members[1].last?.description, "192.168.2.3")
    XCTAssertEqual(members[1].port, 443)
    XCTAssertEqual(members[2].last?.description, "2001:db8::a")
    XCTAssertEqual(members[3].fwmark, 7)
    XCTAssertEqual(members[3].family, .inet6)
  }

  func testVersion3DropsAuthenticationWithAWarning() throws {
    let text = """
      vrrp_instance V {
        interface eth0
        virtual_router_id 2
        version 3
        authentication {
          auth_type PASS
          auth_pass longerthan8
        }
      }
      """
    let loaded = try XCTUnwrap(loadValid(text))
    XCTAssertNil(loaded.configuration.vrrpInstances[0].authentication)
    XCTAssertEqual(
      loaded.warnings.map { "\($0.line):\($0.column)" }, ["1:1", "5:3", "7:15"],
      loaded.warnings.map(\.description).joined(separator: "\n"))
  }
}
