public import SwitchboardCore
import SwitchboardChannelKit

extension TelegramChannel {
    /// How the bot receives updates.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Telegram POSTs each update to `/webhooks/<channel-id>`; needs a public HTTPS URL.
        case webhook
        /// The channel long-polls `getUpdates`; works behind NAT, good for development.
        case polling
    }

    /// A Telegram channel's own settings (the keys of its channel file besides `type`, `id`
    /// and `employee`). Decoding is strict: an unknown key is an error, so a typo cannot
    /// silently become a default.
    public struct Configuration: Decodable, Sendable {
        /// `token`: the bot token from @BotFather. Required.
        public var token: Secret
        /// `mode`: `webhook` (default) or `polling`.
        public var mode: Mode
        /// `webhook_secret`: the `secret_token` Telegram sends back in
        /// `X-Telegram-Bot-Api-Secret-Token`; 1–256 characters of `A-Z a-z 0-9 _ -`.
        /// Required in webhook mode.
        public var webhookSecret: Secret?
        /// `api_base`: the Bot API server, default `https://api.telegram.org`. Point it at a local
        /// Bot API server or a test fake.
        public var apiBase: String
        /// `public_url`: the gateway's public base URL. In webhook mode, when set (here or as the
        /// server's `public_url`), the channel registers `<public_url>/webhooks/<channel-id>` with
        /// `setWebhook` at start. Without it, register the webhook yourself.
        public var publicURL: String?
        /// `poll_timeout`: long-poll seconds per `getUpdates` call, 1–50, default 50.
        public var pollTimeout: Int
        /// `request_timeout`: seconds a `sendMessage` (or other short call) may take, default 30.
        public var requestTimeout: Int
        /// `max_body_bytes`: the largest webhook body accepted, default 1 MiB. The host enforces it.
        public var maxBodyBytes: Int

        public static let defaultAPIBase = "https://api.telegram.org"

        /// Settings as given, for code and tests; decoding from a channel file also validates them.
        public init(
            token: Secret, mode: Mode = .webhook, webhookSecret: Secret? = nil, apiBase: String = Configuration.defaultAPIBase,
            publicURL: String? = nil, pollTimeout: Int = 50, requestTimeout: Int = 30, maxBodyBytes: Int = 1 << 20
        ) {
            self.token = token
            self.mode = mode
            self.webhookSecret = webhookSecret
            self.apiBase = Self.trimmingTrailingSlashes(apiBase)
            self.publicURL = publicURL.map(Self.trimmingTrailingSlashes)
            self.pollTimeout = pollTimeout
            self.requestTimeout = requestTimeout
            self.maxBodyBytes = maxBodyBytes
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case token, mode
            case webhookSecret = "webhook_secret"
            case apiBase = "api_base"
            case publicURL = "public_url"
            case pollTimeout = "poll_timeout"
            case requestTimeout = "request_timeout"
            case maxBodyBytes = "max_body_bytes"
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(of: decoder, allowed: CodingKeys.self, channelType: "telegram")

            let container = try decoder.container(keyedBy: CodingKeys.self)
            let token = try container.decode(Secret.self, forKey: .token)
            // Never echo the value: it is a credential.
            if token.value.isEmpty || token.value.contains(where: { $0.isWhitespace || "/?#%".contains($0) }) {
                throw DecodingError.dataCorruptedError(
                    forKey: .token, in: container,
                    debugDescription: "token must be the bot token from @BotFather (digits, a colon, letters); it is empty or has characters a token never has")
            }

            let modeText = try container.decodeIfPresent(String.self, forKey: .mode) ?? Mode.webhook.rawValue
            guard let mode = Mode(rawValue: modeText) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .mode, in: container,
                    debugDescription: "mode must be one of \(Mode.allCases.map(\.rawValue).joined(separator: ", ")); got '\(modeText)'")
            }

            let webhookSecret = try container.decodeIfPresent(Secret.self, forKey: .webhookSecret)
            if let webhookSecret, !Self.isValidSecretToken(webhookSecret.value) {
                throw DecodingError.dataCorruptedError(
                    forKey: .webhookSecret, in: container,
                    debugDescription: "webhook_secret must be 1–256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)")
            }
            if mode == .webhook, webhookSecret == nil {
                throw DecodingError.keyNotFound(
                    CodingKeys.webhookSecret,
                    .init(
                        codingPath: container.codingPath,
                        debugDescription: "webhook_secret is required in webhook mode: it is how the channel knows a request comes from Telegram"))
            }

            let apiBase = try container.decodeIfPresent(String.self, forKey: .apiBase) ?? Self.defaultAPIBase
            guard Self.isHTTPURL(apiBase) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .apiBase, in: container, debugDescription: "api_base must be an http:// or https:// URL, e.g. \(Self.defaultAPIBase)")
            }
            let publicURL = try container.decodeIfPresent(String.self, forKey: .publicURL)
            if let publicURL, !Self.isHTTPURL(publicURL) {
                throw DecodingError.dataCorruptedError(
                    forKey: .publicURL, in: container, debugDescription: "public_url must be an https:// URL such as https://gw.example.com")
            }

            let pollTimeout = try container.decodeIfPresent(Int.self, forKey: .pollTimeout) ?? 50
            // Telegram clamps long polls to 50 s; 0 would be short polling, a busy loop.
            guard (1...50).contains(pollTimeout) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .pollTimeout, in: container, debugDescription: "poll_timeout must be 1–50 seconds; got \(pollTimeout)")
            }
            let requestTimeout = try container.decodeIfPresent(Int.self, forKey: .requestTimeout) ?? 30
            guard (1...600).contains(requestTimeout) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .requestTimeout, in: container, debugDescription: "request_timeout must be 1–600 seconds; got \(requestTimeout)")
            }
            let maxBodyBytes = try container.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? 1 << 20
            guard maxBodyBytes > 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .maxBodyBytes, in: container, debugDescription: "max_body_bytes must be positive; got \(maxBodyBytes)")
            }

            self.init(
                token: token, mode: mode, webhookSecret: webhookSecret, apiBase: apiBase, publicURL: publicURL,
                pollTimeout: pollTimeout, requestTimeout: requestTimeout, maxBodyBytes: maxBodyBytes)
        }

        /// Telegram's rule for `secret_token`.
        static func isValidSecretToken(_ text: String) -> Bool {
            (1...256).contains(text.utf8.count)
                && text.utf8.allSatisfy { byte in
                    switch byte {
                    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                        true
                    default: false
                    }
                }
        }

        private static func isHTTPURL(_ text: String) -> Bool {
            let lower = text.lowercased()
            for scheme in ["https://", "http://"] where lower.hasPrefix(scheme) {
                return lower.count > scheme.count
            }
            return false
        }

        private static func trimmingTrailingSlashes(_ text: String) -> String {
            var text = Substring(text)
            while text.hasSuffix("/") { text = text.dropLast() }
            return String(text)
        }
    }
}

/// Describes itself without the bot token or the webhook secret (they print `***`).
extension TelegramChannel.Configuration: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        [
            "token": token, "mode": mode, "webhookSecret": webhookSecret as Any, "apiBase": apiBase, "publicURL": publicURL as Any,
            "pollTimeout": pollTimeout, "requestTimeout": requestTimeout, "maxBodyBytes": maxBodyBytes,
        ]
    }
}

/// A channel describes itself by id and redacted settings, never by its API client.
extension TelegramChannel: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> { ["id": id, "configuration": configuration] }
}
