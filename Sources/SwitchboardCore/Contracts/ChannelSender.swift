import Foundation

/// The outbound half of a channel adapter.
public protocol ChannelSender: Sendable {
    var capabilities: ChannelCapabilities { get }
    /// Delivers one message. Throws `DeliveryError`; anything else is treated as retryable.
    func send(_ message: OutboundMessage) async throws -> DeliveryReceipt
}

/// A message for the provider, addressed by the chat's conversation key.
public struct OutboundMessage: Sendable, Hashable {
    public var chatID: String
    public var channelID: String
    public var conversationKey: String
    public var text: String
    public var delivery: Delivery

    public init(chatID: String, channelID: String, conversationKey: String, text: String, delivery: Delivery = .freeForm) {
        self.chatID = chatID
        self.channelID = channelID
        self.conversationKey = conversationKey
        self.text = text
        self.delivery = delivery
    }
}

/// What the provider said when it accepted a message.
public struct DeliveryReceipt: Sendable, Hashable {
    public var providerMessageIDs: [String]
    /// `false` when the adapter stored it for a recipient who is offline.
    public var delivered: Bool

    public init(providerMessageIDs: [String] = [], delivered: Bool = true) {
        self.providerMessageIDs = providerMessageIDs
        self.delivered = delivered
    }
}

/// Why a provider refused a message, classified for the outbox.
public struct DeliveryError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Try again later (rate limit, 5xx, timeout).
        case retryable
        /// The recipient blocked the bot or is gone: stop writing to this chat.
        case unreachable
        /// This message can never be delivered (bad request, window closed).
        case permanent
    }

    public var kind: Kind
    public var message: String
    /// The provider's `retry_after` / `Retry-After`, when it gave one.
    public var retryAfter: Duration?

    public init(_ kind: Kind, _ message: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "delivery \(kind.rawValue): \(message)" }
}
