#if canImport(Glibc)
  import Glibc
#endif

/// The daemon's open-file limit. systemd starts services with a soft limit of 1024, and every
/// TCP_CHECK probe in flight holds a descriptor: 2,000 real servers behind a firewall that drops
/// SYNs would exhaust it, and each probe that could not get a socket would report a healthy server
/// down ("Too many open files"). keepalived raises its limit for the same reason.
/// Invariant: only the soft limit moves, up to the hard limit the administrator set; never down.
enum DescriptorLimit {
  /// Raises the soft RLIMIT_NOFILE to the hard limit. Returns (before, after), or nil when it
  /// could not be read or set.
  static func raiseToHardLimit() -> (before: UInt64, after: UInt64)? {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
    let before = UInt64(limit.rlim_cur)
    guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
    limit.rlim_cur = limit.rlim_max
    guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
    return (before, UInt64(limit.rlim_cur))
  }
}
