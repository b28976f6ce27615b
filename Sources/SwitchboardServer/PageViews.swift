import Foundation
import SwitchboardCore

/// The admin pages as HTML: the sign-in form, the Follow-ups list and a chat's history.
/// Rendering only — the data comes from the same queries as the admin API.
enum PageViews {
    static let stylesheet = "/admin/assets/admin.css?v=\(AdminAssets.version)"
    static let script = "/admin/assets/admin.js?v=\(AdminAssets.version)"

    // MARK: - Layout

    static func layout(title: String, csrf: String?, current: String? = nil, body: HTML) -> HTML {
        let signOut = csrf.map { token -> HTML in
            """
            <form method="post" action="/signout" class="signout">
              <input type="hidden" name="csrf" value="\(token)">
              <button type="submit" class="button ghost small">Sign out</button>
            </form>
            """
        } ?? .empty
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="same-origin">
            <title>\(title) · Switchboard</title>
            <link rel="stylesheet" href="\(stylesheet)">
            <script src="\(script)" defer></script>
            </head>
            <body>
            <a class="skip" href="#main">Skip to content</a>
            <header class="topbar">
              <div class="wrap topbar-inner">
                <a class="brand" href="/chats">\(Icon.logo)<span>Switchboard</span></a>
                <nav class="nav" aria-label="Admin">
                  \(Chrome.sections.map { section -> HTML in "<a href=\"\(section.href)\"\(HTML.when(section.id == current, " aria-current=\"page\""))>\(section.label)</a>" })
                </nav>
                \(signOut)
              </div>
            </header>
            <main id="main" class="wrap">
            \(body)
            </main>
            </body>
            </html>
            """
    }

    // MARK: - Sign in

    static func signIn(next: String, error: String?, closed: Bool) -> HTML {
        let alert = error.map { message -> HTML in #"<p class="alert" role="alert">\#(message)</p>"# } ?? .empty
        let form: HTML =
            closed
            ? """
            <p class="alert" role="alert">The admin pages are closed: no admin token is configured. Set <code>admin.token</code> in config.yaml and restart the gateway.</p>
            """
            : """
            <form method="post" action="/signin" class="stack">
              <input type="hidden" name="next" value="\(next)">
              <label for="token">Admin token</label>
              <input id="token" name="token" type="password" autocomplete="current-password" required autofocus spellcheck="false">
              <button type="submit" class="button primary">Sign in</button>
            </form>
            <p class="hint">The token is <code>admin.token</code> in config.yaml. It is the same one the admin API takes as a bearer token.</p>
            """
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Sign in · Switchboard</title>
            <link rel="stylesheet" href="\(stylesheet)">
            </head>
            <body class="signin-body">
            <main class="signin">
              <div class="signin-brand">\(Icon.logo)<span>Switchboard</span></div>
              <div class="card signin-card">
                <h1>Sign in</h1>
                <p class="sub">Follow-ups and chat history are visible to admins only.</p>
                \(alert)
                \(form)
              </div>
            </main>
            </body>
            </html>
            """
    }

    static func message(title: String, text: String, csrf: String?) -> HTML {
        layout(
            title: title, csrf: csrf,
            body: """
                <div class="empty">
                  \(Icon.info)
                  <h1>\(title)</h1>
                  <p>\(text)</p>
                  <p><a class="button" href="/chats">Back to Chats</a></p>
                </div>
                """)
    }

    // MARK: - Follow-ups

    struct ListModel {
        var items: [FollowUpListItem]
        var total: Int
        var search: String
        var employeeID: String
        var employees: [Employee]
        var channelTypes: [String: String]
        var emptyExplanation: String
        var now: Date

        /// Why the list is empty, naming the search and the employee when there are any.
        var emptyText: String {
            let search = search.trimmingCharacters(in: .whitespaces)
            let employee = employees.first { $0.id == employeeID }?.name
            switch (search.isEmpty, employee) {
            case (true, nil): return emptyExplanation
            case (true, let name?): return "No reminders are scheduled in \(name)'s chats right now."
            case (false, nil): return "No scheduled follow-up matches “\(search)” in a client's name, an employee's name or a chat title."
            case (false, let name?): return "None of \(name)'s scheduled follow-ups matches “\(search)”."
            }
        }
    }

