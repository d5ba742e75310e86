import CBFDSocket
import Foundation
import KeeperCore
import Logging

/// Why the engine could not start.
public enum BFDEngineError: Error, CustomStringConvertible {
  case socket(String, Int32)
  case alreadyStarted

  public var description: String {
    switch self {
    case .socket(let what, let code): return "BFD: \(what): \(String(cString: strerror(code)))"
    case .alreadyStarted: return "BFD: the engine is already running"
    }
  }
}

/// Runs every configured BFD session on one thread: a receive socket per address family on UDP
/// 3784 (TTL / hop limit and destination reported per datagram), a send socket per session from a
/// port in 49152-65535 with the configured TTL, and the sessions' transmit and detection deadlines
/// on one deadline heap. Its own thread, not the VRRP loop or the check engine: detection times of
/// tens of milliseconds must not wait behind a VIP change or a burst of probes.
///
/// Invariants: session state is touched only on the engine thread; `onChange` is called on that
/// thread once per change of a session's tracker view (`BFDSession.reportedUp`), in order; at stop
/// nothing is sent (keepalived sends no AdminDown either: the neighbor sees its detection time pass).
public final class BFDEngine: @unchecked Sendable {  // mutable state confined to the thread, or under `lock`
  private struct Slot {
    let spec: BFDInstanceSpec
    var session: BFDSession
    var sender: Int32 = -1
    var packetsIn: UInt64 = 0
    var packetsOut: UInt64 = 0
    var dropped: UInt64 = 0
    /// The deadlines already on the heap, so a packet that moves nothing pushes nothing.
    var armedTransmit: Duration?
    var armedDetection: Duration?
  }

  private enum Timer { case transmit, detection }

  public let instances: [BFDInstanceSpec]
  private let logger: Logger
  private let onChange: @Sendable (String, Bool) -> Void
  private let epoch = ContinuousClock.now
  private var slots: [Slot] = []
  private var receivers: [Int32] = []
  private var wake: [Int32] = [-1, -1]
  private var heap = DeadlineHeap<Duration, (slot: Int, timer: Timer)>()
  private var malformed: UInt64 = 0
  private var unmatched: UInt64 = 0
  private var thread: Thread?
  private let lock = NSLock()
  private var stopping = false
  private var snapshot = BFDEngineStatus()
  private let finished = DispatchSemaphore(value: 0)

  /// - Parameter onChange: called with a session's name and whether it is up for its trackers.
  public init(
    instances: [BFDInstanceSpec], logger: Logger = Logger(label: "lvskeeper.bfd"),
    onChange: @escaping @Sendable (String, Bool) -> Void = { _, _ in }
  ) {
    self.instances = instances
    self.logger = logger
    self.onChange = onChange
  }

  /// Opens the sockets (in the caller's network namespace) and starts the thread.
  public func start() throws(BFDEngineError) {
    guard thread == nil else { throw .alreadyStarted }
    var used = Set<UInt32>()
    for spec in instances {
      var discriminator: UInt32 = 0
      while discriminator == 0 || used.contains(discriminator) {
        discriminator = UInt32.random(in: 1...UInt32.max)
      }
      used.insert(discriminator)
      slots.append(
        Slot(spec: spec, session: BFDSession(timing: spec.timing, localDiscriminator: discriminator)))
    }
    do {
      for family in Set(instances.map(\.neighbor.family)).sorted() {
        let fd = lvsk_bfd_open_receiver(Int32(family.kernelValue), BFDInstanceSpec.controlPort)
        guard fd >= 0 else { throw BFDEngineError.socket("cannot listen on UDP \(family) port 3784", errno) }
        receivers.append(fd)
      }
      for index in slots.indices {
        let spec = slots[index].spec
        var port: UInt16 = 0
        let fd: Int32 =
          if let source = spec.source {
            source.bytes.withUnsafeBufferPointer {
              lvsk_bfd_open_sender(
                Int32(spec.neighbor.family.kernelValue), $0.baseAddress, Int32(spec.ttl), &port)
            }
          } else {
            lvsk_bfd_open_sender(Int32(spec.neighbor.family.kernelValue), nil, Int32(spec.ttl), &port)
          }
        guard fd >= 0 else { throw BFDEngineError.socket("bfd_instance \(spec.name): no send socket", errno) }
        slots[index].sender = fd
      }
      guard pipe(&wake) == 0 else { throw BFDEngineError.socket("pipe", errno) }
    } catch let error as BFDEngineError {
      closeAll()
      throw error
    } catch {
      closeAll()
      throw .socket("start", EINVAL)
    }
    let now = elapsed()
    for index in slots.indices {
      slots[index].session.start(now: now)
      arm(index)
    }
    publish()
    let loop = Thread { [self] in self.run() }
    loop.name = "bfd"
    thread = loop
    loop.start()
  }

