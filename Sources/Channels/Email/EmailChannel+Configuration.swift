import Foundation
import SwitchboardChannelKit
public import SwitchboardCore

extension EmailChannel {
    /// An email channel's own settings (the keys of its channel file besides `type`, `id`,
    /// `employee` and `enabled`). Strict: an unknown key is an error. Every key is documented
    /// in Sources/Channels/Email/README.md.
    public struct Configuration: Decodable, Sendable {
        /// `smtp:` — where replies and reminders are submitted.
        public struct SMTP: Sendable, Hashable {
            /// `url`: `smtps://host:465` (implicit TLS) or `smtp://host:587` (STARTTLS required;
            /// plain only to a loopback address).
            public var url: String
            public var username: String?
            public var password: Secret?

            public init(url: String, username: String? = nil, password: Secret? = nil) {
                self.url = url
                self.username = username
                self.password = password
            }
        }

        /// `imap:` — the mailbox polled for clients' mail.
        public struct IMAP: Sendable, Hashable {
            /// `url`: `imaps://host:993/INBOX` or `imap://host:143/INBOX` (STARTTLS required;
            /// plain only to a loopback address). The path is the mailbox, default `INBOX`.
            public var url: String
            public var username: String?
            public var password: Secret?
            /// `poll_interval`: how often the mailbox is checked, e.g. `30s`, `2m`, `500ms`
            /// (at least 100 ms). Default 30 s. Real time, even when the gateway's clock is scaled.
            public var pollInterval: Duration

            public init(url: String, username: String?, password: Secret?, pollInterval: Duration = .seconds(30)) {
                self.url = url
                self.username = username
                self.password = password
                self.pollInterval = pollInterval
            }
        }

        /// `inbound: { mailgun: { signing_key } }` — Mailgun posts parsed mail to `/webhooks/<id>`.
        public struct Mailgun: Sendable, Hashable {
            public var signingKey: Secret

            public init(signingKey: Secret) { self.signingKey = signingKey }
        }

        /// `address`: our mailbox; the `From:` of every mail and the domain of our Message-IDs.
        public var address: String
        /// `display_name`: shown as the sender's name (`Riverside Hotel <support@…>`). Optional.
        public var displayName: String?
        public var smtp: SMTP
        public var imap: IMAP?
        public var mailgun: Mailgun?
        /// `max_replies_per_hour`: AI replies (and auto-replies) one client gets in any hour at
        /// most, whatever arrives; further ones end as dead letters naming this limit. Default 5.
        public var maxRepliesPerHour: Int
        /// `html`: add an HTML alternative to the text of every mail. Default `false`.
        public var html: Bool
        /// `max_message_bytes`: larger mails are stored from their headers only, noted. Default 25 MiB.
        public var maxMessageBytes: Int
        /// `timeout`: seconds one SMTP submission or IMAP command may take. Default 60.
        public var timeout: Int

        public init(
            address: String, displayName: String? = nil, smtp: SMTP, imap: IMAP? = nil, mailgun: Mailgun? = nil, maxRepliesPerHour: Int = 5,
            html: Bool = false, maxMessageBytes: Int = 25 << 20, timeout: Int = 60
        ) {
            self.address = address
            self.displayName = displayName
            self.smtp = smtp
            self.imap = imap
            self.mailgun = mailgun
            self.maxRepliesPerHour = maxRepliesPerHour
            self.html = html
            self.maxMessageBytes = maxMessageBytes
            self.timeout = timeout
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case address
            case displayName = "display_name"
            case smtp, imap, inbound
            case maxRepliesPerHour = "max_replies_per_hour"
            case html
            case maxMessageBytes = "max_message_bytes"
            case timeout
        }

        private enum ServerKeys: String, CodingKey, CaseIterable {
            case url, username, password
            case pollInterval = "poll_interval"
        }

        private enum SMTPKeys: String, CodingKey, CaseIterable {
            case url, username, password
        }

        private enum InboundKeys: String, CodingKey, CaseIterable {
            case mailgun
        }

        private enum MailgunKeys: String, CodingKey, CaseIterable {
            case signingKey = "signing_key"
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(of: decoder, allowed: CodingKeys.self, channelType: "email")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let address = try c.decode(String.self, forKey: .address).trimmingCharacters(in: .whitespaces)
            guard Self.isAddress(address) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .address, in: c, debugDescription: "address must be a mailbox such as support@example.com; got \"\(address)\"")
            }
            let displayName = try c.decodeIfPresent(String.self, forKey: .displayName)?.trimmingCharacters(in: .whitespaces)

            guard c.contains(.smtp) else {
                throw DecodingError.keyNotFound(
                    CodingKeys.smtp, .init(codingPath: decoder.codingPath, debugDescription: "smtp is required: { url: smtps://smtp.example.com:465, username, password }"))
            }
            let smtpDecoder = try c.superDecoder(forKey: .smtp)
            try rejectUnknownKeys(of: smtpDecoder, allowed: SMTPKeys.self, channelType: "email")
            let s = try smtpDecoder.container(keyedBy: SMTPKeys.self)
            let smtpURL = try s.decode(String.self, forKey: .url)
            if case .failure(let problem) = MailServer.parse(smtpURL, protocol: "smtp") {
                throw DecodingError.dataCorruptedError(forKey: .url, in: s, debugDescription: problem.message)
            }
            let smtpUser = try s.decodeIfPresent(String.self, forKey: .username)
            let smtpPassword = try s.decodeIfPresent(Secret.self, forKey: .password)
            if (smtpUser == nil) != (smtpPassword == nil) {
                throw DecodingError.dataCorruptedError(
                    forKey: smtpUser == nil ? .password : .username, in: s, debugDescription: "smtp needs both username and password, or neither (an open relay)")
            }
            let smtp = SMTP(url: smtpURL, username: smtpUser, password: smtpPassword)

