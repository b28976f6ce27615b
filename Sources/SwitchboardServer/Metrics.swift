import Metrics
import Prometheus

/// The gateway's Prometheus registry and the swift-metrics factory over it. Each gateway has
/// its own, so tests can run several in one process without a global bootstrap.
struct GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    var factory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    func inbound(channel: String, outcome: String) {
        Counter(label: "switchboard_inbound_messages_total", dimensions: [("channel", channel), ("outcome", outcome)], factory: factory).increment()
    }

    func webhook(channel: String, status: Int) {
        Counter(label: "switchboard_webhook_requests_total", dimensions: [("channel", channel), ("status", "\(status)")], factory: factory).increment()
    }
}
