#if canImport(Glibc)
  import Glibc
#endif

/// The IPVS sysctls lvskeeper sets from `global_defs` (`lvs_sloppy_tcp`, `lvs_sloppy_sctp`,
/// `lvs_conn_reuse_mode`), written to /proc/sys/net/ipv4/vs at start and reload and read back for
/// `status`. They are per network namespace and exist only once the ip_vs module is loaded.
/// (Plain file I/O, no Foundation: this module links into the statically linked kernel tests.)
///
/// Invariant: a setting left unset in the configuration is never written (the kernel's value, or
/// whatever the operator set, stays).
public enum IPVSSysctls {
  public static let directory = "/proc/sys/net/ipv4/vs"
  public static let names = ["sloppy_tcp", "sloppy_sctp", "conn_reuse_mode"]

  /// Why a value could not be written.
  public struct WriteError: Error, CustomStringConvertible {
    public var description: String
  }

  /// Writes one value; the error names the file.
  public static func write(_ name: String, _ value: Int, directory: String = directory) throws(WriteError) {
    let path = "\(directory)/\(name)"
    let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
    guard fd >= 0 else {
      throw WriteError(
        description: "cannot open \(path): \(String(cString: strerror(errno))) (is the ip_vs module loaded?)")
    }
    defer { close(fd) }
    let bytes = Array("\(value)\n".utf8)
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
      throw WriteError(description: "write \(value) to \(path): \(String(cString: strerror(errno)))")
    }
  }

  /// Every managed sysctl's current value (absent when unreadable, e.g. ip_vs not loaded).
  public static func read(directory: String = directory) -> [String: Int] {
    var values: [String: Int] = [:]
    for name in names {
      let fd = open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC)
      guard fd >= 0 else { continue }
      defer { close(fd) }
      var buffer = [UInt8](repeating: 0, count: 64)
      let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      guard count > 0 else { continue }
      let text = String(decoding: buffer[0..<count], as: UTF8.self).filter { !$0.isWhitespace }
      if let value = Int(text) { values[name] = value }
    }
    return values
  }
}
