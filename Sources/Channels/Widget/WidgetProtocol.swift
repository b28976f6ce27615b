import Foundation
import SwitchboardCore

/// The widget's WebSocket protocol, version 1: JSON text frames, each an object with a
/// `type`. The reference is docs/widget-protocol.md; these types are its single source in code.
enum WidgetProtocol {
    static let version = 1

    /// Why the server closed a socket. The 4xxx codes are the protocol's own (RFC 6455's
    /// private range); the widget never reconnects after 4401, 4403 or 4409 on its own.
    enum CloseCode: Int, Sendable, CaseIterable {
        /// The visitor left or the gateway is shutting down.
        case normal = 1000
        /// A binary frame: the protocol is text only.
        case unsupportedData = 1003
        /// A message over `max_frame_bytes` (sent by the server's WebSocket layer).
        case messageTooBig = 1009
        case internalError = 1011
        /// Not JSON, or no `type`.
        case malformed = 4400
        /// Missing, malformed, forged or expired visitor token — or a frame before `auth`.
        case unauthorized = 4401
        /// The page's origin is not in `allowed_origins` (the handshake is refused before this).
        case forbiddenOrigin = 4403
        /// No `auth` frame within `auth_timeout`.
        case authTimeout = 4408
        /// The visitor opened more than `max_connections_per_visitor` sockets; this, the oldest, yields.
        case replaced = 4409
        /// Far more frames than any person types.
        case rateLimited = 4429
    }

    /// Every frame a browser may send. Fields belong to the `type` named in the comment.
    struct ClientFrame: Decodable, Sendable {
        var type: String
        /// `auth`
        var visitorToken: String?
        /// `auth`: the highest `seq` the page has shown; `null` on a fresh page.
        var lastSeq: Int64?
        /// `message`: the page's id for the message, its idempotency key.
        var clientMsgID: String?
        /// `message`
        var text: String?
        /// `profile`
        var name: String?
        /// `profile`
        var email: String?

        enum CodingKeys: String, CodingKey {
            case type, text, name, email
            case visitorToken = "visitor_token"
            case lastSeq = "last_seq"
            case clientMsgID = "client_msg_id"
        }
    }

    /// `ready`: sent once after `auth`, after the messages the page missed.
    struct Ready: Encodable, Sendable {
        let type = "ready"
        var protocolVersion = WidgetProtocol.version
        var visitorID: String
        var chatTitle: String
        var employeeName: String?
        /// The highest `seq` sent so far (`null` when the chat has no messages yet).
        var lastSeq: Int64?
        /// On a fresh page: older messages exist than the ones sent.
        var hasMore: Bool
        var profile: Profile

        enum CodingKeys: String, CodingKey {
            case type
            case protocolVersion = "protocol"
            case visitorID = "visitor_id"
            case chatTitle = "chat_title"
            case employeeName = "employee_name"
            case lastSeq = "last_seq"
            case hasMore = "has_more"
            case profile
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(type, forKey: .type)
            try c.encode(protocolVersion, forKey: .protocolVersion)
            try c.encode(visitorID, forKey: .visitorID)
            try c.encode(chatTitle, forKey: .chatTitle)
            try c.encode(employeeName, forKey: .employeeName)
            try c.encode(lastSeq, forKey: .lastSeq)
            try c.encode(hasMore, forKey: .hasMore)
            try c.encode(profile, forKey: .profile)
        }
    }

    /// `message`: one stored message of the chat, in `seq` order.
    struct Message: Encodable, Sendable, Hashable {
        let type = "message"
        /// The message's place in the chat; strictly increasing, shared by every tab and process.
        var seq: Int64
        /// `client` or `employee` (an operator writing as the employee is the employee to the visitor).
        var author: String
        var text: String
        var sentAt: String
        /// On the visitor's own messages: the id their page gave it.
        var clientMsgID: String?

        enum CodingKeys: String, CodingKey {
            case type, seq, author, text
            case sentAt = "sent_at"
            case clientMsgID = "client_msg_id"
        }
    }

    /// `ack`: the visitor's message is stored; its `message` frame (with `seq`) follows.
    struct Ack: Encodable, Sendable {
        let type = "ack"
        var clientMsgID: String

        enum CodingKeys: String, CodingKey {
            case type
            case clientMsgID = "client_msg_id"
        }
    }

    /// `error`: a frame was refused; the socket stays open.
    struct ErrorFrame: Encodable, Sendable {
        let type = "error"
        /// `rate_limited`, `text_too_long`, `empty_text`, `bad_client_msg_id`, `invalid_profile`,
        /// `unknown_type`, `unavailable`.
        var code: String
        var message: String
        var clientMsgID: String?
        var retryAfterMs: Int?

        enum CodingKeys: String, CodingKey {
            case type, code, message
            case clientMsgID = "client_msg_id"
            case retryAfterMs = "retry_after_ms"
        }
    }

    /// `profile`: what the visitor told about themselves (echoed after a change).
    struct Profile: Codable, Sendable, Hashable {
        var type: String? = nil
        var name: String?
        var email: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(type, forKey: .type)
            try c.encode(name, forKey: .name)
            try c.encode(email, forKey: .email)
        }
    }

    struct Pong: Encodable, Sendable {
        let type = "pong"
    }

    static func encode(_ frame: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // The frames are plain structs of strings and numbers: encoding cannot fail.
        return (try? encoder.encode(frame)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"type":"error","code":"internal"}"#
    }

    static func decode(_ text: String) -> ClientFrame? {
        try? JSONDecoder().decode(ClientFrame.self, from: Data(text.utf8))
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    /// The message frame for a stored message, or `nil` for what a visitor never sees (gateway
    /// notices, edits).
    static func frame(for message: StoredMessage, visitorID: String) -> Message? {
        guard !message.isEdit else { return nil }
        let author: String
        var clientMsgID: String?
        switch message.author {
        case .client:
            author = "client"
            clientMsgID = message.providerMessageID.flatMap { ClientMessageID.clientPart(of: $0, visitorID: visitorID) }
        case .employee, .operator:
            author = "employee"
        case .system:
            return nil
        }
        return Message(seq: message.id, author: author, text: message.text, sentAt: timestamp(message.at), clientMsgID: clientMsgID)
    }
}

/// The provider message id of a visitor's message: `<visitor-id>/<client_msg_id>`, so a page
/// resending a message after a reconnect stores it once, and two visitors cannot collide.
enum ClientMessageID {
    static func isValid(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"):
                    true
                default: false
                }
            }
    }

    static func providerID(visitorID: String, clientMsgID: String) -> String { "\(visitorID)/\(clientMsgID)" }

    static func clientPart(of providerID: String, visitorID: String) -> String? {
        let prefix = visitorID + "/"
        return providerID.hasPrefix(prefix) ? String(providerID.dropFirst(prefix.count)) : nil
    }
}
