import Foundation
import SwitchboardChannelKit
public import SwitchboardCore

extension WidgetChannel {
    /// Which corner the launcher sits in.
    public enum Position: String, Sendable, Hashable, CaseIterable {
        case right, left
    }

    /// A widget channel's own settings (the keys of its channel file besides `type`, `id`,
    /// `employee` and `enabled`). Decoding is strict: an unknown key is an error.
    public struct Configuration: Decodable, Sendable {
        /// `allowed_origins`: the sites that may embed the widget, each exactly
        /// `scheme://host[:port]` (`https://riverside.example`). The gateway's own origin (the demo
        /// page) is always allowed. Default: none.
        public var allowedOrigins: [String]
        /// `title`: the panel's heading and the demo page's business name. Default `Chat with us`.
        public var title: String
        /// `subtitle`: the line under the title. Default: `<employee> · Typically replies in a few minutes`.
        public var subtitle: String?
        /// `greeting`: the first bubble a visitor sees; shown, not stored. Default: a short hello.
        public var greeting: String
        /// `launcher_label`: the launcher's accessible name and tooltip. Default `Chat with us`.
        public var launcherLabel: String
        /// `accent_color`: the launcher, header and the visitor's bubbles, `#rgb` or `#rrggbb`.
        /// Default `#0f766e`.
        public var accentColor: String
        /// `accent_text_color`: text on the accent colour. Default `#ffffff`.
        public var accentTextColor: String
        /// `position`: `right` (default) or `left`.
        public var position: Position
        /// `ask_contact`: offer the visitor to leave a name and email (both optional). Default `true`.
        public var askContact: Bool
        /// `demo`: serve `/widget/<id>/demo`, a sample business page with the widget. Default `true`.
        public var demo: Bool
        /// `token_secret`: the key visitor tokens are signed with (at least 32 characters). Default:
        /// a random key generated on first start and kept in the store, so every gateway process
        /// on the same database shares it. Set it when several processes start at once for the
        /// first time, and to revoke every token (change it).
        public var tokenSecret: Secret?
        /// `token_ttl_days`: how long a visitor token stays valid without a visit. Default 180.
        public var tokenTTLDays: Int
        /// `max_text_length`: the longest message a visitor may send, in characters. Default 4000.
        public var maxTextLength: Int
        /// `max_frame_bytes`: the largest WebSocket message accepted; larger ones close the
        /// socket with 1009. Default 16384.
        public var maxFrameBytes: Int
        /// `messages_per_minute` and `message_burst`: each visitor's message allowance (a token
        /// bucket shared by their tabs). Over it a message is refused with `rate_limited`.
        /// Defaults 20 and 5.
        public var messagesPerMinute: Int
        public var messageBurst: Int
        /// `max_connections_per_visitor`: open sockets (tabs) per visitor; a newer one closes the
        /// oldest with 4409. Default 5.
        public var maxConnectionsPerVisitor: Int
        /// `history_limit`: messages a fresh page load shows. Default 50.
        public var historyLimit: Int
        /// `auth_timeout`: seconds a new socket has to authenticate before it is closed with
        /// 4408. Default 10.
        public var authTimeout: Int
        /// `new_visitors_per_hour` and `new_visitor_burst`: new visitor sessions (fresh tokens,
        /// each a new chat the AI answers) one client address may start — a token bucket per
        /// address. Over it, `POST session` answers 429 with `Retry-After`. A returning visitor's
        /// token is never refused. Defaults 60 and 20: many people behind one office or mobile
        /// network may share an address.
        public var newVisitorsPerHour: Int
        public var newVisitorBurst: Int
        /// `email_fallback`: the id of an email channel (`type: email`) that sends a reminder by
        /// mail too when the visitor is offline and left an email address, in one thread per
        /// visitor. Default: none (reminders wait for the visitor's next visit only).
        public var emailFallback: String?

