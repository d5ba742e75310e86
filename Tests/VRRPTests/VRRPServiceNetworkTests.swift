import Foundation
import KeeperCore
import XCTest

@testable import VRRP

/// A whole VRRPService on the in-memory network: no privileges, no namespaces. The loop thread runs
/// for real (its own clock, VRRPv3 at 100 ms adverts), the network double records what it did.
final class VRRPServiceNetworkTests: XCTestCase {
  static let interface = "test0"
  static let source = IPAddress("10.0.0.2")!
  static let peer = IPAddress("10.0.0.3")!
  static let vip = IPAddress("10.0.0.100")!

  static func spec(priority: UInt8 = 100) -> VRRPGroupSpec {
    var instance = VRRPInstanceSpec(name: "VI_1", interface: interface, vrid: 51)
    instance.version = .v3
    instance.advertInterval = 0.1
    instance.priority = priority
    instance.sourceAddress = source
    instance.virtualAddresses = [VirtualAddressSpec(address: vip, prefixLength: 24)]
    instance.garpMasterRepeat = 2
    instance.garpMasterDelay = 0
    return VRRPGroupSpec(instances: [instance])
  }

  /// The priority of an advert the service sent, or nil for anything else.
  static func sentPriority(_ event: InMemoryVRRPNetwork.Event) -> UInt8? {
    guard case .sent(let payload, let from, let to) = event else { return nil }
    return try? VRRPAdvert.decode(payload, source: from, destination: to).priority
  }

  func testBackupBecomesMasterAddsAndAnnouncesTheVIPThenStopResignsAndRemovesIt() throws {
    let network = InMemoryVRRPNetwork()
    let service = try VRRPService(spec: Self.spec(), network: network)
    try service.start()
    let added = InMemoryVRRPNetwork.Event.added(Self.vip, device: Self.interface)
    let announced = InMemoryVRRPNetwork.Event.announced(Self.vip, interface: Self.interface)
    // Backup first: nothing owned, no advert, until the master-down timer (3 x 100 ms + skew) fires.
    XCTAssertTrue(
      network.wait(for: .seconds(5)) { $0.contains(added) && $0.filter { $0 == announced }.count == 2 })
    XCTAssertTrue(network.wait(for: .seconds(2)) { $0.contains { Self.sentPriority($0) == 100 } })
    let asMaster = network.events
    let addIndex = try XCTUnwrap(asMaster.firstIndex(of: added))
    XCTAssertFalse(asMaster[..<addIndex].contains { if case .removed = $0 { true } else { false } })
    XCTAssertEqual(asMaster.filter { $0 == announced }.count, 2, "garp_master_repeat 2")
    XCTAssertEqual(network.addresses(on: Self.interface), [Self.vip])
    for case .sent(_, let from, let to) in asMaster {
      XCTAssertEqual(from, Self.source)
      XCTAssertEqual(to, IPAddress.vrrpMulticast4)
    }

    service.stop()
    let afterStop = network.events[asMaster.count...]
    XCTAssertTrue(
      afterStop.contains { Self.sentPriority($0) == 0 }, "a priority-0 advert on stop: \(afterStop)")
    XCTAssertEqual(afterStop.last, .removed(Self.vip, device: Self.interface))
    XCTAssertEqual(network.addresses(on: Self.interface), [])
  }

  func testMasterYieldsToAHigherPriorityAdvertAndRemovesTheVIP() throws {
    let network = InMemoryVRRPNetwork()
    let service = try VRRPService(spec: Self.spec(), network: network)
    try service.start()
    defer { service.stop() }
    let added = InMemoryVRRPNetwork.Event.added(Self.vip, device: Self.interface)
    let removed = InMemoryVRRPNetwork.Event.removed(Self.vip, device: Self.interface)
    XCTAssertTrue(network.wait(for: .seconds(5)) { $0.contains(added) })

    let advert = VRRPAdvert(version: .v3, vrid: 51, priority: 200, advertInterval: 10, addresses: [Self.vip])
    network.inject(
      ReceivedPacket(
        source: Self.peer, destination: .vrrpMulticast4, hopLimit: 255,
        payload: advert.encode(source: Self.peer, destination: .vrrpMulticast4)),
      interface: Self.interface)
    XCTAssertTrue(network.wait(for: .seconds(2)) { $0.contains(removed) })
    XCTAssertEqual(network.addresses(on: Self.interface), [])

    // A Backup that stops neither resigns nor removes anything again.
    let beforeStop = network.events.count
    service.stop()
    let afterStop = network.events[beforeStop...]
    XCTAssertFalse(afterStop.contains { Self.sentPriority($0) == 0 }, "\(afterStop)")
    XCTAssertFalse(afterStop.contains(removed))
    XCTAssertEqual(service.status().instances.first?.counters.received, 1, "the injected advert was counted")
  }

