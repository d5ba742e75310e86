import Crypto

/// HTTP_GET's (and, under TLS, SSL_GET's) recipe: one leg per url, each with its request built
/// once per checker. Immutable; every conversation of the checker shares it.
final class HTTPTemplate: ConversationTemplate {
  /// The response head (status line and headers) is read up to this size; a larger one fails.
  static let maxHeadBytes = 64 << 10

  let urls: [URLCheck]
  /// `requests[i]` is the GET for `urls[i]`.
  let requests: [[UInt8]]
  let maxBodyBytes: Int
  /// `digests[i]` is true when `urls[i]` has a digest (its body is read): looked up per header
  /// line without copying the url.
  let digests: [Bool]

  var legs: Int { urls.count }
  var maxBytesPerLeg: Int { Self.maxHeadBytes + maxBodyBytes + (64 << 10) }

  /// `tls` only changes the default port the Host header leaves out (443 instead of 80).
  init(check: HTTPCheck, tls: Bool) {
    urls = check.urls
    maxBodyBytes = check.maxBodyBytes
    digests = check.urls.map { $0.digest != nil }
    let version = check.version == .http11 ? "HTTP/1.1" : "HTTP/1.0"
    requests = check.urls.map { url in
      let host = Self.hostHeader(url: url, check: check, tls: tls)
      return Array(
        "GET \(url.path) \(version)\r\nHost: \(host)\r\nUser-Agent: lvskeeper\r\nConnection: close\r\n\r\n"
          .utf8)
    }
  }

  /// The url's `virtualhost`, else the checker's, else `address[:port]` (the port left out when
  /// it is the scheme's default).
  static func hostHeader(url: URLCheck, check: HTTPCheck, tls: Bool) -> String {
    if let host = url.virtualHost ?? check.virtualHost { return host }
    let t = check.target
    let address = t.address.contains(":") ? "[\(t.address)]" : t.address
    return (tls ? t.port == 443 : t.port == 80) ? address : "\(address):\(t.port)"
  }

  func conversation(leg: Int) -> any ProbeConversation { HTTPConversation(template: self, leg: leg) }

  func describe(failure reason: String, leg: Int) -> String {
    "\(urls.indices.contains(leg) ? urls[leg].path : "?"): \(reason)"
  }
}

/// One url's exchange: sends the GET, then reads the status line (the status must be in the
/// url's set), the headers to the blank line (at most `HTTPTemplate.maxHeadBytes`), and only
/// when the url has a `digest` the body — by Content-Length, chunked, or to the end of the
/// stream — into a streaming MD5 (at most `maxBodyBytes`). Keeps no response bytes beyond the
/// header line being read.
struct HTTPConversation: ProbeConversation {
  private enum Stage {
    case statusLine
    case headers
    /// `remaining` nil: to the end of the stream.
    case body(remaining: Int?)
    case chunkSize
    case chunkData(remaining: Int)
    case chunkDataEnd
    case trailers
  }

  private let template: HTTPTemplate
  private let leg: Int
  /// The url has a digest: headers are parsed and the body read (else the head suffices).
  private let readsBody: Bool
  private var stage = Stage.statusLine
  private var line: [UInt8] = []
  private var headBytes = 0
  private var bodyBytes = 0
  private var contentLength: Int?
  private var chunked = false
  private var md5: Insecure.MD5?

  init(template: HTTPTemplate, leg: Int) {
    self.template = template
    self.leg = leg
    self.readsBody = template.digests[leg]
  }

  private var url: URLCheck { template.urls[leg] }

  private func down(_ reason: String) -> ConversationStep {
    .finished(.down(reason: "\(url.path): \(reason)"))
  }

  mutating func connected(output: inout [UInt8]) -> ConversationStep {
    output.append(contentsOf: template.requests[leg])
    return .proceed
  }

