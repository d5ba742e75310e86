#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Reads configuration files, and only regular ones: a directory, FIFO, device or socket named
/// as a configuration or include file is refused with a message saying what it is.
///
/// Invariant: never blocks on a FIFO or device (the type is checked with stat(2) before
/// open(2), the open is O_NONBLOCK, and the type is checked again on the open descriptor), and
/// never reads more than `limit` bytes (the size is checked before reading).
enum RegularFileReader {
  enum Failure: Error, Equatable {
    case system(Int32)
    case notRegular(String)
    case tooLarge

    var reason: String {
      switch self {
      case .system(ENOENT): return "no such file"
      case .system(EACCES): return "permission denied"
      case .system(let code): return String(cString: strerror(code))
      case .notRegular(let kind): return "it is \(kind), not a regular file"
      case .tooLarge: return "too large"
      }
    }
  }

  /// What a non-regular file is, in words; nil for a regular file.
  static func kind(of mode: mode_t) -> String? {
    switch mode & S_IFMT {
    case S_IFREG: return nil
    case S_IFDIR: return "a directory"
    case S_IFIFO: return "a FIFO"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    default: return "not a file"
    }
  }

  /// stat(2) of `path` (following symbolic links): nil for a regular file, else why not.
  static func check(_ path: String) -> Failure? {
    var info = stat()
    guard stat(path, &info) == 0 else { return .system(errno) }
    return kind(of: info.st_mode).map(Failure.notRegular)
  }

  /// The whole content of the regular file at `path`, at most `limit` bytes.
  static func contents(of path: String, limit: Int) -> Result<[UInt8], Failure> {
    if let failure = check(path) { return .failure(failure) }
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return .failure(.system(errno)) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { return .failure(.system(errno)) }
    // The path may have been replaced between stat and open.
    if let kind = kind(of: info.st_mode) { return .failure(.notRegular(kind)) }
    guard Int(info.st_size) <= limit else { return .failure(.tooLarge) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(Int(info.st_size))
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count == 0 { break }
      if count < 0 {
        if errno == EINTR { continue }
        return .failure(.system(errno))
      }
      // A file that grows while it is read is still held to the limit.
      guard bytes.count + count <= limit else { return .failure(.tooLarge) }
      bytes.append(contentsOf: chunk[0..<count])
    }
    return .success(bytes)
  }
}
