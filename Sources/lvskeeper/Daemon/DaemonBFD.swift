import BFD
import Foundation
import KeeperConfig
import Logging
import VRRP

/// The daemon's BFD engine and the parts that hear of its sessions: VRRP units re-read their
/// tracking at once when a session changes (instead of at their next 100 ms sample), and
/// `BFD_CHECK`s read the sessions' tracker view.
///
/// Invariant: at most one engine runs; `isUp` answers from the running engine's latest snapshot
/// (false for a session it does not run, as keepalived's tracked bfd starts down).
///
/// A lock, not the daemon actor: `isUp` is called from the VRRP loop threads and the checkers'
/// event loop, which must not wait for the actor, and `changed()` from the BFD thread.
final class BFDLink: @unchecked Sendable {  // all state under `lock`
  private let lock = NSLock()
  private var engine: BFDEngine?
  private var specs: [BFDInstanceSpec] = []
  private var listeners: [VRRPService] = []
  private let logger = Logger(label: "lvskeeper.bfd")

  func isUp(_ name: String) -> Bool { lock.withLock { engine }?.isUp(name) ?? false }

  var status: BFDEngineStatus? { lock.withLock { engine }?.status }

  /// The VRRP services to wake on a change (the daemon's units after a start or reload).
  func setListeners(_ services: [VRRPService]) { lock.withLock { listeners = services } }

  /// Runs exactly `specs`: an unchanged set keeps its engine (sessions stay up across a reload);
  /// a changed one restarts it. Throws, leaving no engine running, when the sockets cannot open.
  func apply(_ specs: [BFDInstanceSpec]) throws {
    let (old, unchanged) = lock.withLock { () -> (BFDEngine?, Bool) in
      if specs == self.specs && (engine != nil || specs.isEmpty) { return (nil, true) }
      defer {
        engine = nil
        self.specs = []
      }
      return (engine, false)
    }
    guard !unchanged else { return }
    old?.stop()
    guard !specs.isEmpty else { return }
    let fresh = BFDEngine(instances: specs, logger: logger) { [weak self] _, _ in self?.changed() }
    try fresh.start()
    lock.withLock {
      engine = fresh
      self.specs = specs
    }
    // A session may have changed before `engine` was set: let the units read it now.
    changed()
  }

  func stop() {
    let old = lock.withLock {
      defer {
        engine = nil
        specs = []
      }
      return engine
    }
    old?.stop()
  }

  private func changed() {
    for service in lock.withLock({ listeners }) { service.trackingChanged() }
  }

  /// keepalived's bfd_instance as the engine runs it.
  static func specs(_ configuration: KeeperConfiguration) -> [BFDInstanceSpec] {
    configuration.bfdInstances.map { bfd in
      BFDInstanceSpec(
        name: bfd.name, neighbor: bfd.neighbor, source: bfd.source,
        timing: BFDTiming(
          minRx: bfd.minRx, minTx: bfd.minTx, idleTx: bfd.idleTx, multiplier: UInt8(clamping: bfd.multiplier),
          passive: bfd.passive),
        ttl: bfd.ttl.map { UInt8(clamping: $0) }, maxHops: bfd.maxHops)
    }
  }
}
