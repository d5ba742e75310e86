import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
  import Glibc
#endif

/// The director as a swift-service-lifecycle service: it runs until the group shuts down
/// gracefully (SIGTERM, SIGINT, `lvskeeper stop`), then stops the daemon.
///
/// Invariant: from the moment shutdown begins, `ShutdownBound` is armed, so the process ends
/// within `hardBound` even if the stop itself never returns.
final class DirectorService: Service, @unchecked Sendable {  // `clean` is guarded by `lock`
  private let daemon: Daemon
  private let bound: ShutdownBound
  private let hardBound: Duration
  private let lock = NSLock()
  private var clean = true

  init(daemon: Daemon, bound: ShutdownBound, hardBound: Duration) {
    self.daemon = daemon
    self.bound = bound
    self.hardBound = hardBound
  }

  /// False when some part did not stop in time.
  var finishedCleanly: Bool { lock.withLock { clean } }

  func run() async {
    let (bound, hardBound) = (self.bound, self.hardBound)
    // Returns when shutdown begins; throws when the group cancels instead: stop either way.
    try? await withGracefulShutdownHandler {
      try await gracefulShutdown()
    } onGracefulShutdown: {
      bound.arm(after: hardBound)
    }
    bound.arm(after: hardBound)
    let stopped = await daemon.stop()
    lock.withLock { clean = stopped }
  }
}

/// A listener (control socket, metrics endpoint) that serves until shutdown, then closes.
struct ListenerService: Service {
  let name: String
  let close: @Sendable () async -> Void

  func run() async {
    try? await gracefulShutdown()
    await close()
  }
}

/// The daemon's signals, trapped from before the parts start until the process ends, so none is
/// lost in a window (a SIGTERM during start still stops cleanly, a SIGHUP never kills):
/// SIGHUP reloads, as keepalived does; the first SIGTERM or SIGINT shuts the group down
/// gracefully; a second one during a stop that hangs exits at once (the operator insists).
struct SignalService: Service {
  let signals: UnixSignalsSequence
  let daemon: Daemon
  let group: ServiceGroupReference
  let logger: Logger

  func run() async {
    var stopping = false
    for await signal in signals.cancelOnGracefulShutdown() {
      switch signal {
      case .sighup:
        // Not awaited: a SIGHUP during this reload must be seen (and refused) meanwhile.
        Task { [daemon] in _ = await daemon.reload() }
      default:
        if stopping {
          let stuck = daemon.pendingStop.names
          logger.critical(
            "\(signal) again while stopping: exiting now; still stopping: \(stuck.isEmpty ? "(none begun yet)" : stuck.joined(separator: ", "))"
          )
          _exit(ExitStatus.stopTimedOut)
        }
        stopping = true
        logger.notice("\(signal): stopping")
        await group.shutDown()
      }
    }
  }
}

/// The service group, known to the services that end it (created after them).
final class ServiceGroupReference: @unchecked Sendable {  // `group` is guarded by `lock`
  private let lock = NSLock()
  private var group: ServiceGroup?
  private var requested = false

  func set(_ group: ServiceGroup) {
    let early = lock.withLock {
      self.group = group
      return requested
    }
    if early { Task { await group.triggerGracefulShutdown() } }
  }

  func shutDown() async {
    let group = lock.withLock {
      requested = true
      return self.group
    }
    await group?.triggerGracefulShutdown()
  }
}

/// `lvskeeper stop` over the control socket: returning from `run` shuts the group down gracefully.
struct StopRequestService: Service {
  let requests: AsyncStream<Void>
  let logger: Logger

  func run() async {
    for await _ in requests.cancelOnGracefulShutdown() {
      logger.notice("stop requested on the control socket")
      return
    }
  }
}
