import Foundation
import KeeperCore
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Runs a set of VRRP instances (with their sync groups and tracked scripts) on one loop thread:
/// adverts, timers, VIPs, announcements, tracking and notify scripts. Invariant: all instance state
/// is touched only by the loop thread; `status()` reads a snapshot published under a lock.
public final class VRRPService: @unchecked Sendable {
  public let spec: VRRPGroupSpec
  private let network: any VRRPNetwork
  private let logger: Logger
  private let onEvent: @Sendable (VRRPStateEvent) -> Void
  private let lock = NSLock()
  private var snapshot = VRRPServiceStatus(instances: [], unmatchedDrops: [:])
  private var heartbeat = ContinuousClock.now
  private var stopRequested = false
  /// Signalled once when the loop thread has resigned everything and ended (stop waits on it).
  private let finished = DispatchSemaphore(value: 0)
  private var thread: Thread?
  private var wakePipe: [Int32] = [-1, -1]
  private let epoch = ContinuousClock.now

  // Loop-thread state.
  private var instances: [InstanceRuntime] = []
  private var receivers: [(any AdvertReceiving, [Int])] = []
  private var scripts: [String: ScriptTracker] = [:]
  /// `vrrp_track_process` counts, fed by `processEvents` on the loop thread.
  private var census: ProcessCensus?
  private var processIndex: [String: Int] = [:]
  private var processEvents: ProcessEventSocket?
  private var owner: (any AddressOwning)?
  /// The macvlans `start()` created, deleted when the loop ends (after the VIPs on them).
  private var createdVMACs: [(VMACSpec, String)] = []
  private var unmatchedDrops = VRRPCounters()
  /// A flood of bad packets costs one log line per reason per 10 s, not one per packet.
  private var dropLog = DropLogLimiter()
  private var nextTrackSample: Duration = .zero
  private var propagating = false
  private var loopScheduling: ThreadScheduling?
  private var linkMonitor: (any LinkEventSource)?
  private let scriptRunner: ScriptRunner
  /// Whether a BFD session is up for its trackers (the daemon's BFD engine); false when unknown.
  private let bfdState: @Sendable (String) -> Bool
  /// Set by `trackingChanged()`: the loop re-reads the tracking at its next wake-up.
  private var resampleRequested = false

  /// Validates the spec; nothing touches the system until `start()`, and then only through `network`.
  /// - Parameter scripts: runs vrrp_scripts and notify scripts (the daemon's one runner).
  public init(
    spec: VRRPGroupSpec, network: any VRRPNetwork = SystemVRRPNetwork(),
    logger: Logger = Logger(label: "lvskeeper.vrrp"), scripts: ScriptRunner = .shared,
    onEvent: @escaping @Sendable (VRRPStateEvent) -> Void = { _ in },
    bfdState: @escaping @Sendable (String) -> Bool = { _ in false }
  ) throws(VRRPSpecError) {
    for instance in spec.instances {
      try instance.validate()
      for tracked in instance.trackScripts
      where !(spec.scripts ?? []).contains(where: { $0.name == tracked.name }) {
        throw .unknownScript(instance: instance.name, script: tracked.name)
      }
      for tracked in instance.trackProcesses
      where !(spec.processes ?? []).contains(where: { $0.name == tracked.name }) {
        throw .unknownProcess(instance: instance.name, process: tracked.name)
      }
    }
    try spec.scheduling?.validate()
    for group in spec.syncGroups ?? [] {
      for member in group.members where !spec.instances.contains(where: { $0.name == member }) {
        throw .unknownSyncMember(group: group.name, member: member)
      }
    }
    self.spec = spec
    self.network = network
    self.logger = logger
    self.scriptRunner = scripts
    self.bfdState = bfdState
    self.onEvent = onEvent
  }

