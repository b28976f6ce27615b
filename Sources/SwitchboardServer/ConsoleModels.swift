import Foundation
import SwitchboardCore

// View-models of the console's template pages: plain values with stored properties only
// (Mustache reads them by reflection), built from the same queries as the admin API and tested
// without a browser (ConsoleModelTests).

/// The header, navigation and sign-out form every console page shares (`layout.mustache`).
struct Chrome: Sendable {
    struct NavItem: Sendable {
        var href: String
        var label: String
        var current: Bool
    }

    var title: String
    /// The session's CSRF token for the sign-out form; `nil` on pages shown to a refused form.
    var csrf: String?
    var nav: [NavItem]
    var stylesheet = PageViews.stylesheet
    var script = PageViews.script
    var logo = Icon.logo.text

    /// The console's sections, in header order.
    static let sections: [(id: String, href: String, label: String)] = [
        ("chats", "/chats", "Chats"),
        ("employees", "/employees", "Employees"),
        ("followups", "/followups", "Follow-ups"),
        ("usage", "/usage", "Usage"),
    ]

    init(title: String, csrf: String?, current: String?) {
        self.title = title
        self.csrf = csrf
        nav = Self.sections.map { NavItem(href: $0.href, label: $0.label, current: $0.id == current) }
    }
}

/// An `<option>` of a filter.
struct Choice: Sendable {
    var value: String
    var label: String
    var selected: Bool
}

/// A state badge: its words and its colour class.
struct Badge: Sendable {
    var label: String
    var tone: String

    init(_ state: ChatInboxState) {
        label = state.label
        tone =
            switch state {
            case .waiting: "waiting"
            case .scheduled: "scheduled"
            case .finished: "muted"
            case .optedOut: "muted"
            case .unreachable: "danger"
            case .deadLetter: "danger"
            }
    }
}

/// `/chats`: the inbox page and its refreshable results (`inbox.mustache`, `inbox_rows.mustache`).
struct InboxPageModel: Sendable {
    struct Row: Sendable {
        var href: String
        var initials: String
        var title: String
        var client: String?
        var who: String
        var preview: String?
        var employee: String
        var states: [Badge]
        var activityISO: String
        var activityUTC: String
        var activityLocal: String
        var activityRelative: String
        var channel: String
        var channelType: String
        var channelName: String
    }

    var chrome: Chrome
    var icons = Icons()
    var search: String
    var employees: [Choice]
    var channels: [Choice]
    var states: [Choice]
    /// The live-search endpoint; `nil` on a later page, which stays put instead of jumping back.
    var liveURL: String?
    var rows: [Row]
    var hasItems: Bool
    var countText: String
    var updated: String
    var nextHref: String?
    var firstHref: String?
    var filtered: Bool
    var emptyTitle: String
    var emptyText: String

    struct Icons: Sendable {
        var search = Icon.search.text
        var calm = Icon.calm.text
    }

    /// What the page was asked for, already validated.
    struct Filters: Sendable {
        var employeeID: String?
        var channelID: String?
        var state: ChatInboxState?
        var search: String
        var after: ChatInboxCursor?

        /// The query string for these filters, with `after` replaced.
        func query(after cursor: ChatInboxCursor?) -> String {
            var items: [(String, String)] = []
            if !search.isEmpty { items.append(("search", search)) }
            if let employeeID { items.append(("employee", employeeID)) }
            if let channelID { items.append(("channel", channelID)) }
            if let state { items.append(("state", state.rawValue)) }
            if let cursor { items.append(("after", cursor.token)) }
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            return items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        }

