import IPVSSync
import KeeperConfig

extension Daemon {
  /// The values `defs` asks for, by sysctl name (`lvs_sloppy_tcp`, `lvs_sloppy_sctp`,
  /// `lvs_conn_reuse_mode`); unset ones are left alone.
  nonisolated static func wantedSysctls(_ defs: GlobalDefs) -> [(name: String, value: Int)] {
    var values: [(String, Int)] = []
    if let sloppy = defs.lvsSloppyTCP { values.append(("sloppy_tcp", sloppy ? 1 : 0)) }
    if let sloppy = defs.lvsSloppySCTP { values.append(("sloppy_sctp", sloppy ? 1 : 0)) }
    if let mode = defs.lvsConnReuseMode { values.append(("conn_reuse_mode", mode)) }
    return values
  }

  /// Writes what `defs` sets; with --dry-run only logs it. Failures are logged, not fatal: IPVS
  /// keeps working with the kernel's values.
  func applyIPVSSysctls(_ defs: GlobalDefs) {
    let wanted = Self.wantedSysctls(defs)
    guard !wanted.isEmpty else { return }
    let current = IPVSSysctls.read()
    for (name, value) in wanted where current[name] != value {
      if options.dryRun {
        logger.notice("ipvs (dry run, not applied): sysctl net.ipv4.vs.\(name) = \(value)")
        continue
      }
      do {
        try IPVSSysctls.write(name, value)
        logger.notice(
          "ipvs: sysctl net.ipv4.vs.\(name) = \(value) (was \(current[name].map(String.init) ?? "unreadable"))"
        )
      } catch {
        logger.error("ipvs: sysctl net.ipv4.vs.\(name) = \(value): \(error)")
      }
    }
  }
}