    static func followUps(_ model: ListModel, csrf: String) -> HTML {
        let options = model.employees.map { employee -> HTML in
            "<option value=\"\(employee.id)\"\(employee.id == model.employeeID ? HTML(" selected") : .empty)>\(employee.name)</option>"
        }
        return layout(
            title: "Follow-ups", csrf: csrf, current: "followups",
            body: """
                <div class="page-head">
                  <h1>Follow-ups</h1>
                  <p class="sub">Every chat with a reminder scheduled, soonest first. Times are in each employee's time zone; hover for UTC.</p>
                </div>
                <form class="toolbar" method="get" action="/followups" role="search" data-live>
                  <div class="field search">
                    <label for="search" class="visually-hidden">Search</label>
                    \(Icon.search)
                    <input id="search" name="search" type="search" value="\(model.search)" placeholder="Search by name, agent, or client" autocomplete="off" spellcheck="false">
                    <kbd class="shortcut" aria-hidden="true">/</kbd>
                  </div>
                  <div class="field select">
                    <label for="employee" class="visually-hidden">Employee</label>
                    <select id="employee" name="employee">
                      <option value="">All employees</option>
                      \(options)
                    </select>
                  </div>
                  <noscript><button type="submit" class="button">Apply</button></noscript>
                </form>
                <section id="results" class="results" aria-live="polite" aria-busy="false">
                \(followUpResults(model))
                </section>
                """)
    }

