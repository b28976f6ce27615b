import Foundation
public import SwitchboardCore
import SwitchboardChannelKit

extension WhatsAppChannel {
    /// A WhatsApp channel's own settings (the keys of its channel file besides `type`, `id` and
    /// `employee`). Decoding is strict at every level: an unknown key is an error, so a typo
    /// cannot silently become a default.
    public struct Configuration: Decodable, Sendable {
        /// `phone_number_id`: the id of the business number in WhatsApp Manager / the App
        /// Dashboard's API Setup page (digits; not the phone number itself). Required.
        public var phoneNumberID: String
        /// `access_token`: a system-user (or temporary) access token with
        /// `whatsapp_business_messaging`. Required.
        public var accessToken: Secret
        /// `app_secret`: the App Secret (App Dashboard → App settings → Basic), the key of the
        /// `X-Hub-Signature-256` HMAC on every webhook POST. Required.
        public var appSecret: Secret
        /// `verify_token`: any string you choose and also type into the App Dashboard's webhook
        /// form; the GET handshake must present it. Required.
        public var verifyToken: Secret
        /// `api_base`: the Graph API with its pinned version, default `https://graph.facebook.com/v25.0`.
        public var apiBase: String
        /// `window`: what to do with reminders that would land after the 24-hour window.
        public var window: Window
        /// `max_body_bytes`: the largest webhook body accepted, default 4 MiB (Meta sends ≤ 3 MB).
        public var maxBodyBytes: Int
        /// `messages_per_second`: outbound pace, default 80 (a number's default throughput).
        public var messagesPerSecond: Int

        public static let defaultAPIBase = "https://graph.facebook.com/v25.0"
        public static let defaultMaxBodyBytes = 4 << 20
        public static let defaultMessagesPerSecond = 80

