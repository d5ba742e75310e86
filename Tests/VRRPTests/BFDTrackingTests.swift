import XCTest

@testable import VRRP

/// keepalived's track_bfd rules (vrrp_track.c initialise_track_bfd_state, vrrp_scheduler.c
/// vrrp_handle_bfd_event): unweighted faults while the session is not up (reverse: while it is
/// up); a positive weight is added while up, a negative one while down; reverse negates it.
final class BFDTrackingTests: XCTestCase {
  func testTrackBFDWeightsAndFaults() {
    let cases: [(String, TrackSignal, UInt8, Bool)] = [
      ("unweighted, up", .bfd(name: "b", up: true, weight: 0), 100, false),
      ("unweighted, down faults", .bfd(name: "b", up: false, weight: 0), 100, true),
      ("weight 0 reverse, up faults", .bfd(name: "b", up: true, weight: 0, reverse: true), 100, true),
      ("weight 0 reverse, down", .bfd(name: "b", up: false, weight: 0, reverse: true), 100, false),
      ("+10 up", .bfd(name: "b", up: true, weight: 10), 110, false),
      ("+10 down adds nothing", .bfd(name: "b", up: false, weight: 10), 100, false),
      ("-10 up adds nothing", .bfd(name: "b", up: true, weight: -10), 100, false),
      ("-10 down", .bfd(name: "b", up: false, weight: -10), 90, false),
      ("+10 reverse up", .bfd(name: "b", up: true, weight: 10, reverse: true), 90, false),
      ("-10 reverse down", .bfd(name: "b", up: false, weight: -10, reverse: true), 110, false),
    ]
    for (name, signal, priority, fault) in cases {
      let outcome = TrackingPolicy.evaluate(base: 100, signals: [signal])
      XCTAssertEqual(outcome.priority, priority, name)
      XCTAssertEqual(outcome.fault, fault, name)
      XCTAssertEqual(outcome.faultReasons.isEmpty, !fault, name)
    }
    XCTAssertEqual(
      TrackingPolicy.evaluate(base: 100, signals: [.bfd(name: "b", up: false, weight: 0)]).faultReasons,
      ["bfd b down"])
  }
}
