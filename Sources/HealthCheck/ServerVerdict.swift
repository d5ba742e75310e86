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

  public var isUp: Bool { checkers.values.allSatisfy(\.isUp) }

  public var weight: Int? { checkers.values.compactMap(\.weight).min() }

  /// Why the server is down: the reasons of its down checkers, in a stable order.
  public var downReason: String? {
    let reasons = checkers.filter { !$0.value.isUp }
      .map { "\($0.key.spec): \($0.value.reason ?? "down")" }
      .sorted()
    return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
  }

  public mutating func update(_ checker: Checker, to state: CheckerState) {
    guard checkers[checker] != nil else { return }
    checkers[checker] = state
  }
}
