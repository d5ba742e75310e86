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

  /// Listens on HOST:PORT. The listener and its connections run on one loop of `group`, where
  /// their `ConnectionTable` lives. `refresh` runs before each scrape (counters kept elsewhere).
  static func start(
    host: String, port: Int, registry: PrometheusCollectorRegistry, group: any EventLoopGroup,
    limits: ListenerLimits = .standard(), refresh: @escaping @Sendable () async -> Void = {}
  ) async throws -> MetricsEndpoint {
    let loop = group.next()
    let table = NIOLoopBoundBox.makeBoxSendingValue(
      ConnectionTable(cap: limits.connectionCap), eventLoop: loop)
    let channel = try await ServerBootstrap(group: loop)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let pipeline = channel.pipeline.syncOperations
          if try pipeline.addListenerLimits(limits, table: table, channel: channel) {
            try pipeline.configureHTTPServerPipeline()
            try pipeline.addHandler(MetricsHTTPHandler(registry: registry, refresh: refresh))
          }
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

  private static let refreshLimit: Duration = .seconds(1)
  private let registry: PrometheusCollectorRegistry
  private let refresh: @Sendable () async -> Void

  init(registry: PrometheusCollectorRegistry, refresh: @escaping @Sendable () async -> Void) {
    self.registry = registry
    self.refresh = refresh
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .head(let request) = unwrapInboundIn(data) else { return }
    context.triggerUserOutboundEvent(RequestComplete(), promise: nil)
    let found = request.method == .GET && (request.uri == "/metrics" || request.uri.hasPrefix("/metrics?"))
    guard found else {
      respond(context: context, request: request, found: false, body: Array("not found; try /metrics\n".utf8))
      return
    }
    let (registry, refresh) = (self.registry, self.refresh)
    let promise = context.eventLoop.makePromise(of: [UInt8].self)
    promise.completeWithTask {
      // Bounded: a busy daemon answers with the counters as they stood, not never.
      _ = await Deadline.run(Self.refreshLimit, refresh)
      return registry.emitToBuffer()
    }
    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    promise.futureResult.whenSuccess { body in
      let (this, context) = loopBound.value
      this.respond(context: context, request: request, found: true, body: body)
    }
  }

  private func respond(context: ChannelHandlerContext, request: HTTPRequestHead, found: Bool, body: [UInt8]) {
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
