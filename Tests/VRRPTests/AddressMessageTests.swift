import Foundation
import KeeperCore
import XCTest

@testable import VRRP

/// The rtnetlink address requests AddressOwner sends, byte for byte.
///
/// Expected bytes: what iproute2 6.1.0 sent for the same change, captured with
/// `ip netns exec NS strace -f -e trace=sendmsg -e write=3 -xx ip addr add|del …` on a veth (ifindex 8)
/// in a network namespace, where the kernel acknowledged each request with error 0. The captured
/// sequence number (0x6b0de8ea) is passed in so the whole message compares; the port id is 0 in both.
final class AddressMessageGoldenTests: XCTestCase {
  static let sequence: UInt32 = 0x6b0d_e8ea

  static func vip(
    _ text: String, _ prefix: UInt8, label: String? = nil, broadcast: String? = nil, scope: String? = nil
  ) -> VirtualAddressSpec {
    guard let address = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
    return VirtualAddressSpec(
      address: address, prefixLength: prefix, device: nil, label: label,
      broadcast: broadcast.flatMap(IPAddress.init),
      scope: scope)
  }

  static func bytes(add: Bool, _ vip: VirtualAddressSpec) -> [UInt8] {
    AddressOwner.message(
      type: add ? Netlink.newAddress : Netlink.deleteAddress,
      flags: add ? Netlink.create | Netlink.exclusive : 0, sequence: sequence, vip: vip, interfaceIndex: 8
    ).bytes
  }

  func testIPv4WithLabelBroadcastAndScope() {
    let vip = Self.vip("10.0.0.5", 24, label: "gv0:vip", broadcast: "10.0.0.255", scope: "link")
    // ip addr add 10.0.0.5/24 brd 10.0.0.255 label gv0:vip scope link dev gv0
    let add: [UInt8] = [
      0x3c, 0x00, 0x00, 0x00, 0x14, 0x00, 0x05, 0x06, 0xea, 0xe8, 0x0d, 0x6b, 0x00, 0x00, 0x00, 0x00,
      0x02, 0x18, 0x00, 0xfd, 0x08, 0x00, 0x00, 0x00, 0x08, 0x00, 0x02, 0x00, 0x0a, 0x00, 0x00, 0x05,
      0x08, 0x00, 0x04, 0x00, 0x0a, 0x00, 0x00, 0xff, 0x0c, 0x00, 0x03, 0x00, 0x67, 0x76, 0x30, 0x3a,
      0x76, 0x69, 0x70, 0x00, 0x08, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x05,
    ]
    // ip addr del 10.0.0.5/24 brd 10.0.0.255 label gv0:vip scope link dev gv0
    let delete: [UInt8] = [
      0x3c, 0x00, 0x00, 0x00, 0x15, 0x00, 0x05, 0x00, 0xea, 0xe8, 0x0d, 0x6b, 0x00, 0x00, 0x00, 0x00,
      0x02, 0x18, 0x00, 0xfd, 0x08, 0x00, 0x00, 0x00, 0x08, 0x00, 0x02, 0x00, 0x0a, 0x00, 0x00, 0x05,
      0x08, 0x00, 0x04, 0x00, 0x0a, 0x00, 0x00, 0xff, 0x0c, 0x00, 0x03, 0x00, 0x67, 0x76, 0x30, 0x3a,
      0x76, 0x69, 0x70, 0x00, 0x08, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x05,
    ]
    XCTAssertEqual(Self.bytes(add: true, vip), add)
    XCTAssertEqual(Self.bytes(add: false, vip), delete)
  }

  func testIPv6IsAddedWithoutDuplicateAddressDetection() {
    let vip = Self.vip("2001:db8::5", 64)
    // ip addr add 2001:db8::5/64 dev gv0 nodad
    let add: [UInt8] = [
      0x40, 0x00, 0x00, 0x00, 0x14, 0x00, 0x05, 0x06, 0xea, 0xe8, 0x0d, 0x6b, 0x00, 0x00, 0x00, 0x00,
      0x0a, 0x40, 0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x20, 0x01, 0x0d, 0xb8,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x14, 0x00, 0x01, 0x00,
      0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    ]
    // ip addr del 2001:db8::5/64 dev gv0 nodad
    let delete: [UInt8] = [
      0x40, 0x00, 0x00, 0x00, 0x15, 0x00, 0x05, 0x00, 0xea, 0xe8, 0x0d, 0x6b, 0x00, 0x00, 0x00, 0x00,
      0x0a, 0x40, 0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x20, 0x01, 0x0d, 0xb8,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x14, 0x00, 0x01, 0x00,
      0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    ]
    XCTAssertEqual(Self.bytes(add: true, vip), add)
    XCTAssertEqual(Self.bytes(add: false, vip), delete)
  }
}

