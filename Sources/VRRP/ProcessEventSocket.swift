import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One process event from the kernel's proc connector, for processes (pid == tgid) only.
enum ProcessEvent: Equatable {
  case fork(parent: Int32, child: Int32)
  case exec(pid: Int32)
  case comm(pid: Int32)
  case exit(pid: Int32)
  /// The socket overran (ENOBUFS): events were lost, the census must be rebuilt from /proc.
  case lost
}

/// The proc connector (NETLINK_CONNECTOR, CN_IDX_PROC) as keepalived's track_process uses it:
/// a datagram per fork, exec, comm change and exit of every process on the host. Needs
/// CAP_NET_ADMIN, and the kernel delivers these events only in the initial network namespace
/// (a subscription from another one is refused). Invariant: `fd` is open and non-blocking until
/// `deinit`, subscribed (PROC_CN_MCAST_LISTEN) from `init` on.
final class ProcessEventSocket {
  let fd: Int32

  // <linux/connector.h>, <linux/cn_proc.h>
  private static let netlinkConnector: Int32 = 11
  private static let connectorProcIndex: UInt32 = 1
  private static let connectorProcValue: UInt32 = 1
  private static let listen: UInt32 = 1
  private static let eventFork: UInt32 = 0x1
  private static let eventExec: UInt32 = 0x2
  private static let eventComm: UInt32 = 0x200
  private static let eventExit: UInt32 = 0x8000_0000
  /// nlmsghdr (16 bytes) + cn_msg (20 bytes) put `struct proc_event` at 36; its event data
  /// follows `what`, `cpu` and the 8-byte timestamp.
  private static let eventOffset = 36
  private static let dataOffset = eventOffset + 16

  init() throws(SystemCallError) {
    fd = try Socket.open(
      AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), Self.netlinkConnector)
    // struct sockaddr_nl { u16 family; u16 pad; u32 pid (0: the kernel picks); u32 groups }.
    let local =
      withUnsafeBytes(of: UInt16(AF_NETLINK)) { Array($0) } + [0, 0, 0, 0, 0, 0]
      + withUnsafeBytes(of: Self.connectorProcIndex) { Array($0) }
    guard Socket.withRawSockaddr(local, { Glibc.bind(fd, $0, $1) }) == 0 else {
      let error = SystemCallError("bind NETLINK_CONNECTOR CN_IDX_PROC")
      close(fd)
      throw error
    }
    // nlmsghdr { len 40, type NLMSG_DONE, flags 0, seq 0, pid 0 } + cn_msg { idx, val, seq 0,
    // ack 0, len 4, flags 0 } + enum proc_cn_mcast_op LISTEN.
    var message: [UInt8] = []
    func put32(_ value: UInt32) { withUnsafeBytes(of: value) { message += $0 } }
    func put16(_ value: UInt16) { withUnsafeBytes(of: value) { message += $0 } }
    put32(40)
    put16(3)  // NLMSG_DONE
    put16(0)
    put32(0)
    put32(0)
    put32(Self.connectorProcIndex)
    put32(Self.connectorProcValue)
    put32(0)
    put32(0)
    put16(4)
    put16(0)
    put32(Self.listen)
    let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    guard sent == message.count else {
      let error = SystemCallError("subscribe to process events (PROC_CN_MCAST_LISTEN)")
      close(fd)
      throw error
    }
  }

  deinit { close(fd) }

  /// One datagram at a time; reused, so draining allocates nothing per message.
  private var buffer = [UInt8](repeating: 0, count: 8192)

  /// Hands every event pending on the socket to `handle`, in arrival order.
  func drain(_ handle: (ProcessEvent) -> Void) {
    while true {
      let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count < 0 {
        if errno == EINTR { continue }
        if errno == ENOBUFS {
          handle(.lost)
          continue
        }
        return
      }
      guard count > 0 else { return }
      buffer.withUnsafeBytes { Self.parse(UnsafeRawBufferPointer(rebasing: $0[..<count]), handle) }
    }
  }

  /// Decodes the netlink messages of one datagram; anything short or foreign is skipped.
  static func parse(_ bytes: UnsafeRawBufferPointer, _ handle: (ProcessEvent) -> Void) {
    func read32(_ offset: Int) -> UInt32 {
      offset + 4 <= bytes.count
        ? UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) : 0
    }
    var offset = 0
    while offset + 16 <= bytes.count {
      let length = Int(read32(offset))
      guard length >= 16, offset + length <= bytes.count else { return }
      defer { offset += (length + 3) & ~3 }
      let base = offset
      guard length >= dataOffset + 16,
        read32(base + 16) == connectorProcIndex, read32(base + 20) == connectorProcValue
      else { continue }
      let what = read32(base + eventOffset)
      let data = base + dataOffset
      func pidPair(_ at: Int) -> (pid: Int32, tgid: Int32) {
        (Int32(bitPattern: read32(data + at)), Int32(bitPattern: read32(data + at + 4)))
      }
      switch what {
      case eventFork:
        let parent = pidPair(0)
        let child = pidPair(8)
        // A new thread has child pid != tgid: not a process.
        if child.pid == child.tgid { handle(.fork(parent: parent.tgid, child: child.tgid)) }
      case eventExec:
        let process = pidPair(0)
        if process.pid == process.tgid { handle(.exec(pid: process.tgid)) }
      case eventComm:
        let process = pidPair(0)
        if process.pid == process.tgid { handle(.comm(pid: process.tgid)) }
      case eventExit:
        let process = pidPair(0)
        if process.pid == process.tgid { handle(.exit(pid: process.tgid)) }
      default: continue
      }
    }
  }

  /// The same over a byte array (tests).
  static func parse(_ datagram: [UInt8]) -> [ProcessEvent] {
    var events: [ProcessEvent] = []
    datagram.withUnsafeBytes { parse($0) { events.append($0) } }
    return events
  }

  /// A process as /proc shows it now; nil when it is gone, or a zombie. The command line is read
  /// only when asked for: reading it touches the process's memory (keepalived avoids it too when
  /// no tracker matches full commands).
  static func sighting(_ pid: Int32, commandLine wanted: Bool = true) -> ProcessSighting? {
    // /proc/PID/stat is "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so it
    // ends at the last ')'.
    guard let stat = readProcFile("/proc/\(pid)/stat", limit: 512),
      let open = stat.firstIndex(of: UInt8(ascii: "(")), let close = stat.lastIndex(of: UInt8(ascii: ")")),
      open < close
    else { return nil }
    if close + 2 < stat.count && stat[close + 2] == UInt8(ascii: "Z") { return nil }
    let comm = String(decoding: stat[(open + 1)..<close], as: UTF8.self)
    let commandLine = wanted ? readProcFile("/proc/\(pid)/cmdline", limit: 4096) ?? [] : []
    return ProcessSighting(pid: pid, comm: comm, commandLine: commandLine)
  }

  /// Every process on the host (directories of /proc named by a number).
  static func scan(commandLines: Bool = true) -> [ProcessSighting] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return names.compactMap { Int32($0) }.compactMap { sighting($0, commandLine: commandLines) }
  }

  private static func readProcFile(_ path: String, limit: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: limit)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count >= 0 else { return nil }
    return Array(buffer[..<count])
  }
}
