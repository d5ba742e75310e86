import KeeperCore
import XCTest

@testable import VRRP

/// Drives the pure state machine with a virtual clock, one table row per scenario.
final class InstanceMachineTests: XCTestCase {
  enum Step {
    case start(Double)
    case advert(Double, priority: UInt8, from: String, interval: Double = 1)
    case tick(Double)
    case fault(Double, Bool)
    case stop(Double)
  }

  struct Case {
    var name: String
    var settings: MachineSettings
    var steps: [(Step, VRRPState, [MachineAction])]
  }

  static let me = IPAddress("10.0.0.2")!

  static func settings(
    _ version: VRRPVersion = .v3, priority: UInt8 = 100, interval: Double = 1, preempt: Bool = true,
    delay: Double = 0
  ) -> MachineSettings {
    MachineSettings(
      version: version, priority: priority, advertInterval: .milliseconds(Int(interval * 1000)),
      preempt: preempt,
      preemptDelay: .milliseconds(Int(delay * 1000)), primaryAddress: me)
  }

  static func t(_ seconds: Double) -> Duration { .nanoseconds(Int64((seconds * 1e9).rounded())) }

  let backup: [MachineAction] = [.transition(from: .initialize, to: .backup)]
  func master(_ priority: UInt8 = 100) -> [MachineAction] {
    [.sendAdvert(priority: priority), .transition(from: .backup, to: .master)]
  }

