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
    /// Why it is sent (a reply, a reminder, an operator's message, the auto-reply); `nil` when
    /// the sender is called outside the outbox (a test).
    public var purpose: OutboxPurpose?
    /// For reminders: the chain step (1-based).
    public var followUpStep: Int?
    /// Stable across retries of this message and unique in the gateway (`<chat id>:<outbox key>`),
    /// for providers that deduplicate on a key the sender chooses (the http channel's
    /// `Idempotency-Key`).
    public var idempotencyKey: String?

    public init(
        chatID: String, channelID: String, conversationKey: String, text: String, delivery: Delivery = .freeForm, purpose: OutboxPurpose? = nil,
        followUpStep: Int? = nil, idempotencyKey: String? = nil
    ) {
        self.purpose = purpose
        self.followUpStep = followUpStep
        self.idempotencyKey = idempotencyKey
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
        /// This message can never be delivered (bad request).
        case permanent
        /// The provider refused free-form text because the client's window had closed (WhatsApp
        /// 131047 answered at once). Not retried: a reminder goes the re-engagement template path
        /// or its step is skipped with `window_closed`; any other message ends as a dead letter.
        case windowClosed = "window_closed"
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