            var imap: IMAP?
            if c.contains(.imap) {
                let imapDecoder = try c.superDecoder(forKey: .imap)
                try rejectUnknownKeys(of: imapDecoder, allowed: ServerKeys.self, channelType: "email")
                let i = try imapDecoder.container(keyedBy: ServerKeys.self)
                let url = try i.decode(String.self, forKey: .url)
                if case .failure(let problem) = MailServer.parse(url, protocol: "imap") {
                    throw DecodingError.dataCorruptedError(forKey: .url, in: i, debugDescription: problem.message)
                }
                let username = try i.decode(String.self, forKey: .username)
                let password = try i.decode(Secret.self, forKey: .password)
                var interval = Duration.seconds(30)
                if i.contains(.pollInterval) {
                    let text = try Self.decodeLooseString(i, .pollInterval)
                    guard let parsed = Self.parseDuration(text), parsed >= .milliseconds(100), parsed <= .seconds(86_400) else {
                        throw DecodingError.dataCorruptedError(
                            forKey: .pollInterval, in: i, debugDescription: "poll_interval must be a duration from 100ms to 24h, such as 30s or 2m; got \"\(text)\"")
                    }
                    interval = parsed
                }
                imap = IMAP(url: url, username: username, password: password, pollInterval: interval)
            }

            var mailgun: Mailgun?
            if c.contains(.inbound) {
                let inboundDecoder = try c.superDecoder(forKey: .inbound)
                try rejectUnknownKeys(of: inboundDecoder, allowed: InboundKeys.self, channelType: "email")
                let inbound = try inboundDecoder.container(keyedBy: InboundKeys.self)
                let mailgunDecoder = try inbound.superDecoder(forKey: .mailgun)
                try rejectUnknownKeys(of: mailgunDecoder, allowed: MailgunKeys.self, channelType: "email")
                let m = try mailgunDecoder.container(keyedBy: MailgunKeys.self)
                let key = try m.decode(Secret.self, forKey: .signingKey)
                guard key.value.count >= 8 else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .signingKey, in: m, debugDescription: "signing_key must be Mailgun's HTTP webhook signing key (Sending → Webhooks)")
                }
                mailgun = Mailgun(signingKey: key)
            }
            if imap == nil && mailgun == nil {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: decoder.codingPath,
                        debugDescription: "an email channel needs a way to receive mail: imap: { url, username, password } or inbound: { mailgun: { signing_key } }"))
            }

            let maxReplies = try c.decodeIfPresent(Int.self, forKey: .maxRepliesPerHour) ?? 5
            guard (1...1000).contains(maxReplies) else {
                throw DecodingError.dataCorruptedError(forKey: .maxRepliesPerHour, in: c, debugDescription: "max_replies_per_hour must be 1–1000; got \(maxReplies)")
            }
            let maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxMessageBytes) ?? (25 << 20)
            guard maxBytes >= 64 << 10 else {
                throw DecodingError.dataCorruptedError(forKey: .maxMessageBytes, in: c, debugDescription: "max_message_bytes must be at least 65536; got \(maxBytes)")
            }
            let timeout = try c.decodeIfPresent(Int.self, forKey: .timeout) ?? 60
            guard (1...600).contains(timeout) else {
                throw DecodingError.dataCorruptedError(forKey: .timeout, in: c, debugDescription: "timeout must be 1–600 seconds; got \(timeout)")
            }
            self.init(
                address: address, displayName: displayName?.isEmpty == true ? nil : displayName, smtp: smtp, imap: imap, mailgun: mailgun,
                maxRepliesPerHour: maxReplies, html: try c.decodeIfPresent(Bool.self, forKey: .html) ?? false, maxMessageBytes: maxBytes,
                timeout: timeout)
        }

        /// A YAML scalar as text, whether YAML typed it as a number (`30`) or a string (`30s`).
        private static func decodeLooseString<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> String {
            if let text = try? c.decode(String.self, forKey: key) { return text }
            return String(try c.decode(Int.self, forKey: key))
        }

        /// `30s`, `2m`, `1h`, `500ms`, or a bare number of seconds.
        static func parseDuration(_ text: String) -> Duration? {
            let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
            let number = trimmed.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number), value >= 0 else { return nil }
            switch trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces) {
            case "", "s", "sec", "seconds": return .milliseconds(Int64(value * 1000))
            case "ms": return .milliseconds(Int64(value))
            case "m", "min", "minutes": return .milliseconds(Int64(value * 60_000))
            case "h", "hours": return .milliseconds(Int64(value * 3_600_000))
            default: return nil
            }
        }

        static func isAddress(_ text: String) -> Bool {
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" })
        }
    }
}

/// Describes itself without passwords or the signing key.
extension EmailChannel.Configuration: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        [
            "address": address, "displayName": displayName as Any, "smtp": smtp.url, "imap": imap?.url as Any,
            "mailgun": mailgun == nil ? "off" : "on", "maxRepliesPerHour": maxRepliesPerHour,
        ]
    }
}
