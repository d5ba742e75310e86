#if canImport(Glibc)
  import Glibc
#endif

/// A NETLINK_ROUTE socket subscribed to RTNLGRP_LINK: it becomes readable whenever a link in this
/// network namespace changes (RTM_NEWLINK / RTM_DELLINK), so the VRRP loop re-samples its tracked
/// interfaces at once instead of at the next 100 ms sample. The messages themselves are not
/// decoded: sysfs stays the one source of a link's state. Invariant: `fd` is open and non-blocking
/// until `deinit`.
final class LinkMonitor {
  let fd: Int32
  private(set) var notifications: UInt64 = 0

  /// RTMGRP_LINK from <linux/rtnetlink.h>.
  private static let linkGroup: UInt32 = 1

  init() throws(SystemCallError) {
    fd = try Socket.open(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    // struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups }: pid 0 lets the kernel pick.
    let local =
      withUnsafeBytes(of: UInt16(AF_NETLINK)) { Array($0) } + [0, 0, 0, 0, 0, 0]
      + withUnsafeBytes(of: Self.linkGroup) { Array($0) }
    let rc = Socket.withRawSockaddr(local) { Glibc.bind(fd, $0, $1) }
    guard rc == 0 else {
      close(fd)
      throw SystemCallError("bind netlink RTMGRP_LINK")
    }
  }

  deinit { close(fd) }

  /// Reads every pending notification; true when at least one arrived (or the socket overran,
  /// ENOBUFS, which also means links changed).
  func drain() -> Bool {
    var buffer = [UInt8](repeating: 0, count: 16_384)
    var any = false
    while true {
      let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count > 0 {
        any = true
        notifications += 1
        continue
      }
      if count < 0 && errno == ENOBUFS {
        any = true
        continue
      }
      return any
    }
  }
}
