import Foundation
import NIOCore
import NIOPosix
import XCTest

@testable import HealthCheck

/// SMTP_CHECK against a real MTA (Exim, started by the test on loopback): its two-line banner,
/// HELO with the configured name, QUIT; a 554 banner; a HELO the server refuses; a closed port.
final class SMTPCheckTests: XCTestCase {
  let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  override func tearDown() { try? group.syncShutdownGracefully() }

  func probe(_ check: SMTPCheck) throws -> ProbeOutcome {
    try EngineProbe(check).run(on: group.next()).wait()
  }

  func testSMTPCheckAgainstExim() throws {
    let exim = try EximInstance()
    let refusing = try EximInstance(refuseConnections: true)
    let closed = try MisbehavingServer.closedPort()
    func check(_ port: UInt16, helo: String = SMTPCheck.defaultHeloName) -> SMTPCheck {
      SMTPCheck(
        target: CheckTarget(address: "127.0.0.1", port: port), connectTimeout: .seconds(5), heloName: helo)
    }
    struct Case {
      var name: String
      var check: SMTPCheck
      var expectUp: Bool
      var reasonContains: String
    }
    let cases = [
      Case(name: "Exim, default helo_name", check: check(exim.port), expectUp: true, reasonContains: ""),
      Case(
        name: "Exim, helo_name foo.bar.com", check: check(exim.port, helo: "foo.bar.com"), expectUp: true,
        reasonContains: ""),
      Case(
        name: "Exim refuses the HELO name", check: check(exim.port, helo: EximInstance.refusedHelo),
        expectUp: false, reasonContains: "bad HELO response: 550 HELO refused.example refused"),
      Case(
        name: "Exim answers 554 in its banner", check: check(refusing.port), expectUp: false,
        reasonContains: "bad greeting banner: 554 no SMTP service here"),
      Case(name: "closed port", check: check(closed), expectUp: false, reasonContains: "refused"),
    ]
    for c in cases {
      let outcome = try probe(c.check)
      XCTAssertEqual(outcome.isUp, c.expectUp, "\(c.name): \(outcome)")
      if case .down(let reason) = outcome {
        XCTAssertTrue(reason.contains(c.reasonContains), "\(c.name): \(reason)")
      }
    }
    // Exim saw each HELO name, and both successful dialogues ended with our QUIT.
    var log = ""
    for _ in 0..<40 {
      log = exim.mainLog()
      if log.components(separatedBy: "closed by QUIT").count - 1 >= 2 { break }
      Thread.sleep(forTimeInterval: 0.05)
    }
    XCTAssertTrue(
      log.contains("SMTP connection from (smtpchecker.keepalived.org) [127.0.0.1] closed by QUIT"), log)
    XCTAssertTrue(log.contains("SMTP connection from (foo.bar.com) [127.0.0.1] closed by QUIT"), log)
    XCTAssertTrue(log.contains("rejected EHLO or HELO refused.example"), log)
  }
}