  /// Stops the thread and closes every socket; returns when the thread has ended.
  public func stop() {
    guard thread != nil else { return }
    let first = lock.withLock {
      defer { stopping = true }
      return !stopping
    }
    guard first else { return }
    var byte: UInt8 = 1
    _ = write(wake[1], &byte, 1)
    finished.wait()
  }

  /// The latest picture of every session (published by the thread after each event).
  public var status: BFDEngineStatus { lock.withLock { snapshot } }

  /// Whether the named session is up for its trackers; nil for an unknown name.
  public func isUp(_ name: String) -> Bool? {
    lock.withLock { snapshot.sessions.first { $0.name == name }?.up }
  }

  private func elapsed() -> Duration { ContinuousClock.now - epoch }

  private func closeAll() {
    for fd in receivers + slots.map(\.sender) + wake where fd >= 0 { close(fd) }
    receivers = []
    wake = [-1, -1]
    for index in slots.indices { slots[index].sender = -1 }
  }

  private func arm(_ index: Int) {
    let session = slots[index].session
    if let at = session.transmitDeadline, at != slots[index].armedTransmit {
      heap.push((index, .transmit), at: at)
      slots[index].armedTransmit = at
    }
    if let at = session.detectionDeadline, at != slots[index].armedDetection {
      heap.push((index, .detection), at: at)
      slots[index].armedDetection = at
    }
  }

  private func run() {
    var fds = (receivers + [wake[0]]).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    var buffer = [UInt8](repeating: 0, count: 512)
    while !lock.withLock({ stopping }) {
      let now = elapsed()
      fireDue(now)
      let timeout: Int32
      if let next = heap.earliest {
        let wait = next - elapsed()
        // poll(2) counts milliseconds: round up, a deadline is never run early.
        timeout = wait <= .zero ? 0 : Int32(min(60_000, (wait / .milliseconds(1)).rounded(.up)))
      } else {
        timeout = 60_000
      }
      let ready = poll(&fds, nfds_t(fds.count), timeout)
      guard ready > 0 else { continue }
      for index in fds.indices.dropLast() where fds[index].revents & Int16(POLLIN) != 0 {
        drain(fds[index].fd, &buffer)
      }
      publish()
    }
    closeAll()
    finished.signal()
  }

  /// Runs every deadline that is due; stale heap entries (a deadline that moved) are skipped.
  private func fireDue(_ now: Duration) {
    var changed = false
    while let (at, entry) = heap.popDue(now) {
      let session = slots[entry.slot].session
      switch entry.timer {
      case .transmit:
        guard session.transmitDeadline == at else { continue }
        let packet = slots[entry.slot].session.transmit(now: now, jitter: Double.random(in: 0...1))
        send(packet, from: entry.slot)
        arm(entry.slot)
      case .detection:
        guard session.detectionDeadline == at else { continue }
        let change = slots[entry.slot].session.expire(now: now)
        report(change, slot: entry.slot, wasUp: session.reportedUp)
        arm(entry.slot)
      }
      changed = true
    }
    if changed { publish() }
  }

  private func send(_ packet: BFDControlPacket, from index: Int) {
    let spec = slots[index].spec
    let bytes = packet.encode()
    let sent = spec.neighbor.bytes.withUnsafeBufferPointer { destination in
      bytes.withUnsafeBufferPointer {
        lvsk_bfd_send(
          slots[index].sender, Int32(spec.neighbor.family.kernelValue), destination.baseAddress,
          BFDInstanceSpec.controlPort, $0.baseAddress, $0.count)
      }
    }
    if sent == bytes.count { slots[index].packetsOut += 1 }
  }

