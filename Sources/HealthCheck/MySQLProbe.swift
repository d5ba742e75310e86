import NIOCore

/// MYSQL_CHECK on an event loop: `MySQLConversation` over one connection, all within
/// `connectTimeout`.
struct MySQLProbe: Probe {
  let check: MySQLCheck

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    ConversationProbe(template: check, target: check.target, timeout: check.connectTimeout).run(on: loop)
  }
}
