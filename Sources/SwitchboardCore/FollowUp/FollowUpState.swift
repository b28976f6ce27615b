public import Foundation

/// Where a chat's chain stands.
public enum FollowUpStatus: String, Sendable, Hashable, Codable {
    /// Never armed.
    case idle
    /// A reminder is pending at `sendsAt`.
    case scheduled
    /// The pending reminder is composed and in the outbox, waiting for the provider.
    case sending
    /// Every step has run (or was skipped).
    case finished
    /// Stopped before the end; `lastReason` says why.
    case cancelled
}

/// Who switched follow-ups off for one chat.
public enum ChatOptOut: String, Sendable, Hashable, Codable {
    case admin
    /// The client wrote one of the employee's opt-out phrases.
    case client
}

/// A chat's follow-up state: the value the planner transforms and the store persists.
public struct FollowUpState: Sendable, Hashable, Codable {
    /// Increments each time the chain is armed; (chat, run, step) identifies one reminder.
    public var run: Int = 0
    public var status: FollowUpStatus = .idle
    /// The message delays count from: the employee's message, then each reminder as sent.
    public var anchor: Date?
    /// The pending step, 1-based.
    public var step: Int?
    /// `anchor + delay` of the pending step.
    public var due: Date?
    /// When the pending step goes out: `due` moved by working hours and channel rules.
    public var sendsAt: Date?
    public var delivery: Delivery?
    /// `once_per_chat` steps (1-based) that have fired in this chat.
    public var firedOncePerChat: Set<Int> = []
    public var optOut: ChatOptOut?
    public var lastReason: ReasonCode?

    public init() {}

    /// A reminder is pending: scheduled, or composed and being delivered.
    public var isPending: Bool { status == .scheduled || status == .sending }
    /// Failed composition attempts for the pending step.
    public var attempts: Int = 0
}

/// Why the planner scheduled, moved, skipped or stopped a reminder. The raw values are stable:
/// they appear in the API, the decision log and metric labels.
public enum ReasonCode: String, Sendable, Hashable, Codable, CaseIterable {
    case employeeMessage = "employee_message"
    case previousReminderSent = "previous_reminder_sent"
    case outsideWorkingHours = "outside_working_hours"
    case pulledIntoWindow = "pulled_into_window"
    case reengagementTemplate = "reengagement_template"
    case windowClosed = "window_closed"
    case oncePerChatFired = "once_per_chat_already_fired"
    case followUpDisabled = "followup_disabled"
    case chatDisabled = "chat_disabled"
    case chatEnabled = "chat_enabled"
    case clientReplied = "client_replied"
    case clientOptedOut = "client_opted_out"
    case operatorActive = "operator_active"
    case chatUnreachable = "chat_unreachable"
    case tokenBudgetSpent = "token_budget_spent"
    case deliveryFailed = "delivery_failed"
    case chainChanged = "chain_changed"
    case chainComplete = "chain_complete"
    case noWorkingTime = "no_working_time"
    case compositionFailed = "composition_failed"
    /// The chat's channel is not running (its file was disabled or removed, or it failed): the
    /// reminder waits in the store and goes out once the channel is back.
    case channelUnavailable = "channel_unavailable"
    /// Not about a reminder: an AI reply was not composed because the employee's replies have
    /// spent the day's `conversation.daily_token_budget`; the client got the budget reply.
    case replyBudgetSpent = "reply_budget_spent"
}

/// One entry of a chat's decision log: what the planner decided about a reminder, and why.
public struct FollowUpDecision: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case scheduled, deferred, sent, skipped, cancelled, finished
        /// The reminder could not be delivered; it is kept as a dead letter on the chat.
        case deadLetter = "dead_letter"
    }

    public var kind: Kind
    public var reason: ReasonCode
    public var run: Int
    public var step: Int?
    /// When the decision was made.
    public var at: Date
    public var due: Date?
    public var sendsAt: Date?
    public var detail: String?

    public init(kind: Kind, reason: ReasonCode, run: Int, step: Int?, at: Date, due: Date? = nil, sendsAt: Date? = nil, detail: String? = nil) {
        self.kind = kind
        self.reason = reason
        self.run = run
        self.step = step
        self.at = at
        self.due = due
        self.sendsAt = sendsAt
        self.detail = detail
    }
}
