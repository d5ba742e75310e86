import XCTest

@testable import HealthCheck

/// The pure codecs of the datagram checkers, on hand-built packets: what the real-peer tests
/// cannot provoke (foreign ids, answers to another question, malformed records, IP headers).
final class DatagramMessagesTests: XCTestCase {
  func testEchoRequestChecksumAndReplyParsing() {
    var buffer = [UInt8](repeating: 0, count: 256)
    ICMPEcho.request(
      into: &buffer, v6: false, identifier: 0x1234, sequence: 7, token: 0x0000_0005_0000_0003, serial: 42,
      checksum: true)
    XCTAssertEqual(Array(buffer[0..<2]), [8, 0])
    XCTAssertEqual(
      ICMPEcho.internetChecksum(buffer, count: ICMPEcho.requestLength), 0, "a valid checksum sums to 0")
    XCTAssertEqual(String(decoding: buffer[20..<39], as: UTF8.self), "keepalived check - ")
    // The kernel's reply: type 0 behind a 20-byte IPv4 header (raw sockets see it).
    buffer[0] = 0
    let packet =
      [UInt8](repeating: 0, count: 20).enumerated().map { $0.offset == 0 ? UInt8(0x45) : $0.element }
      + buffer[0..<ICMPEcho.requestLength]
    let expected = ICMPEcho.Reply(identifier: 0x1234, sequence: 7, token: 0x0000_0005_0000_0003, serial: 42)
    XCTAssertEqual(packet.withUnsafeBytes { ICMPEcho.reply($0, v6: false, ipHeader: true) }, expected)
    XCTAssertNil(
      packet.withUnsafeBytes { ICMPEcho.reply($0, v6: true, ipHeader: true) }, "not an ICMPv6 reply")
    var request = buffer
    request[0] = 8
    XCTAssertNil(request.withUnsafeBytes { ICMPEcho.reply($0, v6: false, ipHeader: false) }, "a request")
    XCTAssertNil(buffer[0..<12].withUnsafeBytes { ICMPEcho.reply($0, v6: false, ipHeader: false) }, "short")
  }

  func testDNSQueryEncoding() {
    XCTAssertEqual(DNSMessage.encodeName("."), [0])
    XCTAssertEqual(DNSMessage.encodeName(""), [0])
    XCTAssertEqual(DNSMessage.encodeName("a.bc."), [1, 0x61, 2, 0x62, 0x63, 0])
    XCTAssertNil(DNSMessage.encodeName("a..b"))
    XCTAssertNil(DNSMessage.encodeName(String(repeating: "x", count: 64)))
    // keepalived's query: RD set, one question, class IN.
    XCTAssertEqual(
      DNSMessage.query(name: "a.bc", type: 6),
      [0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 2, 0x62, 0x63, 0, 0, 6, 0, 1])
  }

  private func judge(_ reply: [UInt8], _ query: [UInt8], id: UInt16 = 0xbeef) -> DNSMessage.Judgement {
    reply.withUnsafeBytes { r in query.withUnsafeBytes { DNSMessage.judge(r, query: $0, id: id) } }
  }

  func testDNSAnswersAreMatchedToTheQuestionAndTheType() throws {
    let query = try XCTUnwrap(DNSMessage.query(name: "www.example", type: 1))
    let question = Array(query[12...])
    func reply(
      id: UInt16 = 0xbeef, flags: UInt16 = 0x8180, question q: [UInt8] = question, answers: [[UInt8]]
    )
      -> [UInt8]
    {
      [
        UInt8(id >> 8), UInt8(id & 0xff), UInt8(flags >> 8), UInt8(flags & 0xff), 0, 1, 0,
        UInt8(answers.count), 0, 0, 0, 0,
      ]
        + q + answers.flatMap { $0 }
    }
    // A CNAME (uncompressed owner name) then an A record (compressed owner name).
    let cname: [UInt8] =
      [3, 0x77, 0x77, 0x77, 7] + Array("example".utf8) + [0, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 0x0c]
    let a: [UInt8] = [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]
    XCTAssertEqual(judge(reply(answers: [cname, a]), query), .outcome(.up(weight: nil)))
    XCTAssertEqual(
      judge(reply(answers: [cname]), query), .outcome(.down(reason: "DNS answer has no A record")),
      "CNAME only")
    XCTAssertEqual(
      judge(reply(answers: []), query), .outcome(.down(reason: "DNS answer has no A record")), "NODATA")
    XCTAssertEqual(
      judge(reply(flags: 0x8183, answers: []), query),
      .outcome(.down(reason: "DNS answer rcode 3 (NXDOMAIN)")))
    XCTAssertEqual(
      judge(reply(flags: 0x8182, answers: []), query),
      .outcome(.down(reason: "DNS answer rcode 2 (SERVFAIL)")))
    // Not the answer to this query: ignored (the probe waits on, as keepalived does for a foreign id).
    XCTAssertEqual(judge(reply(id: 0xbeee, answers: [a]), query), .ignore, "another id")
    XCTAssertEqual(judge(reply(flags: 0x0100, answers: [a]), query), .ignore, "a query, not a response")
    var other = question
    other[1] = 0x78
    XCTAssertEqual(judge(reply(question: other, answers: [a]), query), .ignore, "another question")
    var upper = question
    upper[1] = 0x57
    XCTAssertEqual(
      judge(reply(question: upper, answers: [a]), query), .outcome(.up(weight: nil)), "case-insensitive")
    XCTAssertEqual(judge(Array(reply(answers: [a]).prefix(11)), query), .ignore, "shorter than a header")
    XCTAssertEqual(
      judge(Array(reply(answers: [a]).dropLast(12)), query),
      .outcome(.down(reason: "DNS answer is malformed")))
  }

  func testUDPReplyRule() {
    let rule = UDPReplyRule(data: [0x01, 0x42, 0x4f], mask: [0, 0xf0, 0], minLength: 2, maxLength: 5)
    func failure(_ reply: [UInt8]) -> String? {
      reply.withUnsafeBytes { rule.failure($0, length: reply.count) }
    }
    XCTAssertNil(failure([0x01, 0x02, 0x4f]), "the X nibble is ignored")
    XCTAssertNil(failure([0x01, 0xf2]), "only min(reply, data) bytes are compared, as keepalived")
    XCTAssertEqual(failure([0x01, 0x03, 0x4f]), "reply data differs from require_reply at byte 1")
    XCTAssertEqual(failure([0x01]), "reply of 1 bytes is outside 2...5")
    XCTAssertEqual(failure([0x01, 0x02, 0x4f, 0, 0, 0]), "reply of 6 bytes is outside 2...5")
  }
}
