import NIOCore

#if canImport(Glibc)
  import Glibc
#endif

/// The bounds of one request/response listener (the control socket, the metrics endpoint): how
/// many connections it keeps and how long a client may take.
///
/// Invariant: a listener never holds more than `connectionCap` connections, and a connection that
/// has not delivered its whole request is closed at `idleTimeout` of silence or at
/// `requestDeadline` after it was accepted, whichever comes first. So idle or trickling clients
/// cannot pin descriptors that the probes need, nor keep `status` out.
struct ListenerLimits: Sendable {
  var connectionCap: Int
  /// No byte for this long before the request is complete: closed.
  var idleTimeout: TimeAmount = .seconds(3)
  /// The whole request must have arrived this long after accept.
  var requestDeadline: TimeAmount = .seconds(5)
  /// Once the answer starts, the client has this long to take it.
  var answerDeadline: TimeAmount = .seconds(10)

  /// The cap for each listener: 32, or a sixteenth of the open-file limit when that is smaller,
  /// so the two listeners together never hold more than an eighth of the descriptors (the rest
  /// stay for probes, VRRP sockets and scripts).
  static func standard() -> ListenerLimits {
    var limit = rlimit()
    let descriptors =
      getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(clamping: limit.rlim_cur) : 1024
    return ListenerLimits(connectionCap: max(2, min(32, descriptors / 16)))
  }
}

/// The open connections of one listener, oldest first. Confined to the listener's event loop
/// (the listener and its connections share one loop).
///
/// Invariant: `open.count <= cap`. At the cap a new connection takes the place of the oldest one
/// still waiting for its request (a client that is answered, or about to be, is never the one
/// dropped); when every slot is being answered, the new connection is closed at once.
final class ConnectionTable {
  private let cap: Int
  private var open: [(channel: any Channel, answering: Bool)] = []

  init(cap: Int) { self.cap = cap }

  /// True when `channel` may stay; may close an older waiting connection to make room.
  func admit(_ channel: any Channel) -> Bool {
    if open.count >= cap {
      guard let oldest = open.firstIndex(where: { !$0.answering }) else { return false }
      let evicted = open.remove(at: oldest).channel
      evicted.close(promise: nil)
    }
    open.append((channel, false))
    return true
  }

  func answering(_ channel: any Channel) {
    if let index = open.firstIndex(where: { $0.channel === channel }) { open[index].answering = true }
  }

  func closed(_ channel: any Channel) {
    open.removeAll { $0.channel === channel }
  }

  var count: Int { open.count }
}

extension ChannelPipeline.SynchronousOperations {
  /// Puts `channel` under `limits`: admitted into `table` (or closed at once, returning false),
  /// and timed while its request arrives. Call first in a child channel initializer, on the
  /// listener's loop.
  func addListenerLimits(
    _ limits: ListenerLimits, table: NIOLoopBoundBox<ConnectionTable>, channel: any Channel
  ) throws -> Bool {
    guard table.value.admit(channel) else {
      channel.close(promise: nil)
      return false
    }
    channel.closeFuture.whenComplete { _ in table.value.closed(channel) }
    try addHandler(RequestTimer(limits: limits, table: table))
    return true
  }
}

/// Sent outbound (`triggerUserOutboundEvent`) by a listener's handler once it holds a whole
/// request: the request timers stop, however long the answer then takes (a reload).
struct RequestComplete: Sendable {}

/// Closes a connection that is silent for `idleTimeout` or whose request is not complete by
/// `requestDeadline` ("complete": the handler behind it sent `RequestComplete`); once the answer
/// starts, the client has `answerDeadline` to take it. Sits first in the pipeline, so it sees the
/// raw bytes whatever the protocol.
private final class RequestTimer: ChannelDuplexHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let limits: ListenerLimits
  private let table: NIOLoopBoundBox<ConnectionTable>
  private var idle: Scheduled<Void>?
  private var deadline: Scheduled<Void>?
  private var answering = false
  private var writing = false

  init(limits: ListenerLimits, table: NIOLoopBoundBox<ConnectionTable>) {
    self.limits = limits
    self.table = table
  }

  func handlerAdded(context: ChannelHandlerContext) {
    let channel = context.channel
    deadline = context.eventLoop.scheduleTask(in: limits.requestDeadline) { channel.close(promise: nil) }
    armIdle(context)
  }

  func handlerRemoved(context: ChannelHandlerContext) { cancelTimers() }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if !answering { armIdle(context) }
    context.fireChannelRead(data)
  }

  func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?)
  {
    guard event is RequestComplete else {
      context.triggerUserOutboundEvent(event, promise: promise)
      return
    }
    requestComplete(context)
    promise?.succeed(())
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    requestComplete(context)
    if !writing {
      writing = true
      let channel = context.channel
      deadline = context.eventLoop.scheduleTask(in: limits.answerDeadline) { channel.close(promise: nil) }
    }
    context.write(data, promise: promise)
  }

  private func requestComplete(_ context: ChannelHandlerContext) {
    guard !answering else { return }
    answering = true
    cancelTimers()
    table.value.answering(context.channel)
  }

  func channelInactive(context: ChannelHandlerContext) {
    cancelTimers()
    context.fireChannelInactive()
  }

  private func armIdle(_ context: ChannelHandlerContext) {
    idle?.cancel()
    let channel = context.channel
    idle = context.eventLoop.scheduleTask(in: limits.idleTimeout) { channel.close(promise: nil) }
  }

  private func cancelTimers() {
    idle?.cancel()
    deadline?.cancel()
    idle = nil
    deadline = nil
  }
}
