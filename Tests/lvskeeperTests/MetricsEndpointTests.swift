import Foundation
import NIOCore
import NIOPosix
import Prometheus
import XCTest

@testable import lvskeeper

/// `MetricsEndpoint` served on loopback and read with a plain TCP client.
final class MetricsEndpointTests: XCTestCase {
  func testServesTheRegistryAtMetricsAndNothingElse() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let registry = PrometheusCollectorRegistry()
    let reloads = registry.makeCounter(
      descriptor: MetricNameDescriptor(
        namespace: "lvskeeper", metricName: "config_reloads", unitName: "total",
        helpText: "Reloads by result."),
      labels: [("result", "ok")])
    reloads.increment()
    reloads.increment()
    let operations = registry.makeCounter(
      descriptor: MetricNameDescriptor(
        namespace: "lvskeeper", metricName: "ipvs_errors", unitName: "total",
        helpText: "Failed IPVS operations."))
    operations.increment(by: Int64(5))

    let endpoint = try await MetricsEndpoint.start(
      host: "127.0.0.1", port: 0, registry: registry, group: group)
    let port = try XCTUnwrap(endpoint.boundAddress?.port)
    XCTAssertNotEqual(port, 0)

    let metrics = try await Self.get(port: port, path: "/metrics")
    XCTAssertEqual(metrics.status, 200)
    XCTAssertTrue(metrics.head.contains("Content-Type: text/plain; version=0.0.4"), metrics.head)
    let lines = metrics.body.split(separator: "\n").map(String.init)
    XCTAssertTrue(lines.contains("# HELP lvskeeper_config_reloads_total Reloads by result."), metrics.body)
    XCTAssertTrue(lines.contains("# TYPE lvskeeper_config_reloads_total counter"), metrics.body)
    XCTAssertTrue(lines.contains("lvskeeper_config_reloads_total{result=\"ok\"} 2"), metrics.body)
    XCTAssertTrue(lines.contains("lvskeeper_ipvs_errors_total 5"), metrics.body)

    // The endpoint reads the registry at each request: later increments show.
    reloads.increment()
    let again = try await Self.get(port: port, path: "/metrics?name=x")
    XCTAssertEqual(again.status, 200)
    XCTAssertTrue(again.body.contains("lvskeeper_config_reloads_total{result=\"ok\"} 3\n"), again.body)

    for path in ["/other", "/", "/metricsx"] {
      let other = try await Self.get(port: port, path: path)
      XCTAssertEqual(other.status, 404, path)
      XCTAssertFalse(other.body.contains("lvskeeper_"), path)
    }

    await endpoint.close()
    try await group.shutdownGracefully()
  }

  /// The blocking client runs off the cooperative pool.
  static func get(port: Int, path: String) async throws -> (status: Int, head: String, body: String) {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        do {
          continuation.resume(returning: try TestSockets.httpGet(port: port, path: path))
        } catch {
          continuation.resume(throwing: error)
        }
      }
    }
  }
}
