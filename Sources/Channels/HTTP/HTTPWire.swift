import Foundation

// The bodies of the http channel's protocol, as docs/http-channel/*.schema.json describe them.
// Unknown members are accepted and ignored, so a sender may add its own.

/// One client message: `POST /webhooks/<id>`, alone or as an element of `{"messages": [...]}`.
struct InboundWireMessage: Decodable {
    var messageID: String
    var chatID: String
    var client: Client?
    var text: String
    var sentAt: String?

    struct Client: Decodable {
        var id: String?
        var name: String?

        enum CodingKeys: String, CodingKey { case id, name }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decodeIfPresent(Identifier.self, forKey: .id)?.text
            name = try c.decodeIfPresent(String.self, forKey: .name)
        }
    }

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", chatID = "chat_id", client, text
        case sentAt = "sent_at"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messageID = try c.decode(Identifier.self, forKey: .messageID).text
        chatID = try c.decode(Identifier.self, forKey: .chatID).text
        client = try c.decodeIfPresent(Client.self, forKey: .client)
        text = try c.decode(String.self, forKey: .text)
        sentAt = try c.decodeIfPresent(Timestamp.self, forKey: .sentAt)?.text
    }
}

/// One delivery receipt: `POST /webhooks/<id>/receipts`, alone or in `{"receipts": [...]}`.
struct WireReceipt: Decodable {
    enum Status: String, Decodable, CaseIterable {
        case delivered, read, failed
    }

    var messageID: String
    var status: Status
    var error: String?

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", status, error
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messageID = try c.decode(Identifier.self, forKey: .messageID).text
        let statusText = try c.decode(String.self, forKey: .status)
        guard let status = Status(rawValue: statusText) else {
            throw DecodingError.dataCorruptedError(
                forKey: .status, in: c,
                debugDescription: "must be one of \(Status.allCases.map(\.rawValue).joined(separator: ", ")); got '\(statusText.prefix(40))'")
        }
        self.status = status
        error = try c.decodeIfPresent(String.self, forKey: .error)
    }
}

/// One element, or the array of a batch under the key the decoder's ``batchKey`` names
/// (`messages`, `receipts`).
struct OneOrBatch<Element: Decodable>: Decodable {
    var elements: [Element]

    // The initializer is failable only in its signature: it accepts every string.
    static var batchKey: CodingUserInfoKey { CodingUserInfoKey(rawValue: "switchboard.http.batchKey")! }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        if let name = decoder.userInfo[Self.batchKey] as? String, container.contains(Key(stringValue: name)) {
            elements = try container.decode([Element].self, forKey: Key(stringValue: name))
        } else {
            elements = [try Element(from: decoder)]
        }
    }
}

/// What the channel POSTs to `outbound_url`.
struct OutboundWireMessage: Encodable {
    var messageID: String
    var chatID: String
    var text: String
    var kind: String
    var followupStep: Int?
    var template: String?
    /// 1-based, only when a long text went out as several messages.
    var part: Int?
    var parts: Int?

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", chatID = "chat_id", text, kind
        case followupStep = "followup_step"
        case template, part, parts
    }
}

/// An id as a string, also from a JSON integer (many systems number their chats and messages).
struct Identifier: Decodable {
    var text: String

    static let maxLength = 256

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let number = try? c.decode(Int64.self) {
            text = String(number)
            return
        }
        guard let string = try? c.decode(String.self) else {
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "must be a string or an integer"))
        }
        guard !string.isEmpty, string.utf8.count <= Self.maxLength else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "must be 1–\(Self.maxLength) bytes"))
        }
        text = string
    }
}

/// `sent_at`: an RFC 3339 date-time or unix seconds; checked, then kept only for the log.
struct Timestamp: Decodable {
    var text: String

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let seconds = try? c.decode(Double.self) {
            text = String(seconds)
            return
        }
        guard let string = try? c.decode(String.self), Self.parse(string) != nil else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "must be an RFC 3339 date-time such as 2026-11-23T06:00:00Z, or unix seconds"))
        }
        text = string
    }

    static func parse(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle().parse(text)) ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
    }
}
