import KeeperCore
import XCTest

@testable import IPVSSync

/// `HealthTable` answers exactly as the dictionary it replaces, whatever the order of reports.
final class HealthTableTests: XCTestCase {
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
    var rng = SplitMix(seed: 12)
    let choices: [RealServerHealth?] = [.down, .up(weight: nil), .up(weight: 0), .up(weight: 7), nil]
    for _ in 0..<5_000 {
      let id = RealServerID(
        service: services[Int(rng.next() % UInt64(services.count))],
        server: destinations[Int(rng.next() % UInt64(destinations.count))])
      let health = choices[Int(rng.next() % UInt64(choices.count))]
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

  /// A small deterministic generator (tests must not depend on a seed the platform picks).
  struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }
}
