import KeeperCore
import XCTest

@testable import IPVSSync

/// `HealthTable` answers exactly as the dictionary it replaces, whatever the order of reports.
final class HealthTableTests: XCTestCase {
  /// What the spec and the health table keep per real server stays at the sizes the layouts
  /// promise (bench/memory-heaptrack.sh measures the whole): an address is one word (IPv4 inline),
  /// a destination key 16 bytes, a configured real server 32.
  func testPerServerLayoutsStayCompact() {
    XCTAssertEqual(MemoryLayout<IPAddress>.size, 8)
    XCTAssertLessThanOrEqual(MemoryLayout<DestinationKey>.stride, 16)
    XCTAssertLessThanOrEqual(MemoryLayout<RealServerSpec>.stride, 32)
  }

  func testItAgreesWithADictionaryThroughReportsAndRemovals() throws {
    func address(_ n: Int) throws -> IPAddress {
      try XCTUnwrap(IPAddress("10.\(n / 250).\(n % 250).1"))
    }
    let services: [ServiceKey] =
      try (0..<5).map { .inet(address: try address($0), port: 80, protocol: .tcp) }
      + [.fwmark(7, family: .inet)]
    let destinations = try (0..<40).map {
      DestinationKey(address: try address(100 + $0), port: UInt16(8000 + $0 % 3))
    }
    var table = HealthTable()
    var reference: [RealServerID: RealServerHealth] = [:]
    let choices: [RealServerHealth?] = [.down, .up(weight: nil), .up(weight: 0), .up(weight: 7), nil]
    // Reports in an order that visits every pair many times, out of key order, with every kind.
    for step in 0..<5_000 {
      let id = RealServerID(
        service: services[(step * 7 + step / 11) % services.count],
        server: destinations[(step * 13 + step / 3) % destinations.count])
      let health = choices[(step * 5 + step / 17) % choices.count]
      table[id] = health
      reference[id] = health
    }
    XCTAssertFalse(reference.isEmpty)
    for service in services {
      for server in destinations {
        let id = RealServerID(service: service, server: server)
        XCTAssertEqual(table[id], reference[id], "\(id)")
      }
    }
    // Forgetting every report leaves nothing behind.
    for id in reference.keys { table[id] = nil }
    for service in services {
      for server in destinations { XCTAssertNil(table[RealServerID(service: service, server: server)]) }
    }
  }
}
