/// An operator's runtime say over one real server (`lvskeeper server VS RS drain|maint|weight N`),
/// laid over what the checkers report (HAProxy's `set server ... state` model).
///
/// Invariant: an override never brings a failed server back. `drain` and `weight` only change the
/// weight of a server the checkers hold up; `maint` takes it out whatever they say. Either way
/// quorum counts the weight the kernel gets, so a drained or maintained server counts as down.
public enum AdminOverride: Sendable, Hashable {
  /// Weight 0 in the kernel while the checkers hold it up: no new connections, existing ones finish.
  case drain
  /// Out of the pool as a failed server would be: removed, or weight 0 with `inhibit_on_failure`.
  case maintenance
  /// This weight instead of the configured (or dynamic) one while the checkers hold it up.
  case weight(UInt32)

  /// The health the desired table (and the announcement's quorum) uses for a server whose
  /// checkers report `health`.
  public func applied(to health: RealServerHealth) -> RealServerHealth {
    switch (self, health) {
    case (_, .down), (.maintenance, _): .down
    case (.drain, .up): .up(weight: 0)
    case (.weight(let weight), .up): .up(weight: weight)
    }
  }
}
