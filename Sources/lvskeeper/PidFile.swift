import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One daemon per control socket: a pid file held under `flock(LOCK_EX)` for the life of the
/// process, taken before anything else binds or changes.
///
/// Invariant: while a `PidFile` is held, no other `lvskeeper run` with the same pid file gets past
/// `acquire`, so it never touches the live control socket. The lock belongs to the open
/// descriptor, so it goes with the process however it ends (kill -9 included); a stale file left
/// behind is simply locked and overwritten by the next daemon.
final class PidFile: Sendable {
  let path: String
  private let fd: Int32
  private let identity: FileIdentity

  /// The default: next to the control socket, so one socket means one pid file.
  static func defaultPath(forSocket socket: String) -> String { socket + ".pid" }

  private init(path: String, fd: Int32, identity: FileIdentity) {
    self.path = path
    self.fd = fd
    self.identity = identity
  }

  /// Takes the lock and writes our pid. A lock held by another process is waited for up to
  /// `wait` (a daemon killed just before may not have finished exiting: a restart right after
  /// `kill -9` must not fail), then `.held` names that daemon's pid.
  static func acquire(path: String, socket: String, wait: Duration = .seconds(2)) async throws(PidFileError)
    -> PidFile
  {
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
      try? FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
    // Retried when the file was replaced between open and lock (a daemon that just stopped
    // unlinks it): the lock must be on the file the path names, or two daemons could both win.
    for _ in 0..<8 {
      let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
      guard fd >= 0 else { throw .system("cannot open pid file \(path)", errno) }
      if flock(fd, LOCK_EX | LOCK_NB) != 0 {
        let code = errno
        guard code == EWOULDBLOCK else {
          close(fd)
          throw .system("cannot lock pid file \(path)", code)
        }
        let holder = readPid(fd)
        // A blocking flock on a thread of its own, so the wait needs no polling. When it times
        // out the thread stays blocked on `fd`, which is therefore not closed: the process is
        // about to exit anyway.
        let locked = await Deadline.runBlocking(wait, name: "lvskeeper.pid-lock") { flock(fd, LOCK_EX) == 0 }
        guard locked == true else { throw .held(pid: holder, socket: socket, pidFile: path) }
      }
      guard let opened = FileIdentity(fd: fd), FileIdentity(path: path) == opened else {
        close(fd)
        continue
      }
      let text = Array("\(getpid())\n".utf8)
      guard ftruncate(fd, 0) == 0, pwrite(fd, text, text.count, 0) == text.count else {
        let code = errno
        close(fd)
        throw .system("cannot write pid file \(path)", code)
      }
      return PidFile(path: path, fd: fd, identity: opened)
    }
    throw .system("pid file \(path) keeps being replaced", EAGAIN)
  }

  /// Removes the file if it is still ours, then drops the lock (at stop).
  func release() {
    if FileIdentity(path: path) == identity { unlink(path) }
    close(fd)
  }

  private static func readPid(_ fd: Int32) -> Int32? {
    var buffer = [UInt8](repeating: 0, count: 32)
    let count = pread(fd, &buffer, buffer.count, 0)
    guard count > 0 else { return nil }
    return Int32(
      String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
  }
}

/// Why the pid file could not be taken.
enum PidFileError: Error, CustomStringConvertible {
  case held(pid: Int32?, socket: String, pidFile: String)
  case system(String, Int32)

  var description: String {
    switch self {
    case .held(let pid, let socket, let pidFile):
      "another lvskeeper (pid \(pid.map(String.init) ?? "unknown")) is running on \(socket) (pid file \(pidFile) is locked)"
    case .system(let what, let code): "\(what): \(String(cString: strerror(code)))"
    }
  }
}

/// A file's device and inode: tells "the file I opened" from "a file now at that path".
struct FileIdentity: Equatable, Sendable {
  var device: UInt64
  var inode: UInt64

  init?(fd: Int32) {
    var info = stat()
    guard fstat(fd, &info) == 0 else { return nil }
    (device, inode) = (UInt64(info.st_dev), UInt64(info.st_ino))
  }

  init?(path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    (device, inode) = (UInt64(info.st_dev), UInt64(info.st_ino))
  }
}