  private func drain(_ fd: Int32, _ buffer: inout [UInt8]) {
    var family: Int32 = 0
    var source = [UInt8](repeating: 0, count: 16)
    var destination = [UInt8](repeating: 0, count: 16)
    var ttl: Int32 = 0
    var truncated: Int32 = 0
    while true {
      let count = buffer.withUnsafeMutableBufferPointer { b in
        lvsk_bfd_receive(fd, b.baseAddress, b.count, &family, &source, &destination, &ttl, &truncated)
      }
      guard count >= 0 else { return }
      let length = family == AF_INET ? 4 : 16
      guard truncated == 0, let from = IPAddress(bytes: source.prefix(length)),
        let to = IPAddress(bytes: destination.prefix(length))
      else {
        malformed += 1
        continue
      }
      handle(Array(buffer.prefix(count)), from: from, to: to, ttl: Int(ttl))
    }
  }

  private func handle(_ bytes: [UInt8], from: IPAddress, to: IPAddress, ttl: Int) {
    let packet: BFDControlPacket
    do {
      packet = try BFDControlPacket.decode(bytes)
    } catch {
      malformed += 1
      logger.debug("BFD: dropped a packet from \(from): \(error)")
      return
    }
    // RFC 5880 6.8.6: by Your Discriminator, else by the addresses (single hop: the neighbor and,
    // when configured, our source).
    let found =
      packet.yourDiscriminator != 0
      ? slots.firstIndex { $0.session.localDiscriminator == packet.yourDiscriminator }
      : slots.firstIndex { $0.spec.neighbor == from && ($0.spec.source == nil || $0.spec.source == to) }
    guard let index = found, slots[index].spec.neighbor == from else {
      unmatched += 1
      return
    }
    let spec = slots[index].spec
    // keepalived's GTSM (RFC 5881 5) extended by max_hops: the TTL may have dropped by max_hops.
    if spec.maxHops != 255 && ttl != 0 && spec.maxHops + ttl < Int(spec.ttl) {
      slots[index].dropped += 1
      return
    }
    slots[index].packetsIn += 1
    let wasUp = slots[index].session.reportedUp
    let change = slots[index].session.receive(packet, now: elapsed(), jitter: Double.random(in: 0...1))
    if let final = slots[index].session.takeFinal() { send(final, from: index) }
    report(change, slot: index, wasUp: wasUp)
    arm(index)
  }

  private func report(_ change: BFDSession.Change, slot index: Int, wasUp: Bool) {
    let session = slots[index].session
    let name = slots[index].spec.name
    if case .state(let from, let to) = change {
      let text =
        "BFD \(name): \(from) -> \(to) (local diagnostic: \(session.diagnostic), remote: \(session.remoteDiagnostic))"
      if from == .up || to == .up { logger.warning("\(text)") } else { logger.info("\(text)") }
    }
    if session.reportedUp != wasUp { onChange(name, session.reportedUp) }
  }

  private func publish() {
    let sessions = slots.map { slot in
      let s = slot.session
      return BFDSessionStatus(
        name: slot.spec.name, neighbor: slot.spec.neighbor.description, state: s.state.description,
        remoteState: s.remoteState.description, diagnostic: s.diagnostic.description,
        remoteDiagnostic: s.remoteDiagnostic.description, up: s.reportedUp,
        localDiscriminator: s.localDiscriminator, remoteDiscriminator: s.remoteDiscriminator,
        transmitInterval: s.transmitInterval, detectionTime: s.detectionTime, remoteMinRx: s.remoteMinRx,
        remoteMinTx: s.remoteMinTx, remoteMultiplier: s.remoteMultiplier, packetsIn: slot.packetsIn,
        packetsOut: slot.packetsOut, dropped: slot.dropped)
    }
    let status = BFDEngineStatus(sessions: sessions, malformed: malformed, unmatched: unmatched)
    lock.withLock { snapshot = status }
  }
}
