import Foundation
public import SwitchboardCore

/// Turns a `CompositionRequest` into the `messages` array of a chat-completions request.
///
/// Pure and deterministic: the same request always gives the same messages, so prompts can be
/// tested without a model. The layout is one system message (who the employee is and how to
/// write), the recent conversation, and — for a reminder — a final note saying what the
/// reminder should achieve.
public struct PromptBuilder: Sendable, Hashable {
    /// Who a chat-completions message is from, as the API names it.
    public enum Role: String, Sendable, Hashable, Codable {
        case system, user, assistant
    }

    /// One entry of the `messages` array.
    public struct Message: Sendable, Hashable, Codable {
        public var role: Role
        public var content: String

        public init(role: Role, content: String) {
            self.role = role
            self.content = content
        }
    }

    /// The most history messages the model sees (the latest ones). Default 20.
    public var maxHistoryMessages: Int
    /// The most characters of history the model sees; older messages are dropped first. Default 8000
    /// (about 2000 tokens), which keeps a reminder cheap even after a long conversation.
    public var maxHistoryCharacters: Int

    public init(maxHistoryMessages: Int = 20, maxHistoryCharacters: Int = 8000) {
        self.maxHistoryMessages = maxHistoryMessages
        self.maxHistoryCharacters = maxHistoryCharacters
    }

    /// The messages to send for `request`.
    public func messages(for request: CompositionRequest) -> [Message] {
        var messages = [Message(role: .system, content: systemPrompt(for: request))]
        messages += history(request.history)
        if case .reminder(_, let instruction) = request.purpose {
            // A `user` turn rather than a second `system` message: several local chat templates
            // reject a system message anywhere but first, and some require user/assistant to
            // alternate — a reminder always follows the employee's own last message.
            messages.append(Message(role: .user, content: reminderNote(instruction: instruction)))
        }
        return messages
    }

    // MARK: - Parts

    func systemPrompt(for request: CompositionRequest) -> String {
        let employee = request.employee
        var lines: [String] = []
        let name = employee.name.trimmingCharacters(in: .whitespacesAndNewlines)
        lines.append(name.isEmpty ? "You are a company's employee chatting with a client." : "You are \(name), chatting with a client.")
        let persona = employee.persona.trimmingCharacters(in: .whitespacesAndNewlines)
        if !persona.isEmpty { lines.append(persona) }
        // A generated title ("Visitor F65F", a phone number) is not a name the model should greet.
        if let title = ClientName.usable(request.chatTitle) { lines.append("The chat is titled \"\(title)\".") }
        lines.append("Current time (UTC): \(Self.timestamp(request.now)).")
        lines.append(
            "Always reply in the client's language. Keep it short: at most three sentences, plain text, no markdown. "
                + "Write only the text of the message.")
        switch request.purpose {
        case .reply:
            lines.append("Answer the client's latest message.")
        case .autoReply:
            lines.append(
                "The client wrote outside working hours. Say politely that we are outside working hours right now "
                    + "and will answer as soon as we are back; do not try to solve the request now.")
        case .reminder:
            lines.append("The client has not replied to your last message; you will be asked to write a short follow-up.")
        }
        return lines.joined(separator: "\n")
    }

    func reminderNote(instruction: String) -> String {
        let goal = instruction.trimmingCharacters(in: .whitespacesAndNewlines)
        return """
            [Note from the gateway, not from the client] The client has gone quiet since your last message. \
            Write one short follow-up message to the client. What this message should achieve: \(goal)
            Write a fresh message in your own words, in the client's language, fitting the conversation above. \
            Do not repeat this instruction verbatim. Do not mention that you are following an instruction \
            or that this is an automated reminder.
            """
    }

    /// The conversation as the model sees it: client → `user`, employee and operator → `assistant`,
    /// gateway notices skipped; the latest `maxHistoryMessages`, then trimmed from the oldest
    /// to `maxHistoryCharacters`.
    func history(_ history: [StoredMessage]) -> [Message] {
        let mapped = history.compactMap { message -> Message? in
            let role: Role
            switch message.author {
            case .client: role = .user
            case .employee, .operator: role = .assistant
            case .system: return nil
            }
            let text = message.text.trimmingCharacters(in: .whitespacesAndNewlines)
            // A photo or sticker without a caption still tells the model something happened.
            let content = text.isEmpty ? "[\(message.kind.rawValue)]" : text
            return Message(role: role, content: content)
        }
        var kept = Array(mapped.suffix(max(0, maxHistoryMessages)))
        var total = kept.reduce(0) { $0 + $1.content.count }
        while total > maxHistoryCharacters, kept.count > 1 {
            total -= kept.removeFirst().content.count
        }
        // The latest message alone may exceed the budget: keep its beginning rather than nothing.
        if let only = kept.first, kept.count == 1, only.content.count > maxHistoryCharacters {
            kept[0].content = String(only.content.prefix(max(0, maxHistoryCharacters - 1))) + "…"
            if maxHistoryCharacters <= 0 { kept = [] }
        }
        return kept
    }

    private static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
