import Foundation
import IPVSSync
import KeeperConfig
import XCTest

@testable import lvskeeper

/// `lvs_sloppy_tcp`, `lvs_sloppy_sctp`, `lvs_conn_reuse_mode` become the net.ipv4.vs sysctls the
/// daemon writes (unset ones are never written). The write and read-back against a real IPVS
/// kernel is IPVSKernelTests' "sloppy_tcp, sloppy_sctp, conn_reuse_mode written and read back"
/// (vm/kernel-tests.sh); here the mapping, and `IPVSSysctls` on a directory of the same layout.
final class IPVSSysctlMappingTests: XCTestCase {
  func testGlobalDefsChooseTheSysctlsToWrite() throws {
    let none = try ConfigLoader(configID: "t", interfaces: ["lo"]).load(
      text: "global_defs {\n}\n", fileName: "t.conf")
    XCTAssertTrue(Daemon.wantedSysctls(none.configuration.globalDefs).isEmpty)
    let text = "global_defs {\n lvs_sloppy_tcp\n lvs_sloppy_sctp off\n lvs_conn_reuse_mode 2\n}\n"
    let loaded = try ConfigLoader(configID: "t", interfaces: ["lo"]).load(text: text, fileName: "t.conf")
    let wanted = Daemon.wantedSysctls(loaded.configuration.globalDefs)
    XCTAssertEqual(wanted.map(\.name), ["sloppy_tcp", "sloppy_sctp", "conn_reuse_mode"])
    XCTAssertEqual(wanted.map(\.value), [1, 0, 2])
  }

  func testWriteAndReadUseTheKernelsFileFormat() throws {
    let directory = NSTemporaryDirectory() + "lvsk-sysctl-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for name in IPVSSysctls.names {
      XCTAssertTrue(
        FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data("0\n".utf8)))
    }
    try IPVSSysctls.write("sloppy_tcp", 1, directory: directory)
    XCTAssertEqual(try String(contentsOfFile: "\(directory)/sloppy_tcp", encoding: .utf8), "1\n")
    XCTAssertEqual(
      IPVSSysctls.read(directory: directory), ["sloppy_tcp": 1, "sloppy_sctp": 0, "conn_reuse_mode": 0])
    XCTAssertThrowsError(try IPVSSysctls.write("sloppy_tcp", 1, directory: directory + "/missing"))
  }
}
