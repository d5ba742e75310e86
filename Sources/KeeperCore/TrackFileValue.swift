#if canImport(Glibc)
  import Glibc
#endif

/// The number a `track_file` holds, read as keepalived reads it for VRRP's track_file and the
/// checkers' FILE_CHECK: the first 127 bytes through strtol(…, 0) (decimal, 0x hex or 0 octal,
/// leading blanks skipped, anything after the number ignored); a missing, unreadable or empty
/// file, or text that is not a number, reads as 0. Invariant: the result fits an Int32 (larger
/// values are clamped).
public enum TrackFileValue {
  public static func read(_ path: String) -> Int {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [CChar](repeating: 0, count: 128)
    let count = Glibc.read(fd, &buffer, 127)
    guard count > 0 else { return 0 }
    buffer[count] = 0
    let value = strtol(buffer, nil, 0)
    return max(Int(Int32.min), min(Int(Int32.max), value))
  }
}
