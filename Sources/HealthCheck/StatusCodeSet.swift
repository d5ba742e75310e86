/// The HTTP status codes a url accepts: a union of closed ranges (`status_code 200 301-302`).
/// Invariant: never empty; the default is 200-299 as in keepalived.
public struct StatusCodeSet: Hashable, Sendable, CustomStringConvertible {
  public private(set) var ranges: [ClosedRange<Int>]

  public static let success = StatusCodeSet(nonEmpty: [200...299])

  private init(nonEmpty: [ClosedRange<Int>]) { self.ranges = nonEmpty }

  /// Nil when `ranges` is empty.
  public init?(ranges: [ClosedRange<Int>]) {
    guard !ranges.isEmpty else { return nil }
    self.ranges = ranges
  }

  /// Parses keepalived's list form: "200", "200 204", "200-299 301". Nil on any bad token.
  public init?(parsing text: String) {
    var parsed: [ClosedRange<Int>] = []
    for token in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
      let bounds = token.split(separator: "-", omittingEmptySubsequences: false)
      if bounds.count == 1, let code = Int(bounds[0]), (100...599).contains(code) {
        parsed.append(code...code)
      } else if bounds.count == 2, let low = Int(bounds[0]), let high = Int(bounds[1]), low <= high,
        (100...599).contains(low), (100...599).contains(high)
      {
        parsed.append(low...high)
      } else {
        return nil
      }
    }
    guard !parsed.isEmpty else { return nil }
    self.ranges = parsed
  }

  public func contains(_ code: Int) -> Bool { ranges.contains { $0.contains(code) } }

  public var description: String {
    ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
      .joined(separator: " ")
  }
}
