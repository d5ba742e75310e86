import KeeperCore

@testable import IPVSSync

func ip(_ s: String) -> IPAddress { IPAddress(s)! }
func tcp(_ a: String, _ p: UInt16) -> ServiceKey { .inet(address: ip(a), port: p, protocol: .tcp) }
func rs(_ a: String, _ p: UInt16 = 80) -> DestinationKey { DestinationKey(address: ip(a), port: p) }

let vip = tcp("10.0.0.1", 80)
let wrr = ServiceAttributes(scheduler: "wrr", family: .inet)

func kernelTable(_ services: [ServiceKey: (ServiceAttributes, [DestinationKey: (UInt32, UInt32)])])
  -> IPVSTable
{
  var table = IPVSTable()
  for (key, (attributes, dests)) in services {
    var entry = TableService(attributes: attributes)
    for (d, (weight, conns)) in dests {
      entry.destinations[d] = KernelDestination(
        key: d, attributes: DestinationAttributes(weight: weight), activeConnections: conns)
    }
    table.services[key] = entry
  }
  return table
}

func desired(
  _ dests: [DestinationKey: UInt32], attributes: ServiceAttributes = wrr,
  configured: Set<DestinationKey>? = nil,
  drain: Duration = .seconds(60)
) -> DesiredService {
  DesiredService(
    attributes: attributes, destinations: dests.mapValues { DestinationAttributes(weight: $0) },
    configured: configured ?? Set(dests.keys), drainTimeout: drain)
}

/// A settable clock for drain tests.
final class TestClock: @unchecked Sendable {
  private var instant = ContinuousClock.now
  func now() -> ContinuousClock.Instant { instant }
  func advance(_ d: Duration) { instant = instant.advanced(by: d) }
}
