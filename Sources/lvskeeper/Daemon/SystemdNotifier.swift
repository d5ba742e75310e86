import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Speaks systemd's notify protocol (sd_notify(3)) on `$NOTIFY_SOCKET`.
///
/// Invariant: without `$NOTIFY_SOCKET` every call is a no-op, so the daemon runs the same with or
/// without systemd. Abstract socket names (leading `@`) are supported, as systemd uses them.
struct SystemdNotifier: Sendable {
  /// Where datagrams go; nil when not started by systemd.
  let socketPath: String?
  /// The watchdog period systemd expects pings within; nil when the watchdog is off.
  let watchdogInterval: Duration?

  init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    // WATCHDOG_PID, when set, must name this process (sd_watchdog_enabled(3)).
    let pidMatches = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
    if pidMatches, let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 {
      watchdogInterval = .microseconds(Int64(usec))
    } else {
      watchdogInterval = nil
    }
  }

  func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

  /// systemd ≥ 253 wants MONOTONIC_USEC with RELOADING=1 (Type=notify-reload); older ones ignore it.
  func reloading() {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    send("RELOADING=1\nMONOTONIC_USEC=\(usec)")
  }

  func stopping() { send("STOPPING=1") }
  func status(_ text: String) { send("STATUS=\(text)") }
  func watchdog() { send("WATCHDOG=1") }

  /// Sends one datagram; failures are ignored, as sd_notify's are: the daemon must not depend on them.
  /// Never blocks: a receiver whose queue is full (net.unix.max_dgram_qlen, 10 by default) loses
  /// the datagram instead of wedging the caller, which is the daemon's actor for watchdog pings.
  @discardableResult
  func send(_ message: String) -> Bool {
    guard let socketPath else { return false }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var pathBytes = Array(socketPath.utf8)
    if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard pathBytes.count < capacity else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: pathBytes)
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes[0] == 0 ? 0 : 1))
    let payload = Array(message.utf8)
    let sent = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
        payload.withUnsafeBytes {
          sendto(
            fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), socketAddress, length)
        }
      }
    }
    return sent == payload.count
  }
}
