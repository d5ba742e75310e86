import BFD
import Foundation

/// Renders a `StatusReport` for people: VRRP first, then the table as `ipvsadm -Ln` prints it, with
/// each real server's health and last check added on the right.
enum StatusRenderer {
  static func render(_ report: StatusReport) -> String {
    var out = ""
    let daemon = report.daemon
    out += "lvskeeper pid \(daemon.pid), config \(daemon.configPath)"
    out += daemon.dryRun ? " (dry run: IPVS changes are not applied)\n" : "\n"
    if let reload = daemon.lastReload {
      let verdict = reload.succeeded ? "applied" : "REFUSED, still running the previous config"
      out += "last reload \(timestamp(reload.at)): \(verdict)"
      out += reload.message.isEmpty ? "\n" : ": \(reload.message)\n"
    }
    out += "\nVRRP instances:\n"
    if report.vrrpInstances.isEmpty { out += "  (none)\n" }
    for instance in report.vrrpInstances {
      out +=
        "  \(pad(instance.name, 16)) \(pad(instance.state, 7)) \(instance.interface) vrid \(instance.virtualRouterID)"
      out += " prio \(instance.effectivePriority)"
      if instance.effectivePriority != instance.configuredPriority {
        out += " (configured \(instance.configuredPriority))"
      }
      if let master = instance.masterAddress { out += " master \(master)" }
      out += "\n"
      if let at = instance.lastTransitionAt {
        out += "    since \(timestamp(at))"
        out += instance.lastTransitionReason.map { ": \($0)\n" } ?? "\n"
      }
      if !instance.virtualAddresses.isEmpty {
        out += "    vips \(instance.virtualAddresses.joined(separator: " "))\n"
      }
      if let thread = instance.threadScheduling { out += "    thread \(thread)\n" }
      if let dropped = instance.droppedPackets, !dropped.isEmpty {
        out += "    dropped \(counts(dropped))\n"
      }
    }
    if let unmatched = report.vrrpUnmatchedDrops, !unmatched.isEmpty {
      out += "  dropped, no instance matched: \(counts(unmatched))\n"
    }
    if let bfd = report.bfd { out += renderBFD(bfd) }
    if let announcements = report.announcements {
      out += "\nAnnounced VIPs:\n"
      if announcements.isEmpty { out += "  (none)\n" }
      for vip in announcements {
        out +=
          "  \(pad(vip.vip, 20)) \(pad(vip.state.uppercased(), 9)) dev \(vip.interface) table \(vip.table)"
        out += " since \(timestamp(vip.since)): \(vip.reason)\n"
      }
    }
    if let sysctls = report.ipvsSysctls, !sysctls.isEmpty {
      out += "\nIPVS sysctls: "
      out += sysctls.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "\n"
    }
    out += "\nIP Virtual Server table (configured by lvskeeper)\n"
    out += "Prot LocalAddress:Port Scheduler Flags\n"
    out += "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health   Last check\n"
    for service in report.virtualServices {
      var line = "\(service.key) \(service.scheduler)"
      if !service.flags.isEmpty { line += " (\(service.flags.joined(separator: ",")))" }
      if !service.inKernel { line += " [not in kernel]" }
      if !service.quorumUp { line += " [quorum down]" }
      if service.sorryServerActive { line += " [sorry server active]" }
      out += line + "\n"
      for server in service.realServers {
        let weight =
          server.kernelWeight.map {
            $0 == server.configuredWeight ? "\($0)" : "\($0)/\(server.configuredWeight)"
          } ?? "-/\(server.configuredWeight)"
        var row = "  -> \(pad(server.address, 28)) \(pad(server.forwarding, 7)) \(pad(weight, 6))"
        row +=
          " \(pad(String(server.activeConnections), 10)) \(pad(String(server.inactiveConnections), 9)) \(pad(server.health, 8))"
        if let check = server.lastCheck {
          row += " \(check.checker) \(check.succeeded ? "ok" : "failed")"
          row += String(format: " %.1fms", check.latencyMilliseconds)
          if !check.reason.isEmpty { row += " (\(check.reason))" }
        }
        if let admin = server.admin {
          row +=
            " [\(admin.summary) by \(admin.by.map { "\($0)" } ?? "unknown peer") at \(timestamp(admin.at))]"
        }
        out += row + "\n"
      }
    }
    out += "\nPending IPVS operations:"
    if report.pendingOperations.isEmpty { out += " none\n" } else { out += "\n" }
    for op in report.pendingOperations {
      out += "  \(op.operation) (attempts \(op.attempts))"
      out += op.error.map { ": \($0)\n" } ?? "\n"
    }
    return out
  }

  /// `3 auth_mismatch, 1 ttl_not_255`, by reason name.
  private static func counts(_ byReason: [String: UInt64]) -> String {
    byReason.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
  }

  private static func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
  }

  private static func timestamp(_ date: Date) -> String {
    date.formatted(.iso8601)
  }
}

extension StatusRenderer {
  /// One line per session: state (local/remote), the tracker view, diagnostics, intervals in ms,
  /// and packet counters.
  static func renderBFD(_ status: BFDEngineStatus) -> String {
    func ms(_ micros: UInt64) -> String {
      micros % 1000 == 0 ? "\(micros / 1000)" : String(format: "%.3f", Double(micros) / 1000)
    }
    var out = "\nBFD sessions:\n"
    for s in status.sessions {
      out += "  \(pad(s.name, 16)) \(pad(s.state, 9)) neighbor \(s.neighbor) remote \(s.remoteState)"
      out += s.up ? " [up]\n" : " [down]\n"
      out += "    diag \(s.diagnostic); remote diag \(s.remoteDiagnostic)\n"
      out += "    tx \(ms(UInt64(s.transmitInterval))) ms, detect \(ms(s.detectionTime)) ms"
      out += " (remote min_rx \(ms(UInt64(s.remoteMinRx))) ms, min_tx \(ms(UInt64(s.remoteMinTx))) ms,"
      out += " multiplier \(s.remoteMultiplier))\n"
      out += "    packets in \(s.packetsIn) out \(s.packetsOut) dropped \(s.dropped)\n"
    }
    if status.malformed > 0 || status.unmatched > 0 {
      out += "  dropped: \(status.malformed) malformed, \(status.unmatched) for no session\n"
    }
    return out
  }
}
