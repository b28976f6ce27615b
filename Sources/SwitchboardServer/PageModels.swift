import Foundation
import SwitchboardCore

// View-models of the pages that came before the console: sign-in, a message page, and the
// Follow-ups list (`signin.mustache`, `message.mustache`, `followups.mustache`,
// `followups_rows.mustache`).

/// The sign-in form.
struct SignInPageModel: Sendable {
    var next: String
    var error: String?
    var closed: Bool
    var stylesheet = PageViews.stylesheet
    var logo = Icon.logo.text
}

/// A page that says one thing: a missing chat, a refused form.
struct MessagePageModel: Sendable {
    var chrome: Chrome
    var title: String
    var text: String
    var icon = Icon.info.text

    init(title: String, text: String, csrf: String?) {
        chrome = Chrome(title: title, csrf: csrf, current: nil)
        self.title = title
        self.text = text
    }
}

/// `/followups`: the page around the results.
struct FollowUpsPageModel: Sendable {
    var chrome: Chrome
    var search: String
    var employees: [Choice]
    var results: FollowUpResultsModel

    init(_ list: PageViews.ListModel, csrf: String) {
        chrome = Chrome(title: "Follow-ups", csrf: csrf, current: "followups")
        search = list.search
        employees = list.employees.map { Choice(value: $0.id, label: $0.name, selected: $0.id == list.employeeID) }
        results = FollowUpResultsModel(list)
    }
}

/// The part of the Follow-ups page that refreshes itself (`/followups/rows`).
struct FollowUpResultsModel: Sendable {
    struct Sends: Sendable {
        var iso: String
        var utc: String
        var local: String
        var relative: String
        var zone: String
    }

    struct Row: Sendable {
        var href: String
        var initials: String
        var chat: String
        var client: String?
        var employee: String
        var step: Int?
        var steps: Int
        var hasSteps: Bool
        /// `nil` while the reminder is being sent.
        var sends: Sends?
        var channel: String
        var channelType: String
        var channelName: String
    }

    var icons = InboxPageModel.Icons()
    var rows: [Row]
    var hasItems: Bool
    var countText: String
    var updated: String
    var filtered: Bool
    var emptyTitle: String
    var emptyText: String

    init(_ model: PageViews.ListModel) {
        let time = TimeText(now: model.now)
        let employees = Dictionary(model.employees.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        rows = model.items.map { item in
            let zone = TimeZone(identifier: item.timeZone) ?? .gmt
            let steps = employees[item.employeeID]?.followUp.steps.count ?? 0
            let type = model.channelTypes[item.channel]
            return Row(
                href: "/chats/\(item.chatID)", initials: PageViews.initials(item.chat), chat: item.chat,
                client: item.client.flatMap { $0 == item.chat || $0.isEmpty ? nil : $0 }, employee: item.employee, step: item.step, steps: steps,
                hasSteps: steps > 0,
                sends: item.sendsAt.map { sendsAt in
                    Sends(
                        iso: AdminJSON.format(sendsAt), utc: time.utc(sendsAt), local: time.local(sendsAt, zone), relative: time.relative(sendsAt),
                        zone: zone.identifier)
                },
                channel: item.channel, channelType: type ?? "unknown", channelName: PageViews.channelName(type: type ?? item.channel))
        }
        hasItems = !rows.isEmpty
        countText =
            model.items.count < model.total
            ? "Showing the first \(model.items.count) of \(model.total) chats — search or filter to narrow them down"
            : (model.total == 1 ? "1 chat" : "\(model.total) chats")
        updated = time.clock(model.now)
        filtered = !model.search.trimmingCharacters(in: .whitespaces).isEmpty || !model.employeeID.isEmpty
        emptyTitle = filtered ? "Nothing matches" : "No follow-ups scheduled"
        emptyText = model.emptyText
    }
}