        public init(
            allowedOrigins: [String] = [], title: String = "Chat with us", subtitle: String? = nil,
            greeting: String = "Hi! 👋 How can we help you today?", launcherLabel: String = "Chat with us", accentColor: String = "#0f766e",
            accentTextColor: String = "#ffffff", position: Position = .right, askContact: Bool = true, demo: Bool = true,
            tokenSecret: Secret? = nil, tokenTTLDays: Int = 180, maxTextLength: Int = 4000, maxFrameBytes: Int = 16384,
            messagesPerMinute: Int = 20, messageBurst: Int = 5, maxConnectionsPerVisitor: Int = 5, historyLimit: Int = 50, authTimeout: Int = 10,
            newVisitorsPerHour: Int = 60, newVisitorBurst: Int = 20, emailFallback: String? = nil
        ) {
            self.allowedOrigins = allowedOrigins
            self.title = title
            self.subtitle = subtitle
            self.greeting = greeting
            self.launcherLabel = launcherLabel
            self.accentColor = accentColor
            self.accentTextColor = accentTextColor
            self.position = position
            self.askContact = askContact
            self.demo = demo
            self.tokenSecret = tokenSecret
            self.tokenTTLDays = tokenTTLDays
            self.maxTextLength = maxTextLength
            self.maxFrameBytes = maxFrameBytes
            self.messagesPerMinute = messagesPerMinute
            self.messageBurst = messageBurst
            self.maxConnectionsPerVisitor = maxConnectionsPerVisitor
            self.historyLimit = historyLimit
            self.authTimeout = authTimeout
            self.newVisitorsPerHour = newVisitorsPerHour
            self.newVisitorBurst = newVisitorBurst
            self.emailFallback = emailFallback
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case allowedOrigins = "allowed_origins", title, subtitle, greeting
            case launcherLabel = "launcher_label"
            case accentColor = "accent_color"
            case accentTextColor = "accent_text_color"
            case position
            case askContact = "ask_contact"
            case demo
            case tokenSecret = "token_secret"
            case tokenTTLDays = "token_ttl_days"
            case maxTextLength = "max_text_length"
            case maxFrameBytes = "max_frame_bytes"
            case messagesPerMinute = "messages_per_minute"
            case messageBurst = "message_burst"
            case maxConnectionsPerVisitor = "max_connections_per_visitor"
            case historyLimit = "history_limit"
            case authTimeout = "auth_timeout"
            case newVisitorsPerHour = "new_visitors_per_hour"
            case newVisitorBurst = "new_visitor_burst"
            case emailFallback = "email_fallback"
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(of: decoder, allowed: CodingKeys.self, channelType: "widget")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Configuration()

            var origins: [String] = []
            if c.contains(.allowedOrigins) {
                let list = try c.decode([String].self, forKey: .allowedOrigins)
                for (index, origin) in list.enumerated() {
                    guard let normalized = OriginPolicy.normalize(origin) else {
                        throw DecodingError.dataCorrupted(
                            .init(
                                codingPath: c.codingPath + [CodingKeys.allowedOrigins, AnySettingsKey(stringValue: "\(index)")],
                                debugDescription:
                                    "allowed_origins entries must be an origin: scheme://host[:port] with no path, such as https://riverside.example; got '\(origin)'"
                            ))
                    }
                    origins.append(normalized)
                }
            }

            func text(_ key: CodingKeys, _ fallback: String, max: Int) throws -> String {
                guard let value = try c.decodeIfPresent(String.self, forKey: key) else { return fallback }
                let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty, trimmed.count <= max else {
                    throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(key.rawValue) must be 1–\(max) characters")
                }
                return trimmed
            }
            func color(_ key: CodingKeys, _ fallback: String) throws -> String {
                guard let value = try c.decodeIfPresent(String.self, forKey: key) else { return fallback }
                guard Self.isHexColor(value) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: key, in: c, debugDescription: "\(key.rawValue) must be a hex colour such as #0f766e or #fff; got '\(value)'")
                }
                return value.lowercased()
            }
            func int(_ key: CodingKeys, _ fallback: Int, _ range: ClosedRange<Int>) throws -> Int {
                guard let value = try c.decodeIfPresent(Int.self, forKey: key) else { return fallback }
                guard range.contains(value) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: key, in: c, debugDescription: "\(key.rawValue) must be \(range.lowerBound)–\(range.upperBound); got \(value)")
                }
                return value
            }

            let positionText = try c.decodeIfPresent(String.self, forKey: .position) ?? defaults.position.rawValue
            guard let position = Position(rawValue: positionText) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .position, in: c,
                    debugDescription: "position must be one of \(Position.allCases.map(\.rawValue).joined(separator: ", ")); got '\(positionText)'")
            }
            let tokenSecret = try c.decodeIfPresent(Secret.self, forKey: .tokenSecret)
            if let tokenSecret, tokenSecret.value.count < 32 {
                // Never echo the value: it is a credential.
                throw DecodingError.dataCorruptedError(
                    forKey: .tokenSecret, in: c, debugDescription: "token_secret must be at least 32 characters (try: openssl rand -hex 32)")
            }
            let emailFallback = try c.decodeIfPresent(String.self, forKey: .emailFallback)
            // Judged against the other channel files when the whole configuration is checked.
            if let emailFallback, let configured = decoder.userInfo[.configuredChannels] as? ConfiguredChannels {
                switch configured.types[emailFallback] {
                case "email": break
                case nil:
                    let known = configured.types.filter { $0.value == "email" }.keys.sorted()
                    throw DecodingError.dataCorruptedError(
                        forKey: .emailFallback, in: c,
                        debugDescription: "email_fallback names channel '\(emailFallback)', but no channel file has that id"
                            + (known.isEmpty ? " (there is no email channel; add one with type: email)" : " (email channels: \(known.joined(separator: ", ")))"))
                case let other?:
                    throw DecodingError.dataCorruptedError(
                        forKey: .emailFallback, in: c,
                        debugDescription: "email_fallback must name an email channel; '\(emailFallback)' is type: \(other)")
                }
            }
            let maxTextLength = try int(.maxTextLength, defaults.maxTextLength, 1...100_000)
            let maxFrameBytes = try int(.maxFrameBytes, defaults.maxFrameBytes, 1024...(1 << 20))
            self.init(
                allowedOrigins: origins,
                title: try text(.title, defaults.title, max: 80),
                subtitle: try c.contains(.subtitle) ? text(.subtitle, "", max: 120) : nil,
                greeting: try text(.greeting, defaults.greeting, max: 1000),
                launcherLabel: try text(.launcherLabel, defaults.launcherLabel, max: 80),
                accentColor: try color(.accentColor, defaults.accentColor),
                accentTextColor: try color(.accentTextColor, defaults.accentTextColor),
                position: position,
                askContact: try c.decodeIfPresent(Bool.self, forKey: .askContact) ?? defaults.askContact,
                demo: try c.decodeIfPresent(Bool.self, forKey: .demo) ?? defaults.demo,
                tokenSecret: tokenSecret,
                tokenTTLDays: try int(.tokenTTLDays, defaults.tokenTTLDays, 1...3650),
                maxTextLength: maxTextLength,
                maxFrameBytes: maxFrameBytes,
                messagesPerMinute: try int(.messagesPerMinute, defaults.messagesPerMinute, 1...6000),
                messageBurst: try int(.messageBurst, defaults.messageBurst, 1...1000),
                maxConnectionsPerVisitor: try int(.maxConnectionsPerVisitor, defaults.maxConnectionsPerVisitor, 1...100),
                historyLimit: try int(.historyLimit, defaults.historyLimit, 1...500),
                authTimeout: try int(.authTimeout, defaults.authTimeout, 1...120),
                newVisitorsPerHour: try int(.newVisitorsPerHour, defaults.newVisitorsPerHour, 1...1_000_000),
                newVisitorBurst: try int(.newVisitorBurst, defaults.newVisitorBurst, 1...100_000),
                emailFallback: emailFallback)
        }

        static func isHexColor(_ text: String) -> Bool {
            guard text.hasPrefix("#") else { return false }
            let digits = text.dropFirst()
            return (digits.count == 3 || digits.count == 6) && digits.allSatisfy(\.isHexDigit)
        }
    }
}

/// Describes itself without `token_secret` (it prints `***`).
extension WidgetChannel.Configuration: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        [
            "allowedOrigins": allowedOrigins, "title": title, "position": position, "demo": demo, "tokenSecret": tokenSecret as Any,
            "tokenTTLDays": tokenTTLDays, "maxTextLength": maxTextLength, "maxFrameBytes": maxFrameBytes,
            "messagesPerMinute": messagesPerMinute, "messageBurst": messageBurst, "maxConnectionsPerVisitor": maxConnectionsPerVisitor,
            "newVisitorsPerHour": newVisitorsPerHour, "newVisitorBurst": newVisitorBurst, "emailFallback": emailFallback as Any,
        ]
    }
}
