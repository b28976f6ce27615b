/// A failed Bot API call, with a message an operator can act on. It never contains the bot
/// token (which is part of every request URL).
public struct TelegramError: Error, Sendable, CustomStringConvertible {
    enum Code: Sendable, Equatable {
        /// Telegram answered `ok: false` (or a non-2xx status with a Bot API body).
        case api(status: Int)
        /// A non-2xx answer that is not a Bot API body, e.g. a proxy's 502 page.
        case http(status: Int)
        /// A 2xx answer the adapter could not read.
        case badResponse
        /// No answer: connection refused, DNS, TLS, timeout.
        case transport
    }

    let code: Code
    /// What happened and, where the operator can do something, what.
    public let message: String
    /// Telegram's `parameters.retry_after`, when flood control was hit.
    public let retryAfter: Duration?
    /// Telegram's `description`, e.g. `Forbidden: bot was blocked by the user`.
    let providerDescription: String?
    /// `parameters.migrate_to_chat_id` when a group became a supergroup.
    let migrateToChatID: Int64?

    init(
        _ code: Code, _ message: String, retryAfter: Duration? = nil, providerDescription: String? = nil, migrateToChatID: Int64? = nil
    ) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.providerDescription = providerDescription
        self.migrateToChatID = migrateToChatID
    }

    /// The HTTP status (equal to Telegram's `error_code`), when there was an answer.
    public var status: Int? {
        switch code {
        case .api(let status), .http(let status): status
        case .badResponse, .transport: nil
        }
    }

    /// A fixed, bounded label for metrics and log metadata.
    public var label: String {
        switch code {
        case .transport: "transport"
        case .badResponse: "bad_response"
        case .api(let status), .http(let status):
            switch status {
            case 401, 404: "unauthorized"
            case 403: "forbidden"
            case 409: "conflict"
            case 429: "rate_limited"
            case 500...: "server_error"
            default: "bad_request"
            }
        }
    }

    /// Worth repeating later: flood control, Telegram's own trouble, or no answer at all.
    var isTransient: Bool {
        switch code {
        case .transport: true
        case .badResponse: false
        case .api(let status), .http(let status): status == 429 || status >= 500
        }
    }

    /// The token was refused. Telegram answers 404 rather than 401 when the token is not even
    /// well-formed, since the URL then names no bot.
    var isTokenRejected: Bool { status == 401 || status == 404 }

    public var description: String { "telegram \(label): \(message)" }
}
