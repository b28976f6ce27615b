public import Foundation

/// Who wrote a message.
public enum Author: String, Sendable, Hashable, Codable {
    case client
    /// The AI employee (a reply or a reminder).
    case employee
    /// A human operator writing as the employee through the admin API.
    case `operator`
    /// Gateway notices: auto-replies are `employee`; this is for provider events.
    case system
}

/// What a message carries, as every channel normalizes it.
public enum MessageKind: String, Sendable, Hashable, Codable {
    case text, image, document, audio, voice, video, sticker, location, contact
    case buttonReply = "button_reply"
    case reaction, unsupported, system
}

/// A client's message as a channel adapter hands it to the core, whatever the provider.
public struct InboundMessage: Sendable, Hashable {
    public var channelID: String
    /// Identifies the conversation within the channel (a Telegram chat id, a phone number, a visitor id).
    public var conversationKey: String
    /// The provider's id for the message, the deduplication key; `nil` when the provider has none.
    public var providerMessageID: String?
    public var senderName: String?
    public var senderHandle: String?
    /// Title of the chat as the admin sees it; usually the client's name.
    public var chatTitle: String?
    public var receivedAt: Date
    public var kind: MessageKind
    public var text: String
    /// An edit of an earlier message: stored, but it does not prompt a new reply.
    public var isEdit: Bool
    /// A provider event about the chat rather than a message (e.g. the client blocked the bot).
    public var event: ChatEvent?
    /// Written by a robot on the client's side (an out-of-office note, a mailing list, a delivery
    /// report): stored and shown, but never answered and not the client's reply, so it neither
    /// cancels a pending reminder nor restarts anything. Answering robots is how mail loops start.
    public var isAutomated: Bool

    /// The client said something new: not an edit, not a reaction, not a robot and not an event.
    /// Only such a message is answered, cancels the pending reminder and counts as the client's
    /// last message (which opens WhatsApp's window). A reaction (👍 on a reminder) is stored and
    /// shown, nothing more: answering an emoji would be noise, and Meta does not document that it
    /// opens the window.
    public var isNewTurn: Bool { !isEdit && kind != .reaction && !isAutomated && event == nil }

    public init(
        channelID: String, conversationKey: String, providerMessageID: String?, senderName: String? = nil,
        senderHandle: String? = nil, chatTitle: String? = nil, receivedAt: Date, kind: MessageKind = .text,
        text: String, isEdit: Bool = false, event: ChatEvent? = nil, isAutomated: Bool = false
    ) {
        self.isAutomated = isAutomated
        self.channelID = channelID
        self.conversationKey = conversationKey
        self.providerMessageID = providerMessageID
        self.senderName = senderName
        self.senderHandle = senderHandle
        self.chatTitle = chatTitle
        self.receivedAt = receivedAt
        self.kind = kind
        self.text = text
        self.isEdit = isEdit
        self.event = event
    }
}

/// Provider events that change what the gateway may do in a chat.
public enum ChatEvent: String, Sendable, Hashable, Codable {
    /// The client blocked the bot or left: nothing more can be delivered.
    case unreachable
    /// Context that came with a client's message and belongs in the history, but is neither
    /// answered nor given to the AI: the quoted earlier mails and the signature under an email
    /// reply. Stored as a gateway notice right after the message it came with.
    case note
}

/// A conversation between one client and one employee on one channel.
public struct Chat: Sendable, Hashable, Identifiable {
    public var id: String
    public var channelID: String
    public var conversationKey: String
    public var employeeID: String
    public var title: String
    public var clientName: String?
    public var createdAt: Date
    /// The last message from the client, which opens windows such as WhatsApp's 24 hours.
    public var lastClientMessageAt: Date?
    public var unreachable: Bool
    /// A human operator wrote recently: the AI stays quiet until then.
    public var aiPausedUntil: Date?
    /// The employee owes the client an answer from this moment (the next working moment when
    /// the client wrote outside working hours); `nil` when nothing is owed.
    public var replyDueAt: Date?
    /// Compositions started for the answer owed now; reset when an answer is queued. Bounds the
    /// retries of a failing composer.
    public var replyAttempts: Int = 0

    public init(
        id: String, channelID: String, conversationKey: String, employeeID: String, title: String,
        clientName: String? = nil, createdAt: Date, lastClientMessageAt: Date? = nil, unreachable: Bool = false,
        aiPausedUntil: Date? = nil, replyDueAt: Date? = nil, replyAttempts: Int = 0
    ) {
        self.replyAttempts = replyAttempts
        self.id = id
        self.channelID = channelID
        self.conversationKey = conversationKey
        self.employeeID = employeeID
        self.title = title
        self.clientName = clientName
        self.createdAt = createdAt
        self.lastClientMessageAt = lastClientMessageAt
        self.unreachable = unreachable
        self.aiPausedUntil = aiPausedUntil
        self.replyDueAt = replyDueAt
    }

    /// Records a new client turn received at `time` (gateway time). Each turn moves
    /// `lastClientMessageAt` forward — when `time` is not later than the turn before, to just
    /// past it: the employee's answer is keyed by this moment to the millisecond
    /// (`OutboxKey.reply(answering:)`), so a second turn at the same reading (a clock that
    /// stands still in a test, another gateway process whose clock is a little behind) would
    /// otherwise count as answered already and never get an answer of its own.
    public mutating func recordClientTurn(at time: Date) {
        if let last = lastClientMessageAt, time <= last {
            // 1.5 ms: the next millisecond even after binary floating point rounds the sum down.
            lastClientMessageAt = last.addingTimeInterval(0.0015)
        } else {
            lastClientMessageAt = time
        }
    }
}

/// A message as stored in a chat's history.
public struct StoredMessage: Sendable, Hashable {
    public var id: Int64
    public var chatID: String
    public var author: Author
    public var kind: MessageKind
    public var text: String
    public var at: Date
    public var providerMessageID: String?
    public var isEdit: Bool
    /// For reminders: the chain run and step that produced it.
    public var followUpStep: Int?
    /// For messages the gateway sent: the outbox entry they were delivered from, which links
    /// them to what composing them cost (`UsageRecord.outboxID`).
    public var outboxID: Int64?
    /// For messages the gateway sent: when the recipient got it. `at` is when it was handed to
    /// the channel; for a recipient who may be offline (a widget visitor) delivery can come much
    /// later, on reconnect, and `nil` means it is still waiting.
    public var deliveredAt: Date?
    /// For messages the gateway sent: the provider's latest report (`nil` before any), and its
    /// reason when it failed.
    public var deliveryState: DeliveryState?
    public var deliveryError: String?

    public init(
        id: Int64, chatID: String, author: Author, kind: MessageKind, text: String, at: Date,
        providerMessageID: String? = nil, isEdit: Bool = false, followUpStep: Int? = nil, outboxID: Int64? = nil,
        deliveredAt: Date? = nil, deliveryState: DeliveryState? = nil, deliveryError: String? = nil
    ) {
        self.deliveryState = deliveryState
        self.deliveryError = deliveryError
        self.id = id
        self.chatID = chatID
        self.author = author
        self.kind = kind
        self.text = text
        self.at = at
        self.providerMessageID = providerMessageID
        self.isEdit = isEdit
        self.followUpStep = followUpStep
        self.outboxID = outboxID
        self.deliveredAt = deliveredAt
    }
}
