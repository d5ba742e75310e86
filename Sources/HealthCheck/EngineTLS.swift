import COpenSSL
import Glibc

/// What SSL_GET adds to an engine job: TLS on every leg, with the SNI each leg sends (nil: none).
/// Invariant: `serverNames.count` is the job's leg count.
struct TLSLegs: Sendable {
  var serverNames: [String?]
}

/// The process's one OpenSSL client context (TLS without certificate verification, keepalived's
/// SSL_GET), from which the engine thread makes one `SSL` per leg. SSL_CTX may be shared by
/// threads once configured, and it is never changed after `shared` is built.
final class EngineTLSContext: @unchecked Sendable {
  let context: OpaquePointer

  private init(_ context: OpaquePointer) { self.context = context }

  static let shared: Result<EngineTLSContext, TCPCheckEngineError> = {
    guard let context = lvsk_tls_client_context() else {
      return .failure(TCPCheckEngineError(call: "SSL_CTX_new", errnoCode: 0))
    }
    return .success(EngineTLSContext(context))
  }()

  /// An SSL for the connected socket `fd` in client mode, sending `serverName` as SNI when set;
  /// nil when OpenSSL cannot make one.
  func session(fd: Int32, serverName: String?) -> OpaquePointer? {
    guard let ssl = SSL_new(context) else { return nil }
    guard SSL_set_fd(ssl, fd) == 1,
      serverName.map({ name in name.withCString { lvsk_tls_set_server_name(ssl, $0) } == 1 }) ?? true
    else {
      SSL_free(ssl)
      return nil
    }
    SSL_set_connect_state(ssl)
    return ssl
  }

  /// The reason for OpenSSL error `code` (SSL_get_error) after a failed call, from the thread's
  /// error queue when it holds one, else errno; clears the queue.
  static func reason(_ code: Int32, errnoCode: Int32) -> String {
    let queued = ERR_get_error()
    ERR_clear_error()
    if queued != 0, let text = ERR_reason_error_string(queued) { return String(cString: text) }
    if code == SSL_ERROR_SYSCALL && errnoCode != 0 { return String(cString: strerror(errnoCode)) }
    if code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN { return "connection closed" }
    return "TLS error \(code)"
  }
}
