import HealthCheck
import IPVSSync
import KeeperCore
import XCTest

@testable import lvskeeper

/// Health id → IPVS destinations, held per virtual server (no entry per id): lookups by the shared
/// ids and by ids made from text, repeats in the order added, unknown ids.
final class HealthDestinationsTests: XCTestCase {
  private typealias T = ServiceMappingTests

  func testLooksUpEveryIdAndRepeatsInTheOrderAdded() throws {
    var table = HealthDestinations()
    let web = HealthCheck.RealServerID.ServiceName("TCP 192.0.2.1:80")
    let group = HealthCheck.RealServerID.ServiceName("group G")
    let http = T.tcp("192.0.2.1", 80)
    let (g1, g2) = (T.tcp("192.0.2.5", 80), T.tcp("192.0.2.5", 443))
    // Servers out of order, one listed twice; then a group; then the first name again.
    table.addVirtualServer(
      web, services: [http],
      servers: [T.destination("10.0.0.3", 80), T.destination("10.0.0.1", 80), T.destination("10.0.0.3", 80)])
    table.addVirtualServer(group, services: [g1, g2], servers: [T.destination("2001:db8::7", 8080)])
    let other = T.tcp("192.0.2.9", 80)
    table.addVirtualServer(
      HealthCheck.RealServerID.ServiceName("TCP 192.0.2.1:80"), services: [other],
      servers: [T.destination("10.0.0.1", 80)])

    let first = HealthCheck.RealServerID(service: web, address: T.ip("10.0.0.1"), port: 80)
    XCTAssertEqual(
      table[first],
      [
        IPVSSync.RealServerID(service: http, server: T.destination("10.0.0.1", 80)),
        IPVSSync.RealServerID(service: other, server: T.destination("10.0.0.1", 80)),
      ])
    XCTAssertEqual(table[HealthCheck.RealServerID("TCP 192.0.2.1:80 -> 10.0.0.1:80")], table[first])
    XCTAssertEqual(
      table[HealthCheck.RealServerID("TCP 192.0.2.1:80 -> 10.0.0.3:80")],
      Array(repeating: IPVSSync.RealServerID(service: http, server: T.destination("10.0.0.3", 80)), count: 2))
    XCTAssertEqual(
      table[HealthCheck.RealServerID("group G -> [2001:db8::7]:8080")],
      [g1, g2].map { IPVSSync.RealServerID(service: $0, server: T.destination("2001:db8::7", 8080)) })
    for unknown in [
      "TCP 192.0.2.1:80 -> 10.0.0.2:80", "TCP 192.0.2.1:81 -> 10.0.0.1:80", "group G -> 2001:db8::7:8080",
      "vsA/rs1",
    ] {
      XCTAssertNil(table[HealthCheck.RealServerID(unknown)], unknown)
    }
    XCTAssertEqual(
      table.ids.map(\.rawValue),
      ["TCP 192.0.2.1:80 -> 10.0.0.1:80", "TCP 192.0.2.1:80 -> 10.0.0.3:80", "group G -> [2001:db8::7]:8080"])
    XCTAssertEqual(table.count, 3)
    XCTAssertEqual(table.all.map(\.destinations.count), [2, 2, 2])
  }
}
