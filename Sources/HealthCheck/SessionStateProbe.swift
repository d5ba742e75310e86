import NIOCore

/// BFD_CHECK: the real server is up exactly while the named BFD session is up for its trackers
/// (keepalived's check_bfd.c follows the session's Up/Down events). The session lives in another
/// part of the daemon; the monitor reads it through `sessionUp`, polled at the checker's
/// delay_loop (the mapping sets 100 ms, keepalived has no delay_loop for BFD_CHECK).
public struct BFDSessionCheck: Hashable, Sendable {
  public var name: String

  public init(name: String) { self.name = name }
}

struct SessionStateProbe: Probe {
  let check: BFDSessionCheck
  let sessionUp: @Sendable (String) -> Bool

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    loop.makeSucceededFuture(
      sessionUp(check.name) ? .up(weight: nil) : .down(reason: "BFD session \(check.name) is not up"))
  }
}
