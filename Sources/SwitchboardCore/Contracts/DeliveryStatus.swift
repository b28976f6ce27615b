public import Foundation

/// How far a message the gateway sent has got, as the provider reports it (WhatsApp
/// `statuses[]`, the http channel's receipts). Only ever moves forward, except to `failed`.
public enum DeliveryState: String, Sendable, Hashable, Codable, CaseIterable {
    case sent, delivered, read, failed

    /// Order of progress: a late `delivered` never undoes a `read`.
    var rank: Int {
        switch self {
        case .sent: 0
        case .delivered: 1
        case .read: 2
        case .failed: 3
        }
    }

    /// Whether a message in state `current` (nil: none reported yet) takes this one.
    public func supersedes(_ current: DeliveryState?) -> Bool {
        guard let current else { return true }
        if current == .failed { return false }
        return rank > current.rank
    }
}

/// A provider's report about one message the gateway sent, addressed by the id the provider
/// gave it (`DeliveryReceipt.providerMessageIDs`).
public struct DeliveryStatusUpdate: Sendable, Hashable {
    public var channelID: String
    public var providerMessageID: String
    public var state: DeliveryState
    public var at: Date
    /// For `failed`: the provider's reason as it should show on the chat (`"131026: Message undeliverable"`).
    public var error: String?
    /// For `failed`: the provider refused free-form text because the client's window had closed
    /// (WhatsApp 131047). A reminder that fails this way goes the template path or is skipped
    /// with `window_closed`, instead of being lost.
    public var windowClosed: Bool

    public init(channelID: String, providerMessageID: String, state: DeliveryState, at: Date, error: String? = nil, windowClosed: Bool = false) {
        self.channelID = channelID
        self.providerMessageID = providerMessageID
        self.state = state
        self.at = at
        self.error = error
        self.windowClosed = windowClosed
    }
}

/// A status the store matched to a message the gateway sent, with what the caller needs to act
/// on it (a reminder refused for a closed window).
public struct DeliveryStatusEffect: Sendable, Hashable {
    public var update: DeliveryStatusUpdate
    public var message: StoredMessage
    /// The outbox entry the message was delivered from.
    public var outbox: OutboxEntry?

    public init(update: DeliveryStatusUpdate, message: StoredMessage, outbox: OutboxEntry?) {
        self.update = update
        self.message = message
        self.outbox = outbox
    }
}
