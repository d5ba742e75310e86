import Foundation

/// The IPVS sysctls lvskeeper sets from `global_defs` (`lvs_sloppy_tcp`, `lvs_sloppy_sctp`,
/// `lvs_conn_reuse_mode`), written to /proc/sys/net/ipv4/vs at start and reload and read back for
/// `status`. They are per network namespace and exist only once the ip_vs module is loaded.
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
    guard let handle = FileHandle(forWritingAtPath: path) else {
      throw WriteError(description: "cannot open \(path) (is the ip_vs module loaded?)")
    }
    defer { try? handle.close() }
    do {
      try handle.write(contentsOf: Data("\(value)\n".utf8))
    } catch {
      throw WriteError(description: "write \(value) to \(path): \(error)")
    }
  }

  /// Every managed sysctl's current value (absent when unreadable, e.g. ip_vs not loaded).
  public static func read(directory: String = directory) -> [String: Int] {
    var values: [String: Int] = [:]
    for name in names {
      if let text = try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8),
        let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
      {
        values[name] = value
      }
    }
    return values
  }
}
