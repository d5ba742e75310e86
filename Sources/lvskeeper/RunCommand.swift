import ArgumentParser
import Dispatch
import Foundation
import KeeperConfig
import Logging
import Metrics
import NIOPosix
import Prometheus

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

  @Option(help: "Serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9650).")
  var metricsListen: String?

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
    guard let loaded = DiagnosticOutput.load(options) else { throw ExitCode(1) }
    if let (before, after) = DescriptorLimit.raiseToHardLimit(), after != before {
      logger.info("open-file limit raised from \(before) to \(after) (probes in flight each hold one)")
    }

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
    let registry = PrometheusCollectorRegistry()
    if metricsTarget != nil { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }

    let daemonOptions = DaemonOptions(
      configPath: options.config, configID: options.configID, dryRun: dryRun, controlSocket: controlSocket)
    let notifier = SystemdNotifier()
    let daemon: Daemon
    do {
      daemon = try Daemon(options: daemonOptions, loaded: loaded, logger: logger, notifier: notifier)
      try await daemon.start()
    } catch {
      DiagnosticOutput.standardError("lvskeeper: cannot start: \(error)")
      notifier.status("cannot start: \(error)")
      throw ExitCode(1)
    }

    let (stopRequests, stopContinuation) = AsyncStream.makeStream(of: Void.self)
    let control: ControlServer
    do {
      control = try await ControlServer.start(
        path: controlSocket, group: MultiThreadedEventLoopGroup.singleton
      ) {
        request in
        switch request.command {
        case .status:
          return ControlResponse(ok: true, status: await daemon.statusReport())
        case .reload:
          let outcome = await daemon.reload()
          return ControlResponse(
            ok: outcome.succeeded, error: outcome.succeeded ? nil : outcome.message, message: outcome.message)
        case .stop:
          stopContinuation.yield()
          return ControlResponse(ok: true, message: "stopping")
        }
      }
    } catch {
      logger.error("control socket \(controlSocket) unavailable: \(error); status/reload/stop will not work")
      await daemon.stop()
      throw ExitCode(1)
    }
    var metricsEndpoint: MetricsEndpoint?
    if let metricsTarget {
      do {
        metricsEndpoint = try await MetricsEndpoint.start(
          host: metricsTarget.host, port: metricsTarget.port, registry: registry,
          group: MultiThreadedEventLoopGroup.singleton)
        logger.info("metrics on http://\(metricsListen ?? "")/metrics")
      } catch {
        logger.error("metrics endpoint \(metricsListen ?? ""): \(error)")
      }
    }

    let signals = SignalWatch { signal in
      if signal == SIGHUP {
        Task { _ = await daemon.reload() }
      } else {
        stopContinuation.yield()
      }
    }
    for await _ in stopRequests { break }
    signals.cancel()
    // A second TERM during a hung stop exits at once: the operator insists.
    signal(SIGTERM, SIG_DFL)
    await daemon.stop()
    await control.close()
    await metricsEndpoint?.close()
  }
}

/// SIGHUP, SIGTERM and SIGINT delivered on a dispatch queue instead of as async-signal handlers.
final class SignalWatch: @unchecked Sendable {  // sources are immutable after init; cancel is thread-safe
  private let sources: [any DispatchSourceSignal]

  init(handler: @escaping @Sendable (Int32) -> Void) {
    let queue = DispatchQueue(label: "lvskeeper.signals")
    sources = [SIGHUP, SIGTERM, SIGINT].map { number in
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler { handler(number) }
      source.resume()
      return source
    }
  }

  func cancel() { for source in sources { source.cancel() } }
}
