import KeeperCore
import XCTest

@testable import IPVSSync

/// Byte-exact encodings, worked out by hand from <linux/ip_vs.h>, <linux/netlink.h> and
/// <linux/genetlink.h>: nlmsghdr (len, type, flags, seq, pid; host order = little endian on the
/// targets we build for), genlmsghdr (cmd, version 1, reserved), then nlattr (len, type) with
/// payloads padded to 4 bytes; ports are big endian, addresses are 16-byte nf_inet_addr.
final class GoldenMessageTests: XCTestCase {
  let codec = IPVSMessageCodec(family: 0x1c, portID: 0x1234)
  let web = ServiceKey.inet(address: IPAddress("10.0.0.1")!, port: 80, protocol: .tcp)

  func header(length: UInt8, command: UInt8, flags: UInt8 = 0x05) -> [UInt8] {
    [length, 0, 0, 0, 0x1c, 0, flags, 0, 1, 0, 0, 0, 0x34, 0x12, 0, 0, command, 1, 0, 0]
  }

  let v4ServiceKey: [UInt8] = [
    6, 0, 1, 0, 2, 0, 0, 0,  // AF = AF_INET
    6, 0, 2, 0, 6, 0, 0, 0,  // PROTOCOL = TCP
    20, 0, 3, 0, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // ADDR 10.0.0.1
    6, 0, 4, 0, 0, 80, 0, 0,  // PORT 80 (be16)
  ]

  func testNewServiceV4TCPWrrPersistent() {
    let attributes = ServiceAttributes(scheduler: "wrr", flags: .persistent, timeout: 300, family: .inet)
    let bytes = codec.encode(.addService(web, attributes), sequence: 1)
    let expected: [UInt8] =
      header(length: 104, command: 1) + [84, 0, 1, 0] + v4ServiceKey + [
        8, 0, 6, 0, 0x77, 0x72, 0x72, 0,  // SCHED_NAME "wrr\0"
        12, 0, 7, 0, 1, 0, 0, 0, 0x3d, 0, 0, 0,  // FLAGS {persistent, mask 0x3d}
        8, 0, 8, 0, 0x2c, 0x01, 0, 0,  // TIMEOUT 300
        8, 0, 9, 0, 0xff, 0xff, 0xff, 0xff,  // NETMASK 255.255.255.255
      ]
    XCTAssertEqual(bytes, expected)
  }

  func testNewFwmarkV6Service() {
    let attributes = ServiceAttributes(scheduler: "rr", family: .inet6)
    let bytes = codec.encode(.addService(.fwmark(7, family: .inet6), attributes), sequence: 1)
    let expected: [UInt8] =
      header(length: 76, command: 1) + [56, 0, 1, 0] + [
        6, 0, 1, 0, 10, 0, 0, 0,  // AF = AF_INET6
        8, 0, 5, 0, 7, 0, 0, 0,  // FWMARK 7
        7, 0, 6, 0, 0x72, 0x72, 0, 0,  // SCHED_NAME "rr\0" (len 7, padded)
        12, 0, 7, 0, 0, 0, 0, 0, 0x3d, 0, 0, 0,  // FLAGS {none, mask 0x3d}
        8, 0, 8, 0, 0, 0, 0, 0,  // TIMEOUT 0
        8, 0, 9, 0, 128, 0, 0, 0,  // NETMASK = prefix length 128
      ]
    XCTAssertEqual(bytes, expected)
  }

  func testNewDestinationTunnelGUE() {
    let attributes = DestinationAttributes(
      forwarding: .tunnel, weight: 5, tunnel: TunnelSettings(type: .gue, port: 6080, flags: .csum))
    let key = DestinationKey(address: IPAddress("10.0.1.5")!, port: 8080)
    let bytes = codec.encode(.addDestination(web, key, attributes), sequence: 1)
    let expected: [UInt8] =
      header(length: 164, command: 5) + [48, 0, 1, 0] + v4ServiceKey + [96, 0, 2, 0] + [
        20, 0, 1, 0, 10, 0, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // ADDR 10.0.1.5
        6, 0, 2, 0, 0x1f, 0x90, 0, 0,  // PORT 8080 (be16)
        6, 0, 11, 0, 2, 0, 0, 0,  // ADDR_FAMILY AF_INET
        8, 0, 3, 0, 2, 0, 0, 0,  // FWD_METHOD tunnel
        8, 0, 4, 0, 5, 0, 0, 0,  // WEIGHT 5
        5, 0, 13, 0, 1, 0, 0, 0,  // TUN_TYPE gue (u8, padded)
        6, 0, 14, 0, 0x17, 0xc0, 0, 0,  // TUN_PORT 6080 (be16)
        6, 0, 15, 0, 1, 0, 0, 0,  // TUN_FLAGS csum
        8, 0, 5, 0, 0, 0, 0, 0,  // U_THRESH 0
        8, 0, 6, 0, 0, 0, 0, 0,  // L_THRESH 0
      ]
    XCTAssertEqual(bytes, expected)
  }

