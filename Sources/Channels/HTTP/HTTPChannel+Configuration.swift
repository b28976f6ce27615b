import Foundation
import SwitchboardChannelKit
public import SwitchboardCore

extension HTTPChannel {
    /// The free-form window of a system with its own "you may write only so long after the
    /// client's last message" rule, as the follow-up planner sees it.
    public struct Window: Sendable, Hashable {
        /// `window_hours`: how long after the client's last message the business may write freely.
        public var duration: Duration
        /// `window.pull_in`: move a reminder that would land after the window closes to just
        /// before it closes. Default `true`.
        public var pullIn: Bool
        /// `window.template.name`: sent (as `"template"` in the outbound body, with the text)
        /// instead of a free-form reminder once the window has closed. Default: none, so such a
        /// reminder is skipped with `window_closed`.
        public var template: String?

        public init(duration: Duration, pullIn: Bool = true, template: String? = nil) {
            self.duration = duration
            self.pullIn = pullIn
            self.template = template
        }
    }

    /// An http channel's own settings (the keys of its channel file besides `type`, `id`,
    /// `employee` and `enabled`). Decoding is strict: an unknown key is an error, so a typo
    /// cannot silently become a default.
    public struct Configuration: Decodable, Sendable {
        /// `secret`: the shared key both directions are signed with (HMAC-SHA256), at least 16
        /// characters. Required; put it in the environment (`secret: ${HTTP_CHANNEL_SECRET}`).
        public var secret: Secret
        /// `outbound_url`: where replies, reminders and operator messages are POSTed. Required,
        /// `http://` or `https://`.
        public var outboundURL: String
        /// `max_text`: the longest text one outbound message may carry, in UTF-16 code units;
        /// longer texts go out as several messages. Default: no limit.
        public var maxText: Int?
        /// `window_hours` with `window: {pull_in, template: {name}}`: see ``Window``. Default: none
        /// (the business may write at any time).
        public var window: Window?
        /// `offline_delivery`: the receiver may hold messages for a recipient who is offline; it
        /// says so by answering `202 Accepted`, and a later `delivered` receipt completes it.
        /// Default `false`.
        public var offlineDelivery: Bool
        /// `max_body_bytes`: the largest inbound body accepted (413 above it). Default 4 MiB.
        public var maxBodyBytes: Int
        /// `request_timeout`: seconds an outbound POST may take before it counts as failed (and
        /// is retried). Default 10.
        public var requestTimeout: Int

        public static let defaultMaxBodyBytes = 4 << 20
        public static let minimumSecretLength = 16

        /// Settings as given, for code and tests; decoding from a channel file also validates them.
        public init(
            secret: Secret, outboundURL: String, maxText: Int? = nil, window: Window? = nil, offlineDelivery: Bool = false,
            maxBodyBytes: Int = Configuration.defaultMaxBodyBytes, requestTimeout: Int = 10
        ) {
            self.secret = secret
            self.outboundURL = outboundURL
            self.maxText = maxText
            self.window = window
            self.offlineDelivery = offlineDelivery
            self.maxBodyBytes = maxBodyBytes
            self.requestTimeout = requestTimeout
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case secret
            case outboundURL = "outbound_url"
            case maxText = "max_text"
            case windowHours = "window_hours"
            case window
            case offlineDelivery = "offline_delivery"
            case maxBodyBytes = "max_body_bytes"
            case requestTimeout = "request_timeout"
        }

        private enum WindowKeys: String, CodingKey, CaseIterable {
            case pullIn = "pull_in"
            case template
        }

        private enum TemplateKeys: String, CodingKey, CaseIterable {
            case name
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(of: decoder, allowed: CodingKeys.self, channelType: "http")
            let c = try decoder.container(keyedBy: CodingKeys.self)