  func testAnInterfaceGoingDownFaultsTheMasterAndRemovesTheVIP() throws {
    let network = InMemoryVRRPNetwork()
    let service = try VRRPService(spec: Self.spec(), network: network)
    try service.start()
    defer { service.stop() }
    XCTAssertTrue(network.wait(for: .seconds(5)) { $0.contains(.added(Self.vip, device: Self.interface)) })
    network.setLink(Self.interface, up: false)
    XCTAssertTrue(network.wait(for: .seconds(2)) { $0.contains(.removed(Self.vip, device: Self.interface)) })
  }

  /// `dont_track_primary`: the instance's own link going down does not fault it.
  func testDontTrackPrimaryIgnoresTheInstanceInterface() throws {
    var spec = Self.spec()
    spec.instances[0].dontTrackPrimary = true
    let network = InMemoryVRRPNetwork()
    let service = try VRRPService(spec: spec, network: network)
    try service.start()
    defer { service.stop() }
    XCTAssertTrue(wait(5) { self.state(service) == .master })
    network.setLink(Self.interface, up: false)
    // Several tracking samples (every 100 ms) later it is still Master and owns the VIP.
    Thread.sleep(forTimeInterval: 0.5)
    XCTAssertEqual(state(service), .master)
    XCTAssertEqual(network.addresses(on: Self.interface), [Self.vip])
  }

  /// vrrp_garp_interval: the announcements of a burst go out one interval apart, not at once.
  func testAnnouncementsArePacedByTheGarpInterval() throws {
    var spec = Self.spec()
    spec.instances[0].announceInterval = 0.3
    let network = InMemoryVRRPNetwork()
    let service = try VRRPService(spec: spec, network: network)
    try service.start()
    defer { service.stop() }
    let announced = InMemoryVRRPNetwork.Event.announced(Self.vip, interface: Self.interface)
    XCTAssertTrue(network.wait(for: .seconds(5)) { $0.contains(announced) })
    let first = ContinuousClock.now
    XCTAssertEqual(network.events.filter { $0 == announced }.count, 1, "the second waits for the interval")
    XCTAssertTrue(network.wait(for: .seconds(5)) { $0.filter { $0 == announced }.count == 2 })
    XCTAssertGreaterThanOrEqual(ContinuousClock.now - first, .milliseconds(200), "paced, not a burst")
  }

  func state(_ service: VRRPService) -> VRRPState? { service.status().instances.first?.state }

