/// What a conversation wants after it has been given bytes (or the connection).
enum ConversationStep: Sendable {
  /// Keep the connection: write whatever was appended to `output`, then wait for more bytes.
  case proceed
  /// The verdict is known. Whatever was appended to `output` (a polite QUIT, COM_QUIT) is written
  /// once, best effort, before the connection is closed.
  case finished(ProbeOutcome)
}

/// One probe's exchange over one connected byte stream (plain TCP, or the plaintext side of TLS),
/// as a pure state machine: the check engine connects, feeds the bytes it receives, writes what
/// the conversation appends to `output`, and enforces the probe's deadline and byte limits.
/// A conversation does no I/O, takes no lock and never blocks; it keeps only what it must to judge
/// (an HTTP response head, a MySQL packet), so every misbehaving server is bounded by the engine's
/// deadline and by the conversation's own size limits.
///
/// Used by the stream checkers (HTTP_GET, SSL_GET, MYSQL_CHECK, SMTP_CHECK); TCP_CHECK has none
/// (connected is up).
protocol ProbeConversation {
  /// The connection (and TLS handshake, if any) is up. Append the bytes to send first, if any.
  mutating func connected(output: inout [UInt8]) -> ConversationStep
  /// `bytes` arrived (any split: one byte at a time must work). Append a reply to `output`, if any.
  mutating func received(_ bytes: UnsafeRawBufferPointer, output: inout [UInt8]) -> ConversationStep
  /// The peer closed its side before the conversation finished: the verdict for that.
  mutating func closed() -> ProbeOutcome
}

/// One checker's recipe for its probes' conversations, built once per checker (not per probe).
/// A probe is `legs` connections made in turn, each with its own conversation (HTTP_GET: one per
/// url); the probe is up when every leg is up, and down with the first failing leg's reason.
protocol ConversationTemplate: Sendable {
  var legs: Int { get }
  /// The conversation for leg `leg` (0..<legs) of a new probe.
  func conversation(leg: Int) -> any ProbeConversation
  /// How a failure the engine saw on leg `leg` (connect refused, reset, timeout: `reason`) reads
  /// in `status` (HTTP_GET prefixes the url). Defaults to `reason`.
  func describe(failure reason: String, leg: Int) -> String
  /// Bytes the engine reads on one leg at most; past that the leg fails (a server that never
  /// stops sending). Defaults to 16 MiB + 64 KiB.
  var maxBytesPerLeg: Int { get }
}

extension ConversationTemplate {
  /// The default: a failure the engine saw (connect refused, reset, timeout) is its own reason.
  func describe(failure reason: String, leg: Int) -> String { reason }
  /// The default read cap: 16 MiB and 64 KiB per leg.
  var maxBytesPerLeg: Int { (16 << 20) + (64 << 10) }
}
