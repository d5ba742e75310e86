import Foundation

/// One request on the control socket: a single JSON line from `lvskeeper status|reload|stop`.
struct ControlRequest: Codable, Sendable, Equatable {
  enum Command: String, Codable, Sendable {
    case status, reload, stop
  }
  var command: Command
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
