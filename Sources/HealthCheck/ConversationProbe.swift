import NIOCore

/// Runs a `ConversationTemplate`'s probe on an event loop: each leg over its own connection from
/// `ProbeSocket.exchange` (whose deadline bounds the whole leg), the legs in turn, stopping at the
/// first that is down. The stand-in for checkers the check engine does not run yet.
struct ConversationProbe: Probe {
  let template: any ConversationTemplate
  let target: CheckTarget
  let timeout: Duration

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    runLeg(0, on: loop)
  }

  private func runLeg(_ leg: Int, on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    let conversation = template.conversation(leg: leg)
    let bound = ConversationBox(conversation)
    return ProbeSocket.exchange(on: loop, target: target, timeout: timeout) { pipeline, promise in
      try pipeline.addHandler(ConversationHandler(box: bound, promise: promise))
    }.recover { .down(reason: ProbeSocket.reason($0)) }
      .flatMap { outcome in
        guard outcome.isUp, leg + 1 < template.legs else { return loop.makeSucceededFuture(outcome) }
        return runLeg(leg + 1, on: loop)
      }
  }
}

/// Carries a conversation (not Sendable: it is mutable state) into the channel initializer, which
/// runs once on the channel's loop.
private final class ConversationBox: @unchecked Sendable {
  var conversation: any ProbeConversation
  init(_ conversation: any ProbeConversation) { self.conversation = conversation }
}

/// Feeds a channel's bytes to a conversation and writes what it answers.
private final class ConversationHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let box: ConversationBox
  private let promise: EventLoopPromise<ProbeOutcome>
  private var done = false
  private var output: [UInt8] = []

  init(box: ConversationBox, promise: EventLoopPromise<ProbeOutcome>) {
    self.box = box
    self.promise = promise
  }

  func channelActive(context: ChannelHandlerContext) {
    output.removeAll(keepingCapacity: true)
    let step = box.conversation.connected(output: &output)
    apply(step, context: context)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !done else { return }
    let incoming = unwrapInboundIn(data)
    output.removeAll(keepingCapacity: true)
    let step = incoming.withUnsafeReadableBytes { box.conversation.received($0, output: &output) }
    apply(step, context: context)
  }

  private func apply(_ step: ConversationStep, context: ChannelHandlerContext) {
    switch step {
    case .proceed:
      guard !output.isEmpty else { return }
      let promise = self.promise
      context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: output)))
        .whenFailure { promise.fail($0) }
    case .finished(let outcome):
      done = true
      guard !output.isEmpty else { return promise.succeed(outcome) }
      // The parting bytes (COM_QUIT, QUIT) go out before the exchange closes the channel.
      let promise = self.promise
      context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: output)))
        .whenComplete { _ in promise.succeed(outcome) }
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if !done {
      done = true
      promise.fail(error)
    }
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    if !done {
      done = true
      promise.succeed(box.conversation.closed())
    }
    context.fireChannelInactive()
  }
}
