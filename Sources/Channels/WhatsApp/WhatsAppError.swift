import Foundation
import SwitchboardCore

/// A refused or failed Graph API call, classified the way protocols.md §2.8 says to act on it.
/// It never contains the access token.
public struct WhatsAppError: Error, Sendable, CustomStringConvertible {
    enum Source: Sendable, Equatable {
        /// Graph answered with its error envelope.
        case graph(code: Int, subcode: Int?)
        /// A non-2xx answer without the envelope (a proxy's page).
        case http(status: Int)
        /// A 2xx answer the adapter could not read.
        case badResponse
        /// No answer: connection refused, DNS, TLS, timeout.
        case transport
    }

    let source: Source
    /// What happened; with Graph's `"<code>: <title>"` first when Graph said.
    public let message: String
    /// `Retry-After`, when the answer carried one.
    let retryAfter: Duration?

    init(_ source: Source, _ message: String, retryAfter: Duration? = nil) {
        self.source = source
        self.message = message
        self.retryAfter = retryAfter
    }

    /// 131047: more than 24 hours since the client last wrote.
    static let reengagementCode = 131047

    /// Throughput, pair rate, Graph call limits, Meta's own trouble and maintenance: try later.
    static let transientCodes: Set<Int> = [1, 2, 4, 17, 341, 613, 80007, 130429, 131000, 131056, 131057, 133004]

    var code: Int? {
        if case .graph(let code, _) = source { return code }
        return nil
    }

    /// The token expired or was revoked (190, 102), or lacks a permission (10, 200–299): only an
    /// admin can fix it, and until then every call fails the same way.
    var isCredentialProblem: Bool {
        guard let code else {
            if case .http(let status) = source { return status == 401 }
            return false
        }
        return code == 190 || code == 102 || code == 10 || (200...299).contains(code)
    }

    var isTransient: Bool {
        switch source {
        case .transport: true
        case .badResponse: false
        case .http(let status): status == 429 || status >= 500
        case .graph(let code, _): Self.transientCodes.contains(code)
        }
    }

    /// A fixed, bounded label for metrics and log metadata.
    public var label: String {
        switch source {
        case .transport: "transport"
        case .badResponse: "bad_response"
        case .http(let status): status >= 500 ? "server_error" : "http_\(status / 100)xx"
        case .graph(let code, _):
            if code == Self.reengagementCode { "window_closed" }
            else if isCredentialProblem { "credentials" }
            else if isTransient { "rate_limited_or_transient" }
            else if (132000...132999).contains(code) { "template" }
            else { "refused" }
        }
    }

    public var description: String { "whatsapp \(label): \(message)" }

    /// How the outbox treats it. A credential problem is retried, slowly, rather than dropped:
    /// every message would fail the same way, and each should go out once the token is fixed.
    func deliveryError(partsDelivered: Int, of total: Int) -> DeliveryError {
        var text = message
        if partsDelivered > 0 { text += " (after \(partsDelivered) of \(total) parts were delivered)" }
        if code == Self.reengagementCode { return DeliveryError(.windowClosed, text) }
        if isCredentialProblem { return DeliveryError(.retryable, text, retryAfter: retryAfter ?? Self.credentialRetry) }
        if isTransient { return DeliveryError(.retryable, text, retryAfter: retryAfter) }
        return DeliveryError(.permanent, text)
    }

    /// How long a message waits while the access token is refused: long enough not to hammer
    /// Graph, short enough that a rotated token is picked up within minutes.
    static let credentialRetry: Duration = .seconds(300)
}
