public import Foundation

/// A pure change to a chat's follow-up state, applied by the store inside the same transaction
/// as the write it accompanies. Throw `TransitionRejected` to roll the whole write back.
public typealias FollowUpTransition = @Sendable (_ state: inout FollowUpState, _ chat: Chat) throws -> [FollowUpDecision]

/// Changes a chat as a client's message is stored, and may queue the answer it calls for at once.
public typealias InboundChatChange = @Sendable (inout Chat) -> NewOutboxEntry?

/// Told about one chat's follow-up decisions once the store has written them — for metrics and
/// the event log, never for logic.
public typealias DecisionObserver = @Sendable (_ chatID: String, _ decisions: [FollowUpDecision]) -> Void

/// Thrown by a `FollowUpTransition` when the state no longer allows the write (for example,
/// the client replied while the reminder was being composed).
public struct TransitionRejected: Error, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// Durable state of the gateway. Every method is one transaction; implementations must pass
/// `StoreContractSuite` in SwitchboardTesting.
public protocol Store: CursorStore, SharedStateStore {
    // MARK: Chats and messages

    /// Stores clients' messages in one transaction (the gateway's group commit), each creating
    /// its chat on first contact and applying its `followUp`. A message is `.duplicate` — and
    /// changes nothing — when the channel already has one with its provider id (an earlier one
    /// in the same batch included). `chatChange` runs on the chat after the message is recorded
    /// on it; the outbox entry it returns (an out-of-hours auto-reply) is queued in the same
    /// transaction, unless the chat already has one under its idempotency key. Results are in
    /// the batch's order; if anything fails, nothing of the batch is stored.
    func recordInbound(_ batch: [InboundRecord]) async throws -> [InboundResult]
    /// Appends a message the gateway itself produced (an auto-reply, an operator's message).
    func appendMessage(_ message: NewMessage, followUp: FollowUpTransition?) async throws -> StoredMessage
    /// Changes a chat. With `lease` (a claimed reply's), the change is made only while that
    /// claim still holds the chat's owed reply; otherwise it throws `StoreError.leaseLost`.
    func updateChat(id: String, lease: Lease?, _ change: @escaping @Sendable (inout Chat) -> Void, followUp: FollowUpTransition?) async throws -> Chat
    func chat(id: String) async throws -> Chat?
    func chat(channelID: String, conversationKey: String) async throws -> Chat?
    /// The latest `limit` messages of a chat, oldest first.
    func messages(chatID: String, limit: Int) async throws -> [StoredMessage]
    /// The first `limit` messages of a chat whose id is greater than `afterID`, oldest first.
    /// Message ids grow with every write, so they double as a chat's sequence numbers: a client
    /// that has seen up to id N gets exactly what it missed from `messages(chatID:after: N)`.
    func messages(chatID: String, after afterID: Int64, limit: Int) async throws -> [StoredMessage]
    /// Records that the recipient got these messages of the chat (the first delivery counts;
    /// later calls keep it). Ids of other chats are ignored.
    func markDelivered(chatID: String, messageIDs: [Int64], at: Date) async throws
    /// Applies providers' delivery statuses to the messages the gateway sent, matched by
    /// (channel, provider message id) — every id of a message split into parts counts. A status
    /// never moves a message backwards (`DeliveryState.supersedes`); `delivered` and `read` also
    /// set `deliveredAt`. Unknown ids are ignored. Returns the statuses that changed a message.
    func recordDeliveryStatuses(_ updates: [DeliveryStatusUpdate]) async throws -> [DeliveryStatusEffect]

    // MARK: Follow-ups

