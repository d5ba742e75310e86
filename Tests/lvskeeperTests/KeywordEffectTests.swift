import Foundation
import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore
import VRRP
import XCTest

@testable import lvskeeper

/// Keywords whose effect no other test showed: each reaches what the daemon hands to the kernel
/// (the IPVS spec), to the checkers, or to the VRRP instances. Named in KeywordCatalogTests.
final class KeywordEffectTests: XCTestCase {
  private func load(_ text: String) throws -> KeeperConfiguration {
    try ConfigLoader(configID: "t", interfaces: ["lo", "eth0"]).load(text: text).configuration
  }

  func testServiceKeywordsReachTheIPVSSpecAndTheCheckers() throws {
    let config = try load(
      """
      virtual_server fwmark 7 {
        ip_family inet6
        lb_algo mh
        mh-fallback
        mh-port
        flag-3
        ops
        lb_kind DR
        persistence_timeout 60
        sorry_server 2001:db8::99 80
        sorry_server_lvs_method TUN
        sorry_server_inhibit
        real_server 2001:db8::1 80 {
          uthreshold 100
          lthreshold 10
          HTTP_GET {
            connect_ip 2001:db8::2
            bindto 2001:db8::3
            bind_port 5000
            nb_get_retry 4
            http_protocol 1.1
            url {
              path /health
            }
          }
        }
      }
      virtual_server 10.0.0.1 80 {
        lb_algo sh
        persistence_granularity 255.255.255.0
        sh-fallback
        sh-port
        real_server 10.0.1.1 80 {
          MISC_CHECK {
            misc_path /bin/true
            misc_dynamic
          }
        }
      }
      virtual_server 10.0.0.2 80 {
        lb_algo wrr
        flag-1
        flag-2
        real_server 10.0.1.2 80 {
        }
      }
      """)
    let mapping = try ServiceMapping(config)
    let services = mapping.ipvs.services
    XCTAssertEqual(services.map(\.key.description).count, 3)
    let fwmark = try XCTUnwrap(services.first)
    XCTAssertEqual(fwmark.key, .fwmark(7, family: .inet6))
    XCTAssertEqual(fwmark.attributes.scheduler, "mh")
    XCTAssertEqual(fwmark.attributes.flags, [.persistent, .onePacket, .mhFallback, .mhPort, .scheduler3])
    XCTAssertEqual(fwmark.attributes.timeout, 60)
    XCTAssertEqual(fwmark.realServers.first?.forwarding, .directRoute)
    XCTAssertEqual(fwmark.realServers.first?.upperThreshold, 100)
    XCTAssertEqual(fwmark.realServers.first?.lowerThreshold, 10)
    XCTAssertEqual(fwmark.sorryServer?.forwarding, .tunnel)
    XCTAssertEqual(fwmark.sorryServer?.inhibit, true)
    XCTAssertEqual(services[1].attributes.flags, [.persistent, .shFallback, .shPort])
    XCTAssertEqual(services[1].attributes.netmask, ServiceAttributes.ipv4Netmask(prefixLength: 24))
    XCTAssertEqual(services[2].attributes.flags, [.scheduler1, .scheduler2])

    let checkers = mapping.monitored.flatMap(\.checkers)
    guard case .http(let http)? = checkers.first?.spec else { return XCTFail("\(checkers)") }
    XCTAssertEqual(http.target.address, "2001:db8::2")
    XCTAssertEqual(http.target.bindAddress, "2001:db8::3")
    XCTAssertEqual(http.target.bindPort, 5000)
    XCTAssertEqual(http.version, .http11)
    XCTAssertEqual(checkers.first?.schedule.retry, 4)
    guard case .misc(let misc)? = checkers.last?.spec else { return XCTFail("\(checkers)") }
    XCTAssertTrue(misc.dynamic)
  }

  func testVRRPKeywordsReachTheInstanceSpec() throws {
    let config = try load(
      """
      global_defs {
        vrrp_mcast_group6 ff02::1:2
        vrrp_garp_master_delay 7
        vrrp_garp_master_repeat 4
        vrrp_garp_master_refresh 60
        vrrp_garp_master_refresh_repeat 3
        vrrp_rlimit_rtime 20000
        lvs_flush_onstop
        vrrp_garp_interval 0.1
        vrrp_gna_interval 0.2
      }
      vrrp_instance V6 {
        interface eth0
        virtual_router_id 9
        preempt_delay 4
        virtual_ipaddress {
          2001:db8::10
        }
        virtual_ipaddress_excluded {
          10.0.0.10
        }
      }
      vrrp_instance V4 {
        interface eth0
        virtual_router_id 10
        mcast_src_ip 10.0.0.3
        garp_master_delay 2
        garp_master_repeat 3
        garp_master_refresh 30
        garp_master_refresh_repeat 2
        virtual_ipaddress {
          10.0.0.11
        }
      }
      """)
    XCTAssertEqual(config.globalDefs.lvsFlushOnStop, .all)
    let v6 = try VRRPMapping.instanceSpec(config.vrrpInstances[0], global: config.globalDefs)
    XCTAssertEqual(v6.multicastGroup, IPAddress("ff02::1:2"))
    XCTAssertEqual(v6.preemptDelay, 4)
    XCTAssertEqual(v6.announceInterval, 0.2, "vrrp_gna_interval paces an IPv6 instance")
    XCTAssertEqual(v6.garpMasterDelay, 7)
    XCTAssertEqual(v6.garpMasterRepeat, 4)
    XCTAssertEqual(v6.garpMasterRefresh, 60)
    XCTAssertEqual(v6.garpMasterRefreshRepeat, 3)
    XCTAssertEqual(v6.excludedAddresses.count, 1)
    let v4 = try VRRPMapping.instanceSpec(config.vrrpInstances[1], global: config.globalDefs)
    XCTAssertEqual(v4.sourceAddress, IPAddress("10.0.0.3"))
    XCTAssertEqual(v4.garpMasterDelay, 2)
    XCTAssertEqual(v4.announceInterval, 0.1, "vrrp_garp_interval paces an IPv4 instance")
    XCTAssertEqual(v4.garpMasterRepeat, 3)
    XCTAssertEqual(v4.garpMasterRefresh, 30)
    XCTAssertEqual(v4.garpMasterRefreshRepeat, 2)
    XCTAssertEqual(VRRPMapping.scheduling(config.globalDefs)?.rlimitRTTimeMicroseconds, 20000)
  }
}
