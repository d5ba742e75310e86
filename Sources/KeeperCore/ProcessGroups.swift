#if canImport(Glibc)
  import Glibc
#endif

/// Which process groups have members, from /proc (field 5 of /proc/PID/stat is the group).
enum ProcessGroups {
  /// Group ids with at least one live member other than the group's leader (pid == group id):
  /// the runner keeps a script's leader unreaped, so only the others say the group is in use.
  static func occupied() -> Set<pid_t> {
    var groups: Set<pid_t> = []
    guard let directory = opendir("/proc") else { return groups }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      guard let pid = pid_t(name) else { continue }
      guard let stat = readStat(pid), let group = stat.group, stat.state != "Z" else { continue }
      if group == pid { continue }
      groups.insert(group)
    }
    return groups
  }

  private static func readStat(_ pid: pid_t) -> (state: Character, group: pid_t?)? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return nil }
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses: split after the last ')'.
    let text = String(decoding: buffer.prefix(count), as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 2, let state = fields[0].first else { return nil }
    return (state, pid_t(fields[2]))
  }
}

/// A pthread mutex, so KeeperCore needs no Foundation.
final class NSLockLike: @unchecked Sendable {
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>

  init() {
    mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  func withLock<T>(_ body: () throws -> T) rethrows -> T {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body()
  }
}
