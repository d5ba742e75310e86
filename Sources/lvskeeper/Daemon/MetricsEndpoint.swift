import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// Serves `GET /metrics` in the Prometheus text format from one registry.
///
/// Invariant: it only reads the registry; metrics are recorded through swift-metrics, which the
/// daemon bootstraps with a `PrometheusMetricsFactory` over the same registry.
final class MetricsEndpoint: Sendable {
  private let channel: any Channel

  private init(channel: any Channel) { self.channel = channel }

  var boundAddress: SocketAddress? { channel.localAddress }

  static func start(host: String, port: Int, registry: PrometheusCollectorRegistry, group: any EventLoopGroup)
    async throws -> MetricsEndpoint
  {
    let channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline().flatMap {
          channel.pipeline.addHandler(MetricsHTTPHandler(registry: registry))
        }
      }
      .bind(host: host, port: port)
      .get()
    return MetricsEndpoint(channel: channel)
  }

  func close() async { try? await channel.close() }
}

private final class MetricsHTTPHandler: ChannelInboundHandler, Sendable {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let registry: PrometheusCollectorRegistry

  init(registry: PrometheusCollectorRegistry) { self.registry = registry }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .head(let request) = unwrapInboundIn(data) else { return }
    let found = request.method == .GET && (request.uri == "/metrics" || request.uri.hasPrefix("/metrics?"))
    let body = found ? registry.emitToBuffer() : Array("not found; try /metrics\n".utf8)
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4" : "text/plain")
    headers.add(name: "Content-Length", value: String(body.count))
    headers.add(name: "Connection", value: "close")
    let head = HTTPResponseHead(version: request.version, status: found ? .ok : .notFound, headers: headers)
    context.write(wrapOutboundOut(.head(head)), promise: nil)
    context.write(
      wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
      channel.close(promise: nil)
    }
  }
}