    func followUpState(chatID: String) async throws -> FollowUpState?
    /// Applies `transition` to the chat's follow-up state. With `lease` (a claimed reminder's),
    /// only while that claim still holds the reminder; otherwise it throws `StoreError.leaseLost`
    /// and changes nothing.
    @discardableResult
    func updateFollowUp(chatID: String, lease: Lease?, _ transition: @escaping FollowUpTransition) async throws -> FollowUpState
    /// Applies `transition` to every chat of the employee with a pending reminder.
    func updatePendingFollowUps(employeeID: String, _ transition: @escaping FollowUpTransition) async throws -> Int
    /// Leases scheduled reminders due at `now`; another caller gets none of them until the lease
    /// ends or the state changes. Each claim hands out a new `Lease` (fencing token).
    func claimDueFollowUps(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [DueFollowUp]
    func decisions(chatID: String) async throws -> [FollowUpDecision]
    /// Chats with a pending reminder, soonest first.
    func pendingFollowUps(_ query: FollowUpQuery) async throws -> FollowUpPage
    /// Every chat, newest activity first (the Chats inbox), filtered and searched as `query`
    /// says, one keyset page at a time. A chat stays listed whatever its chain does.
    func chatInbox(_ query: ChatInboxQuery) async throws -> ChatInboxPage

    // MARK: Outbox

    /// Queues a message for delivery, records what composing it cost, and applies `followUp`.
    /// Returns `nil` when an entry with the same idempotency key exists. With `lease` (the
    /// claimed reply or reminder the message answers), nothing is written unless that claim
    /// still holds: `StoreError.leaseLost`.
    func enqueue(
        _ entry: NewOutboxEntry, usage: UsageRecord?, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws -> OutboxEntry?
    /// Leases entries due at `now` for delivery. Entries whose earlier lease ran out mid-delivery
    /// come back with `interrupted` set: the provider may or may not have them.
    func claimDueOutbox(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [OutboxEntry]
    /// Leases chats whose `replyDueAt` has come, for composing the employee's answer.
    func claimDueReplies(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [DueReply]
    /// Records a delivery attempt's outcome; on `.sent` the message joins the chat history.
    /// With `lease` (the entry's claim), the outcome is recorded only while that claim still
    /// holds the entry: after it ran out and another claimer took the entry, it throws
    /// `StoreError.leaseLost` and changes nothing. `nil`: unfenced (tools, tests).
    func complete(
        outboxID: Int64, _ outcome: OutboxOutcome, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws
    func outbox(chatID: String) async throws -> [OutboxEntry]

    // MARK: Batches (the scheduler's pipeline)

    // A wave of due reminders goes through the store a batch at a time: each call below is one
    // transaction for the whole batch. Every item stands alone inside it — an item whose lease
    // was lost (`StoreError.leaseLost`), whose chat or entry is unknown, or whose transition
    // threw changes nothing and gets its own error, and the others are written. Results are in
    // the batch's order; the call throws only when the transaction as a whole failed, and then
    // nothing of the batch was written.

    /// `updateFollowUp(chatID:lease:_:)` for a batch.
    func updateFollowUps(_ batch: [FollowUpUpdate]) async throws -> [Result<FollowUpState, any Error>]
    /// `enqueue(_:usage:lease:chatChange:followUp:)` for a batch (`nil`: the key was used).
    func enqueue(_ batch: [OutboxEnqueue]) async throws -> [Result<OutboxEntry?, any Error>]
    /// `complete(outboxID:_:lease:chatChange:followUp:)` for a batch.
    func complete(_ batch: [OutboxCompletion]) async throws -> [Result<Void, any Error>]
    /// What the scheduler reads about chats before it acts on them, in one read: each chat
    /// with its follow-up state and its latest `historyLimit` messages (oldest first; none for
    /// 0). Unknown ids are left out.
    func chatContexts(ids: [String], historyLimit: Int) async throws -> [String: ChatContext]

    /// The earliest moment each kind of pending work needs attention (due, or its lease ends).
    func nextWakeTimes() async throws -> WakeTimes
    /// Signals that another process sharing the store armed or moved a reminder or queued a
    /// message: the scheduler looks at its wake times again at once rather than at its next
    /// poll. A store that cannot tell (SQLite) finishes the stream at once; the scheduler's
    /// poll (`idleCheck`) is the fallback either way. Ends when the caller stops iterating.
    func wakeups() -> AsyncStream<Void>

    // MARK: Usage and cursors

    func recordUsage(_ usage: UsageRecord) async throws
    func tokenUsage(employeeID: String, purpose: UsagePurpose?, from: Date, to: Date) async throws -> TokenUsage
    /// The employee's usage in `from..<to` (of one purpose, or all when `nil`), summed per local
    /// day in `timeZone`; days without usage are left out.
    func tokenUsageByDay(employeeID: String, purpose: UsagePurpose?, from: Date, to: Date, timeZone: TimeZone) async throws -> [DailyTokenUsage]
    func usage(chatID: String) async throws -> [UsageRecord]
    func cursor(_ name: String) async throws -> String?
    func setCursor(_ name: String, to value: String) async throws
}

/// One fenced follow-up change of a batch (`Store.updateFollowUps`).
public struct FollowUpUpdate: Sendable {
    public var chatID: String
    public var lease: Lease?
    public var transition: FollowUpTransition

    public init(chatID: String, lease: Lease?, _ transition: @escaping FollowUpTransition) {
        self.chatID = chatID
        self.lease = lease
        self.transition = transition
    }
}

/// One message to queue in a batch (`Store.enqueue(_:)`), with what `enqueue` takes beside it.
public struct OutboxEnqueue: Sendable {
    public var entry: NewOutboxEntry
    public var usage: UsageRecord?
    public var lease: Lease?
    public var chatChange: (@Sendable (inout Chat) -> Void)?
    public var followUp: FollowUpTransition?

    public init(
        _ entry: NewOutboxEntry, usage: UsageRecord?, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)? = nil, followUp: FollowUpTransition?
    ) {
        self.entry = entry
        self.usage = usage
        self.lease = lease
        self.chatChange = chatChange
        self.followUp = followUp
    }
}

/// One delivery outcome to record in a batch (`Store.complete(_:)`).
public struct OutboxCompletion: Sendable {
    public var outboxID: Int64
    public var outcome: OutboxOutcome
    public var lease: Lease?
    public var chatChange: (@Sendable (inout Chat) -> Void)?
    public var followUp: FollowUpTransition?

    public init(
        outboxID: Int64, _ outcome: OutboxOutcome, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)? = nil, followUp: FollowUpTransition?
    ) {
        self.outboxID = outboxID
        self.outcome = outcome
        self.lease = lease
        self.chatChange = chatChange
        self.followUp = followUp
    }
}

/// A chat as the scheduler reads it before acting (`Store.chatContexts`).
public struct ChatContext: Sendable, Hashable {
    public var chat: Chat
    public var state: FollowUpState?
    /// The latest messages, oldest first, as many as asked for.
    public var history: [StoredMessage]

    public init(chat: Chat, state: FollowUpState?, history: [StoredMessage]) {
        self.chat = chat
        self.state = state
        self.history = history
    }
}

/// When each kind of the scheduler's work is next due; `nil`: none pending.
public struct WakeTimes: Sendable, Hashable {
    public var outbox: Date?
    public var replies: Date?
    public var reminders: Date?

    public init(outbox: Date? = nil, replies: Date? = nil, reminders: Date? = nil) {
        self.outbox = outbox
        self.replies = replies
        self.reminders = reminders
    }

    public var earliest: Date? { [outbox, replies, reminders].compactMap { $0 }.min() }
}

/// One client message for `Store.recordInbound(_:)`, with what storing it changes.
public struct InboundRecord: Sendable {
    public var message: InboundMessage
    public var employeeID: String
    public var followUp: FollowUpTransition
    public var chatChange: InboundChatChange?

    public init(message: InboundMessage, employeeID: String, followUp: @escaping FollowUpTransition, chatChange: InboundChatChange? = nil) {
        self.message = message
        self.employeeID = employeeID
        self.followUp = followUp
        self.chatChange = chatChange
    }
}

public enum InboundResult: Sendable, Hashable {
    case stored(Chat, StoredMessage)
    case duplicate
}

/// A message the gateway adds to a chat's history.
public struct NewMessage: Sendable, Hashable {
    public var chatID: String
    public var author: Author
    public var kind: MessageKind
    public var text: String
    public var at: Date

    public init(chatID: String, author: Author, kind: MessageKind = .text, text: String, at: Date) {
        self.chatID = chatID
        self.author = author
        self.kind = kind
        self.text = text
        self.at = at
    }
}

public struct DueFollowUp: Sendable, Hashable {
    public var chat: Chat
    public var state: FollowUpState
    /// The claim that handed it out; pass it to every write about this reminder.
    public var lease: Lease?
    public init(chat: Chat, state: FollowUpState, lease: Lease? = nil) {
        self.chat = chat
        self.state = state
        self.lease = lease
    }
}

/// A chat whose answer is owed, as `Store.claimDueReplies` hands it out.
public struct DueReply: Sendable, Hashable {
    public var chat: Chat
    /// The claim; pass it to every write about this answer.
    public var lease: Lease
    public init(chat: Chat, lease: Lease) {
        self.chat = chat
        self.lease = lease
    }
}

/// Proof of a claim: who claimed the work, and which claim it was. Every claim of a row gives
/// it a new token, so a holder whose lease ran out and was taken over can no longer write the
/// row (fencing): its late writes fail with `StoreError.leaseLost` instead of overwriting
/// what the new holder decided.
public struct Lease: Sendable, Hashable, CustomStringConvertible {
    public enum Work: String, Sendable, Hashable {
        /// An outbox entry being delivered.
        case outbox
        /// A chat's owed answer being composed.
        case reply
        /// A chat's due reminder being fired.
        case reminder
    }

    public var work: Work
    public var owner: String
    /// Grows with every claim of the row.
    public var token: Int64

    public init(work: Work, owner: String, token: Int64) {
        self.work = work
        self.owner = owner
        self.token = token
    }

    public var description: String { "\(work.rawValue) lease #\(token) of \(owner)" }
}

/// What the Follow-ups page and `switchboard followups` ask for.
public struct FollowUpQuery: Sendable, Hashable {
    /// Only this employee's chats.
    public var employeeID: String?
    /// Matched case-insensitively against the client's name and the chat title.
    public var search: String?
    /// Employees whose *name* matched `search` (names live in config, not in the store).
    public var employeesMatchingSearch: Set<String>
    public var limit: Int

    public init(employeeID: String? = nil, search: String? = nil, employeesMatchingSearch: Set<String> = [], limit: Int = 500) {
        self.employeeID = employeeID
        self.search = search
        self.employeesMatchingSearch = employeesMatchingSearch
        self.limit = limit
    }
}

public struct PendingFollowUp: Sendable, Hashable {
    public var chat: Chat
    public var state: FollowUpState
    public init(chat: Chat, state: FollowUpState) {
        self.chat = chat
        self.state = state
    }
}

public struct FollowUpPage: Sendable, Hashable {
    public var items: [PendingFollowUp]
    /// All matches, beyond `limit`.
    public var total: Int
    public init(items: [PendingFollowUp], total: Int) {
        self.items = items
        self.total = total
    }
}

/// Why a message is in the outbox.
public enum OutboxPurpose: String, Sendable, Hashable, Codable {
    case reply, reminder, autoReply = "auto_reply", `operator`
}

public enum OutboxStatus: String, Sendable, Hashable, Codable {
    case pending, sending, sent, dead, cancelled
}

public struct NewOutboxEntry: Sendable, Hashable {
    public var chatID: String
    public var purpose: OutboxPurpose
    /// Unique per chat: `reminder:<run>:<step>` makes a reminder impossible to queue twice.
    public var idempotencyKey: String
    public var text: String
    public var delivery: Delivery
    public var author: Author
    public var notBefore: Date
    public var followUpRun: Int?
    public var followUpStep: Int?
    /// Set when the entry records a message that could not be produced (the composer refused):
    /// it is stored as a dead letter with this error, so the failure shows on the chat, and is
    /// never sent.
    public var failure: String?

    public init(
        chatID: String, purpose: OutboxPurpose, idempotencyKey: String, text: String, delivery: Delivery = .freeForm,
        author: Author = .employee, notBefore: Date, followUpRun: Int? = nil, followUpStep: Int? = nil, failure: String? = nil
    ) {
        self.failure = failure
        self.chatID = chatID
        self.purpose = purpose
        self.idempotencyKey = idempotencyKey
        self.text = text
        self.delivery = delivery
        self.author = author
        self.notBefore = notBefore
        self.followUpRun = followUpRun
        self.followUpStep = followUpStep
    }
}

public struct OutboxEntry: Sendable, Hashable {
    public var id: Int64
    public var entry: NewOutboxEntry
    public var status: OutboxStatus
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var sentAt: Date?
    /// The previous delivery attempt was cut off (crash, lost lease); see `Store.claimDueOutbox`.
    public var interrupted: Bool
    /// Set by `Store.claimDueOutbox`: the claim to pass to `complete`.
    public var lease: Lease?

    public init(
        id: Int64, entry: NewOutboxEntry, status: OutboxStatus, attempts: Int, nextAttemptAt: Date, lastError: String? = nil, sentAt: Date? = nil,
        interrupted: Bool = false, lease: Lease? = nil
    ) {
        self.lease = lease
        self.id = id
        self.entry = entry
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.sentAt = sentAt
        self.interrupted = interrupted
    }
}

public enum OutboxOutcome: Sendable, Hashable {
    /// Handed to the channel. `delivered: false` when the channel stored it for a recipient who
    /// is offline; the channel marks it delivered later (`markDelivered`).
    case sent(at: Date, providerMessageIDs: [String], delivered: Bool = true)
    case retry(at: Date, error: String)
    /// Not attempted after all (its channel is not running): pending again at `at`, and the
    /// claim that counted an attempt is given back.
    case postponed(at: Date, reason: String)
    /// Undeliverable: kept as a dead letter and shown on the chat.
    case dead(at: Date, error: String)
    case cancelled(at: Date, reason: String)
}

public enum UsagePurpose: String, Sendable, Hashable, Codable {
    case reply, reminder, autoReply = "auto_reply"
}

public struct UsageRecord: Sendable, Hashable {
    public var employeeID: String
    public var chatID: String
    public var purpose: UsagePurpose
    public var usage: TokenUsage
    public var model: String
    public var at: Date
    /// The outbox entry the composition became, set by the store when the usage was recorded
    /// with `enqueue`; `nil` for a composition that was never queued.
    public var outboxID: Int64?

    public init(employeeID: String, chatID: String, purpose: UsagePurpose, usage: TokenUsage, model: String, at: Date, outboxID: Int64? = nil) {
        self.employeeID = employeeID
        self.chatID = chatID
        self.purpose = purpose
        self.usage = usage
        self.model = model
        self.at = at
        self.outboxID = outboxID
    }
}

/// Tokens an employee spent on one day of its own calendar.
public struct DailyTokenUsage: Sendable, Hashable {
    public var date: LocalDate
    public var usage: TokenUsage

    public init(date: LocalDate, usage: TokenUsage) {
        self.date = date
        self.usage = usage
    }
}

/// What a store can fail with beyond its database's own errors.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownChat(String)
    case unknownOutboxEntry(Int64)
    /// The claim `lease` no longer holds the work `id` (an outbox id or a chat id): it ran out
    /// and another process claimed the work, or the work changed. Nothing was written.
    case leaseLost(Lease, id: String)

    public var description: String {
        switch self {
        case .unknownChat(let id): "no chat with id \(id)"
        case .unknownOutboxEntry(let id): "no outbox entry \(id)"
        case .leaseLost(let lease, let id):
            "\(lease) no longer holds \(lease.work.rawValue) \(id): it ran out and the work was taken over or changed, so this late result was not recorded"
            + " (if it happens often, work takes longer than the scheduler's lease)"
        }
    }
}

/// How chat titles and client names are matched by search: Unicode case folding that also
/// ignores accents and character width, so "михаил" finds "Михаил", "алена" finds "Алёна" and
/// "jose" finds "José". Stores index the normalized text and compare it to the normalized query.
public enum SearchText {
    public static func normalize(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The text a chat is found by: its title, and the client's name unless the title has it.
    public static func index(title: String, clientName: String?) -> String {
        let title = normalize(title)
        let client = normalize(clientName ?? "")
        return client.isEmpty || title.contains(client) ? title : title + "\n" + client
    }
}

extension Store {
    /// The earliest moment any scheduled reminder, owed reply or outbox entry needs attention.
    public func nextWakeTime() async throws -> Date? { try await nextWakeTimes().earliest }

    /// One client message in a transaction of its own.
    public func recordInbound(
        _ message: InboundMessage, employeeID: String, followUp: @escaping FollowUpTransition, chatChange: InboundChatChange? = nil
    ) async throws -> InboundResult {
        try await recordInbound([InboundRecord(message: message, employeeID: employeeID, followUp: followUp, chatChange: chatChange)])[0]
    }

    public func enqueue(_ entry: NewOutboxEntry, usage: UsageRecord?, followUp: FollowUpTransition?) async throws -> OutboxEntry? {
        try await enqueue(entry, usage: usage, lease: nil, chatChange: nil, followUp: followUp)
    }

    /// Unfenced: for writes that hold no claim (a client's message, an admin, a tool).
    public func enqueue(
        _ entry: NewOutboxEntry, usage: UsageRecord?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws -> OutboxEntry? {
        try await enqueue(entry, usage: usage, lease: nil, chatChange: chatChange, followUp: followUp)
    }

    /// Unfenced: for writes that hold no claim.
    @discardableResult
    public func updateFollowUp(chatID: String, _ transition: @escaping FollowUpTransition) async throws -> FollowUpState {
        try await updateFollowUp(chatID: chatID, lease: nil, transition)
    }

    /// Unfenced: for writes that hold no claim.
    public func updateChat(id: String, _ change: @escaping @Sendable (inout Chat) -> Void, followUp: FollowUpTransition?) async throws -> Chat {
        try await updateChat(id: id, lease: nil, change, followUp: followUp)
    }

    /// Unfenced: for tools and tests that did not claim the entry.
    public func complete(outboxID: Int64, _ outcome: OutboxOutcome, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?) async throws {
        try await complete(outboxID: outboxID, outcome, lease: nil, chatChange: chatChange, followUp: followUp)
    }

    /// Every purpose's usage per local day.
    public func tokenUsageByDay(employeeID: String, from: Date, to: Date, timeZone: TimeZone) async throws -> [DailyTokenUsage] {
        try await tokenUsageByDay(employeeID: employeeID, purpose: nil, from: from, to: to, timeZone: timeZone)
    }

    /// Looks up a chat that must exist.
    public func existingChat(id: String) async throws -> Chat {
        guard let chat = try await chat(id: id) else { throw StoreError.unknownChat(id) }
        return chat
    }
}