    /// The part of the Follow-ups page that refreshes itself.
    static func followUpResults(_ model: ListModel) -> HTML {
        let time = TimeText(now: model.now)
        let filtered = !model.search.trimmingCharacters(in: .whitespaces).isEmpty || !model.employeeID.isEmpty
        let updated = "Updated \(time.clock(model.now))"
        if model.items.isEmpty {
            let clear = HTML.when(filtered, #"<p><a class="button" href="/followups">Show all follow-ups</a></p>"#)
            return """
                <p class="count"><span>No chats</span><span class="updated">\(updated)</span></p>
                <div class="empty" id="empty">
                  \(Icon.calm)
                  <h2>\(filtered ? "Nothing matches" : "No follow-ups scheduled")</h2>
                  <p>\(model.emptyText)</p>
                  \(clear)
                </div>
                """
        }
        let employees = Dictionary(model.employees.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let rows = model.items.map { item -> HTML in
            let zone = TimeZone(identifier: item.timeZone) ?? .gmt
            let steps = employees[item.employeeID]?.followUp.steps.count ?? 0
            let client = item.client.flatMap { $0 == item.chat || $0.isEmpty ? nil : $0 }
            let sends: HTML
            if let sendsAt = item.sendsAt {
                sends = """
                    <time datetime="\(AdminJSON.format(sendsAt))" title="\(time.utc(sendsAt))">\(time.local(sendsAt, zone))</time>
                    <small>\(time.relative(sendsAt)) · \(zone.identifier)</small>
                    """
            } else {
                sends = #"<span class="badge sending">Sending now</span>"#
            }
            let href = "/chats/\(item.chatID)"
            return """
                <tr data-href="\(href)">
                  <td class="cell-chat" data-label="Chat">
                    <a class="chat-link" href="\(href)">
                      <span class="avatar" aria-hidden="true">\(initials(item.chat))</span>
                      <span class="chat-name"><strong>\(item.chat)</strong>\(client.map { c -> HTML in "<small>\(c)</small>" } ?? .empty)</span>
                    </a>
                  </td>
                  <td data-label="Employee">\(item.employee)</td>
                  <td data-label="Step">\(step(item.step, of: steps))</td>
                  <td class="cell-time" data-label="Sends at">\(sends)</td>
                  <td data-label="Channel">\(channelBadge(type: model.channelTypes[item.channel], id: item.channel))</td>
                </tr>
                """
        }
        let shown = model.items.count < model.total ? "Showing the first \(model.items.count) of \(model.total) chats — search or filter to narrow them down" : (model.total == 1 ? "1 chat" : "\(model.total) chats")
        return """
            <p class="count"><span id="count">\(shown)</span><span class="updated">\(updated)</span></p>
            <div class="table-card">
            <table class="list">
              <thead><tr><th scope="col">Chat</th><th scope="col">Employee</th><th scope="col">Step</th><th scope="col">Sends at</th><th scope="col">Channel</th></tr></thead>
              <tbody>
              \(rows)
              </tbody>
            </table>
            </div>
            """
    }

    // MARK: - Chat

    /// A chat's page; `composer` is the reply form with the AI's pause (`chat_composer.mustache`).
    static func chat(_ detail: ChatDetailView, csrf: String, now: Date, composer: HTML) -> HTML {
        let time = TimeText(now: now)
        let zone = TimeZone(identifier: detail.chat.timeZone) ?? .gmt
        let chat = detail.chat
        let followup = detail.followup

        enum Item {
            case message(ChatDetailView.MessageInfo)
            case undelivered(ChatDetailView.UndeliveredInfo)
            case decision(ChatDetailView.DecisionInfo)

            var at: Date {
                switch self {
                case .message(let m): m.at
                case .undelivered(let u): u.nextAttemptAt
                case .decision(let d): d.at
                }
            }
            /// At the same instant a message comes before the decisions it caused.
            var rank: Int {
                switch self {
                case .message: 0
                case .undelivered: 1
                case .decision: 2
                }
            }
        }
        let items = (detail.messages.map(Item.message) + detail.undelivered.map(Item.undelivered) + detail.decisions.map(Item.decision))
            .enumerated().sorted { ($0.element.at, $0.element.rank, $0.offset) < ($1.element.at, $1.element.rank, $1.offset) }.map(\.element)

        var lastDay = ""
        var timeline: [HTML] = []
        for item in items {
            let day = time.day(item.at, zone)
            if day != lastDay {
                timeline.append(#"<li class="day" role="presentation"><span>\#(day)</span></li>"#)
                lastDay = day
            }
            switch item {
            case .message(let message):
                timeline.append(messageItem(message, chat: chat, time: time, zone: zone))
            case .undelivered(let entry):
                timeline.append(undeliveredItem(entry, time: time, zone: zone))
            case .decision(let decision):
                timeline.append(decisionItem(decision, time: time, zone: zone))
            }
        }
        if timeline.isEmpty { timeline.append(#"<li class="decision"><p>No messages yet.</p></li>"#) }

        let client = chat.client.flatMap { $0 == chat.title || $0.isEmpty ? nil : $0 }
        let meta: [String] = [client.map { "Client \($0)" }, "Employee \(chat.employee)", "\(channelName(type: chat.channelType)) · \(chat.channel)"].compactMap { $0 }
        return layout(
            title: chat.title, csrf: csrf,
            body: """
                <a class="back" href="/chats">\(Icon.back)<span>Chats</span></a>
                <div class="chat-head">
                  <span class="avatar large" aria-hidden="true">\(initials(chat.title))</span>
                  <div>
                    <h1>\(chat.title)</h1>
                    <p class="sub">\(meta.joined(separator: "  ·  "))</p>
                  </div>
                </div>
                <div class="chat-grid">
                  <section class="card timeline-card" aria-labelledby="history-title" data-live-chat>
                    <h2 id="history-title">History</h2>
                    <p class="hint">Messages and every follow-up decision, in order. Times in \(zone.identifier); hover for UTC.</p>
                    <ol class="timeline" id="timeline">
                    \(timeline)
                    </ol>
                    \(composer)
                  </section>
                  <aside class="side">
                    \(followUpCard(followup, chatID: chat.id, csrf: csrf, time: time, zone: zone))
                    \(usageCard(detail))
                    <section class="card" aria-labelledby="details-title">
                      <h2 id="details-title">Details</h2>
                      <dl class="facts">
                        <div><dt>Channel</dt><dd>\(channelName(type: chat.channelType)) (\(chat.channel))</dd></div>
                        <div><dt>Time zone</dt><dd>\(chat.timeZone)</dd></div>
                        <div><dt>First contact</dt><dd>\(timeTag(chat.createdAt, time: time, zone: zone))</dd></div>
                        <div><dt>Client last wrote</dt><dd>\(chat.lastClientMessageAt.map { timeTag($0, time: time, zone: zone) } ?? "—")</dd></div>
                        \(HTML.when(chat.unreachable, #"<div><dt>Reachable</dt><dd><span class="badge danger">No — the client blocked or left</span></dd></div>"#))
                        \(chat.aiPausedUntil.flatMap { $0 > now ? $0 : nil }.map { until -> HTML in "<div><dt>AI paused until</dt><dd>\(timeTag(until, time: time, zone: zone))</dd></div>" } ?? .empty)
                      </dl>
                    </section>
                  </aside>
                </div>
                """)
    }

    static func followUpCard(_ followup: ChatDetailView.FollowUpInfo, chatID: String, csrf: String, time: TimeText, zone: TimeZone) -> HTML {
        let status: HTML
        if let sendsAt = followup.sendsAt, let step = followup.step {
            status = """
                <p class="next"><span class="badge scheduled">Scheduled</span> Step \(step) of \(followup.steps)</p>
                <p class="next-time">\(timeTag(sendsAt, time: time, zone: zone)) <small>\(time.relative(sendsAt))</small></p>
                """
        } else if followup.status == FollowUpStatus.sending.rawValue {
            status = #"<p class="next"><span class="badge sending">Sending now</span></p>"#
        } else {
            let why = followup.lastReason.flatMap(ReasonCode.init(rawValue:)).map(reasonText) ?? "nothing has armed the chain yet"
            status = "<p class=\"next\"><span class=\"badge muted\">Nothing scheduled</span></p><p class=\"hint\">Last: \(why).</p>"
        }
        let note: HTML
        if !followup.employeeEnabled {
            note = #"<p class="hint">Auto Follow-up is off for this employee in config.yaml, so nothing is scheduled whatever this switch says.</p>"#
        } else if followup.optOut == ChatOptOut.client.rawValue {
            note = #"<p class="hint">The client asked not to get reminders (an opt-out phrase).</p>"#
        } else if followup.enabled {
            note = #"<p class="hint">Switching it off cancels the pending reminder.</p>"#
        } else {
            note = #"<p class="hint">Switched off by an admin. Switching it on schedules the next reminder if the employee's message is the last one.</p>"#
        }
        return """
            <section class="card" aria-labelledby="followup-title">
              <h2 id="followup-title">Auto Follow-up</h2>
              \(status)
              <form method="post" action="/chats/\(chatID)/followup" class="toggle-form">
                <input type="hidden" name="csrf" value="\(csrf)">
                <input type="hidden" name="enabled" value="\(followup.enabled ? "false" : "true")">
                <button type="submit" id="followup-toggle" class="switch" role="switch" aria-checked="\(followup.enabled ? "true" : "false")">
                  <span class="track" aria-hidden="true"><span class="knob"></span></span>
                  <span class="switch-label">Follow-up for this chat</span>
                  <span class="switch-state">\(followup.enabled ? "On" : "Off")</span>
                </button>
              </form>
              \(note)
            </section>
            """
    }

    static func usageCard(_ detail: ChatDetailView) -> HTML {
        let usage = detail.usage
        return """
            <section class="card" aria-labelledby="usage-title">
              <h2 id="usage-title">Tokens used</h2>
              <p class="big-number" id="tokens-total">\(formatted(usage.totalTokens))</p>
              <dl class="facts compact">
                <div><dt>Prompt</dt><dd>\(formatted(usage.promptTokens))</dd></div>
                <div><dt>Completion</dt><dd>\(formatted(usage.completionTokens))</dd></div>
                <div><dt>Messages composed</dt><dd>\(usage.compositions)</dd></div>
              </dl>
            </section>
            """
    }

    static func messageItem(_ message: ChatDetailView.MessageInfo, chat: ChatDetailView.ChatInfo, time: TimeText, zone: TimeZone) -> HTML {
        let side: String
        let who: String
        switch message.author {
        case Author.client.rawValue:
            side = "client"
            who = chat.client ?? chat.title
        case Author.operator.rawValue:
            side = "operator"
            who = "Operator (as \(chat.employee))"
        case Author.system.rawValue:
            side = "system"
            who = "Channel event"
        default:
            side = "employee"
            who = chat.employee
        }
        var notes: [HTML] = []
        if let step = message.followupStep { notes.append(#"<span class="tag">Reminder · step \#(step)</span>"#) }
        if message.edited { notes.append(#"<span class="tag">Edited</span>"#) }
        switch message.delivery {
        case DeliveryState.failed.rawValue?:
            notes.append(#"<span class="badge danger">Failed\#(message.deliveryError.map { ": \($0)" } ?? "")</span>"#)
        case DeliveryState.read.rawValue?: notes.append(#"<span class="tag">Read</span>"#)
        case DeliveryState.delivered.rawValue?: notes.append(#"<span class="tag">Delivered</span>"#)
        default: break
        }
        if let usage = message.usage {
            notes.append(
                #"<span class="tokens" title="\#(formatted(usage.promptTokens)) prompt + \#(formatted(usage.completionTokens)) completion\#(usage.model.map { " · \($0)" } ?? "")">\#(formatted(usage.totalTokens)) tokens</span>"#)
        }
        let text = message.text.isEmpty ? "[\(message.kind)]" : message.text
        return """
            <li class="msg \(side)">
              <div class="bubble">\(text)</div>
              <div class="msg-meta"><span>\(who)</span>\(timeTag(message.at, time: time, zone: zone, clockOnly: true))\(notes)</div>
            </li>
            """
    }

    static func undeliveredItem(_ entry: ChatDetailView.UndeliveredInfo, time: TimeText, zone: TimeZone) -> HTML {
        let state: HTML
        switch entry.status {
        case OutboxStatus.dead.rawValue:
            state = #"<span class="badge danger">Not delivered</span> after \#(entry.attempts) attempt\#(entry.attempts == 1 ? "" : "s")\#(entry.lastError.map { ": \($0)" } ?? "")"#
        case OutboxStatus.cancelled.rawValue:
            state = #"<span class="badge muted">Cancelled</span>\#(entry.lastError.map { " \($0)" } ?? "")"#
        default:
            state = #"<span class="badge sending">Sending</span>\#(entry.attempts > 0 ? " attempt \(entry.attempts)" : "")\#(entry.lastError.map { " · last error: \($0)" } ?? "")"#
        }
        let tokens = entry.usage.map { usage -> HTML in #"<span class="tokens">\#(formatted(usage.totalTokens)) tokens</span>"# } ?? .empty
        return """
            <li class="msg employee undelivered">
              <div class="bubble">\(entry.text)</div>
              <div class="msg-meta">\(state)\(timeTag(entry.nextAttemptAt, time: time, zone: zone, clockOnly: true))\(tokens)</div>
            </li>
            """
    }

    static func decisionItem(_ decision: ChatDetailView.DecisionInfo, time: TimeText, zone: TimeZone) -> HTML {
        let kind = FollowUpDecision.Kind(rawValue: decision.kind)
        let label: String =
            switch kind {
            case .scheduled: "Scheduled"
            case .deferred: "Moved by working hours"
            case .sent: "Sent"
            case .skipped: "Skipped"
            case .cancelled: "Cancelled"
            case .finished: "Chain finished"
            case .deadLetter: "Not delivered"
            case nil: decision.kind.capitalized
            }
        let what = decision.step.map { "\(label) · step \($0)" } ?? label
        // A sent decision carries the reason its step was scheduled for; what matters now is that it went out.
        let reason = kind == .sent ? "delivered to the client" : ReasonCode(rawValue: decision.reason).map(reasonText) ?? decision.reason
        var details: [HTML] = []
        switch (kind, decision.due, decision.sendsAt) {
        case (.deferred, let due?, let sendsAt?):
            details.append("<span>due \(timeTag(due, time: time, zone: zone)) → sends \(timeTag(sendsAt, time: time, zone: zone))</span>")
        case (.scheduled, _, let sendsAt?):
            details.append("<span>sends \(timeTag(sendsAt, time: time, zone: zone))</span>")
        default:
            break
        }
        if let detail = decision.detail, !detail.isEmpty { details.append("<span>\(detail)</span>") }
        return """
            <li class="decision \(decision.kind)">
              <span class="dot" aria-hidden="true"></span>
              <p><strong>\(what)</strong> — \(reason) \(timeTag(decision.at, time: time, zone: zone, clockOnly: true))</p>
              \(HTML.when(!details.isEmpty, "<p class=\"decision-detail\">\(details)</p>"))
            </li>
            """
    }

    // MARK: - Pieces

    static func timeTag(_ date: Date, time: TimeText, zone: TimeZone, clockOnly: Bool = false) -> HTML {
        "<time datetime=\"\(AdminJSON.format(date))\" title=\"\(time.utc(date))\">\(clockOnly ? time.clock(date, zone) : time.local(date, zone))</time>"
    }

    static func step(_ step: Int?, of steps: Int) -> HTML {
        guard let step else { return "—" }
        return steps > 0 ? #"<span class="step"><strong>\#(step)</strong> of \#(steps)</span>"# : "\(step)"
    }

    static func channelBadge(type: String?, id: String) -> HTML {
        #"<span class="channel \#(type ?? "unknown")" title="channel \#(id)">\#(channelName(type: type ?? id))</span>"#
    }

    static func channelName(type: String) -> String {
        switch type {
        case "telegram": "Telegram"
        case "whatsapp": "WhatsApp"
        case "widget": "Web chat"
        case "email": "Email"
        case "http": "HTTP"
        default: type.prefix(1).uppercased() + type.dropFirst()
        }
    }

    static func initials(_ name: String) -> String {
        let words = name.split(whereSeparator: { $0.isWhitespace || $0.isPunctuation }).filter { $0.first?.isLetter == true }
        let letters = words.prefix(2).compactMap(\.first).map { String($0).uppercased() }.joined()
        return letters.isEmpty ? "#" : letters
    }

    static func formatted(_ number: Int) -> String {
        number.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
    }

    /// Why a reminder was scheduled, moved, skipped or stopped, in words.
    static func reasonText(_ reason: ReasonCode) -> String {
        switch reason {
        case .employeeMessage: "the employee's message is the last in the chat"
        case .previousReminderSent: "the previous reminder was sent"
        case .outsideWorkingHours: "the due time is outside working hours"
        case .pulledIntoWindow: "pulled in before the channel's reply window closes"
        case .reengagementTemplate: "the channel's window will be closed, so its re-engagement template goes instead"
        case .windowClosed: "the channel's reply window is closed"
        case .oncePerChatFired: "this step runs once per chat and already ran"
        case .followUpDisabled: "Auto Follow-up is off for the employee"
        case .chatDisabled: "an admin switched follow-up off for this chat"
        case .chatEnabled: "an admin switched follow-up on for this chat"
        case .clientReplied: "the client replied"
        case .clientOptedOut: "the client asked not to get reminders"
        case .operatorActive: "a human operator is handling the chat"
        case .chatUnreachable: "the client cannot be reached (blocked or left)"
        case .tokenBudgetSpent: "the employee's daily token budget for follow-ups is spent"
        case .deliveryFailed: "delivery failed"
        case .chainChanged: "the employee's chain changed in config"
        case .chainComplete: "every step has run"
        case .noWorkingTime: "there is no working time ahead"
        case .compositionFailed: "the model could not compose the reminder"
        case .channelUnavailable: "the chat's channel is not running; the reminder waits until it is back"
        case .replyBudgetSpent: "the employee's daily token budget for AI replies is spent, so the client got the budget reply instead"
        }
    }
}

/// Instants as the pages show them: in an employee's time zone, with UTC on hover and a
/// relative time against the gateway's clock.
struct TimeText {
    let now: Date

    private static func formatter(_ format: String, _ zone: TimeZone) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = zone
        formatter.dateFormat = format
        return formatter
    }

    /// `Mon 23 Nov, 13:00`
    func local(_ date: Date, _ zone: TimeZone) -> String { Self.formatter("EEE d MMM, HH:mm", zone).string(from: date) }
    /// `13:00`
    func clock(_ date: Date, _ zone: TimeZone = .gmt) -> String { Self.formatter("HH:mm", zone).string(from: date) + (zone == .gmt ? " UTC" : "") }
    /// `Monday 23 November 2026`
    func day(_ date: Date, _ zone: TimeZone) -> String { Self.formatter("EEEE d MMMM yyyy", zone).string(from: date) }
    /// `2026-11-23 10:00 UTC`
    func utc(_ date: Date) -> String { Self.formatter("yyyy-MM-dd HH:mm", .gmt).string(from: date) + " UTC" }

    /// `just now`, `12 min ago`, `3 h ago`, `2 days ago`: how long since a past instant.
    func ago(_ date: Date) -> String {
        let seconds = Int(now.timeIntervalSince(date).rounded())
        if seconds < 60 { return "just now" }
        let minutes = seconds / 60
        if minutes < 60 { return "\(minutes) min ago" }
        let hours = minutes / 60
        if hours < 24 { return "\(hours) h ago" }
        let days = hours / 24
        return days == 1 ? "yesterday" : "\(days) days ago"
    }

    /// `in 3 h 20 min`, `in 2 days`, `due now`.
    func relative(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince(now).rounded())
        if seconds <= 30 { return "due now" }
        let minutes = (seconds + 59) / 60
        if minutes < 60 { return "in \(minutes) min" }
        let hours = minutes / 60
        if hours < 24 { return minutes % 60 == 0 ? "in \(hours) h" : "in \(hours) h \(minutes % 60) min" }
        let days = hours / 24
        return hours % 24 == 0 ? "in \(days) day\(days == 1 ? "" : "s")" : "in \(days) d \(hours % 24) h"
    }
}

/// Small inline icons (no image requests, nothing for the CSP to allow).
enum Icon {
    static let logo: HTML = """
        <svg class="logo" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><rect width="24" height="24" rx="7" fill="currentColor"/><path d="M7 9.5h10M7 14.5h6" stroke="#fff" stroke-width="2.2" stroke-linecap="round"/><circle cx="16.5" cy="14.5" r="1.6" fill="#fff"/></svg>
        """
    static let search: HTML = """
        <svg class="icon" viewBox="0 0 20 20" width="18" height="18" aria-hidden="true"><circle cx="9" cy="9" r="6" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="m13.5 13.5 4 4" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>
        """
    static let back: HTML = """
        <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true"><path d="M12.5 4.5 7 10l5.5 5.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>
        """
    static let calm: HTML = """
        <svg class="empty-icon" viewBox="0 0 48 48" width="48" height="48" aria-hidden="true"><rect x="6" y="10" width="36" height="30" rx="6" fill="none" stroke="currentColor" stroke-width="2"/><path d="M6 18h36M16 6v8M32 6v8" stroke="currentColor" stroke-width="2" stroke-linecap="round"/><path d="m18 29 4 4 8-8" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/></svg>
        """
    static let info: HTML = """
        <svg class="empty-icon" viewBox="0 0 48 48" width="48" height="48" aria-hidden="true"><circle cx="24" cy="24" r="18" fill="none" stroke="currentColor" stroke-width="2"/><path d="M24 22v11" stroke="currentColor" stroke-width="2.4" stroke-linecap="round"/><circle cx="24" cy="16" r="1.8" fill="currentColor"/></svg>
        """
}
