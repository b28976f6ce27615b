public import Foundation

/// When the employee answers a client: at once within working hours, at the start of the next
/// working interval outside them (with the configured auto-reply once per closed period), and
/// not at all while a human operator has the chat.
public struct ReplyPolicy: Sendable {
    public let employee: Employee

    public init(employee: Employee) { self.employee = employee }

    /// What the gateway owes after a client's message.
    public struct Outcome: Sendable, Hashable {
        /// When the employee's answer is due; `nil`: no answer (an edit, an event, an operator's chat).
        public var replyDueAt: Date?
        /// Send this now, because the client wrote outside working hours.
        public var autoReply: AutoReply?
    }

    public struct AutoReply: Sendable, Hashable {
        public var text: String
        /// Identifies the closed period (its end): one auto-reply per chat per period.
        public var periodEnd: Date
        public var idempotencyKey: String { OutboxKey.autoReply(periodEnd: periodEnd).rawValue }
    }

    public func afterClientMessage(_ message: InboundMessage, chat: Chat, now: Date) -> Outcome {
        if !message.isNewTurn || message.event != nil { return Outcome(replyDueAt: chat.replyDueAt) }
        let hours = employee.workingHours
        if let paused = chat.aiPausedUntil, paused > now {
            // The operator has the chat; if they leave this message unanswered, the AI answers
            // it when the pause ends (an operator's message settles the debt first).
            return Outcome(replyDueAt: hours.nextWorkingMoment(atOrAfter: paused))
        }
        if hours.isWorking(at: now) { return Outcome(replyDueAt: now) }
        let reopens = hours.nextWorkingMoment(atOrAfter: now)
        var autoReply: AutoReply?
        if case .autoReply(let text) = employee.outsideHours {
            autoReply = AutoReply(text: text, periodEnd: reopens ?? .distantFuture)
        }
        return Outcome(replyDueAt: reopens, autoReply: autoReply)
    }
}
