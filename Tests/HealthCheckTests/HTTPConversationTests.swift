import XCTest

@testable import HealthCheck

/// HTTPConversation as a pure state machine (fast; the same responses go over real sockets in
/// MisbehavingServerTests and NginxTests): every response gives the same verdict whole and split
/// one byte at a time, and the request is what keepalived's checker sends.
final class HTTPConversationTests: XCTestCase {
  private let md5Hello = "5d41402abc4b2a76b9719d911017c592"

  private func verdict(_ response: String, url: URLCheck, bytewise: Bool) -> ProbeOutcome {
    let check = HTTPCheck(target: CheckTarget(address: "10.0.0.1", port: 8080), urls: [url], maxBodyBytes: 64)
    var conversation = HTTPTemplate(check: check, tls: false).conversation(leg: 0)
    var output: [UInt8] = []
    _ = conversation.connected(output: &output)
    let bytes = Array(response.utf8)
    let pieces = bytewise ? bytes.map { [$0] } : [bytes]
    for piece in pieces {
      let step = piece.withUnsafeBytes { conversation.received($0, output: &output) }
      if case .finished(let outcome) = step { return outcome }
    }
    return conversation.closed()
  }

  func testVerdictsWholeAndBytewise() {
    let digest = URLCheck(path: "/d", digest: md5Hello)
    let cases: [(String, URLCheck, ProbeOutcome)] = [
      ("HTTP/1.0 200 OK\r\n\r\n", URLCheck(path: "/"), .up(weight: nil)),
      ("HTTP/1.1 204\r\nServer: x\r\n\r\n", URLCheck(path: "/"), .up(weight: nil)),
      ("HTTP/1.0 503 Busy\r\n\r\n", URLCheck(path: "/"), .down(reason: "/: status 503 not in 200-299")),
      (
        "SSH-2.0-OpenSSH_9.2\r\n", URLCheck(path: "/"),
        .down(reason: "/: bad HTTP response (status line \"SSH-2.0-OpenSSH_9.2\")")
      ),
      ("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", digest, .up(weight: nil)),
      ("HTTP/1.0 200 OK\r\ncontent-length:  5 \r\n\r\nhelloEXTRA", digest, .up(weight: nil)),
      ("HTTP/1.0 200 OK\r\n\r\nhello", digest, .up(weight: nil)),
      (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", digest,
        .up(weight: nil)
      ),
      (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nh\r\n4\r\nello\r\n0\r\nX: y\r\n\r\n",
        digest, .up(weight: nil)
      ),
      (
        "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbye", digest,
        .down(reason: "/d: digest 4d1d6a5c8e1a8a3a0e3d1b6b4b3f4c6b != expected \(md5Hello)")
      ),
      (
        "HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n", digest,
        .down(reason: "/d: body larger than 64 bytes")
      ),
      (
        "HTTP/1.0 200 OK\r\n\r\n" + String(repeating: "x", count: 100), digest,
        .down(reason: "/d: body larger than 64 bytes")
      ),
      (
        "HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nhello", digest,
        .down(reason: "/d: connection closed before the response was complete")
      ),
      (
        "HTTP/1.0 200 OK\r\nX: 1\r\n", URLCheck(path: "/"),
        .down(reason: "/: connection closed before the response was complete")
      ),
    ]
    for (response, url, expected) in cases {
      var expected = expected
      if case .down(let reason) = expected, reason.contains("4d1d6a5c") {
        // The MD5 of "bye", computed rather than typed.
        let actual = verdict(response, url: url, bytewise: false)
        guard case .down(let got) = actual, got.hasPrefix("/d: digest "),
          got.hasSuffix("!= expected \(md5Hello)")
        else { return XCTFail("\(actual)") }
        expected = actual
      }
      XCTAssertEqual(verdict(response, url: url, bytewise: false), expected, response)
      XCTAssertEqual(verdict(response, url: url, bytewise: true), expected, "bytewise: \(response)")
    }
  }

  func testRequestAndHostHeader() {
    func request(_ check: HTTPCheck, tls: Bool) -> String {
      String(decoding: HTTPTemplate(check: check, tls: tls).requests[0], as: UTF8.self)
    }
    let onDefault = HTTPCheck(
      target: CheckTarget(address: "10.0.0.1", port: 80), urls: [URLCheck(path: "/a?b")])
    XCTAssertEqual(
      request(onDefault, tls: false),
      "GET /a?b HTTP/1.0\r\nHost: 10.0.0.1\r\nUser-Agent: lvskeeper\r\nConnection: close\r\n\r\n")
    XCTAssertTrue(request(onDefault, tls: true).contains("Host: 10.0.0.1:80\r\n"))
    var v6 = HTTPCheck(
      target: CheckTarget(address: "2001:db8::1", port: 443), urls: [URLCheck(path: "/", virtualHost: nil)],
      version: .http11)
    XCTAssertEqual(
      request(v6, tls: true),
      "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\nUser-Agent: lvskeeper\r\nConnection: close\r\n\r\n")
    v6.virtualHost = "www.example.org"
    XCTAssertTrue(request(v6, tls: true).contains("Host: www.example.org\r\n"))
  }
}
