/// Where the time of one destination dump goes: the kernel (recv(2), which runs the dump), splitting
/// the received buffers into messages, and decoding the messages into `KernelDestination`s.
/// Measured by `NetlinkIPVSKernel.profileDestinationDump` for the reconcile benchmark.
///
/// Invariant: the three phases are disjoint, measured in that order on one thread.
public struct DumpProfile: Sendable, Hashable {
  public var recv: Duration = .zero
  public var split: Duration = .zero
  public var decode: Duration = .zero
  public var bytes = 0
  public var recvCalls = 0
  public var messages = 0
  public var destinations = 0

  public init() {}
}

extension NetlinkIPVSKernel {
  /// Dumps the destinations of `service` as `destinations(of:)` does, timing each phase.
  public func profileDestinationDump(of service: ServiceKey) throws(IPVSKernelError) -> DumpProfile {
    try connection.withLock { c throws(IPVSKernelError) -> DumpProfile in
      c.receiveProfile = (.zero, .zero, 0, 0)
      defer { c.receiveProfile = nil }
      let messages = try Self.dumpDestinations(of: service, c)
      let decodeStart = ContinuousClock.now
      let destinations = Self.decodeDestinations(messages, of: service)
      let decode = ContinuousClock.now - decodeStart
      let p = c.receiveProfile ?? (.zero, .zero, 0, 0)
      var profile = DumpProfile()
      (profile.recv, profile.split, profile.decode) = (p.recv, p.split, decode)
      (profile.bytes, profile.recvCalls) = (p.bytes, p.calls)
      (profile.messages, profile.destinations) = (messages.count, destinations.count)
      return profile
    }
  }
}
