public import Foundation

/// What an operator filters the Chats inbox by. A chat can be in several at once (an
/// unreachable chat with a dead letter); each filter asks one question.
public enum ChatInboxState: String, Sendable, Hashable, Codable, CaseIterable {
    /// The client wrote last: nobody has answered yet.
    case waiting
    /// A reminder is pending (scheduled, or composed and being delivered).
    case scheduled
    /// Every step of the chain has run.
    case finished
    /// The client asked not to get reminders (an opt-out phrase).
    case optedOut = "opted_out"
    /// The client blocked the bot or left: nothing can be delivered.
    case unreachable
    /// A message could not be delivered and was given up.
    case deadLetter = "dead_letter"

    /// How the console names the state.
    public var label: String {
        switch self {
        case .waiting: "Waiting for the employee"
        case .scheduled: "Reminder scheduled"
        case .finished: "Chain finished"
        case .optedOut: "Opted out"
        case .unreachable: "Unreachable"
        case .deadLetter: "Dead letter"
        }
    }
}

/// Where a page of the inbox ends: the next page starts after this chat. Keyset pagination —
/// a page costs the same however deep it is, and chats that get new activity meanwhile move to
/// the top instead of shifting every later page.
public struct ChatInboxCursor: Sendable, Hashable {
    public var lastActivityAt: Date
    public var chatID: String

    public init(lastActivityAt: Date, chatID: String) {
        self.lastActivityAt = lastActivityAt
        self.chatID = chatID
    }

    /// `<seconds since 1970>_<chat id>`: the seconds print exactly (Swift's shortest
    /// round-tripping form), so the next page starts exactly after this chat.
    public var token: String { "\(lastActivityAt.timeIntervalSince1970)_\(chatID)" }

    public init?(token: String) {
        guard let separator = token.firstIndex(of: "_"), let seconds = Double(token[..<separator]), seconds.isFinite else { return nil }
        let id = String(token[token.index(after: separator)...])
        guard !id.isEmpty else { return nil }
        self.init(lastActivityAt: Date(timeIntervalSince1970: seconds), chatID: id)
    }
}

/// What the Chats inbox asks the store for: every chat, newest activity first.
public struct ChatInboxQuery: Sendable, Hashable {
    public var employeeID: String?
    public var channelID: String?
    public var state: ChatInboxState?
    /// Normalized (`SearchText.normalize`); matched against the chat's title and client name and,
    /// from three characters on, the text of its messages.
    public var search: String?
    /// Employees whose *name* matched `search` (names live in config, not in the store).
    public var employeesMatchingSearch: Set<String>
    /// Start after this chat (the previous page's `next`).
    public var after: ChatInboxCursor?
    public var limit: Int

    public init(
        employeeID: String? = nil, channelID: String? = nil, state: ChatInboxState? = nil, search: String? = nil,
        employeesMatchingSearch: Set<String> = [], after: ChatInboxCursor? = nil, limit: Int = 50
    ) {
        self.employeeID = employeeID
        self.channelID = channelID
        self.state = state
        self.search = search
        self.employeesMatchingSearch = employeesMatchingSearch
        self.after = after
        self.limit = limit
    }
}

/// One chat as the inbox lists it.
public struct ChatInboxRow: Sendable, Hashable {
    public var chat: Chat
    /// The latest message, or the chat's creation when it has none.
    public var lastActivityAt: Date
    /// Who wrote the latest message that was not an edit or a channel event.
    public var lastAuthor: Author?
    /// The latest message's text (a preview), `nil` for a chat without messages.
    public var lastMessage: String?
    public var followUp: FollowUpState
    /// Messages the gateway gave up delivering.
    public var deadLetters: Int

    public init(chat: Chat, lastActivityAt: Date, lastAuthor: Author?, lastMessage: String?, followUp: FollowUpState, deadLetters: Int) {
        self.chat = chat
        self.lastActivityAt = lastActivityAt
        self.lastAuthor = lastAuthor
        self.lastMessage = lastMessage
        self.followUp = followUp
        self.deadLetters = deadLetters
    }

    /// Every inbox state this chat is in, in the order the console shows them.
    public var states: [ChatInboxState] {
        var states: [ChatInboxState] = []
        if deadLetters > 0 { states.append(.deadLetter) }
        if chat.unreachable { states.append(.unreachable) }
        if followUp.optOut == .client { states.append(.optedOut) }
        if lastAuthor == .client { states.append(.waiting) }
        if followUp.isPending { states.append(.scheduled) }
        if followUp.status == .finished { states.append(.finished) }
        return states
    }

    public var cursor: ChatInboxCursor { ChatInboxCursor(lastActivityAt: lastActivityAt, chatID: chat.id) }
}

public struct ChatInboxPage: Sendable, Hashable {
    public var items: [ChatInboxRow]
    /// Where the next page starts; `nil` on the last page.
    public var next: ChatInboxCursor?

    public init(items: [ChatInboxRow], next: ChatInboxCursor?) {
        self.items = items
        self.next = next
    }
}

/// The one query behind every inbox view (the page, `GET /api/chats`, an employee's Chats
/// tab): validates the filters against the roster and matches employee names.
public struct ChatInboxListing: Sendable {
    public let store: any Store
    public let roster: LiveRoster

    public init(store: any Store, roster: LiveRoster) {
        self.store = store
        self.roster = roster
    }

    public func list(
        employeeID: String? = nil, channelID: String? = nil, state: ChatInboxState? = nil, search: String? = nil, after: ChatInboxCursor? = nil,
        limit: Int = 50
    ) async throws -> ChatInboxPage {
        let roster = roster.roster
        if let employeeID, roster.employees[employeeID] == nil {
            throw FollowUpListing.UnknownEmployee(id: employeeID, known: roster.employees.keys.sorted())
        }
        let search = search.map(SearchText.normalize).flatMap { $0.isEmpty ? nil : $0 }
        return try await store.chatInbox(
            ChatInboxQuery(
                employeeID: employeeID, channelID: channelID, state: state, search: search,
                employeesMatchingSearch: search.map(roster.employees(matching:)) ?? [], after: after, limit: limit))
    }
}
