import KeeperCore
import NIOCore

/// FILE_CHECK: the real server follows the number in a `track_file`, as keepalived's check_file.c
/// applies it. With `weight` 0 a non-zero number (a zero one with `reverse`) takes the server down.
/// Otherwise number × weight (negated with `reverse`), kept within -65535...65534, is added to
/// the server's configured weight; -65535 takes it down.
/// Invariant: `baseWeight` is the real server's configured weight, 0...65535.
public struct FileCheck: Hashable, Sendable {
  public var path: String
  public var weight: Int
  public var reverse: Bool
  public var baseWeight: Int

  public init(path: String, weight: Int, reverse: Bool = false, baseWeight: Int) {
    self.path = path
    self.weight = weight
    self.reverse = reverse
    self.baseWeight = baseWeight
  }

  /// keepalived's IPVS_WEIGHT_MAX.
  static let weightMax = 65535

  /// The verdict for the number `value` read from the file. Pure.
  public func outcome(for value: Int) -> ProbeOutcome {
    guard weight != 0 else {
      let down = (value != 0) != reverse
      return down ? .down(reason: "\(path) holds \(value)\(reverse ? " (reverse)" : "")") : .up(weight: nil)
    }
    let status = max(-Self.weightMax, min(Self.weightMax - 1, value * weight * (reverse ? -1 : 1)))
    if status == -Self.weightMax { return .down(reason: "\(path) holds \(value): weight \(status)") }
    return .up(weight: max(0, min(Self.weightMax, baseWeight + status)))
  }
}

/// Reads the file once per probe (FILE_CHECK runs every second; keepalived watches it with inotify).
struct FileProbe: Probe {
  let check: FileCheck

  func run(on loop: any EventLoop) -> EventLoopFuture<ProbeOutcome> {
    loop.makeSucceededFuture(check.outcome(for: TrackFileValue.read(check.path)))
  }
}
