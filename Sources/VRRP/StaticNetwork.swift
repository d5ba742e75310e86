import KeeperCore
import Logging

/// `static_ipaddress`, `static_routes` and `static_rules`: network state that does not follow any
/// VRRP instance. keepalived sets it when its VRRP process starts, removes what a reload dropped,
/// and removes all of it when the process stops (vrrp_daemon.c: start_vrrp, stop_vrrp).
public struct StaticNetworkSpec: Sendable, Codable, Equatable {
  /// Each with its device set.
  public var addresses: [VirtualAddressSpec]
  public var routes: [IPRoute]
  public var rules: [IPRule]

  public init(addresses: [VirtualAddressSpec] = [], routes: [IPRoute] = [], rules: [IPRule] = []) {
    self.addresses = addresses
    self.routes = routes
    self.rules = rules
  }

  public var isEmpty: Bool { addresses.isEmpty && routes.isEmpty && rules.isEmpty }
}

/// Keeps the kernel's static addresses, routes and rules equal to a `StaticNetworkSpec`.
///
/// Invariant: after `apply(spec)` every entry of `spec` is installed (or its failure logged by
/// name, the others still installed) and every entry of the previous spec that `spec` lacks is
/// removed; `removeAll()` removes everything the current spec names. Entries already present are
/// adopted, absent ones count as removed. Addresses go in before routes and rules (a route may use
/// one as `src`) and come out after them. Not thread-safe: one caller (the daemon) at a time.
public final class StaticNetworkOwner: @unchecked Sendable {
  private let owner: any AddressOwning
  private let logger: Logger
  public private(set) var current = StaticNetworkSpec()

  public init(network: any VRRPNetwork = SystemVRRPNetwork(), logger: Logger) throws(SystemCallError) {
    owner = try network.makeAddressOwner()
    self.logger = logger
  }

  /// Removes what the current spec has and `spec` lacks, then installs all of `spec`; returns the
  /// number of entries that failed.
  @discardableResult
  public func apply(_ spec: StaticNetworkSpec) -> Int {
    let dropped = StaticNetworkSpec(
      addresses: current.addresses.filter { !spec.addresses.contains($0) },
      routes: current.routes.filter { !spec.routes.contains($0) },
      rules: current.rules.filter { !spec.rules.contains($0) })
    var failures = remove(dropped)
    for address in spec.addresses {
      failures += attempt("add static address \(address.address)") {
        try owner.add(address, defaultDevice: address.device ?? "")
      }
    }
    for route in spec.routes {
      failures += attempt("add static route \(route)") { try owner.add(route) }
    }
    for rule in spec.rules {
      failures += attempt("add static rule \(rule)") { try owner.add(rule) }
    }
    current = spec
    return failures
  }

  /// Removes every static entry (at stop); returns the number of entries that failed.
  @discardableResult
  public func removeAll() -> Int {
    let failures = remove(current)
    current = StaticNetworkSpec()
    return failures
  }

  private func remove(_ spec: StaticNetworkSpec) -> Int {
    var failures = 0
    for rule in spec.rules {
      failures += attempt("remove static rule \(rule)") { try owner.remove(rule) }
    }
    for route in spec.routes {
      failures += attempt("remove static route \(route)") { try owner.remove(route) }
    }
    for address in spec.addresses {
      failures += attempt("remove static address \(address.address)") {
        try owner.remove(address, defaultDevice: address.device ?? "")
      }
    }
    return failures
  }

  /// Runs one netlink request; a failure is logged with what it was and counted, never thrown.
  private func attempt(_ what: String, _ body: () throws -> Bool) -> Int {
    do {
      _ = try body()
      return 0
    } catch {
      logger.error("cannot \(what): \(error)")
      return 1
    }
  }
}
