import Foundation
import HealthCheck
import IPVSSync
import KeeperConfig
import KeeperCore
import XCTest

@testable import lvskeeper

/// `ServiceMappingStream`: virtual servers mapped while the configuration loads give exactly the
/// mapping of the whole model, in the same order, whatever the file's order of blocks.
final class ServiceMappingStreamTests: XCTestCase {
  private var directory = ""

  override func setUpWithError() throws {
    directory = NSTemporaryDirectory() + "mapping-stream-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// The mapping a streaming load gives, the model it leaves, and the whole-model mapping of a
  /// plain load of the same file.
  private func both(_ path: String) throws -> (
    streamed: ServiceMapping, model: KeeperConfiguration, whole: ServiceMapping
  ) {
    let loader = ConfigLoader(configID: "test", interfaces: ["lo"])
    let stream = ServiceMappingStream()
    let loaded = try loader.load(path: path, sink: stream)
    let whole = try ServiceMapping(try loader.load(path: path).configuration)
    return (try stream.finish(loaded.configuration), loaded.configuration, whole)
  }

  private func write(_ text: String) throws -> String {
    let path = directory + "/keepalived.conf"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  private func assertSame(
    _ a: ServiceMapping, _ b: ServiceMapping, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(a.ipvs, b.ipvs, file: file, line: line)
    XCTAssertEqual(a.monitored, b.monitored, file: file, line: line)
    func table(_ mapping: ServiceMapping) -> [HealthCheck.RealServerID: [IPVSSync.RealServerID]] {
      Dictionary(mapping.destinations.all.map { ($0.id, $0.destinations) }, uniquingKeysWith: { $0 + $1 })
    }
    XCTAssertEqual(table(a), table(b), file: file, line: line)
    XCTAssertEqual(Set(a.quorumScripts.keys), Set(b.quorumScripts.keys), file: file, line: line)
    XCTAssertEqual(a.omega.map(\.services), b.omega.map(\.services), file: file, line: line)
    XCTAssertEqual(a.omega.map(\.servers), b.omega.map(\.servers), file: file, line: line)
    XCTAssertEqual(a.startupScript?.script, b.startupScript?.script, file: file, line: line)
  }

  private static func virtualServer(_ address: String, _ head: String = "", servers: Int = 2, checker: String)
    -> String
  {
    var text = "virtual_server \(address) 80 {\n    delay_loop 5\n    lb_algo rr\n    lb_kind NAT\n\(head)"
    for index in 1...servers {
      text += "    real_server 10.1.0.\(index) 80 {\n        weight \(index)\n        \(checker)\n    }\n"
    }
    return text + "}\n"
  }

  func testEveryShippedConfigurationMapsAsTheWholeModelDoes() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: ShippedConfigs.directory)
      .filter { $0.hasSuffix(".conf") }.sorted()
    XCTAssertFalse(names.isEmpty)
    for name in names {
      let path = ShippedConfigs.directory + "/" + name
      guard (try? ConfigLoader(configID: "test", interfaces: ["lo"]).load(path: path)) != nil else {
        continue
      }
      let (streamed, model, whole) = try both(path)
      assertSame(streamed, whole)
      // Only virtual servers with `announce` stay in the model.
      XCTAssertTrue(model.virtualServers.allSatisfy(\.announce), name)
    }
  }

  func testTheModelKeepsOnlyWhatTheStreamCouldNotTake() throws {
    // Three servers stream; the fourth names a group defined after it, so it and the fifth stay in
    // the model and are mapped at the end, in file order.
    let path = try write(
      "global_defs {\n    router_id test\n}\n"
        + Self.virtualServer("192.0.2.1", checker: "TCP_CHECK {\n connect_timeout 2\n }")
        + Self.virtualServer("192.0.2.2", checker: "TCP_CHECK {\n connect_timeout 2\n }")
        + Self.virtualServer(
          "192.0.2.3", "    announce\n", checker: "HTTP_GET {\n url {\n path /\n status_code 200\n }\n }")
        + "virtual_server group late {\n    delay_loop 5\n    lb_algo rr\n    lb_kind NAT\n"
        + "    real_server 10.2.0.1 80 {\n        TCP_CHECK {\n        }\n    }\n}\n"
        + Self.virtualServer("192.0.2.5", checker: "TCP_CHECK {\n }")
        + "virtual_server_group late {\n    192.0.2.40-42 80\n}\n")
    let (streamed, model, whole) = try both(path)
    assertSame(streamed, whole)
    XCTAssertEqual(model.virtualServers.map(\.key.kind), [.address, .group, .address])
    XCTAssertTrue(model.virtualServers[0].announce)
    // 3 + 3 group members + 1 kernel services, in file order.
    XCTAssertEqual(streamed.ipvs.services.count, 7)
    XCTAssertEqual(streamed.monitored.count, 2 + 2 + 2 + 1 + 2)
  }