        var isFiltered: Bool { employeeID != nil || channelID != nil || state != nil || !search.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    init(
        page: ChatInboxPage, filters: Filters, roster: Roster, channelTypes: [String: String], csrf: String, now: Date
    ) {
        let time = TimeText(now: now)
        chrome = Chrome(title: "Chats", csrf: csrf, current: "chats")
        search = filters.search
        let people = roster.employees.values.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        employees = people.map { Choice(value: $0.id, label: $0.name, selected: $0.id == filters.employeeID) }
        channels = roster.channelOwners.keys.sorted().map { id in
            let type = channelTypes[id].map(PageViews.channelName(type:))
            return Choice(value: id, label: type.map { "\($0) · \(id)" } ?? id, selected: id == filters.channelID)
        }
        states = ChatInboxState.allCases.map { Choice(value: $0.rawValue, label: $0.label, selected: $0 == filters.state) }
        liveURL = filters.after == nil ? "/chats/rows" : nil
        rows = page.items.map { item in
            let chat = item.chat
            let employee = roster.employees[chat.employeeID]
            let zone = employee?.workingHours.timeZone ?? .gmt
            let who: String =
                switch item.lastAuthor {
                case .client?: chat.clientName ?? chat.title
                case .operator?: "Operator"
                case .employee?: employee?.name ?? chat.employeeID
                case .system?, nil: "Channel"
                }
            let type = channelTypes[chat.channelID] ?? "unknown"
            return Row(
                href: "/chats/\(chat.id)", initials: PageViews.initials(chat.title), title: chat.title,
                client: chat.clientName.flatMap { $0 == chat.title || $0.isEmpty ? nil : $0 }, who: who,
                preview: item.lastMessage.map { Self.preview($0) }, employee: employee?.name ?? chat.employeeID,
                states: item.states.map(Badge.init), activityISO: AdminJSON.format(item.lastActivityAt), activityUTC: time.utc(item.lastActivityAt),
                activityLocal: time.local(item.lastActivityAt, zone), activityRelative: time.ago(item.lastActivityAt), channel: chat.channelID,
                channelType: type, channelName: PageViews.channelName(type: type))
        }
        hasItems = !rows.isEmpty
        let more = page.next != nil
        countText =
            switch (rows.count, more, filters.after != nil) {
            case (0, _, _): "No chats"
            case (1, false, false): "1 chat"
            case (let n, false, false): "\(n) chats"
            case (let n, _, _): "\(n) chats on this page\(more ? " · older ones on the next" : "")"
            }
        updated = time.clock(now)
        nextHref = page.next.map { "/chats?" + filters.query(after: $0) }
        firstHref = filters.after == nil ? nil : "/chats" + { $0.isEmpty ? "" : "?" + $0 }(filters.query(after: nil))
        filtered = filters.isFiltered
        emptyTitle = filters.isFiltered ? "Nothing matches" : "No chats yet"
        emptyText =
            filters.isFiltered
            ? "No chat matches these filters. Search looks at client names, chat titles, employee names and, from three letters, every message."
            : "A chat appears here with the first message a client sends on any channel, and stays here for good."
    }

    /// One line of a message for the list.
    static func preview(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 140 ? String(line.prefix(139)) + "…" : line
    }
}

/// The composer on a chat's page: reply as the employee, the AI's pause and "Resume AI now"
/// (`chat_composer.mustache`).
struct ChatComposerModel: Sendable {
    var chatID: String
    var csrf: String
    var employee: String
    var paused: Bool
    var untilISO: String
    var untilUTC: String
    var untilLocal: String
    var untilRelative: String
    /// "The AI took over again at 14:20" after a pause that ended.
    var resumedText: String?
    var pauseText: String
    var unreachable: Bool

    init(chat: ChatDetailView.ChatInfo, csrf: String, operatorPause: Duration, now: Date) {
        let time = TimeText(now: now)
        let zone = TimeZone(identifier: chat.timeZone) ?? .gmt
        chatID = chat.id
        self.csrf = csrf
        employee = chat.employee
        let until = chat.aiPausedUntil ?? now
        paused = until > now
        untilISO = AdminJSON.format(until)
        untilUTC = time.utc(until)
        untilLocal = time.local(until, zone)
        untilRelative = time.relative(until)
        resumedText = chat.aiPausedUntil.flatMap { $0 <= now ? "The AI has answered again since \(time.local($0, zone))." : nil }
        let minutes = Int(operatorPause.components.seconds / 60)
        pauseText = minutes % 60 == 0 && minutes >= 60 ? "\(minutes / 60) h" : "\(minutes) min"
        unreachable = chat.unreachable
    }
}
