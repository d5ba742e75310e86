import ArgumentParser
import Dispatch
import Foundation
import KeeperConfig
import Logging
import Metrics
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
  import Glibc
#endif

/// `lvskeeper run`: the daemon. VRRP, checkers and the IPVS reconciler in one process.
struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run the director with a configuration file."
  )

  @OptionGroup var options: ConfigOptions

  @Flag(help: "Compute and log IPVS changes and show them in status, but do not apply them.")
  var dryRun = false

  @Option(help: "The control socket for status, reload and stop (root only).")
  var controlSocket = ControlCoding.defaultSocketPath

  @Option(help: "Where state kept across restarts lives (server-state.json: lvskeeper server).")
  var stateDir = DaemonOptions.defaultStateDirectory

  @Option(help: "Serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9650).")
  var metricsListen: String?

  @Option(help: "The pid file held locked while this daemon runs (default: the control socket path + .pid).")
  var pidFile: String?

  @Option(
    help:
      "Seconds a stop waits for VRRP and checkers before giving up on them (the process exits 5 s later at most)."
  )
  var stopTimeout: Double = 10

  @Option(help: "Seconds a reload may take to read and check the configuration before it is refused.")
  var reloadTimeout: Double = 30

  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel: String = "info"

  func run() async throws { try await runDaemon() }

  /// The daemon's body, under its own name so `main` can call it without overload ambiguity.
  func runDaemon() async throws {
    let level = Logger.Level(rawValue: logLevel) ?? .info
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    let logger = Logger(label: "lvskeeper")

    var metricsTarget: (host: String, port: Int)?
    if let metricsListen {
      guard let colon = metricsListen.lastIndex(of: ":"),
        let port = Int(metricsListen[metricsListen.index(after: colon)...])
      else {
        DiagnosticOutput.standardError("lvskeeper: --metrics-listen wants HOST:PORT, got \(metricsListen)")
        throw ExitCode(1)
      }
      metricsTarget = (String(metricsListen[..<colon]).trimmingCharacters(in: ["[", "]"]), port)
    }
    guard stopTimeout > 0, reloadTimeout > 0 else {
      DiagnosticOutput.standardError("lvskeeper: --stop-timeout and --reload-timeout must be positive")
      throw ExitCode(1)
    }
    // Before anything else binds or changes: a second daemon on the same socket stops here.
    let lock: PidFile
    do {
      lock = try await PidFile.acquire(
        path: pidFile ?? PidFile.defaultPath(forSocket: controlSocket), socket: controlSocket)
    } catch {
      DiagnosticOutput.standardError("lvskeeper: \(error)")
      throw ExitCode(1)
    }
    defer { lock.release() }
    // Trapped now, before anything starts: a signal in the start window waits for the group.
    let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)

    // Virtual servers are mapped as they are read (`ServiceMappingStream`); the daemon maps the rest.
    let mapped = ServiceMappingStream()
    guard let loaded = DiagnosticOutput.load(options, sink: mapped) else { throw ExitCode(1) }
    if let (before, after) = DescriptorLimit.raiseToHardLimit(), after != before {
      logger.info("open-file limit raised from \(before) to \(after) (probes in flight each hold one)")
    }
    let registry = PrometheusCollectorRegistry()
    if metricsTarget != nil {
      MetricsSystem.bootstrap(DaemonMetrics.factory(registry: registry))
      DaemonMetrics.ipvsErrorsInitialized()
      DaemonMetrics.reloadsInitialized()
    }

    var daemonOptions = DaemonOptions(
      configPath: options.config, configID: options.configID, dryRun: dryRun, controlSocket: controlSocket)
    daemonOptions.stateDirectory = stateDir
    daemonOptions.stopTimeout = SchedulingMath.duration(stopTimeout)
    daemonOptions.reloadTimeout = SchedulingMath.duration(reloadTimeout)
    // Only a configuration that announces at start lengthens the stop's hard bound.
    if loaded.configuration.virtualServers.contains(where: \.announce) {
      daemonOptions.announceWithdrawBound = SchedulingMath.duration(
        loaded.configuration.globalDefs.announceWithdrawDelay)
    }
    let notifier = SystemdNotifier()
    let daemon: Daemon
    do {
      // `consume`: the model ends here, not at the end of this function; the daemon keeps only
      // what it mapped from it (tens of MB fewer at 36k real servers).
      daemon = try Daemon(
        options: daemonOptions, loaded: consume loaded, mapped: mapped, logger: logger, notifier: notifier)
    } catch {
      DiagnosticOutput.standardError("lvskeeper: cannot start: \(error)")
      notifier.status("cannot start: \(error)")
      throw ExitCode(1)
    }

    // The control socket before the parts start, so READY=1 (sent by start) means it answers.
    let (stopRequests, stopContinuation) = AsyncStream.makeStream(of: Void.self)
    let control: ControlServer
    do {
      control = try await ControlServer.start(
        path: controlSocket, group: MultiThreadedEventLoopGroup.singleton
      ) {
        request, peer in
        switch request.command {
        case .status:
          return ControlResponse(ok: true, status: await daemon.statusReport())
        case .reload:
          let outcome = await daemon.reload()
          return ControlResponse(
            ok: outcome.succeeded, error: outcome.succeeded ? nil : outcome.message, message: outcome.message)
        case .server:
          return await daemon.setServerState(request, peer: peer)
        case .stop:
          stopContinuation.yield()
          return ControlResponse(ok: true, message: "stopping")
        }
      }
    } catch {
      DiagnosticOutput.standardError("lvskeeper: control socket \(controlSocket) unavailable: \(error)")
      notifier.status("cannot start: control socket \(controlSocket): \(error)")
      throw ExitCode(1)
    }
    do {
      try await daemon.start()
    } catch {
      DiagnosticOutput.standardError("lvskeeper: cannot start: \(error)")
      notifier.status("cannot start: \(error)")
      await control.close()
      throw ExitCode(1)
    }
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
      .init(service: ListenerService(name: "control socket", close: { await control.close() }))
    ]
    if let metricsTarget {
      do {
        let endpoint = try await MetricsEndpoint.start(
          host: metricsTarget.host, port: metricsTarget.port, registry: registry,
          group: MultiThreadedEventLoopGroup.singleton, refresh: { await daemon.publishDropMetrics() })
        logger.info("metrics on http://\(metricsListen ?? "")/metrics")
        services.append(.init(service: ListenerService(name: "metrics", close: { await endpoint.close() })))
      } catch {
        logger.error("metrics endpoint \(metricsListen ?? ""): \(error)")
      }
    }
    // Shut down in reverse order: the director first (priority-0 adverts, VIPs), the listeners
    // last, so `status` answers through the stop.
    let bound = ShutdownBound(pending: daemon.pendingStop, logger: logger)
    let director = DirectorService(daemon: daemon, bound: bound, hardBound: daemonOptions.stopHardBound)
    let groupReference = ServiceGroupReference()
    services.insert(
      .init(service: SignalService(signals: signals, daemon: daemon, group: groupReference, logger: logger)),
      at: 0)
    services += [
      .init(
        service: StopRequestService(requests: stopRequests, logger: logger),
        successTerminationBehavior: .gracefullyShutdownGroup),
      .init(service: director),
    ]
    // Signals come from SignalService (trapped since before start), not gracefulShutdownSignals,
    // which would trap them only once the group runs and leave SIGHUP to someone else.
    var configuration = ServiceGroupConfiguration(services: services, logger: logger)
    // Escalates to cancellation a second before ShutdownBound's exit. No maximumCancellationDuration:
    // it ends in fatalError; ShutdownBound exits with a log line naming what hung instead.
    configuration.maximumGracefulShutdownDuration = daemonOptions.stopHardBound - .seconds(1)
    let group = ServiceGroup(configuration: configuration)
    groupReference.set(group)
    do {
      try await group.run()
    } catch {
      logger.error("shutdown: \(error)")
    }
    bound.disarm()
    guard director.finishedCleanly else { throw ExitCode(ExitStatus.stopTimedOut) }
  }
}
