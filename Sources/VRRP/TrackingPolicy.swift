/// The current reading of one tracked object, as the trackers sampled it. `reverse` is keepalived's
/// `weight N reverse`: a weighted object's contribution is negated (applied under the same
/// condition), and a weight-0 object faults in the opposite condition (up, or a zero file).
public enum TrackSignal: Sendable, Equatable {
  case interface(name: String, up: Bool, weight: Int?, reverse: Bool = false)
  case script(name: String, up: Bool, weight: Int, reverse: Bool = false)
  case file(path: String, value: Int, weight: Int, reverse: Bool = false)
  /// `vrrp_track_process`: `up` while the number of matching processes is within its quorum.
  case process(name: String, up: Bool, weight: Int, reverse: Bool = false)
  /// A BFD session as its trackers see it (keepalived's bfd event: Up, or not).
  case bfd(name: String, up: Bool, weight: Int, reverse: Bool = false)
}

/// Folds tracked objects into an effective priority and a fault flag, as keepalived.conf(5) defines
/// it. Pure. Invariant of the result: priority is 1...254, or 255 only when the base priority is 255
/// (the address owner's priority is not changed by weights).
public enum TrackingPolicy {
  /// The folded result; `faultReasons` is empty exactly when `fault` is false.
  public struct Outcome: Sendable, Equatable {
    public var priority: UInt8
    public var fault: Bool
    public var faultReasons: [String]
  }

  public static func evaluate(base: UInt8, signals: [TrackSignal]) -> Outcome {
    var delta = 0
    var reasons: [String] = []
    for signal in signals {
      switch signal {
      case .interface(let name, let up, let weight, let reverse):
        let w = weight ?? 0
        if w == 0 {
          if up == reverse { reasons.append("interface \(name) \(up ? "up (reverse)" : "down")") }
        } else if (w > 0) == up {
          delta += reverse ? -w : w
        }
      case .script(let name, let up, let weight, let reverse):
        if weight == 0 {
          if up == reverse { reasons.append("script \(name) \(up ? "succeeded (reverse)" : "failed")") }
        } else if (weight > 0) == up {
          delta += reverse ? -weight : weight
        }
      case .process(let name, let up, let weight, let reverse):
        // keepalived treats a tracked process as it treats a script.
        if weight == 0 {
          if up == reverse {
            reasons.append("process \(name) \(up ? "has its quorum (reverse)" : "lacks its quorum")")
          }
        } else if (weight > 0) == up {
          delta += reverse ? -weight : weight
        }
      // keepalived's initialise_track_bfd_state and vrrp_handle_bfd_event: the same rule as a script.
      case .bfd(let name, let up, let weight, let reverse):
        if weight == 0 {
          if up == reverse { reasons.append("bfd \(name) \(up ? "up (reverse)" : "down")") }
        } else if (weight > 0) == up {
          delta += reverse ? -weight : weight
        }
      case .file(let path, let value, let weight, let reverse):
        if weight == 0 {
          if (value != 0) != reverse {
            reasons.append("file \(path) holds \(value)\(reverse ? " (reverse)" : "")")
          }
        } else {
          // keepalived caps a file's contribution at -254 (fault) and 253.
          let contribution = max(-254, min(253, value * weight * (reverse ? -1 : 1)))
          if contribution <= -254 { reasons.append("file \(path) weight \(contribution)") }
          delta += contribution
        }
      }
    }
    let priority: UInt8 = base == 255 ? 255 : UInt8(max(1, min(254, Int(base) + delta)))
    return Outcome(priority: priority, fault: !reasons.isEmpty, faultReasons: reasons)
  }
}

/// keepalived's rise/fall hysteresis for a periodic check: `rise` consecutive successes make it up,
/// `fall` consecutive failures make it down. Invariant: the counters reset on every change of result.
public struct RiseFall: Sendable, Equatable {
  public let rise: Int
  public let fall: Int
  public private(set) var isUp: Bool
  private var streak = 0
  private var lastResult: Bool?

  /// keepalived starts a script in the failed state unless `init_fail` is off; with rise 1 a first
  /// success brings it up at once.
  public init(rise: Int, fall: Int, initiallyUp: Bool = false) {
    self.rise = max(1, rise)
    self.fall = max(1, fall)
    self.isUp = initiallyUp
  }

  /// Records one result; returns true when `isUp` changed.
  public mutating func record(success: Bool) -> Bool {
    streak = lastResult == success ? streak + 1 : 1
    lastResult = success
    if success && !isUp && streak >= rise {
      isUp = true
      return true
    }
    if !success && isUp && streak >= fall {
      isUp = false
      return true
    }
    return false
  }
}
