import Metrics

/// The daemon's metrics, recorded through swift-metrics (exported by swift-prometheus when
/// `--metrics-listen` is given; no-ops otherwise).
///
/// Names follow Prometheus conventions: `_total` counters, `_seconds` histograms.
enum DaemonMetrics {
  static func vrrpTransition(instance: String, to state: String, code: Int) {
    Counter(
      label: "lvskeeper_vrrp_transitions_total", dimensions: [("instance", instance), ("state", state)]
    ).increment()
    Gauge(label: "lvskeeper_vrrp_state", dimensions: [("instance", instance)]).record(code)
  }

  static func healthTransition(server: String, up: Bool, latencySeconds: Double?) {
    Counter(label: "lvskeeper_check_transitions_total", dimensions: [("result", up ? "up" : "down")])
      .increment()
    Gauge(label: "lvskeeper_real_server_up", dimensions: [("server", server)]).record(up ? 1 : 0)
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

  static func vrrpDropped(instance: String, reason: String, count: UInt64) {
    Counter(
      label: "lvskeeper_vrrp_dropped_packets_total", dimensions: [("instance", instance), ("reason", reason)]
    ).increment(by: Int64(clamping: count))
  }

  static func reload(succeeded: Bool) {
    Counter(label: "lvskeeper_config_reloads_total", dimensions: [("result", succeeded ? "ok" : "refused")])
      .increment()
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
