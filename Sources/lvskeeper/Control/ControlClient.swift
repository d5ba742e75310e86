import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Why a control command could not get an answer from the daemon.
enum ControlClientError: Error, CustomStringConvertible {
  case connect(path: String, errno: Int32)
  case io(String)
  case malformedResponse

  var description: String {
    switch self {
    case .connect(let path, let code):
      let hint =
        code == ENOENT || code == ECONNREFUSED
        ? " (is lvskeeper running?)" : code == EACCES ? " (root only)" : ""
      return "cannot connect to \(path): \(String(cString: strerror(code)))\(hint)"
    case .io(let what): return "control socket: \(what)"
    case .malformedResponse: return "control socket: the daemon's answer is not valid JSON"
    }
  }
}

/// The command-line end of the control socket. Blocking and synchronous: one request per process.
struct ControlClient {
  var path: String
  /// Bounds the wait for an answer, so `status` never hangs on a wedged daemon.
  var timeoutSeconds: Int = 10

  func send(_ request: ControlRequest) throws(ControlClientError) -> ControlResponse {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .io("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let pathBytes = Array(path.utf8)
    guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      throw .io("path too long: \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
    let connected = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else { throw .connect(path: path, errno: errno) }
    var payload = (try? ControlCoding.encoder().encode(request)) ?? Data()
    payload.append(UInt8(ascii: "\n"))
    // The listener closes a newcomer at once when every slot is being answered (ListenerLimits):
    // that shows as EPIPE on the write (MSG_NOSIGNAL: no SIGPIPE), ECONNRESET or an empty answer.
    let closedUnanswered = ControlClientError.io(
      "the daemon closed the connection without answering (all control connections busy, or stopping)")
    let written = payload.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    guard written == payload.count else {
      if errno == EPIPE || errno == ECONNRESET { throw closedUnanswered }
      throw .io("write: \(String(cString: strerror(errno)))")
    }
    var answer = Data()
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = read(fd, &chunk, chunk.count)
      if count == 0 { break }
      guard count > 0 else {
        if errno == ECONNRESET && answer.isEmpty { throw closedUnanswered }
        throw .io("read: \(String(cString: strerror(errno)))")
      }
      answer.append(contentsOf: chunk[..<count])
    }
    guard !answer.isEmpty else { throw closedUnanswered }
    guard let response = try? ControlCoding.decoder().decode(ControlResponse.self, from: answer) else {
      throw .malformedResponse
    }
    return response
  }
}
