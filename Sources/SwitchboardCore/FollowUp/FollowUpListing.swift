public import Foundation

/// One row of the Follow-ups list, as the page, the API and `switchboard followups` show it.
public struct FollowUpListItem: Sendable, Hashable, Codable {
    public var chatID: String
    public var chat: String
    public var client: String?
    public var employeeID: String
    public var employee: String
    public var channel: String
    public var step: Int?
    /// When the pending reminder goes out; `nil` while it is being delivered.
    public var sendsAt: Date?
    /// `scheduled`, or `sending` while it is in the outbox.
    public var status: String
    /// The employee's IANA time zone, for showing `sendsAt` in local time.
    public var timeZone: String

    public init(
        chatID: String, chat: String, client: String?, employeeID: String, employee: String, channel: String, step: Int?, sendsAt: Date?,
        status: String, timeZone: String
    ) {
        self.chatID = chatID
        self.chat = chat
        self.client = client
        self.employeeID = employeeID
        self.employee = employee
        self.channel = channel
        self.step = step
        self.sendsAt = sendsAt
        self.status = status
        self.timeZone = timeZone
    }

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id", chat, client, employeeID = "employee_id", employee, channel, step, sendsAt = "sends_at", status
        case timeZone = "time_zone"
    }

    /// Every key is always present: a missing client, step or send time is `null`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(chatID, forKey: .chatID)
        try container.encode(chat, forKey: .chat)
        try container.encode(client, forKey: .client)
        try container.encode(employeeID, forKey: .employeeID)
        try container.encode(employee, forKey: .employee)
        try container.encode(channel, forKey: .channel)
        try container.encode(step, forKey: .step)
        try container.encode(sendsAt, forKey: .sendsAt)
        try container.encode(status, forKey: .status)
        try container.encode(timeZone, forKey: .timeZone)
    }
}

/// The JSON the admin API and `switchboard followups --json` share.
public enum AdminJSON {
    /// Sorted keys, unescaped slashes, instants as ISO 8601 in UTC with a `Z` (no fraction).
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format(date))
        }
        return encoder
    }

    /// `2026-11-23T10:00:00Z`.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }
}

/// The one query behind every Follow-ups view: chats with a pending reminder, soonest first,
/// filtered by employee and searched by client name, employee name or chat title.
public struct FollowUpListing: Sendable {
    public let store: any Store
    public let roster: LiveRoster

    public init(store: any Store, roster: LiveRoster) {
        self.store = store
        self.roster = roster
    }

    /// Thrown for an employee id that is not in config: a typo is an error, not an empty list.
    public struct UnknownEmployee: Error, Sendable, CustomStringConvertible {
        public var id: String
        public var known: [String]
        public var description: String { "unknown employee '\(id)'; employees: \(known.joined(separator: ", "))" }
    }

    public func list(employeeID: String? = nil, search: String? = nil, limit: Int = 500) async throws -> (items: [FollowUpListItem], total: Int) {
        let roster = roster.roster
        if let employeeID, roster.employees[employeeID] == nil {
            throw UnknownEmployee(id: employeeID, known: roster.employees.keys.sorted())
        }
        let search = search.map(SearchText.normalize).flatMap { $0.isEmpty ? nil : $0 }
        let page = try await store.pendingFollowUps(
            FollowUpQuery(employeeID: employeeID, search: search, employeesMatchingSearch: search.map(roster.employees(matching:)) ?? [], limit: limit))
        let items = page.items.map { row in
            let employee = roster.employees[row.chat.employeeID]
            return FollowUpListItem(
                chatID: row.chat.id, chat: row.chat.title, client: row.chat.clientName, employeeID: row.chat.employeeID,
                employee: employee?.name ?? row.chat.employeeID, channel: row.chat.channelID, step: row.state.step,
                sendsAt: row.state.status == .scheduled ? row.state.sendsAt : nil, status: row.state.status.rawValue,
                timeZone: employee?.workingHours.timeZone.identifier ?? "UTC")
        }
        return (items, page.total)
    }

    /// Why the list can be empty, in a sentence or two — the first question an admin asks when it is.
    public func emptyExplanation(filtered: Bool) -> String {
        if filtered { return "No scheduled follow-ups match this search or filter." }
        if !roster.roster.employees.values.contains(where: \.followUp.enabled) {
            return "Auto Follow-up is not enabled for any employee (auto_followup.enabled in config.yaml), so nothing is ever scheduled."
        }
        return """
            A reminder is scheduled only while the employee's message is the last one in a chat, so the list is empty when every \
            client has answered, every chain has finished, or follow-up was switched off for the remaining chats.
            """
    }
}
