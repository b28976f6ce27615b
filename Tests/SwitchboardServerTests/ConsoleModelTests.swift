import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

@testable import SwitchboardServer

private func at(_ iso: String) -> Date { parseISO(iso) }

/// The console's view-models and templates without a server or a browser: what each page would
/// show for given data.
@Suite struct ConsoleModelTests {
    static let moscow = WorkingHours(timeZone: TimeZone(identifier: "Europe/Moscow")!, week: [:])
    static let alexey = Employee(id: "alexey", name: "Alexey", workingHours: moscow)
    static let roster = Roster(employees: [alexey], channelOwners: ["tg": "alexey", "web": "alexey"])

    static func row(_ id: String, title: String, client: String? = nil, at time: Date, author: Author? = .client, text: String? = "Hello") -> ChatInboxRow {
        ChatInboxRow(
            chat: Chat(id: id, channelID: "tg", conversationKey: id, employeeID: "alexey", title: title, clientName: client, createdAt: time),
            lastActivityAt: time, lastAuthor: author, lastMessage: text, followUp: FollowUpState(), deadLetters: 0)
    }

    @Test func everyTemplateAndAssetFileIsEmbedded() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/SwitchboardServer")
        let templates = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("Templates").path)
            .filter { $0.hasSuffix(".mustache") }.map { String($0.dropLast(".mustache".count)) }
        #expect(Set(templates) == Set(ConsoleTemplates.sources.keys), "Templates/ and ConsoleTemplates.sources (and Package.swift) list the same files")
        let assets = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("Assets").path)
        #expect(Set(assets) == ["admin.css", "admin.js"], "a new asset needs a route and an embedInCode line")
        for name in ConsoleTemplates.sources.keys {
            #expect(ConsoleTemplates.shared.library.getTemplate(named: name) != nil, "\(name) parses")
        }
        #expect(AdminAssets.css.contains(".usage-chart") && AdminAssets.js.contains("data-live-chat"))
    }

    @Test func theInboxModelDescribesEachChat() {
        let now = at("2026-11-23T07:00:00Z")
        var gone = Self.row("c2", title: "Boris", at: at("2026-11-23T06:40:00Z"), author: .employee, text: "Line one\nline two")
        gone.chat.unreachable = true
        gone.deadLetters = 2
        let page = ChatInboxPage(
            items: [Self.row("c1", title: "Anna Smith (Riverside)", client: "Anna Smith", at: at("2026-11-23T06:58:00Z")), gone],
            next: ChatInboxCursor(lastActivityAt: at("2026-11-23T06:40:00Z"), chatID: "c2"))
        let filters = InboxPageModel.Filters(employeeID: "alexey", channelID: nil, state: nil, search: "ан на", after: nil)
        let model = InboxPageModel(page: page, filters: filters, roster: Self.roster, channelTypes: ["tg": "telegram"], csrf: "t0k", now: now)
        #expect(model.rows.map(\.title) == ["Anna Smith (Riverside)", "Boris"])
        #expect(model.rows[0].client == "Anna Smith" && model.rows[0].who == "Anna Smith" && model.rows[0].activityRelative == "2 min ago")
        #expect(model.rows[0].activityLocal == "Mon 23 Nov, 09:58", "Moscow time")
        #expect(model.rows[0].states.map(\.label) == ["Waiting for the employee"])
        #expect(model.rows[1].states.map(\.label) == ["Dead letter", "Unreachable"] && model.rows[1].states.map(\.tone) == ["danger", "danger"])
        #expect(model.rows[1].who == "Alexey" && model.rows[1].preview == "Line one line two")
        #expect(model.rows[1].channelName == "Telegram")
        #expect(model.countText == "2 chats on this page · older ones on the next")
        #expect(model.nextHref == "/chats?search=%D0%B0%D0%BD%20%D0%BD%D0%B0&employee=alexey&after=1795416000.0_c2")
        #expect(model.firstHref == nil && model.liveURL == "/chats/rows")
        #expect(model.employees.map(\.selected) == [true] && model.channels.map(\.label) == ["Telegram · tg", "web"])
        #expect(model.chrome.nav.filter(\.current).map(\.label) == ["Chats"])

        let later = InboxPageModel(
            page: ChatInboxPage(items: [], next: nil), filters: .init(employeeID: nil, channelID: nil, state: .deadLetter, search: "", after: page.next),
            roster: Self.roster, channelTypes: [:], csrf: "t0k", now: now)
        #expect(later.liveURL == nil && later.firstHref == "/chats?state=dead_letter" && later.emptyTitle == "Nothing matches")
    }

    @Test func theInboxTemplateEscapesWhatClientsWrite() {
        let page = ChatInboxPage(items: [Self.row("c1", title: "<b>Eve</b>", at: at("2026-11-23T06:00:00Z"), text: "\"quoted\" & <i>")], next: nil)
        let model = InboxPageModel(
            page: page, filters: .init(employeeID: nil, channelID: nil, state: nil, search: "\"><script>", after: nil), roster: Self.roster,
            channelTypes: [:], csrf: "t0k", now: at("2026-11-23T07:00:00Z"))
        let html = ConsoleTemplates.shared.render(model, "inbox").text
        #expect(html.contains("&lt;b&gt;Eve&lt;/b&gt;") && !html.contains("<b>Eve"))
        #expect(html.contains("&quot;quoted&quot; &amp; &lt;i&gt;"))
        #expect(html.contains(#"value="&quot;&gt;&lt;script&gt;""#))
        #expect(html.contains(#"<input type="hidden" name="csrf" value="t0k">"#), "the layout's sign-out form")
        #expect(html.hasPrefix("<!doctype html>") && html.contains("</html>"))
    }

    @Test func theUsageChartScalesBarsToARoundMaximum() {
        #expect(UsageChartModel.niceMaximum(0) == 10 && UsageChartModel.niceMaximum(7) == 10 && UsageChartModel.niceMaximum(1200) == 2000)
        #expect(UsageChartModel.niceMaximum(4100) == 5000 && UsageChartModel.niceMaximum(50_000) == 50_000)
        #expect(UsageChartModel.short(1500) == "1.5k" && UsageChartModel.short(2_000_000) == "2M" && UsageChartModel.short(500) == "500")
        let first = LocalDate("2026-11-21")!
        let days = [
            UsageChartModel.Input(date: first, replies: 1000, reminders: 0),
            UsageChartModel.Input(date: first.adding(days: 1), replies: 0, reminders: 0),
            UsageChartModel.Input(date: first.adding(days: 2), replies: 500, reminders: 500),
        ]
        let model = UsageChartModel(employee: Self.alexey, days: days, autoReplies: 0)
        #expect(model.totals.map(\.label) == ["Replies", "Reminders", "Total"] && model.totals.map(\.tokens) == ["1,500", "500", "2,000"])
        #expect(model.days.map(\.label) == ["Mon 23 Nov", "Sun 22 Nov", "Sat 21 Nov"], "newest first in the table")
        #expect(model.range == "Sat 21 Nov – Mon 23 Nov" && !model.isEmpty)
        // Plot height 146 from y = 10: 1000 of a 1000 maximum is a full bar; 500 + 500 stack to the top.
        #expect(model.svg.contains(#"<rect class="replies" x="#) && model.svg.contains(#"y="10.0" width="#))
        #expect(model.svg.contains(#"height="146.0" rx"#) && model.svg.contains(#"height="73.0" rx"#))
        #expect(model.svg.components(separatedBy: "<rect class=\"reminders\"").count == 2, "one day had reminders")
        #expect(model.svg.contains("<title id=\"usage-title-alexey\">Tokens per day for Alexey, replies and reminders</title>"))
        let withAuto = UsageChartModel(employee: Self.alexey, days: days, autoReplies: 7)
        #expect(withAuto.totals.map(\.label) == ["Replies", "Reminders", "Auto-replies", "Total"] && withAuto.totals.last?.tokens == "2,007")
    }

    @Test func theComposerShowsThePauseAndItsEnd() {
        let now = at("2026-11-23T06:05:00Z")
        var chat = ChatDetailView.ChatInfo(
            id: "c1", title: "Ana", client: "Ana", employeeID: "alexey", employee: "Alexey", channel: "tg", channelType: "telegram",
            timeZone: "Europe/Moscow", createdAt: now, lastClientMessageAt: nil, unreachable: false, aiPausedUntil: at("2026-11-23T06:15:00Z"))
        let paused = ChatComposerModel(chat: chat, csrf: "t", operatorPause: .seconds(900), now: now)
        #expect(paused.paused && paused.untilLocal == "Mon 23 Nov, 09:15" && paused.untilRelative == "in 10 min" && paused.resumedText == nil)
        #expect(paused.pauseText == "15 min")
        let html = ConsoleTemplates.shared.render(paused, "chat_composer").text
        #expect(html.contains("Resume AI now") && html.contains(#"action="/chats/c1/resume-ai""#) && html.contains(#"action="/chats/c1/messages""#))
        chat.aiPausedUntil = at("2026-11-23T06:01:00Z")
        chat.unreachable = true
        let resumed = ChatComposerModel(chat: chat, csrf: "t", operatorPause: .seconds(7200), now: now)
        #expect(!resumed.paused && resumed.resumedText == "The AI has answered again since Mon 23 Nov, 09:01." && resumed.pauseText == "2 h")
        let closed = ConsoleTemplates.shared.render(resumed, "chat_composer").text
        #expect(!closed.contains("Resume AI now") && closed.contains("disabled") && closed.contains("cannot be reached"))
    }

    @Test func theChatPageShowsHistoryDecisionsAndUndeliveredMessages() {
        let now = at("2026-11-23T13:00:00Z")
        let chat = ChatDetailView.ChatInfo(
            id: "c1", title: "Ana <K>", client: "Ana <K>", employeeID: "alexey", employee: "Alexey", channel: "tg", channelType: "telegram",
            timeZone: "Europe/Moscow", createdAt: at("2026-11-22T20:00:00Z"), lastClientMessageAt: at("2026-11-22T20:00:00Z"), unreachable: true,
            aiPausedUntil: nil)
        let detail = ChatDetailView(
            chat: chat,
            followup: .init(
                enabled: true, optOut: nil, employeeEnabled: true, status: "scheduled", run: 1, step: 1, steps: 3, due: at("2026-11-23T17:30:00Z"),
                sendsAt: at("2026-11-24T06:00:00Z"), lastReason: "outside_working_hours"),
            messages: [
                .init(id: 1, author: "client", kind: "text", text: "Room for <Friday>?", at: at("2026-11-22T20:00:00Z"), edited: false, followupStep: nil,
                      deliveredAt: nil, delivery: nil, deliveryError: nil, usage: nil),
                .init(id: 2, author: "employee", kind: "text", text: "Yes!", at: at("2026-11-23T13:30:00Z"), edited: false, followupStep: nil,
                      deliveredAt: nil, delivery: "read", deliveryError: nil,
                      usage: UsageView(TokenUsage(promptTokens: 100, completionTokens: 20), model: "gpt-4o-mini")),
            ],
            undelivered: [
                .init(outboxID: 9, purpose: "reply", status: "dead", text: "Lost", attempts: 3, nextAttemptAt: at("2026-11-23T13:40:00Z"),
                      lastError: "blocked", followupStep: nil, usage: nil)
            ],
            decisions: [
                .init(kind: "deferred", reason: "outside_working_hours", run: 1, step: 1, at: at("2026-11-23T13:30:00Z"), due: at("2026-11-23T17:30:00Z"),
                      sendsAt: at("2026-11-24T06:00:00Z"), detail: nil)
            ],
            usage: .init(promptTokens: 100, completionTokens: 20, totalTokens: 120, compositions: 1))
        let model = ChatPageModel(detail, csrf: "t0k", operatorPause: .seconds(900), now: now)
        #expect(model.items.compactMap(\.day) == ["Sunday 22 November 2026", "Monday 23 November 2026"])
        #expect(model.items.compactMap(\.message).map(\.side) == ["client", "employee"])
        #expect(model.followUp.scheduled && model.followUp.next == "false")
        let html = ConsoleTemplates.shared.render(model, "chat").text
        #expect(html.contains("Room for &lt;Friday&gt;?") && !html.contains("<Friday>"), "escaped")
        #expect(html.contains(#"<span class="tokens" title="100 prompt + 20 completion · gpt-4o-mini">120 tokens</span>"#))
        #expect(html.contains(#"<span class="tag">Read</span>"#))
        #expect(html.contains(#"<span class="badge danger">Not delivered</span> after 3 attempts: blocked"#))
        #expect(html.contains("<strong>Moved by working hours · step 1</strong> — the due time is outside working hours"))
        #expect(html.contains(#"<span>due <time datetime="2026-11-23T17:30:00Z" title="2026-11-23 17:30 UTC">Mon 23 Nov, 20:30</time> → sends <time datetime="2026-11-24T06:00:00Z""#))
        #expect(html.contains(#"role="switch" aria-checked="true""#) && html.contains("Step 1 of 3"))
        #expect(html.contains("No — the client blocked or left") && html.contains(#"id="tokens-total">120<"#))
        #expect(html.contains(#"<label for="composer-text" id="composer-title">Reply as Alexey</label>"#))
    }
}