/// AddressOwner against the real kernel: a veth in a network namespace (needs root), read back with
/// `ip -o addr show`. The owner runs on a thread moved into the namespace with setns(2), which
/// switches the network namespace of that thread only.
final class AddressOwnerKernelTests: XCTestCase {
  var lab: NamespaceLab?

  override func tearDown() {
    lab?.tearDown()
    lab = nil
  }

  /// CLONE_NEWNET (linux/sched.h); Glibc's Swift module leaves setns(2) and its flags out.
  static let newNetworkNamespace: Int32 = 0x4000_0000

  static func setns(_ fd: Int32, _ type: Int32) -> Int32 {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else { return -1 }
    return unsafeBitCast(symbol, to: SetNS.self)(fd, type)
  }

  /// Runs `body` on a new thread whose network namespace is `namespace`.
  func inNamespace(_ namespace: String, _ body: @escaping @Sendable () throws -> Void) throws {
    let failure = LockedBox<(any Error)?>(nil)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      defer { done.signal() }
      let fd = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
      guard fd >= 0, Self.setns(fd, Self.newNetworkNamespace) == 0 else {
        failure.value = SystemCallError("setns \(namespace)")
        return
      }
      close(fd)
      do { try body() } catch { failure.value = error }
    }
    thread.start()
    done.wait()
    if let error = failure.value { throw error }
  }

  func testAddsAndRemovesIPv4AndIPv6OnAVeth() throws {
    let lab = try NamespaceLab(prefix: "lvskaddr", nodes: ["a"])
    self.lab = lab
    let ns = lab.namespace("a")
    let v4 = AddressMessageGoldenTests.vip("10.77.9.5", 24, label: "veth0:vip", broadcast: "10.77.9.255")
    let v6 = AddressMessageGoldenTests.vip("2001:db8:77::5", 64)
    let show = { try lab.sh("ip -n \(ns) -o addr show dev veth0") }
    let results = LockedBox<[Bool]>([])
    try inNamespace(ns) {
      let owner = try AddressOwner()
      results.value.append(try owner.add(v4, defaultDevice: "veth0"))
      results.value.append(try owner.add(v6, defaultDevice: "veth0"))
      results.value.append(try owner.add(v4, defaultDevice: "veth0"))  // already there: adopted
      results.value.append(owner.isPresent(v4, defaultDevice: "veth0"))
      results.value.append(owner.isPresent(v6, defaultDevice: "veth0"))
    }
    XCTAssertEqual(results.value, [true, true, false, true, true])
    let added = try show()
    XCTAssertTrue(added.contains("inet 10.77.9.5/24 brd 10.77.9.255 scope global veth0:vip"), added)
    XCTAssertTrue(added.contains("inet6 2001:db8:77::5/64 scope global nodad"), added)

    results.value = []
    try inNamespace(ns) {
      let owner = try AddressOwner()
      results.value.append(try owner.remove(v4, defaultDevice: "veth0"))
      results.value.append(try owner.remove(v6, defaultDevice: "veth0"))
      results.value.append(try owner.remove(v4, defaultDevice: "veth0"))  // already gone
      results.value.append(owner.isPresent(v4, defaultDevice: "veth0"))
    }
    XCTAssertEqual(results.value, [true, true, false, false])
    let removed = try show()
    XCTAssertFalse(removed.contains("10.77.9.5"), removed)
    XCTAssertFalse(removed.contains("2001:db8:77::5"), removed)
    XCTAssertTrue(removed.contains("inet 10.77.0.1/24"), "the node's own address stays: \(removed)")
  }
}

/// A value shared between a test and the thread it starts.
final class LockedBox<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: Value
  init(_ value: Value) { stored = value }
  var value: Value {
    get { lock.withLock { stored } }
    set { lock.withLock { stored = newValue } }
  }
}