        /// Settings as given, for code and tests; decoding from a channel file also validates them.
        public init(
            phoneNumberID: String, accessToken: Secret, appSecret: Secret, verifyToken: Secret, apiBase: String = Configuration.defaultAPIBase,
            window: Window = Window(), maxBodyBytes: Int = Configuration.defaultMaxBodyBytes,
            messagesPerSecond: Int = Configuration.defaultMessagesPerSecond
        ) {
            self.phoneNumberID = phoneNumberID
            self.accessToken = accessToken
            self.appSecret = appSecret
            self.verifyToken = verifyToken
            var base = Substring(apiBase)
            while base.hasSuffix("/") { base = base.dropLast() }
            self.apiBase = String(base)
            self.window = window
            self.maxBodyBytes = maxBodyBytes
            self.messagesPerSecond = messagesPerSecond
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case phoneNumberID = "phone_number_id"
            case accessToken = "access_token"
            case appSecret = "app_secret"
            case verifyToken = "verify_token"
            case apiBase = "api_base"
            case window
            case maxBodyBytes = "max_body_bytes"
            case messagesPerSecond = "messages_per_second"
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(of: decoder, allowed: CodingKeys.self, channelType: "whatsapp")
            let container = try decoder.container(keyedBy: CodingKeys.self)

            let phoneNumberID = try container.decode(FlexibleString.self, forKey: .phoneNumberID).value
            guard !phoneNumberID.isEmpty, phoneNumberID.allSatisfy(\.isASCIIDigit) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .phoneNumberID, in: container,
                    debugDescription: "phone_number_id must be the digits of the Phone number ID from the App Dashboard's API Setup page (not the phone number); got '\(phoneNumberID)'")
            }
            // Never echo the values below: they are credentials.
            let accessToken = try container.decode(Secret.self, forKey: .accessToken)
            if accessToken.value.isEmpty || accessToken.value.contains(where: \.isWhitespace) {
                throw DecodingError.dataCorruptedError(
                    forKey: .accessToken, in: container,
                    debugDescription: "access_token must be a Graph API access token (a system user's token from Business Settings); it is empty or has whitespace")
            }
            let appSecret = try container.decode(Secret.self, forKey: .appSecret)
            guard !appSecret.value.isEmpty else {
                throw DecodingError.dataCorruptedError(
                    forKey: .appSecret, in: container,
                    debugDescription: "app_secret must be the App Secret from App settings → Basic: it signs every webhook")
            }
            let verifyToken = try container.decode(Secret.self, forKey: .verifyToken)
            guard !verifyToken.value.isEmpty else {
                throw DecodingError.dataCorruptedError(
                    forKey: .verifyToken, in: container,
                    debugDescription: "verify_token must be the string you also type into the App Dashboard's webhook form (e.g. openssl rand -hex 16)")
            }
            let apiBase = try container.decodeIfPresent(String.self, forKey: .apiBase) ?? Self.defaultAPIBase
            let lower = apiBase.lowercased()
            guard (lower.hasPrefix("https://") && lower.count > 8) || (lower.hasPrefix("http://") && lower.count > 7) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .apiBase, in: container, debugDescription: "api_base must be an http:// or https:// URL, e.g. \(Self.defaultAPIBase)")
            }
            let window = try container.decodeIfPresent(Window.self, forKey: .window) ?? Window()
            let maxBodyBytes = try container.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? Self.defaultMaxBodyBytes
            // Meta's payloads reach 3 MB; a smaller limit would refuse real batches forever.
            guard maxBodyBytes >= 3_000_000 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .maxBodyBytes, in: container,
                    debugDescription: "max_body_bytes must be at least 3000000: Meta sends webhook batches of up to 3 MB; got \(maxBodyBytes)")
            }
            let messagesPerSecond = try container.decodeIfPresent(Int.self, forKey: .messagesPerSecond) ?? Self.defaultMessagesPerSecond
            guard (1...1000).contains(messagesPerSecond) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .messagesPerSecond, in: container,
                    debugDescription: "messages_per_second must be 1–1000 (80 by default, 1000 after Meta's upgrade, 20 for coexistence numbers); got \(messagesPerSecond)")
            }
            self.init(
                phoneNumberID: phoneNumberID, accessToken: accessToken, appSecret: appSecret, verifyToken: verifyToken, apiBase: apiBase,
                window: window, maxBodyBytes: maxBodyBytes, messagesPerSecond: messagesPerSecond)
        }
    }

    /// `window:` — a reminder due after the 24-hour customer service window has closed is, in
    /// this order: pulled into the window (`pull_in`), sent as `template`, or skipped.
    public struct Window: Decodable, Sendable, Hashable {
        /// `pull_in`: move such a reminder to the last working moment at least 5 minutes before
        /// the window closes. Default `true`.
        public var pullIn: Bool
        /// `template`: the approved template sent instead of free-form text after the window.
        public var template: Template?

        public init(pullIn: Bool = true, template: Template? = nil) {
            self.pullIn = pullIn
            self.template = template
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case pullIn = "pull_in"
            case template
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(of: decoder, allowed: CodingKeys.self, channelType: "whatsapp")
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                pullIn: try container.decodeIfPresent(Bool.self, forKey: .pullIn) ?? true,
                template: try container.decodeIfPresent(Template.self, forKey: .template))
        }
    }

    /// `window.template:` — an approved message template, e.g. `{ name: followup_reengage, language: en_US }`.
    public struct Template: Decodable, Sendable, Hashable {
        /// `name`: the template's name in WhatsApp Manager (lowercase letters, digits, `_`).
        public var name: String
        /// `language`: the code of an approved translation, exactly (`en` and `en_US` differ).
        public var language: String
        /// `parameters`: the body's `{{1}}`, `{{2}}`… in order; each may use `{client_name}` and
        /// `{employee_name}`. Default none.
        public var parameters: [String]

        public static let placeholders = ["{client_name}", "{employee_name}"]

        public init(name: String, language: String, parameters: [String] = []) {
            self.name = name
            self.language = language
            self.parameters = parameters
        }

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case name, language, parameters
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(of: decoder, allowed: CodingKeys.self, channelType: "whatsapp")
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let name = try container.decode(String.self, forKey: .name)
            guard !name.isEmpty, name.allSatisfy({ $0.isASCIIDigit || ("a"..."z").contains($0) || $0 == "_" }) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .name, in: container,
                    debugDescription: "template name must be the approved template's name as WhatsApp Manager shows it (lowercase letters, digits and _); got '\(name)'")
            }
            let language = try container.decode(String.self, forKey: .language)
            guard !language.isEmpty, language.allSatisfy({ $0.isLetter || $0 == "_" }) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .language, in: container,
                    debugDescription: "template language must be the code of an approved translation, such as en_US or de; got '\(language)'")
            }
            let parameters = try container.decodeIfPresent([String].self, forKey: .parameters) ?? []
            for parameter in parameters {
                var rest = parameter
                for placeholder in Self.placeholders { rest = rest.replacingOccurrences(of: placeholder, with: "") }
                if rest.contains("{") || parameter.trimmingCharacters(in: .whitespaces).isEmpty {
                    throw DecodingError.dataCorruptedError(
                        forKey: .parameters, in: container,
                        debugDescription: "template parameters must be non-empty text that may use \(Self.placeholders.joined(separator: " and ")); got '\(parameter)'")
                }
            }
            self.init(name: name, language: language, parameters: parameters)
        }

        /// The body parameters with the placeholders filled in.
        func bodyParameters(clientName: String, employeeName: String) -> [String] {
            parameters.map {
                $0.replacingOccurrences(of: "{client_name}", with: clientName).replacingOccurrences(of: "{employee_name}", with: employeeName)
            }
        }
    }
}

/// A YAML scalar read as text: `phone_number_id: 106540352242922` arrives as a number.
struct FlexibleString: Decodable {
    var value: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            value = text
        } else {
            value = String(try container.decode(Int64.self))
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// Describes itself without the access token, app secret or verify token (they print `***`).
extension WhatsAppChannel.Configuration: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        [
            "phoneNumberID": phoneNumberID, "accessToken": accessToken, "appSecret": appSecret, "verifyToken": verifyToken, "apiBase": apiBase,
            "window": window, "maxBodyBytes": maxBodyBytes, "messagesPerSecond": messagesPerSecond,
        ]
    }
}

/// A channel describes itself by id and redacted settings, never by its API client.
extension WhatsAppChannel: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> { ["id": id, "configuration": configuration] }
}