  /// Opens sockets and starts the loop thread; instances begin in Backup (or Master for owners).
  public func start() throws(VRRPRuntimeError) {
    guard thread == nil else { throw .alreadyStarted }
    do {
      owner = try network.makeAddressOwner()
    } catch {
      throw .system(instance: "*", error)
    }
    // use_vmac: the macvlans exist before the sockets that bind to them.
    for instanceSpec in spec.instances {
      guard let vmac = instanceSpec.vmac, let owner else { continue }
      do {
        try owner.createVMAC(
          vmac, base: instanceSpec.interface,
          mac: VMACSpec.mac(vrid: instanceSpec.vrid, ipv6: instanceSpec.isIPv6))
        createdVMACs.append((vmac, instanceSpec.interface))
      } catch {
        deleteVMACs()
        throw .system(instance: instanceSpec.name, error)
      }
    }
    for instanceSpec in spec.instances {
      if instanceSpec.startState != instanceSpec.initialState {
        logger.warning(
          "\(instanceSpec.name): initial state MASTER is incompatible with AH authentication; starting as BACKUP"
        )
      }
      let runtime: InstanceRuntime
      do {
        runtime = try InstanceRuntime(spec: instanceSpec, network: network)
      } catch {
        deleteVMACs()
        throw error
      }
      runtime.syncGroup = (spec.syncGroups ?? []).firstIndex { $0.members.contains(instanceSpec.name) }
      instances.append(runtime)
    }
    var links: [String: [Int]] = [:]
    for (index, runtime) in instances.enumerated() {
      links["\(runtime.spec.receiveDevice)|\(runtime.spec.isIPv6)", default: []].append(index)
    }
    for (_, members) in links.sorted(by: { $0.key < $1.key }) {
      let first = instances[members[0]].spec
      let groups = Set(members.compactMap { instances[$0].multicastGroup })
      do {
        let receiver = try network.makeReceiver(
          interface: first.receiveDevice, ipv6: first.isIPv6, groups: groups.sorted(),
          authenticationHeader: false
        )
        receivers.append((receiver, members))
        // keepalived's AH adverts are IP protocol 51: a second socket on the link for them.
        if members.contains(where: { instances[$0].spec.ahKey != nil }) {
          let ahReceiver = try network.makeReceiver(
            interface: first.receiveDevice, ipv6: false, groups: groups.sorted(), authenticationHeader: true)
          receivers.append((ahReceiver, members))
        }
      } catch {
        deleteVMACs()
        throw .system(instance: first.name, error)
      }
    }
    if let processes = spec.processes, !processes.isEmpty {
      // Subscribe before the scan, so nothing that starts in between is missed.
      do {
        processEvents = try ProcessEventSocket()
      } catch {
        let tracker = spec.instances.first { !$0.trackProcesses.isEmpty }?.name ?? "*"
        throw .system(
          instance: tracker,
          SystemCallError(
            "track_process \(processes.map(\.name).joined(separator: ", ")): \(error.operation) "
              + "(process events need CAP_NET_ADMIN and the initial network namespace)", code: error.code))
      }
      var census = ProcessCensus(specs: processes)
      census.scan(ProcessEventSocket.scan(commandLines: census.needsCommandLines), now: now)
      self.census = census
      for (index, process) in processes.enumerated() { processIndex[process.name] = index }
    }
    writeInitialTrackFiles()
    for script in spec.scripts ?? [] {
      let tracker = ScriptTracker(spec: script, runner: scriptRunner)
      scripts[script.name] = tracker
      tracker.start()
    }
    do {
      linkMonitor = try network.makeLinkEvents()
    } catch {
      logger.warning("link events unavailable, tracked interfaces are sampled every 100 ms: \(error)")
    }
    _ = pipe(&wakePipe)
    let loopThread = Thread { [self] in self.runLoop() }
    loopThread.name = "vrrp"
    thread = loopThread
    loopThread.start()
  }

  /// `init_file`: a tracked file gets its initial value when it does not exist yet (or always,
  /// with `overwrite`), before the first sample reads it.
  private func writeInitialTrackFiles() {
    var written: Set<String> = []
    for instance in spec.instances {
      for file in instance.trackFiles where !written.contains(file.path) {
        guard let value = file.initialValue else { continue }
        written.insert(file.path)
        if !file.overwrite && access(file.path, F_OK) == 0 { continue }
        let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
          logger.error("init_file \(file.path): \(String(cString: strerror(errno)))")
          continue
        }
        let text = Array("\(value)\n".utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
      }
    }
  }

