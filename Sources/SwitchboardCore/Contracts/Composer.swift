public import Foundation

/// Writes the employee's words: replies to clients and follow-up reminders.
public protocol Composer: Sendable {
    func compose(_ request: CompositionRequest) async throws -> Composition
}

/// Everything a composer needs to write one message.
public struct CompositionRequest: Sendable, Hashable {
    public enum Purpose: Sendable, Hashable {
        /// Answer the client's latest message.
        case reply
        /// A follow-up reminder; the instruction says what it should achieve, never what it says.
        case reminder(step: Int, instruction: String)
        /// Answer outside working hours when no fixed text is configured.
        case autoReply
    }

    public var employee: Employee
    public var chatTitle: String
    public var purpose: Purpose
    /// The most recent messages, oldest first, already bounded by the caller.
    public var history: [StoredMessage]
    public var now: Date

    public init(employee: Employee, chatTitle: String, purpose: Purpose, history: [StoredMessage], now: Date) {
        self.employee = employee
        self.chatTitle = chatTitle
        self.purpose = purpose
        self.history = history
        self.now = now
    }
}

/// A composed message and what it cost.
public struct Composition: Sendable, Hashable {
    public var text: String
    public var usage: TokenUsage
    public var model: String

    public init(text: String, usage: TokenUsage, model: String) {
        self.text = text
        self.usage = usage
        self.model = model
    }
}

/// Tokens one composition used.
public struct TokenUsage: Sendable, Hashable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }

    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    public static let zero = TokenUsage(promptTokens: 0, completionTokens: 0)
}

/// The error a composer throws; the scheduler retries when `isRetryable`.
public struct CompositionError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var isRetryable: Bool
    public var retryAfter: Duration?

    public init(_ message: String, isRetryable: Bool, retryAfter: Duration? = nil) {
        self.message = message
        self.isRetryable = isRetryable
        self.retryAfter = retryAfter
    }

    public var description: String { "composition failed: \(message)" }
}
