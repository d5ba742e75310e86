import HealthCheck
import KeeperCore
import XCTest

/// Health ids: the shared form (service name box, address, port) and ids made from text are one
/// type whose equality and hashing follow the text.
final class RealServerIDTests: XCTestCase {
  func testSharedFormEqualsItsTextAndHashesAlike() throws {
    let cases: [(service: String, address: String, port: UInt16, text: String)] = [
      ("TCP 192.168.10.100:80", "10.0.0.11", 80, "TCP 192.168.10.100:80 -> 10.0.0.11:80"),
      ("UDP [2001:db8::1]:53", "2001:db8::5", 53, "UDP [2001:db8::1]:53 -> [2001:db8::5]:53"),
      ("FWM 7", "10.1.2.3", 0, "FWM 7 -> 10.1.2.3:0"),
      ("group ->", "1.2.3.4", 65535, "group -> -> 1.2.3.4:65535"),
    ]
    for item in cases {
      let name = RealServerID.ServiceName(item.service)
      let shared = RealServerID(
        service: name, address: try XCTUnwrap(IPAddress(item.address)), port: item.port)
      let fromText = RealServerID(item.text)
      XCTAssertEqual(shared.rawValue, item.text)
      XCTAssertEqual(shared.description, item.text)
      XCTAssertEqual(fromText.rawValue, item.text)
      XCTAssertEqual(shared, fromText, item.text)
      XCTAssertEqual(shared.hashValue, fromText.hashValue, item.text)
      XCTAssertEqual(Set([shared, fromText]).count, 1)
    }
  }

  /// Text that is not a canonical rendering (or no endpoint at all) stays text: equal only to the
  /// same text, never to a shared-form id that renders differently.
  func testOtherTextIsComparedAsText() throws {
    let name = RealServerID.ServiceName("TCP 10.0.0.1:80")
    let shared = RealServerID(service: name, address: try XCTUnwrap(IPAddress("2001:db8::5")), port: 80)
    for text in [
      "TCP 10.0.0.1:80 -> [2001:DB8::5]:80", "TCP 10.0.0.1:80 -> [2001:db8:0::5]:80",
      "TCP 10.0.0.1:80 -> 2001:db8::5:80",
      "TCP 10.0.0.1:80 -> [2001:db8::5]:080", "TCP 10.0.0.1:80 -> [2001:db8::5]:80 ", "vsA/rs1", "",
    ] {
      let id = RealServerID(text)
      XCTAssertEqual(id.rawValue, text)
      XCTAssertNotEqual(id, shared, text)
      XCTAssertEqual(id, RealServerID(text))
      XCTAssertEqual(id.hashValue, RealServerID(text).hashValue)
    }
    XCTAssertEqual(shared, RealServerID("TCP 10.0.0.1:80 -> [2001:db8::5]:80"))
    XCTAssertNotEqual(
      RealServerID(service: name, address: try XCTUnwrap(IPAddress("10.0.0.2")), port: 80),
      RealServerID(
        service: RealServerID.ServiceName("TCP 10.0.0.1:81"), address: try XCTUnwrap(IPAddress("10.0.0.2")),
        port: 80))
  }
}