  mutating func received(_ bytes: UnsafeRawBufferPointer, output: inout [UInt8]) -> ConversationStep {
    var i = 0
    while i < bytes.count {
      switch stage {
      case .body(let remaining):
        let take = remaining.map { min($0, bytes.count - i) } ?? (bytes.count - i)
        if let failure = digestBody(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)])) {
          return failure
        }
        i += take
        if let remaining {
          stage = .body(remaining: remaining - take)
          if remaining - take == 0 { return verdict() }
        }
      case .chunkData(let remaining):
        let take = min(remaining, bytes.count - i)
        if let failure = digestBody(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)])) {
          return failure
        }
        i += take
        stage = remaining - take == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - take)
      case .statusLine, .headers, .chunkSize, .chunkDataEnd, .trailers:
        // Lines: scan to the LF, keeping only the current line.
        let start = i
        while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
        let count = i - start
        headBytes += count + (i < bytes.count ? 1 : 0)
        if headBytes > HTTPTemplate.maxHeadBytes {
          return down("response head larger than \(HTTPTemplate.maxHeadBytes) bytes")
        }
        guard i < bytes.count else {
          line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
          return .proceed
        }
        let step: ConversationStep?
        if line.isEmpty {
          // The whole line is in this read (the usual case): judged in place, nothing copied.
          let end = i > start && bytes[i - 1] == UInt8(ascii: "\r") ? i - 1 : i
          step = lineEnded(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        } else {
          var whole = line
          line.removeAll(keepingCapacity: true)
          whole.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
          if whole.last == UInt8(ascii: "\r") { whole.removeLast() }
          step = whole.withUnsafeBytes { lineEnded($0) }
        }
        i += 1
        if let step { return step }
      }
    }
    return .proceed
  }

  mutating func closed() -> ProbeOutcome {
    if case .body(remaining: nil) = stage, case .finished(let outcome) = verdict() { return outcome }
    return .down(reason: "\(url.path): connection closed before the response was complete")
  }

  /// Acts on one complete line (without its line end); a step when the verdict is known.
  private mutating func lineEnded(_ line: UnsafeRawBufferPointer) -> ConversationStep? {
    switch stage {
    case .statusLine:
      guard let code = Self.statusCode(line) else {
        let shown = String(decoding: line.prefix(40), as: UTF8.self)
        return down("bad HTTP response (status line \"\(shown)\")")
      }
      guard template.urls[leg].statusCodes.contains(code) else {
        return down("status \(code) not in \(url.statusCodes)")
      }
      stage = .headers
    case .headers:
      guard line.isEmpty else {
        if readsBody { header(line) }
        return nil
      }
      guard readsBody else { return .finished(.up(weight: nil)) }
      md5 = Insecure.MD5()
      if chunked {
        stage = .chunkSize
      } else if let length = contentLength {
        if length > template.maxBodyBytes { return down("body larger than \(template.maxBodyBytes) bytes") }
        stage = .body(remaining: length)
        if length == 0 { return verdict() }
      } else {
        stage = .body(remaining: nil)
      }
    case .chunkSize:
      let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") }
      guard digits.count <= 15, let size = Self.number(digits, radix: 16) else {
        return down("bad HTTP response (chunk size)")
      }
      stage = size == 0 ? .trailers : .chunkData(remaining: size)
      headBytes = 0
    case .chunkDataEnd:
      guard line.isEmpty else { return down("bad HTTP response (chunk end)") }
      stage = .chunkSize
    case .trailers:
      if line.isEmpty { return verdict() }
    case .body, .chunkData:
      break
    }
    return nil
  }

  /// Notes Content-Length and chunked Transfer-Encoding from header line `line`.
  private mutating func header(_ line: UnsafeRawBufferPointer) {
    guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
    let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
    var start = colon + 1
    var end = line.count
    while start < end && (line[start] == 32 || line[start] == 9) { start += 1 }
    while end > start && (line[end - 1] == 32 || line[end - 1] == 9) { end -= 1 }
    let value = UnsafeRawBufferPointer(rebasing: line[start..<end])
    if Self.equalsIgnoringCase(name, "content-length") {
      contentLength = Self.number(value, radix: 10)
    } else if Self.equalsIgnoringCase(name, "transfer-encoding") {
      chunked = String(decoding: value, as: UTF8.self).lowercased().contains("chunked")
    }
  }

  /// ASCII case-insensitive comparison with lowercase `text`.
  private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    guard bytes.count == text.utf8CodeUnitCount else { return false }
    let expected = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
    return zip(bytes, expected).allSatisfy { ($0 | 0x20) == $1 }
  }

  /// A non-empty run of digits in `radix` (10 or 16) as a number; nil for anything else.
  private static func number(_ digits: some Collection<UInt8>, radix: Int) -> Int? {
    guard !digits.isEmpty, digits.count <= 15 else { return nil }
    var value = 0
    for d in digits {
      let v: Int
      switch d {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int(d - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: v = Int(d - UInt8(ascii: "a")) + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: v = Int(d - UInt8(ascii: "A")) + 10
      default: return nil
      }
      value = value * radix + v
    }
    return value
  }

  /// Feeds body bytes to the digest; a step when the body grew past the cap.
  private mutating func digestBody(_ bytes: UnsafeRawBufferPointer) -> ConversationStep? {
    bodyBytes += bytes.count
    if bodyBytes > template.maxBodyBytes { return down("body larger than \(template.maxBodyBytes) bytes") }
    md5?.update(bufferPointer: bytes)
    return nil
  }

  /// The body is complete: its MD5 against the url's digest.
  private func verdict() -> ConversationStep {
    guard let expected = url.digest, let md5 else { return .finished(.up(weight: nil)) }
    let actual = md5.finalize().map { byte in
      let hex = String(byte, radix: 16)
      return byte < 16 ? "0" + hex : hex
    }.joined()
    return actual == expected ? .finished(.up(weight: nil)) : down("digest \(actual) != expected \(expected)")
  }

  /// The code of a status line `HTTP/<d>.<d> <3 digits>[ reason]`; nil when it is not one.
  static func statusCode(_ line: UnsafeRawBufferPointer) -> Int? {
    guard line.count >= 12, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"),
      line[2] == UInt8(ascii: "T"), line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/")
    else { return nil }
    guard let space = line[5...].firstIndex(of: UInt8(ascii: " ")), space + 3 < line.count else { return nil }
    var code = 0
    for i in (space + 1)...(space + 3) {
      guard i < line.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(line[i]) else { return nil }
      code = code * 10 + Int(line[i] - UInt8(ascii: "0"))
    }
    guard space + 4 == line.count || line[space + 4] == UInt8(ascii: " ") else { return nil }
    return (100...599).contains(code) ? code : nil
  }
}