  func testSetConfigTimeouts() {
    let bytes = codec.setTimeouts(IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300), sequence: 1)
    let expected: [UInt8] =
      header(length: 44, command: 12) + [
        8, 0, 4, 0, 0x84, 0x03, 0, 0,  // TIMEOUT_TCP 900
        8, 0, 5, 0, 120, 0, 0, 0,  // TIMEOUT_TCP_FIN 120
        8, 0, 6, 0, 0x2c, 0x01, 0, 0,  // TIMEOUT_UDP 300
      ]
    XCTAssertEqual(bytes, expected)
  }

  func testDestinationDumpRequestHasDumpFlagAndNoAck() {
    let bytes = codec.destinationDump(web, sequence: 1)
    XCTAssertEqual(Array(bytes[6..<8]), [0x01, 0x03])  // NLM_F_REQUEST | NLM_F_DUMP
    XCTAssertEqual(bytes[16], 8)  // IPVS_CMD_GET_DEST
  }

  /// A reply the kernel would send for one destination, decoded back (the reverse direction).
  func testDecodeDestinationReplyWithStats64() {
    var m = NetlinkMessage.generic(family: 0x1c, flags: 0, sequence: 9, portID: 0, command: 5, version: 1)
    m.nest(IPVSAttr.dest) { d in
      d.put(IPVSAttr.destAddr, payload: IPAddress("2001:db8::5")!.kernelBytes)
      d.put(IPVSAttr.destPort, be16: 443)
      d.put(IPVSAttr.destFwd, u32: 3)
      d.put(IPVSAttr.destWeight, u32: 7)
      d.put(IPVSAttr.destActive, u32: 11)
      d.put(IPVSAttr.destInactive, u32: 12)
      d.put(IPVSAttr.destPersist, u32: 13)
      d.put(IPVSAttr.destAF, u16: 10)
      d.nest(IPVSAttr.destStats64) { s in
        s.put(1, payload: littleEndianBytes(UInt64(1) << 40))
        s.put(4, payload: littleEndianBytes(UInt64(123_456_789_012)))
      }
    }
    let messages = NetlinkReply.split(m.bytes[...])
    XCTAssertEqual(messages.count, 1)
    let decoded = messages[0].attributes.nested(IPVSAttr.dest).flatMap {
      IPVSMessageCodec.decodeDestination($0, serviceFamily: .inet6)
    }
    XCTAssertEqual(decoded?.key, DestinationKey(address: IPAddress("2001:db8::5")!, port: 443))
    XCTAssertEqual(decoded?.attributes.forwarding, .directRoute)
    XCTAssertEqual(decoded?.attributes.weight, 7)
    XCTAssertEqual(decoded?.activeConnections, 11)
    XCTAssertEqual(decoded?.inactiveConnections, 12)
    XCTAssertEqual(decoded?.persistentConnections, 13)
    XCTAssertEqual(decoded?.stats.connections, 1 << 40)
    XCTAssertEqual(decoded?.stats.inBytes, 123_456_789_012)
  }

  /// Kernels before 4.1 send only the legacy stats: 32-bit counters, 64-bit byte counts. A
  /// repeated attribute counts once, the last one, as ever.
  func testDecodeLegacyStatsAndRepeatedAttribute() {
    var m = NetlinkMessage.generic(family: 0x1c, flags: 0, sequence: 9, portID: 0, command: 5, version: 1)
    m.nest(IPVSAttr.dest) { d in
      d.put(IPVSAttr.destAddr, payload: IPAddress("192.0.2.5")!.kernelBytes)
      d.put(IPVSAttr.destPort, be16: 80)
      d.put(IPVSAttr.destWeight, u32: 1)
      d.put(IPVSAttr.destWeight, u32: 9)
      d.nest(IPVSAttr.destStats) { s in
        s.put(1, u32: 70_000)
        s.put(3, u32: 5)
        s.put(5, payload: littleEndianBytes(UInt64(1) << 33))
        s.put(10, u32: 42)
      }
    }
    let decoded = NetlinkReply.split(m.bytes[...]).first?.attributes.nested(IPVSAttr.dest).flatMap {
      IPVSMessageCodec.decodeDestination($0, serviceFamily: .inet)
    }
    XCTAssertEqual(decoded?.attributes.weight, 9)
    XCTAssertEqual(decoded?.stats.connections, 70_000)
    XCTAssertEqual(decoded?.stats.outPackets, 5)
    XCTAssertEqual(decoded?.stats.outBytes, 1 << 33)
    XCTAssertEqual(decoded?.stats.outByteRate, 42)
    XCTAssertEqual(decoded?.stats.inBytes, 0)
  }

  func testErrorReplyCarriesErrnoAndSequence() {
    // nlmsgerr: error -2 (ENOENT), then the original header (capped ack) with seq 77.
    let reply: [UInt8] =
      [36, 0, 0, 0, 2, 0, 0, 1, 77, 0, 0, 0, 0, 0, 0, 0] + [0xfe, 0xff, 0xff, 0xff]
      + [20, 0, 0, 0, 0x1c, 0, 5, 0, 77, 0, 0, 0, 0x34, 0x12, 0, 0]
    let m = NetlinkReply.split(reply[...])
    XCTAssertEqual(m.first?.errorCode, 2)
    XCTAssertEqual(m.first?.erroredSequence, 77)
  }
}
