/// The pure verdict of one real server from its checkers: up only while every checker is up;
/// the weight is the lowest dynamic weight any checker reports (nil when none does).
/// Invariant: `checkers` holds exactly the server's distinct checkers.
public struct ServerVerdict: Hashable, Sendable {
  public private(set) var checkers: [Checker: CheckerState]

  /// What the server verdict needs from one checker.
  public struct CheckerState: Hashable, Sendable {
    public var isUp: Bool
    public var weight: Int?
    public var reason: String?
    public init(isUp: Bool, weight: Int? = nil, reason: String? = nil) {
      self.isUp = isUp
      self.weight = weight
      self.reason = reason
    }
  }

  public init(checkers: [Checker: CheckerState]) { self.checkers = checkers }

  public var isUp: Bool { Self.isUp(checkers.values) }

  public var weight: Int? { Self.weight(checkers.values) }

  /// Why the server is down: the reasons of its down checkers, in a stable order.
  public var downReason: String? { Self.downReason(checkers.map { ($0.key, $0.value) }) }

  /// The same rules over states held elsewhere (the monitor keeps one state per distinct
  /// checker, shared by every server using it, rather than a dictionary per server).
  static func isUp(_ states: some Sequence<CheckerState>) -> Bool { states.allSatisfy(\.isUp) }

  static func weight(_ states: some Sequence<CheckerState>) -> Int? { states.compactMap(\.weight).min() }

  static func downReason(_ states: some Sequence<(Checker, CheckerState)>) -> String? {
    let reasons = states.filter { !$0.1.isUp }
      .map { "\($0.0.spec): \($0.1.reason ?? "down")" }
      .sorted()
    return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
  }

  public mutating func update(_ checker: Checker, to state: CheckerState) {
    guard checkers[checker] != nil else { return }
    checkers[checker] = state
  }
}
