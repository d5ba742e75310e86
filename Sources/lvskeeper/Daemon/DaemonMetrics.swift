import CoreMetrics
import Metrics
import Prometheus

/// The daemon's metrics, recorded through swift-metrics (exported by swift-prometheus when
/// `--metrics-listen` is given; no-ops otherwise).
///
/// Names follow Prometheus conventions: `_total` counters, `_seconds` histograms. Invariant:
/// every name recorded here has a line in `help` (so each family carries `# HELP`, which
/// `promtool check metrics` requires) and `histogramBuckets` names the buckets of each histogram.
enum DaemonMetrics {
  /// `# HELP` text by metric name; `HelpfulMetricsFactory` attaches it.
  static let help: [String: String] = [
    "lvskeeper_vrrp_transitions_total": "VRRP state transitions by instance and the state entered.",
    "lvskeeper_vrrp_state":
      "Current VRRP state of an instance: 0 init, 1 backup, 2 master, 3 fault (labels: vrrp_instance, vrid, interface).",
    "lvskeeper_check_transitions_total": "Real server health transitions decided by the checkers, by result.",
    "lvskeeper_real_server_up":
      "1 while the checkers hold a real server up in a virtual service, 0 while down.",
    "lvskeeper_check_latency_seconds":
      "Latency of the probe that decided a real server's health transition, in seconds.",
    "lvskeeper_ipvs_operations_total": "IPVS operations applied to the kernel, by operation and result.",
    "lvskeeper_ipvs_errors_total": "IPVS operations the kernel refused (retried at the next reconcile).",
    "lvskeeper_vrrp_dropped_packets_total":
      "Received VRRP packets dropped, by instance (\"-\": none matched) and reason.",
    "lvskeeper_config_reloads_total": "Configuration reloads by result (ok, refused).",
    "lvskeeper_config_last_reload_successful":
      "1 when the last reload was applied (or none was asked for since start), 0 when it was refused.",
    "lvskeeper_virtual_service_quorum_up":
      "1 while a virtual service's live weight holds its quorum, 0 while lost.",
    "lvskeeper_real_server_admin_state":
      "Operator state of a real server set with `lvskeeper server` (1 for the current state: ready, drain, maint, weight).",
    "lvskeeper_announce_state": "1 while an announced VIP's route is installed for the routing daemon, 0 while withdrawn.",
    "lvskeeper_announce_transitions_total": "Announcement changes of a VIP, by the state entered (announced, withdrawn).",
  ]