  // Skew for priority 100 (v3, 1 s): 156/256 s = 0.609375 s; Master_Down_Interval 3.609375 s.
  func testScenarios() {
    let cases: [Case] = [
      Case(
        name: "backup claims master after Master_Down_Interval", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.tick(3.609), .backup, []),
          (.tick(3.609375), .master, master()),
          (.tick(4.0), .master, []),
          (.tick(4.609375), .master, [.sendAdvert(priority: 100)]),
        ]),
      Case(
        name: "higher-priority adverts hold the backup", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.advert(3.0, priority: 200, from: "10.0.0.9"), .backup, []),
          (.tick(6.6), .backup, []),
          (.tick(6.609375), .master, master()),
        ]),
      Case(
        name: "preempt ignores a lower-priority master", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.advert(1, priority: 50, from: "10.0.0.9"), .backup, []),
          (.advert(2, priority: 50, from: "10.0.0.9"), .backup, []),
          (.tick(3.609375), .master, master()),
        ]),
      Case(
        name: "nopreempt keeps following a lower-priority master", settings: Self.settings(preempt: false),
        steps: [
          (.start(0), .backup, backup),
          (.advert(3, priority: 50, from: "10.0.0.9"), .backup, []),
          (.tick(6.5), .backup, []),
          (.advert(6.5, priority: 50, from: "10.0.0.9"), .backup, []),
          (.tick(10.0), .backup, []),
        ]),
      Case(
        name: "preempt_delay tolerates a lower master for the delay", settings: Self.settings(delay: 5),
        steps: [
          (.start(0), .backup, backup),
          (.advert(1, priority: 50, from: "10.0.0.9"), .backup, []),
          (.advert(4, priority: 50, from: "10.0.0.9"), .backup, []),
          (.tick(7.6), .backup, []),
          (.advert(5, priority: 50, from: "10.0.0.9"), .backup, []),
          (.tick(7.609375), .master, master()),
        ]),
      Case(
        name: "priority 0 from the master: take over after Skew_Time", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.advert(1, priority: 200, from: "10.0.0.9"), .backup, []),
          (.advert(2, priority: 0, from: "10.0.0.9"), .backup, []),
          (.tick(2.6), .backup, []),
          (.tick(2.609375), .master, master()),
        ]),
      Case(
        name: "v3 backup learns the master's advert interval", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.advert(1, priority: 200, from: "10.0.0.9", interval: 0.1), .backup, []),
          (.tick(1.36), .backup, []),
          (.tick(1.3609375), .master, master()),
        ]),
      Case(
        name: "v2 skew is (256-priority)/256 s whatever the interval",
        settings: Self.settings(.v2, interval: 3),
        steps: [
          (.start(0), .backup, backup),
          (.tick(9.6), .backup, []),
          (.tick(9.609375), .master, master()),
        ]),
      Case(
        name: "master yields to a higher priority", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.tick(3.609375), .master, master()),
          (.advert(4, priority: 101, from: "10.0.0.1"), .backup, [.transition(from: .master, to: .backup)]),
        ]),
      Case(
        name: "equal priority: the higher primary address wins", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.tick(3.609375), .master, master()),
          (.advert(4, priority: 100, from: "10.0.0.1"), .master, []),
          (.advert(4.1, priority: 100, from: "10.0.0.3"), .backup, [.transition(from: .master, to: .backup)]),
        ]),
      Case(
        name: "address owner starts as master", settings: Self.settings(priority: 255),
        steps: [
          (.start(0), .master, [.sendAdvert(priority: 255), .transition(from: .initialize, to: .master)]),
          (.advert(0.5, priority: 254, from: "10.0.0.9"), .master, []),
        ]),
      Case(
        name: "master answers priority 0 with an advert", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.tick(3.609375), .master, master()),
          (.advert(4, priority: 0, from: "10.0.0.9"), .master, [.sendAdvert(priority: 100)]),
          (.tick(4.9), .master, []),
          (.tick(5.0), .master, [.sendAdvert(priority: 100)]),
        ]),
      Case(
        name: "stop resigns with priority 0", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.tick(3.609375), .master, master()),
          (.stop(4), .initialize, [.sendAdvert(priority: 0), .transition(from: .master, to: .initialize)]),
        ]),
      Case(
        name: "fault resigns, recovery returns to backup", settings: Self.settings(),
        steps: [
          (.start(0), .backup, backup),
          (.tick(3.609375), .master, master()),
          (.fault(4, true), .fault, [.sendAdvert(priority: 0), .transition(from: .master, to: .fault)]),
          (.advert(5, priority: 50, from: "10.0.0.9"), .fault, []),
          (.tick(20), .fault, []),
          (.fault(21, false), .backup, [.transition(from: .fault, to: .backup)]),
          (.tick(24.609375), .master, master()),
        ]),
    ]
    for c in cases {
      var machine = InstanceMachine(settings: c.settings)
      for (index, (step, state, actions)) in c.steps.enumerated() {
        let got: [MachineAction]
        switch step {
        case .start(let at): got = machine.start(now: Self.t(at))
        case .tick(let at): got = machine.tick(now: Self.t(at))
        case .stop(let at): got = machine.stop(now: Self.t(at))
        case .fault(let at, let on): got = machine.setFault(on, now: Self.t(at))
        case .advert(let at, let priority, let from, let interval):
          got = machine.receive(
            priority: priority, interval: Self.t(interval), source: IPAddress(from)!, now: Self.t(at))
        }
        XCTAssertEqual(machine.state, state, "\(c.name) step \(index)")
        XCTAssertEqual(got, actions, "\(c.name) step \(index)")
      }
    }
  }

  func testMasterDownIntervalFormula() {
    let cases: [(VRRPVersion, UInt8, Double, Double)] = [
      (.v3, 100, 1, 3.609375), (.v3, 254, 0.01, 0.0300781), (.v3, 1, 0.1, 0.3996093), (.v2, 200, 1, 3.21875),
      (.v2, 1, 2, 6.99609375),
    ]
    for (version, priority, interval, expected) in cases {
      let machine = InstanceMachine(settings: Self.settings(version, priority: priority, interval: interval))
      let seconds =
        Double(machine.masterDownInterval.components.attoseconds) / 1e18
        + Double(machine.masterDownInterval.components.seconds)
      XCTAssertEqual(seconds, expected, accuracy: 1e-6, "\(version) prio \(priority) int \(interval)")
    }
  }
}
