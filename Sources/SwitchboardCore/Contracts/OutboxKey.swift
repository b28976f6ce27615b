public import Foundation

/// The idempotency key of an outbox entry: unique per chat, so the same message can never be
/// queued twice. One constructor per kind of message keeps every writer spelling it the same.
public struct OutboxKey: RawRepresentable, Sendable, Hashable {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// Step `step` of chain run `run`: a reminder goes out at most once per (chat, run, step).
    public static func reminder(run: Int, step: Int) -> OutboxKey { OutboxKey(rawValue: "reminder:\(run):\(step)") }

    /// The re-engagement template sent in place of reminder (run, step) after the provider
    /// refused its free-form text because the client's window had closed.
    public static func reengagement(run: Int, step: Int) -> OutboxKey { OutboxKey(rawValue: "reengagement:\(run):\(step)") }

    /// Whether this is a `reengagement(run:step:)` key: such an entry stands in for a reminder
    /// whose step the chain has already moved past.
    public var isReengagement: Bool { rawValue.hasPrefix("reengagement:") }

    /// The employee's answer to the client's message of `answering`.
    public static func reply(answering: Date) -> OutboxKey { OutboxKey(rawValue: "reply:\(milliseconds(answering))") }

    /// The record that no answer could be composed for the client's message of `answering`.
    public static func replyFailed(answering: Date) -> OutboxKey { OutboxKey(rawValue: "reply-failed:\(milliseconds(answering))") }

    /// The out-of-hours auto-reply of the closed period ending at `periodEnd`: one per period.
    public static func autoReply(periodEnd: Date) -> OutboxKey { OutboxKey(rawValue: "auto-reply:\(Int(periodEnd.timeIntervalSince1970))") }

    /// A human operator's message; each is its own.
    public static func operatorMessage(_ id: UUID = UUID()) -> OutboxKey { OutboxKey(rawValue: "operator:\(id.uuidString)") }

    private static func milliseconds(_ date: Date) -> Int { Int((date.timeIntervalSince1970 * 1000).rounded(.down)) }
}