  /// Resigns every Master with a priority-0 advert, removes the VIPs and ends the loop; blocks until done.
  public func stop() {
    lock.withLock { stopRequested = true }
    if wakePipe[1] >= 0 {
      var byte: UInt8 = 1
      _ = write(wakePipe[1], &byte, 1)
    }
    guard thread != nil else { return }
    finished.wait()
    finished.signal()  // a second stop() returns at once
    for tracker in scripts.values { tracker.stop() }
    for fd in wakePipe where fd >= 0 { close(fd) }
    wakePipe = [-1, -1]
  }

  /// A tracked object outside the loop changed (a BFD session went up or down): the loop re-reads
  /// the tracking at once instead of at its next 100 ms sample. Nothing happens after `stop()`.
  public func trackingChanged() {
    lock.withLock {
      guard !stopRequested, wakePipe[1] >= 0 else { return }
      resampleRequested = true
      var byte: UInt8 = 2
      _ = write(wakePipe[1], &byte, 1)
    }
  }

  /// The latest snapshot (published by the loop after every event).
  public func status() -> VRRPServiceStatus { lock.withLock { snapshot } }

  /// When the loop thread last went round (it wakes at least every 100 ms): lets a watchdog tell
  /// a live VRRP loop from a stuck one.
  public func lastHeartbeat() -> ContinuousClock.Instant { lock.withLock { heartbeat } }

  private var now: Duration { epoch.duration(to: .now) }

