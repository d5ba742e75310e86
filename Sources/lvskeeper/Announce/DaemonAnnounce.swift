import Foundation
import HealthCheck
import IPVSSync
import KeeperCore

/// One VIP's announcement as `status` shows it and the log and metrics follow it.
struct AnnouncementState: Sendable, Equatable {
  var announced: Bool
  var reason: AnnounceReason
  var since: Date
}

/// The daemon's announcement (docs/scaleout.md): health verdicts in, one route per VIP out.
///
/// Invariant: a VIP's route exists only while `AnnounceDecision` says it is at quorum and the
/// daemon is not stopping; every change is logged with its reason and counted.
extension Daemon {
  /// At start (and at a reload that introduces `announce`): the tun device and every VIP's address,
  /// every VIP withdrawn ("starting") until its real servers have verdicts.
  func applyAnnounceSpec(_ spec: AnnounceSpec) throws {
    let old = announceSpec
    announceSpec = spec
    if spec.isEmpty {
      if let owner = announceOwner {
        for vip in owner.routed.keys.sorted() { withdrawRoute(vip, reason: "not announced any more") }
        owner.close()
        announceOwner = nil
        logger.notice("announce: no virtual server announces any more; \(old.interface) removed")
      }
      announcements = [:]
      return
    }
    let owner: AnnounceOwner
    if let existing = announceOwner {
      owner = existing
    } else {
      do {
        owner = try AnnounceOwner()
      } catch {
        throw DaemonStartError(description: "announce: \(error)")
      }
      announceOwner = owner
    }
    let wanted = Set(spec.vips.map(\.address))
    // Routes of VIPs that left, or of every VIP when the table or interface changes, go first.
    for (vip, table) in owner.routed.sorted(by: { $0.key < $1.key })
    where !wanted.contains(vip) || table != spec.table || owner.interface != spec.interface {
      withdrawRoute(vip, reason: wanted.contains(vip) ? "announce table or interface changed" : "removed")
    }
    for vip in announcements.keys where !wanted.contains(vip) { announcements[vip] = nil }
    do {
      if owner.interface != spec.interface {
        if let previous = owner.interface {
          logger.notice("announce: moving from \(previous) to \(spec.interface)")
        }
        try owner.open(spec.interface)
        logger.notice(
          "announce: created tun device \(spec.interface) (removed by the kernel when lvskeeper exits)")
      }
    } catch {
      throw DaemonStartError(description: "announce: \(error)")
    }
    for failure in owner.setAddresses(spec.vips.map(\.address)) { logger.error("announce: \(failure)") }
    for vip in spec.vips where announcements[vip.address] == nil {
      let services = vip.services.map(\.name).joined(separator: ", ")
      announcements[vip.address] = AnnouncementState(
        announced: false,
        reason: .starting(
          service: services, known: 0, total: vip.services.reduce(0) { $0 + $1.servers.count }),
        since: Date())
      DaemonMetrics.announceState(vip: "\(vip.address)", announced: false)
    }
    evaluateAnnouncements()
  }

  /// Records a health verdict for the announcement and re-decides.
  func noteAnnounceHealth(_ event: HealthEvent) {
    guard !announceSpec.isEmpty else { return }
    announceHealth[event.server] = event.isUp ? .up(weight: event.weight.map { UInt32(clamping: $0) }) : .down
    evaluateAnnouncements()
  }

  /// Applies `AnnounceDecision`: adds the routes of VIPs that reached quorum, removes those that
  /// lost it. Nothing is announced once the daemon stops.
  func evaluateAnnouncements() {
    guard !stopping, let owner = announceOwner else { return }
    let decision = AnnounceDecision(
      spec: announceSpec, health: announceHealth, admin: adminStates.mapValues(\.override),
      previousQuorum: announceQuorum)
    announceQuorum = decision.quorumUp
    for outcome in decision.outcomes {
      let current = announcements[outcome.vip]
      if outcome.announced && owner.routed[outcome.vip] == nil {
        do {
          try owner.announce(outcome.vip, table: announceSpec.table)
          transition(outcome.vip, announced: true, reason: outcome.reason)
        } catch {
          logger.error("announce: cannot announce \(outcome.vip): \(error); retried at the next change")
          transition(outcome.vip, announced: false, reason: outcome.reason)
        }
      } else if !outcome.announced && owner.routed[outcome.vip] != nil {
        withdrawRoute(outcome.vip, reason: outcome.reason.description)
        transition(outcome.vip, announced: false, reason: outcome.reason)
      } else if current?.reason != outcome.reason {
        // Same route state, new reason (e.g. 3 of 4 up instead of 4 of 4): status only.
        announcements[outcome.vip] = AnnouncementState(
          announced: current?.announced ?? false, reason: outcome.reason, since: current?.since ?? Date())
      }
    }
  }

  /// SIGTERM / `lvskeeper stop`: every route withdrawn at once; then, if any was announced, the
  /// routers get `announce_withdraw_delay` to converge while IPVS still serves what arrives.
  func withdrawAllForStop() async {
    guard let owner = announceOwner else { return }
    let routed = owner.routed.keys.sorted()
    for vip in routed {
      withdrawRoute(vip, reason: "shutting down")
      transition(vip, announced: false, reason: .shuttingDown)
    }
    for vip in announcements.keys where !routed.contains(vip) {
      announcements[vip]?.reason = .shuttingDown
    }
    let delay = min(announceSpec.withdrawDelay, options.announceWithdrawBound)
    if !routed.isEmpty && delay < announceSpec.withdrawDelay {
      logger.warning(
        "announce: waiting \(delay), not announce_withdraw_delay \(announceSpec.withdrawDelay): the stop's bound was set at start by a configuration that announced less (restart to lengthen it)"
      )
    }
    guard !routed.isEmpty, delay > .zero else { return }
    logger.notice(
      "announce: withdrew \(routed.count) VIP(s); waiting \(delay) (announce_withdraw_delay) before stopping")
    // Not Task.sleep: the stop may run in a cancelled task, and the routers need the time anyway.
    let nanoseconds =
      Int(delay.components.seconds) * 1_000_000_000 + Int(delay.components.attoseconds / 1_000_000_000)
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
      DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { done.resume() }
    }
  }

  /// At the very end of stop: the device goes, with its addresses.
  func closeAnnounceInterface() {
    announceOwner?.close()
    announceOwner = nil
  }

  private func withdrawRoute(_ vip: IPAddress, reason: String) {
    do {
      try announceOwner?.withdraw(vip)
    } catch {
      logger.error("announce: cannot withdraw \(vip) (\(reason)): \(error)")
    }
  }

  private func transition(_ vip: IPAddress, announced: Bool, reason: AnnounceReason) {
    let was = announcements[vip]?.announced
    announcements[vip] = AnnouncementState(announced: announced, reason: reason, since: Date())
    guard was != announced else { return }
    DaemonMetrics.announceState(vip: "\(vip)", announced: announced)
    DaemonMetrics.announceTransition(vip: "\(vip)", announced: announced)
    logger.notice(
      "announce: \(vip) \(announced ? "ANNOUNCED" : "WITHDRAWN") (\(reason)) via \(announceSpec.interface) table \(announceSpec.table)"
    )
  }
}
