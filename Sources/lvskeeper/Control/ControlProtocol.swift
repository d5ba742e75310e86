import Foundation

/// One request on the control socket: a single JSON line from `lvskeeper status|reload|stop|server`.
///
/// Invariant: `service`, `server`, `action` and `weight` are read only for `server`; the daemon
/// checks them (an older daemon ignores them and refuses the unknown command).
struct ControlRequest: Codable, Sendable, Equatable {
  enum Command: String, Codable, Sendable {
    case status, reload, stop, server
  }
  var command: Command
  /// `server`: the virtual service as `status` prints it (`TCP 10.0.0.1:80`, `FWM 7`).
  var service: String? = nil
  /// `server`: the real server as `ADDR:PORT` (`[v6]:PORT`).
  var server: String? = nil
  /// `server`: `drain`, `maint`, `ready` or `weight`.
  var action: String? = nil
  /// `server ... weight N`: the weight, 0...65535.
  var weight: Int? = nil
}

/// Who sent a control request, as the kernel vouches for it (`SO_PEERCRED`), not as the client
/// claims.
struct ControlPeer: Codable, Sendable, Equatable, CustomStringConvertible {
  var uid: UInt32
  var pid: Int32
  /// The account name of `uid`, when it has one.
  var user: String?

  var description: String { "uid \(uid)\(user.map { " (\($0))" } ?? "") pid \(pid)" }
}

/// The daemon's single JSON-line answer. Invariant: `ok == false` always carries `error`.
struct ControlResponse: Codable, Sendable, Equatable {
  var ok: Bool
  var error: String?
  var status: StatusReport?
  var message: String?

  static func failure(_ error: String) -> ControlResponse { ControlResponse(ok: false, error: error) }
}

/// JSON with stable key order and ISO-8601 dates, shared by the socket and `status --json`.
enum ControlCoding {
  static func encoder(pretty: Bool = false) -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
    return encoder
  }

  static func decoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return decoder
  }

  /// The default socket path; `--control-socket` overrides it.
  static let defaultSocketPath = "/run/lvskeeper/control.sock"
}
