/// Where the time of one destination dump goes: the kernel (send(2) runs the first dump pass,
/// recv(2) the rest), splitting the received buffers into messages, decoding the messages into
/// `KernelDestination`s, and the whole request. Measured by
/// `NetlinkIPVSKernel.profileDestinationDump` for the reconcile benchmark.
///
/// Invariant: send, recv, split and decode are disjoint parts of `total`, measured on one thread.
public struct DumpProfile: Sendable, Hashable {
  public var total: Duration = .zero
  public var send: Duration = .zero
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
      let start = ContinuousClock.now
      c.profile = DumpProfile()
      defer { c.profile = nil }
      let messages = try Self.dumpDestinations(of: service, c)
      let decodeStart = ContinuousClock.now
      let destinations = Self.decodeDestinations(messages, of: service)
      var profile = c.profile ?? DumpProfile()
      profile.decode = ContinuousClock.now - decodeStart
      profile.total = ContinuousClock.now - start
      (profile.messages, profile.destinations) = (messages.count, destinations.count)
      return profile
    }
  }
}