  private func runLoop() {
    if let scheduling = spec.scheduling, !scheduling.isDefault {
      for failure in ThreadControl.apply(scheduling) {
        logger.warning("VRRP thread scheduling not applied: \(failure)")
      }
    }
    loopScheduling = ThreadScheduling.current()
    if let loopScheduling { logger.info("VRRP thread \(loopScheduling.threadID) runs \(loopScheduling)") }
    let start = now
    sampleTracking(now: start)
    for index in instances.indices {
      // A Backup start removes VIPs a killed earlier run left; a Master start adopts them.
      let actions = instances[index].machine.start(now: start)
      if instances[index].machine.state != .master, let owner {
        instances[index].removeAddresses(owner, logger: logger)
      }
      apply(actions, to: index, now: start)
    }
    publish()
    while !lock.withLock({ stopRequested }) {
      let current = now
      logDropSummaries(now: current)
      if current >= nextTrackSample { sampleTracking(now: current) }
      for index in instances.indices {
        apply(instances[index].machine.tick(now: current), to: index, now: current)
        if instances[index].machine.state == .master {
          instances[index].fireAnnouncements(now: current, logger: logger)
        }
      }
      let deadlines = instances.flatMap { [$0.machine.nextDeadline, $0.nextAnnouncement] }.compactMap { $0 }
      let wait = min(deadlines.min() ?? nextTrackSample, nextTrackSample) - now
      let timeoutMs = max(0, min(100, Int((wait / .milliseconds(1)).rounded(.up))))
      var fds = receivers.map { pollfd(fd: $0.0.fd, events: Int16(POLLIN), revents: 0) }
      fds.append(pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0))
      if let linkMonitor { fds.append(pollfd(fd: linkMonitor.fd, events: Int16(POLLIN), revents: 0)) }
      if let processEvents { fds.append(pollfd(fd: processEvents.fd, events: Int16(POLLIN), revents: 0)) }
      let ready = poll(&fds, nfds_t(fds.count), Int32(timeoutMs))
      // Publish on timeouts too: a master-down timer turns Backup into Master without any packet.
      guard ready > 0 else {
        publish()
        continue
      }
      for (slot, entry) in receivers.enumerated() where fds[slot].revents & Int16(POLLIN) != 0 {
        if entry.0.carriesAH {
          while let packet = entry.0.receiveIPv4Packet() { handleAuthenticated(packet, members: entry.1) }
        } else {
          while let packet = entry.0.receive() { handle(packet, members: entry.1) }
        }
      }
      // A BFD session changed (trackingChanged): empty the pipe and re-read the tracking now.
      if fds[receivers.count].revents & Int16(POLLIN) != 0 {
        var bytes = [UInt8](repeating: 0, count: 64)
        _ = read(wakePipe[0], &bytes, bytes.count)
        if lock.withLock({ () -> Bool in
          defer { resampleRequested = false }
          return resampleRequested
        }) {
          sampleTracking(now: now)
        }
      }
      // A link went up or down: re-read the tracked interfaces now, not at the next sample.
      if let linkMonitor, fds[receivers.count + 1].revents & Int16(POLLIN) != 0, linkMonitor.drain() {
        sampleTracking(now: now)
      }
      if processEvents != nil, let last = fds.last, last.revents & Int16(POLLIN) != 0 {
        let changed = readProcessEvents()
        if changed { sampleTracking(now: now) }
        // Every fork and exit on the host wakes the loop: when nothing else was ready and no
        // quorum moved, only the heartbeat needs refreshing, not the whole status snapshot.
        if !changed && ready == 1 {
          let beat = ContinuousClock.now
          lock.withLock { heartbeat = beat }
          continue
        }
      }
      publish()
    }
    let end = now
    for index in instances.indices {
      apply(instances[index].machine.stop(now: end), to: index, now: end)
    }
    deleteVMACs()
    publish()
    finished.signal()
  }

  private func deleteVMACs() {
    guard let owner else { return }
    for (vmac, base) in createdVMACs {
      do { try owner.deleteVMAC(vmac, base: base) } catch {
        logger.error("cannot delete VMAC \(vmac.name): \(error)")
      }
    }
    createdVMACs = []
  }

  private func handle(_ packet: ReceivedPacket, members: [Int]) {
    let expectations = members.map { instances[$0].expectation }
    let vrid = packet.payload.count > 1 ? packet.payload[1] : nil
    deliver(
      ReceiveFilter.judge(packet, against: expectations), vrid: vrid, source: packet.source, members: members)
  }

  /// A packet from the protocol-51 socket: verified, de-wrapped and judged with the instances' AH
  /// sequence counters, which it may advance.
  private func handleAuthenticated(_ packet: [UInt8], members: [Int]) {
    let expectations = members.map { instances[$0].expectation }
    var sequences = members.map { instances[$0].ahSequence }
    let result = ReceiveFilter.judgeAuthenticated(packet, against: expectations, sequences: &sequences)
    for (slot, index) in members.enumerated() { instances[index].ahSequence = sequences[slot] }
    let source = packet.count >= 16 ? IPAddress(bytes: packet[12..<16]) : nil
    if case .accepted(let slot, let advert, _, _) = result.verdict, let sequence = result.sequence {
      let runtime = instances[members[slot]]
      let ours = runtime.machine.effectivePriority
      let lower =
        advert.priority < ours
        || (advert.priority == ours && source.map { $0 < runtime.sender.source } ?? false)
      // keepalived vrrp_state_master_rx: a Master that hears a lower priority continues after it.
      if runtime.machine.state == .master && advert.priority != 0 {
        if lower {
          runtime.ahSequence.follow(lowerPriority: sequence)
        } else {
          runtime.ahSequence.clearCycle()
        }
      }
    }
    deliver(result.verdict, vrid: result.vrid, source: source ?? .unspecified4, members: members)
  }

  private func deliver(_ verdict: ReceiveVerdict, vrid: UInt8?, source: IPAddress, members: [Int]) {
    let current = now
    switch verdict {
    case .accepted(let slot, let advert, let intervalMismatch, let addressMismatch):
      let index = members[slot]
      let runtime = instances[index]
      runtime.counters.received += 1
      if advert.priority == 0 { runtime.counters.priorityZeroReceived += 1 }
      if intervalMismatch {
        runtime.counters.intervalMismatchSeen += 1
      }
      // Log a v3 interval difference once per distinct value, not once per advert.
      if intervalMismatch && runtime.loggedIntervalMismatch != advert.advertInterval {
        runtime.loggedIntervalMismatch = advert.advertInterval
        logger.info("\(runtime.spec.name): advert interval \(advert.advertInterval) from \(source) differs")
      }
      if addressMismatch { runtime.counters.addressListMismatch += 1 }
      let actions = runtime.machine.receive(
        priority: advert.priority, interval: advert.interval, source: source, now: current)
      apply(actions, to: index, now: current)
    case .dropped(let reason, let detail):
      if let vrid, let index = members.first(where: { instances[$0].spec.vrid == vrid }) {
        instances[index].counters.drop(reason)
      } else {
        unmatchedDrops.drop(reason)
      }
      if dropLog.record(reason, now: current) {
        logger.log(
          level: Self.logLevel(reason),
          "VRRP packet from \(source) dropped: \(reason.rawValue) (\(detail)); more of these are counted in status and summarised at most every \(dropLog.interval)"
        )
      }
    }
  }

  /// Misconfiguration a peer shows (auth, interval, checksum, replay) is a warning; noise that any
  /// shared segment carries (other VRIDs, TTL) is debug.
  private static func logLevel(_ reason: DropReason) -> Logger.Level {
    [.advertInterval, .authentication, .checksum, .replay].contains(reason) ? .warning : .debug
  }

  private func logDropSummaries(now: Duration) {
    for (reason, count) in dropLog.dueSummaries(now: now) {
      logger.log(
        level: Self.logLevel(reason),
        "VRRP: \(count) more packet(s) dropped (\(reason.rawValue)) in the last \(dropLog.interval)")
    }
  }

  private func apply(_ actions: [MachineAction], to index: Int, now: Duration) {
    let runtime = instances[index]
    for action in actions {
      switch action {
      case .sendAdvert(let priority):
        runtime.sendAdvert(priority: priority, logger: logger)
      case .transition(let from, let to):
        transition(index, from: from, to: to, now: now)
      }
    }
  }

  private func transition(_ index: Int, from: VRRPState, to: VRRPState, now: Duration) {
    let runtime = instances[index]
    guard let owner else { return }
    logger.notice("VRRP_Instance(\(runtime.spec.name)) Entering \(to) STATE (from \(from))")
    if to == .master {
      runtime.counters.becameMaster += 1
      runtime.ahSequence.becomeMaster()
      runtime.installAddresses(owner, logger: logger)
      runtime.scheduleAnnouncements(now: now, logger: logger)
    } else if from == .master || runtime.ownsAddresses {
      runtime.cancelAnnouncements()
      runtime.removeAddresses(owner, logger: logger)
    }
    let groupName = runtime.syncGroup.map { (spec.syncGroups ?? [])[$0].name }
    runNotify(
      runtime.spec.notify, kind: "INSTANCE", name: runtime.spec.name, state: to,
      priority: runtime.machine.effectivePriority)
    onEvent(
      VRRPStateEvent(
        instance: runtime.spec.name, syncGroup: groupName, from: from, to: to,
        priority: runtime.machine.effectivePriority))
    propagate(index, to: to, now: now)
  }

  /// vrrp_sync_group: the member that moved drags the others along (Fault of one faults them all).
  private func propagate(_ index: Int, to: VRRPState, now: Duration) {
    guard let group = instances[index].syncGroup, !propagating else { return }
    propagating = true
    defer { propagating = false }
    let groupSpec = (spec.syncGroups ?? [])[group]
    let anyFault = instances.contains { $0.syncGroup == group && $0.ownFault }
    for other in instances.indices where other != index && instances[other].syncGroup == group {
      let runtime = instances[other]
      runtime.groupFault = anyFault && !runtime.ownFault
      var actions = runtime.machine.setFault(runtime.ownFault || runtime.groupFault, now: now)
      if to == .master || to == .backup { actions += runtime.machine.force(to, now: now) }
      apply(actions, to: other, now: now)
    }
    if let notify = groupSpec.notify {
      runNotify(notify, kind: "GROUP", name: groupSpec.name, state: to, priority: nil)
    }
  }

  /// notify_master/backup/fault/stop run as written; `notify` gets `TYPE NAME STATE PRIORITY`
  /// (keepalived's arguments). Both start on the script runner and are not waited for.
  private func runNotify(_ notify: NotifySpec, kind: String, name: String, state: VRRPState, priority: UInt8?)
  {
    let specific: RunnableScript?
    switch state {
    case .master: specific = notify.master
    case .backup: specific = notify.backup
    case .fault: specific = notify.fault
    case .initialize: specific = notify.stop
    }
    let logger = self.logger
    let report: @Sendable (RunnableScript) -> @Sendable (ScriptExit) -> Void = { script in
      { exit in
        if case .failedToStart = exit { logger.error("notify \(script): \(exit)") }
      }
    }
    if let specific { specific.run(on: scriptRunner, completion: report(specific)) }
    if let any = notify.any {
      let stateWord = state == .initialize ? "STOP" : state.rawValue
      var extra = [kind, name, stateWord]
      if let priority { extra.append(String(priority)) }
      any.run(extra: extra, on: scriptRunner, completion: report(any))
    }
  }

  /// Applies the pending process events to the census; true when a quorum changed.
  private func readProcessEvents() -> Bool {
    guard let processEvents, var census else { return false }
    let before = census.hasQuorum
    let current = now
    processEvents.drain { event in
      switch event {
      case .fork(let parent, let child): census.fork(parent: parent, child: child, now: current)
      case .exec(let pid), .comm(let pid):
        if let sighting = ProcessEventSocket.sighting(pid, commandLine: census.needsCommandLines) {
          census.exec(sighting, now: current)
        } else {
          census.exit(pid, now: current)
        }
      case .exit(let pid): census.exit(pid, now: current)
      case .lost:
        logger.warning("process events were lost (socket overrun); re-reading /proc")
        census.scan(ProcessEventSocket.scan(commandLines: census.needsCommandLines), now: current)
      }
    }
    self.census = census
    return census.hasQuorum != before
  }

  /// Samples interfaces, files, script verdicts and process quorums every 100 ms and feeds the machines.
  private func sampleTracking(now: Duration) {
    nextTrackSample = now + .milliseconds(100)
    census?.expire(now: now)
    for (index, runtime) in instances.enumerated() {
      var signals: [TrackSignal] =
        runtime.spec.dontTrackPrimary
        ? []
        : [
          .interface(name: runtime.spec.interface, up: network.isLinkUp(runtime.spec.interface), weight: nil)
        ]
      for tracked in runtime.spec.trackInterfaces {
        signals.append(
          .interface(
            name: tracked.name, up: network.isLinkUp(tracked.name), weight: tracked.weight,
            reverse: tracked.reverse))
      }
      for tracked in runtime.spec.trackScripts {
        guard let tracker = scripts[tracked.name], let up = tracker.isUp else { continue }
        // The entry's own `weight [reverse]`, else the script's.
        let (weight, reverse) =
          tracked.weight.map { ($0, tracked.reverse) } ?? (tracker.spec.weight, tracker.spec.reverse)
        signals.append(.script(name: tracked.name, up: up, weight: weight, reverse: reverse))
      }
      for tracked in runtime.spec.trackFiles {
        // keepalived reads the file with strtol(…, 0): a leading number (decimal, 0x hex, 0 octal),
        // 0 for a missing or unreadable file or text that is not a number, capped at ±254.
        let value = max(-254, min(254, TrackFileValue.read(tracked.path)))
        signals.append(
          .file(path: tracked.path, value: value, weight: tracked.weight ?? 1, reverse: tracked.reverse))
      }
      for tracked in runtime.spec.trackProcesses {
        guard let index = processIndex[tracked.name], let census else { continue }
        let process = census.specs[index]
        // The entry's own `weight [reverse]`, else the vrrp_track_process's.
        let (weight, reverse) =
          tracked.weight.map { ($0, tracked.reverse) } ?? (process.weight, process.reverse)
        signals.append(
          .process(name: tracked.name, up: census.hasQuorum[index], weight: weight, reverse: reverse))
      }
      for tracked in runtime.spec.trackBFDs {
        signals.append(
          .bfd(
            name: tracked.name, up: bfdState(tracked.name), weight: tracked.weight ?? 0,
            reverse: tracked.reverse))
      }
      let outcome = TrackingPolicy.evaluate(base: runtime.spec.priority, signals: signals)
      runtime.machine.setEffectivePriority(outcome.priority)
      runtime.faultReasons = outcome.faultReasons
      if outcome.fault != runtime.ownFault {
        runtime.ownFault = outcome.fault
        if outcome.fault { logger.warning("\(runtime.spec.name): fault: \(outcome.faultReasons)") }
      }
      let wantFault = runtime.ownFault || runtime.groupFault
      if runtime.machine.state != .initialize {
        apply(runtime.machine.setFault(wantFault, now: now), to: index, now: now)
      } else {
        _ = runtime.machine.setFault(wantFault, now: now)
      }
    }
  }

  private func publish() {
    let status = VRRPServiceStatus(
      instances: instances.map { $0.status() }, unmatchedDrops: unmatchedDrops.dropped,
      loopScheduling: loopScheduling)
    let now = ContinuousClock.now
    lock.withLock {
      snapshot = status
      heartbeat = now
    }
  }
}