  func wait(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      Thread.sleep(forTimeInterval: 0.02)
    }
    return condition()
  }

  /// `track_file` with `init_file`: the unit writes the initial value, a non-zero value with
  /// weight 0 faults the instance, `reverse` turns that around, and a weighted file moves the
  /// priority by value x weight.
  func testTrackFileInitValueWeightZeroAndReverse() throws {
    let directory = NSTemporaryDirectory() + "lvsk-trackfile-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/state"
    var spec = Self.spec()
    spec.instances[0].trackFiles = [TrackedFileSpec(path: path, weight: 0, initialValue: 0)]
    let network = InMemoryVRRPNetwork()
    let service = try VRRPService(spec: spec, network: network)
    try service.start()
    defer { service.stop() }
    XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "0\n", "init_file wrote the value")
    XCTAssertTrue(wait(5) { self.state(service) == .master })
    try "1\n".write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertTrue(wait(5) { self.state(service) == .fault }, "a non-zero value with weight 0 faults")
    XCTAssertEqual(network.addresses(on: Self.interface), [])

    // reverse: a zero value faults, a non-zero one is fine; an existing file is not overwritten.
    try "7 trailing text\n".write(toFile: path, atomically: true, encoding: .utf8)
    var reversed = Self.spec()
    reversed.instances[0].trackFiles = [
      TrackedFileSpec(path: path, weight: 0, reverse: true, initialValue: 0)
    ]
    let second = try VRRPService(spec: reversed, network: InMemoryVRRPNetwork())
    try second.start()
    defer { second.stop() }
    XCTAssertTrue(wait(5) { self.state(second) == .master })
    XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "7 trailing text\n")
    try "0\n".write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertTrue(wait(5) { self.state(second) == .fault }, "reverse: zero faults")
  }

  /// A script that has not finished its first run counts for nothing without `init_fail` (the
  /// instance comes up), and as failed with it (Fault until it succeeds).
  func testScriptWithoutAResultCountsForNothingUnlessInitFail() throws {
    let directory = NSTemporaryDirectory() + "lvsk-initfail-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let gate = directory + "/go"
    let script = try RunnableScript(parsing: "/bin/sh -c 'while [ ! -e \(gate) ]; do sleep 0.05; done'")
    for initFail in [false, true] {
      var spec = Self.spec()
      spec.instances[0].trackScripts = [TrackedScriptSpec(name: "chk")]
      spec.scripts = [
        VRRPScriptSpec(name: "chk", script: script, interval: 1, timeout: 30, weight: 0, initFail: initFail)
      ]
      let service = try VRRPService(spec: spec, network: InMemoryVRRPNetwork())
      try service.start()
      if initFail {
        XCTAssertTrue(wait(5) { self.state(service) == .fault }, "init_fail: failed until it succeeds")
        XCTAssertTrue(FileManager.default.createFile(atPath: gate, contents: nil))
        XCTAssertTrue(wait(5) { self.state(service) == .master }, "up after its first success")
      } else {
        XCTAssertTrue(wait(5) { self.state(service) == .master }, "a pending script counts for nothing")
      }
      service.stop()
    }
  }

  /// virtual_routes and virtual_rules follow the VIPs: in after them on becoming Master (a route
  /// may use a VIP as its source), out before them on leaving Master (keepalived's order).
  func testVirtualRoutesAndRulesGoInAfterTheVIPsAndComeOutBeforeThem() throws {
    var spec = Self.spec()
    var route = IPRoute(destination: IPPrefix("10.9.0.0/24")!)
    route.source = Self.vip
    route.device = Self.interface
    let rule = IPRule(family: .inet, action: .table(100), priority: 1000)
    spec.instances[0].virtualRoutes = [route]
    spec.instances[0].virtualRules = [rule]
    let network = InMemoryVRRPNetwork()
    let service = try VRRPService(spec: spec, network: network)
    try service.start()
    defer { service.stop() }
    let added = InMemoryVRRPNetwork.Event.added(Self.vip, device: Self.interface)
    XCTAssertTrue(network.wait(for: .seconds(5)) { $0.contains(.ruleAdded(rule)) })
    let asMaster = network.events
    let order = [added, .routeAdded(route), .ruleAdded(rule)].compactMap { asMaster.lastIndex(of: $0) }
    XCTAssertEqual(order.count, 3)
    XCTAssertEqual(order, order.sorted(), "\(asMaster)")

    let advert = VRRPAdvert(version: .v3, vrid: 51, priority: 200, advertInterval: 10, addresses: [Self.vip])
    network.inject(
      ReceivedPacket(
        source: Self.peer, destination: .vrrpMulticast4, hopLimit: 255,
        payload: advert.encode(source: Self.peer, destination: .vrrpMulticast4)),
      interface: Self.interface)
    let removed = InMemoryVRRPNetwork.Event.removed(Self.vip, device: Self.interface)
    XCTAssertTrue(network.wait(for: .seconds(2)) { $0[asMaster.count...].contains(removed) })
    let asBackup = Array(network.events[asMaster.count...])
    let removals = [.ruleRemoved(rule), .routeRemoved(route), removed].compactMap {
      asBackup.firstIndex(of: $0)
    }
    XCTAssertEqual(removals.count, 3)
    XCTAssertEqual(removals, removals.sorted(), "\(asBackup)")
  }
}
