import Foundation
import Metrics
import Prometheus
import SwitchboardCore

/// The gateway's Prometheus registry and the swift-metrics factory over it. Each gateway has
/// its own, so tests can run several in one process without a global bootstrap. Labels are
/// bounded: channel ids, outcomes, reason codes — never a chat or user id.
struct GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    var factory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    func inbound(channel: String, outcome: String) {
        Counter(label: "switchboard_inbound_messages_total", dimensions: [("channel", channel), ("outcome", outcome)], factory: factory).increment()
    }

    func webhook(channel: String, status: Int) {
        Counter(label: "switchboard_webhook_requests_total", dimensions: [("channel", channel), ("status", "\(status)")], factory: factory).increment()
    }

    func outbound(channel: String, outcome: String) {
        Counter(label: "switchboard_outbound_messages_total", dimensions: [("channel", channel), ("outcome", outcome)], factory: factory).increment()
    }

    /// Late results refused because another process had taken the work over (fencing).
    func leaseLost(work: String) {
        Counter(label: "switchboard_leases_lost_total", dimensions: [("work", work)], factory: factory).increment()
    }

    /// Reminders scheduled, deferred, sent, skipped, cancelled — by reason.
    func decisions(_ decisions: [FollowUpDecision]) {
        for decision in decisions {
            Counter(
                label: "switchboard_followup_decisions_total", dimensions: [("kind", decision.kind.rawValue), ("reason", decision.reason.rawValue)],
                factory: factory
            ).increment()
        }
    }

    func composition(purpose: String, outcome: String, seconds: Double, usage: TokenUsage?) {
        let dimensions = [("purpose", purpose), ("outcome", outcome)]
        Counter(label: "switchboard_composer_calls_total", dimensions: dimensions, factory: factory).increment()
        Metrics.Timer(label: "switchboard_composer_latency_seconds", dimensions: [("purpose", purpose)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
        if let usage {
            Counter(label: "switchboard_composer_tokens_total", dimensions: [("purpose", purpose), ("kind", "prompt")], factory: factory)
                .increment(by: usage.promptTokens)
            Counter(label: "switchboard_composer_tokens_total", dimensions: [("purpose", purpose), ("kind", "completion")], factory: factory)
                .increment(by: usage.completionTokens)
        }
    }
}

/// Counts a composer's calls, tokens and latency.
struct MeteredComposer: Composer {
    let base: any Composer
    let metrics: GatewayMetrics

    func compose(_ request: CompositionRequest) async throws -> Composition {
        let purpose: String
        switch request.purpose {
        case .reply: purpose = "reply"
        case .reminder: purpose = "reminder"
        case .autoReply: purpose = "auto_reply"
        }
        let started = ContinuousClock.now
        do {
            let composition = try await base.compose(request)
            metrics.composition(purpose: purpose, outcome: "ok", seconds: (ContinuousClock.now - started).seconds, usage: composition.usage)
            return composition
        } catch {
            // A refusal only an admin can fix is counted apart from the failures retries get past.
            let outcome = (error as? CompositionError)?.isRetryable == false ? "permanent_error" : "error"
            metrics.composition(purpose: purpose, outcome: outcome, seconds: (ContinuousClock.now - started).seconds, usage: nil)
            throw error
        }
    }
}

/// Counts a channel's deliveries by outcome.
struct MeteredSender: ChannelSender {
    let base: any ChannelSender
    let channelID: String
    let metrics: GatewayMetrics

    var capabilities: ChannelCapabilities { base.capabilities }

    func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        do {
            let receipt = try await base.send(message)
            metrics.outbound(channel: channelID, outcome: receipt.delivered ? "delivered" : "stored_offline")
            return receipt
        } catch let error as DeliveryError {
            metrics.outbound(channel: channelID, outcome: error.kind.rawValue)
            throw error
        } catch {
            metrics.outbound(channel: channelID, outcome: "retryable")
            throw error
        }
    }
}