  /// Probe latencies: half a millisecond (a loopback connect) to the connect timeouts' range.
  static let checkLatencyBuckets: [Double] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  ]

  /// The factory `run` bootstraps swift-metrics with: Prometheus, with HELP and buckets.
  static func factory(registry: PrometheusCollectorRegistry) -> HelpfulMetricsFactory {
    HelpfulMetricsFactory(
      registry: registry, help: help, valueBuckets: ["lvskeeper_check_latency_seconds": checkLatencyBuckets])
  }

  static func vrrpTransition(instance: String, vrid: Int?, interface: String?, to state: String, code: Int) {
    Counter(
      label: "lvskeeper_vrrp_transitions_total", dimensions: [("vrrp_instance", instance), ("state", state)]
    ).increment()
    Gauge(
      label: "lvskeeper_vrrp_state",
      dimensions: [
        ("vrrp_instance", instance), ("vrid", vrid.map { "\($0)" } ?? ""), ("interface", interface ?? ""),
      ]
    ).record(code)
  }

  /// `servers`: the (service, real server) pairs the checked server stands for.
  static func healthTransition(
    servers: [(service: String, server: String)], up: Bool, latencySeconds: Double?
  ) {
    Counter(label: "lvskeeper_check_transitions_total", dimensions: [("result", up ? "up" : "down")])
      .increment()
    for (service, server) in servers {
      Gauge(label: "lvskeeper_real_server_up", dimensions: [("service", service), ("server", server)])
        .record(up ? 1 : 0)
    }
    if let latencySeconds {
      Recorder(label: "lvskeeper_check_latency_seconds", aggregate: true).record(latencySeconds)
    }
  }

  static func ipvsOperation(_ kind: String, failed: Bool) {
    Counter(
      label: "lvskeeper_ipvs_operations_total",
      dimensions: [("op", kind), ("result", failed ? "error" : "ok")]
    )
    .increment()
    if failed { Counter(label: "lvskeeper_ipvs_errors_total").increment() }
  }

  /// At start, so `rate()` and alerts see a zero before the first error.
  static func ipvsErrorsInitialized() { Counter(label: "lvskeeper_ipvs_errors_total").increment(by: 0) }

  static func vrrpDropped(instance: String, reason: String, count: UInt64) {
    Counter(
      label: "lvskeeper_vrrp_dropped_packets_total",
      dimensions: [("vrrp_instance", instance), ("reason", reason)]
    ).increment(by: Int64(clamping: count))
  }

  static func reload(succeeded: Bool) {
    Counter(label: "lvskeeper_config_reloads_total", dimensions: [("result", succeeded ? "ok" : "refused")])
      .increment()
    Gauge(label: "lvskeeper_config_last_reload_successful").record(succeeded ? 1 : 0)
  }

  /// Both results at start, so a first refused reload is an increase from 0 to alert on.
  static func reloadsInitialized() {
    for result in ["ok", "refused"] {
      Counter(label: "lvskeeper_config_reloads_total", dimensions: [("result", result)]).increment(by: 0)
    }
    Gauge(label: "lvskeeper_config_last_reload_successful").record(1)
  }

  static func quorum(service: String, up: Bool) {
    Gauge(label: "lvskeeper_virtual_service_quorum_up", dimensions: [("service", service)]).record(up ? 1 : 0)
  }

  /// nil `state`: ready (health-driven).
  static func adminState(service: String, server: String, state: ServerAdminState.State?) {
    let current = state?.rawValue ?? "ready"
    for name in ["ready"] + ServerAdminState.State.allCases.map(\.rawValue) {
      Gauge(
        label: "lvskeeper_real_server_admin_state",
        dimensions: [("service", service), ("server", server), ("state", name)]
      ).record(name == current ? 1 : 0)
    }
  }

  /// `lvskeeper_announce_state{vip}`: 1 while the VIP's route is installed, 0 otherwise.
  static func announceState(vip: String, announced: Bool) {
    Gauge(label: "lvskeeper_announce_state", dimensions: [("vip", vip)]).record(announced ? 1 : 0)
  }

  static func announceTransition(vip: String, announced: Bool) {
    Counter(
      label: "lvskeeper_announce_transitions_total",
      dimensions: [("vip", vip), ("state", announced ? "announced" : "withdrawn")]
    ).increment()
  }
}

/// swift-prometheus's `PrometheusMetricsFactory`, but every family gets its `# HELP` line (the
/// stock factory registers them with empty help) and histograms get buckets by name.
///
/// Invariant: one help text per name (the registry requires it); a name missing from `help`
/// gets its own name as help, so the exposition stays valid while a test flags the gap.
struct HelpfulMetricsFactory: CoreMetrics.MetricsFactory {
  let registry: PrometheusCollectorRegistry
  let help: [String: String]
  let valueBuckets: [String: [Double]]

  private func descriptor(_ label: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? label)
  }

  func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
    registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
  }

  func makeFloatingPointCounter(label: String, dimensions: [(String, String)])
    -> any FloatingPointCounterHandler
  {
    registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
  }

  func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
    guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
    return registry.makeValueHistogram(
      descriptor: descriptor(label), labels: dimensions,
      buckets: valueBuckets[label] ?? DaemonMetrics.checkLatencyBuckets)
  }

  func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
    registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
  }

  func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
    registry.makeDurationHistogram(
      descriptor: descriptor(label), labels: dimensions,
      buckets: (valueBuckets[label] ?? DaemonMetrics.checkLatencyBuckets).map {
        Duration.nanoseconds(Int64($0 * 1e9))
      })
  }

  func destroyCounter(_ handler: any CounterHandler) {
    if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
  }

  func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
    if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
  }

  func destroyRecorder(_ handler: any RecorderHandler) {
    if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    if let histogram = handler as? Histogram<Double> { registry.unregisterValueHistogram(histogram) }
  }

  func destroyMeter(_ handler: any MeterHandler) {
    if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
  }

  func destroyTimer(_ handler: any TimerHandler) {
    if let histogram = handler as? Histogram<Duration> { registry.unregisterDurationHistogram(histogram) }
  }
}