  func testAFileCheckStopsTheStreamUntilItsTrackFileIsKnown() throws {
    let flag = directory + "/weight"
    try "0\n".write(toFile: flag, atomically: true, encoding: .utf8)
    let path = try write(
      Self.virtualServer("192.0.2.1", checker: "TCP_CHECK {\n }")
        + Self.virtualServer("192.0.2.2", checker: "FILE_CHECK {\n track_file flag\n }")
        + Self.virtualServer("192.0.2.3", checker: "TCP_CHECK {\n }")
        + "track_file flag {\n    file \(flag)\n    weight 3\n}\n")
    let (streamed, model, whole) = try both(path)
    assertSame(streamed, whole)
    XCTAssertEqual(model.virtualServers.count, 2)
    guard case .file(let check) = streamed.monitored[2].checkers.first?.spec else {
      return XCTFail("no FILE_CHECK in \(streamed.monitored[2])")
    }
    XCTAssertEqual(check.path, flag)
    XCTAssertEqual(check.weight, 3)
  }

  func testGlobalDefsAfterAStreamedServerLoadsAgainWithTheFinalDefaults() throws {
    // script_user in a later global_defs changes who notify_up runs as: the streamed mapping
    // built before it is discarded and the file read again.
    let path = try write(
      Self.virtualServer("192.0.2.1", checker: "TCP_CHECK {\n }\n notify_up /bin/true")
        + "global_defs {\n    script_user nobody\n    enable_script_security\n}\n"
        + Self.virtualServer("192.0.2.2", checker: "TCP_CHECK {\n }"))
    let (streamed, model, whole) = try both(path)
    assertSame(streamed, whole)
    XCTAssertEqual(model.virtualServers.count, 2)
    XCTAssertEqual(streamed.monitored.first?.notifyUp?.identity.userName, "nobody")
  }

  func testAMappingErrorIsThrownAtItsServerAsTheWholeModelThrowsIt() throws {
    // SEQUENCE { INTEGER 5 }: the PEM shape the loader checks, but no RSA key, which only the
    // mapping finds. The stream keeps that server and the next in the model.
    try "-----BEGIN RSA PUBLIC KEY-----\nMAMCAQU=\n-----END RSA PUBLIC KEY-----\n".write(
      toFile: directory + "/server.pem", atomically: true, encoding: .utf8)
    let path = try write(
      Self.virtualServer("192.0.2.1", checker: "TCP_CHECK {\n }")
        + Self.virtualServer(
          "192.0.2.2", checker: "MYSQL_CHECK {\n user monitor\n server_public_key server.pem\n }")
        + Self.virtualServer("192.0.2.3", checker: "TCP_CHECK {\n }"))
    let loader = ConfigLoader(configID: "test", interfaces: ["lo"])
    let stream = ServiceMappingStream()
    let loaded = try loader.load(path: path, sink: stream)
    XCTAssertEqual(loaded.configuration.virtualServers.count, 2)
    let whole = try loader.load(path: path).configuration
    func message(_ map: () throws -> ServiceMapping) -> String {
      do {
        _ = try map()
        return "no error"
      } catch {
        return "\(error)"
      }
    }
    let streamed = message { try stream.finish(loaded.configuration) }
    XCTAssertTrue(streamed.contains("not an RSA public key"), streamed)
    XCTAssertEqual(streamed, message { try ServiceMapping(whole) })
  }
}
