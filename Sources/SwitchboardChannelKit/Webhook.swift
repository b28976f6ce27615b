public import SwitchboardCore

/// An HTTP request to a channel's webhook, with the body exactly as received so signatures can
/// be checked over the raw bytes.
public struct WebhookRequest: Sendable {
    public var method: String
    /// What follows `/webhooks/<channel-id>/`, without a leading slash: empty for the webhook
    /// itself, `receipts` for `/webhooks/<id>/receipts`. A channel answers 404 for paths it
    /// does not serve.
    public var path: String
    /// Query parameters (first value wins).
    public var query: [String: String]
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String = "", query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// What the webhook answers.
public struct WebhookResponse: Sendable, Hashable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8] = []) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public static func text(_ status: Int, _ text: String) -> WebhookResponse {
        WebhookResponse(status: status, body: Array(text.utf8))
    }

    public static let ok = WebhookResponse.text(200, "ok")
}

/// A channel's verdict on a webhook request.
public enum WebhookResult: Sendable {
    /// Authentic. Store these messages and delivery statuses durably (there may be none: an
    /// update the gateway ignores), then answer `response`.
    case accept([InboundMessage], statuses: [DeliveryStatusUpdate], response: WebhookResponse)
    /// Answer without storing anything: a rejection (401, 400) or a handshake.
    case respond(WebhookResponse)

    public static func accept(_ messages: [InboundMessage]) -> WebhookResult { .accept(messages, statuses: [], response: .ok) }

    public static func accept(_ messages: [InboundMessage], response: WebhookResponse) -> WebhookResult {
        .accept(messages, statuses: [], response: response)
    }
}

/// Compares two secrets in time that does not depend on where they differ.
public func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
    var ia = a.makeIterator()
    // Walk the expected length in full even when the lengths differ.
    for byteB in b {
        let byteA = ia.next() ?? 0
        difference |= byteA ^ byteB
    }
    return difference == 0
}