            let secret = try c.decode(Secret.self, forKey: .secret)
            // Never echo the value: it is a credential.
            guard secret.value.count >= Self.minimumSecretLength else {
                throw DecodingError.dataCorruptedError(
                    forKey: .secret, in: c,
                    debugDescription: "secret must be at least \(Self.minimumSecretLength) characters (try: openssl rand -hex 32)")
            }

            let outboundURL = try c.decode(String.self, forKey: .outboundURL)
            guard Self.isHTTPURL(outboundURL) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .outboundURL, in: c,
                    debugDescription: "outbound_url must be an http:// or https:// URL, such as https://sms.example.com/switchboard")
            }

            let maxText = try c.decodeIfPresent(Int.self, forKey: .maxText)
            if let maxText, maxText < 1 {
                throw DecodingError.dataCorruptedError(
                    forKey: .maxText, in: c, debugDescription: "max_text must be a positive number of characters; leave it out for no limit")
            }

            let window = try Self.decodeWindow(c)

            let offlineDelivery = try c.decodeIfPresent(Bool.self, forKey: .offlineDelivery) ?? false
            let maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? Self.defaultMaxBodyBytes
            guard maxBodyBytes > 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .maxBodyBytes, in: c, debugDescription: "max_body_bytes must be positive; got \(maxBodyBytes)")
            }
            let requestTimeout = try c.decodeIfPresent(Int.self, forKey: .requestTimeout) ?? 10
            guard (1...600).contains(requestTimeout) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .requestTimeout, in: c, debugDescription: "request_timeout must be 1–600 seconds; got \(requestTimeout)")
            }

            self.init(
                secret: secret, outboundURL: outboundURL, maxText: maxText, window: window, offlineDelivery: offlineDelivery,
                maxBodyBytes: maxBodyBytes, requestTimeout: requestTimeout)
        }

        private static func decodeWindow(_ c: KeyedDecodingContainer<CodingKeys>) throws -> Window? {
            let hours = try c.decodeIfPresent(Double.self, forKey: .windowHours)
            guard let hours else {
                if c.contains(.window) {
                    throw DecodingError.dataCorruptedError(
                        forKey: .window, in: c,
                        debugDescription: "window needs window_hours: how long after the client's last message the business may write")
                }
                return nil
            }
            // A year is far beyond any real rule; a typo such as 2400 should not pass silently.
            guard hours > 0, hours <= 8760 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .windowHours, in: c, debugDescription: "window_hours must be more than 0 and at most 8760 (a year); got \(hours)")
            }
            var window = Window(duration: .seconds(Int64((hours * 3600).rounded())))
            guard c.contains(.window) else { return window }

            let settings = try c.superDecoder(forKey: .window)
            try rejectUnknownKeys(of: settings, allowed: WindowKeys.self, channelType: "http")
            let w = try settings.container(keyedBy: WindowKeys.self)
            window.pullIn = try w.decodeIfPresent(Bool.self, forKey: .pullIn) ?? true
            if w.contains(.template) {
                let templateDecoder = try w.superDecoder(forKey: .template)
                try rejectUnknownKeys(of: templateDecoder, allowed: TemplateKeys.self, channelType: "http")
                let t = try templateDecoder.container(keyedBy: TemplateKeys.self)
                let name = try t.decode(String.self, forKey: .name).trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .name, in: t, debugDescription: "window.template.name must name the template your receiver sends after the window closes")
                }
                window.template = name
            }
            return window
        }

        private static func isHTTPURL(_ text: String) -> Bool {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                let host = url.host, !host.isEmpty
            else { return false }
            return true
        }
    }
}

/// Describes itself without the secret (it prints `***`) or the outbound URL's path and query,
/// which may carry a receiver's own token.
extension HTTPChannel.Configuration: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        [
            "secret": secret, "outbound": HTTPChannel.origin(of: outboundURL), "maxText": maxText as Any, "window": window as Any,
            "offlineDelivery": offlineDelivery, "maxBodyBytes": maxBodyBytes, "requestTimeout": requestTimeout,
        ]
    }
}
