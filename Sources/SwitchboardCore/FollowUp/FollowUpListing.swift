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

    enum CodingKeys: String, CodingKey {
        case chatID = "chat_id", chat, client, employeeID = "employee_id", employee, channel, step, sendsAt = "sends_at", status
        case timeZone = "time_zone"
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

    public func list(employeeID: String? = nil, search: String? = nil, limit: Int = 500) async throws -> (items: [FollowUpListItem], total: Int) {
        let roster = roster.roster
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
}
