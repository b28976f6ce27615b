import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

@testable import SwitchboardServer

private func at(_ iso: String) -> Date { parseISO(iso) }

private func json(_ body: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not a JSON object: \(body)")
}

private func encoded(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
}

/// Five chats of two employees, newest activity first:
/// Ольга (Alexey, waiting: she answered at 07:10), Anna (Мария, a message about a Deluxe room at 06:50),
/// Михаил Петров (Alexey, 06:00), Михаил Сидоров (Мария, 05:45, follow-up switched off by the client),
/// Boris (Alexey, 05:00, unreachable).
private func seededInbox() async throws -> (GatewayHarness, [String: Chat]) {
    let h = try await GatewayHarness(employeeYAML: GatewayHarness.team)
    var chats: [String: Chat] = [:]
    chats["boris"] = try await h.seedScheduledChat(key: "boris", client: "Boris Blocked", employee: "alexey", repliedAt: at("2026-11-23T05:00:00Z"))
    chats["sidorov"] = try await h.seedScheduledChat(key: "sidorov", client: "Михаил Сидоров", employee: "maria", repliedAt: at("2026-11-23T05:45:00Z"))
    chats["petrov"] = try await h.seedScheduledChat(key: "petrov", client: "Михаил Петров", employee: "alexey", repliedAt: at("2026-11-23T06:00:00Z"))
    chats["anna"] = try await h.seedScheduledChat(
        key: "anna", client: "Anna Smith", title: "Anna Smith (Riverside Hotel)", employee: "maria", repliedAt: at("2026-11-23T06:30:00Z"))
    chats["olga"] = try await h.seedScheduledChat(key: "olga", client: "Ольга Иванова", employee: "alexey", repliedAt: at("2026-11-23T04:00:00Z"))
    let store = h.gateway.store
    _ = try await store.appendMessage(
        NewMessage(chatID: try #require(chats["anna"]).id, author: .employee, text: "Your Deluxe room faces the river.", at: at("2026-11-23T06:50:00Z")),
        followUp: nil)
    try await h.seedClientAnswer(key: "olga", at: at("2026-11-23T07:10:00Z"))
    _ = try await store.updateFollowUp(chatID: try #require(chats["sidorov"]).id) { state, _ in
        state.optOut = .client
        state.status = .cancelled
        return []
    }
    _ = try await store.updateChat(id: try #require(chats["boris"]).id, { $0.unreachable = true }, followUp: nil)
    return (h, chats)
}

extension GatewayHarness {
    /// Titles of `GET /api/chats` with this query, in order, and the `next` token.
    func inbox(_ query: String = "") async throws -> (titles: [String], next: String?) {
        let (status, body) = try await get("/api/chats" + (query.isEmpty ? "" : "?" + query))
        #expect(status == 200, "GET /api/chats?\(query): \(body)")
        let object = try json(body)
        let items = try #require(object["items"] as? [[String: Any]])
        return (items.compactMap { $0["title"] as? String }, object["next"] as? String)
    }
}

/// The Chats inbox (`/chats`, `GET /api/chats`), replying as the employee from a chat's page,
/// resuming the AI early, and the usage page.
@Suite(.serialized, .awaitedTeardown) struct ChatsInboxTests {
    @Test func theAPIListsEveryChatNewestActivityFirst() async throws {
        let (h, chats) = try await seededInbox()
        onTeardown { await h.shutdown() }
        let all = try await h.inbox()
        #expect(all.titles == ["Ольга Иванова", "Anna Smith (Riverside Hotel)", "Михаил Петров", "Михаил Сидоров", "Boris Blocked"])
        #expect(all.next == nil)

        let (_, body) = try await h.get("/api/chats?limit=1")
        let first = try #require((try json(body)["items"] as? [[String: Any]])?.first)
        #expect(first["chat_id"] as? String == chats["olga"]?.id)
        #expect(first["last_author"] as? String == "client" && first["last_message"] as? String == "Thanks!")
        #expect(first["states"] as? [String] == ["waiting"])
        #expect(first["employee"] as? String == "Alexey" && first["channel"] as? String == "tg" && first["channel_type"] as? String == "telegram")
        #expect(first["last_activity_at"] as? String == "2026-11-23T07:10:00Z")
        for key in ["client", "followup_sends_at", "ai_paused_until", "dead_letters", "followup_status"] {
            #expect(first.keys.contains(key), "every item has \(key)")
        }
        #expect(try await h.get("/api/chats", token: nil).0 == 401)
    }

    @Test func keysetPagesWalkTheWholeListOnce() async throws {
        let (h, _) = try await seededInbox()
        onTeardown { await h.shutdown() }
        var titles: [String] = []
        var after: String?
        var pages = 0
        repeat {
            let page = try await h.inbox("limit=2" + (after.map { "&after=" + encoded($0) } ?? ""))
            titles += page.titles
            after = page.next
            pages += 1
        } while after != nil && pages < 10
        #expect(pages == 3)
        #expect(titles == ["Ольга Иванова", "Anna Smith (Riverside Hotel)", "Михаил Петров", "Михаил Сидоров", "Boris Blocked"])

        // New activity moves a chat to the top; a page already handed out does not repeat it.
        let page1 = try await h.inbox("limit=2")
        try await h.seedClientAnswer(key: "boris", at: at("2026-11-23T07:30:00Z"))
        let page2 = try await h.inbox("limit=2&after=" + encoded(try #require(page1.next)))
        #expect(page2.titles == ["Михаил Петров", "Михаил Сидоров"])
        #expect(try await h.inbox("limit=1").titles == ["Boris Blocked"])
    }

    @Test func searchFindsClientsEmployeesTitlesAndMessageText() async throws {
        let (h, _) = try await seededInbox()
        onTeardown { await h.shutdown() }
        #expect(try await h.inbox("search=" + encoded("михаил")).titles == ["Михаил Петров", "Михаил Сидоров"], "client name")
        #expect(try await h.inbox("search=riverside").titles == ["Anna Smith (Riverside Hotel)"], "chat title")
        #expect(try await h.inbox("search=" + encoded("Мария")).titles == ["Anna Smith (Riverside Hotel)", "Михаил Сидоров"], "employee name")
        #expect(try await h.inbox("search=DELUXE").titles == ["Anna Smith (Riverside Hotel)"], "message text, any case")
        #expect(try await h.inbox("search=" + encoded("room still")).titles.count == 5, "every chat's first message")
        #expect(try await h.inbox("search=nothing-like-this").titles.isEmpty)
        #expect(try await h.inbox("search=deluxe&employee=alexey").titles.isEmpty, "search within an employee")
    }

    @Test func filtersByEmployeeChannelAndState() async throws {
        let (h, _) = try await seededInbox()
        onTeardown { await h.shutdown() }
        #expect(try await h.inbox("employee=maria").titles == ["Anna Smith (Riverside Hotel)", "Михаил Сидоров"])
        #expect(try await h.inbox("channel=tg").titles.count == 5)
        #expect(try await h.inbox("state=waiting").titles == ["Ольга Иванова"])
        #expect(try await h.inbox("state=scheduled").titles == ["Anna Smith (Riverside Hotel)", "Михаил Петров", "Boris Blocked"])
        #expect(try await h.inbox("state=opted_out").titles == ["Михаил Сидоров"])
        #expect(try await h.inbox("state=unreachable").titles == ["Boris Blocked"])
        #expect(try await h.inbox("state=dead_letter").titles.isEmpty)
        #expect(try await h.inbox("state=finished").titles.isEmpty)
        #expect(try await h.inbox("state=scheduled&employee=alexey").titles == ["Михаил Петров", "Boris Blocked"])

        for (query, message) in [
            ("state=bogus", "state must be one of: waiting, scheduled, finished, opted_out, unreachable, dead_letter"),
            ("after=nonsense", "after must be the `next` value"),
            ("limit=0", "limit must be a number from 1 to 500"),
            ("employee=nobody", "unknown employee 'nobody'"),
            ("channel=nowhere", "unknown channel 'nowhere'; channels: tg"),
        ] {
            let (status, body) = try await h.get("/api/chats?" + query)
            #expect(status == 400 && body.contains(message), "\(query): \(status) \(body)")
        }
    }

    @Test func theInboxPageListsFiltersAndPagesChats() async throws {
        let (h, _) = try await seededInbox()
        onTeardown { await h.shutdown() }
        _ = try await h.seedScheduledChat(key: "xss", client: #"<img src=x onerror="alert(1)">"#, repliedAt: at("2026-11-23T03:00:00Z"))
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        #expect(try await page.get("/chats?state=waiting").location == "/signin?next=/chats%3Fstate%3Dwaiting")
        #expect(try await page.get("/chats/rows").status == 401)
        try await page.signIn()

        let html = try await page.get("/chats").body
        #expect(html.contains("<title>Chats · Switchboard</title>"))
        #expect(html.contains(#"<a href="/chats" aria-current="page">Chats</a>"#), "the header links the inbox")
        for column in ["Chat", "Last message", "Employee", "State", "Last activity", "Channel"] {
            #expect(html.contains(#"<th scope="col">\#(column)</th>"#), "column \(column)")
        }
        #expect(html.contains(#"<label for="state" class="visually-hidden">State</label>"#))
        #expect(html.contains(#"<option value="opted_out">Opted out</option>"#))
        #expect(html.contains(#"<span class="badge waiting">Waiting for the employee</span>"#))
        #expect(html.contains(#"<span class="badge danger">Unreachable</span>"#))
        #expect(html.contains(#"<span class="who">Ольга Иванова:</span> Thanks!"#))
        #expect(html.contains(#"<time datetime="2026-11-23T07:10:00Z" title="2026-11-23 07:10 UTC">Mon 23 Nov, 10:10</time>"#), "Moscow time")
        #expect(!html.contains("<img src=x"), "client names are escaped")
        #expect(html.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"))
        #expect(html.contains(#"data-live="/chats/rows""#))

        let filtered = try await page.get("/chats?state=unreachable&employee=alexey").body
        #expect(filtered.contains("Boris Blocked") && !filtered.contains("Ольга"))
        #expect(filtered.contains(#"<option value="unreachable" selected>Unreachable</option>"#))
        #expect(filtered.contains(#"<option value="alexey" selected>Alexey</option>"#))

        let rows = try await page.get("/chats/rows?search=deluxe")
        #expect(rows.status == 200 && rows.body.contains("Anna Smith") && !rows.body.contains("<html"))
        let none = try await page.get("/chats/rows?search=zzzz").body
        #expect(none.contains("Nothing matches") && none.contains(#"href="/chats">Show all chats"#))

        // Pages: 50 a page, an "Older chats" link carries the cursor and the filters.
        for index in 0..<50 {
            _ = try await h.seedScheduledChat(key: "bulk-\(index)", client: "Bulk \(index)", repliedAt: at("2026-11-22T10:00:00Z").addingTimeInterval(Double(index)))
        }
        let first = try await page.get("/chats?state=scheduled").body
        let older = try #require(first.range(of: #"href="/chats?state=scheduled&amp;after="#), "pager link")
        let href = String(first[older.lowerBound...].dropFirst(6).prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
        let second = try await page.get(href).body
        #expect(second.contains("Bulk 0") && !second.contains("Anna Smith"), "the older page")
        #expect(!second.contains("data-live="), "a later page does not jump back to the first")
        #expect(second.contains(#"href="/chats?state=scheduled">Newest chats</a>"#))
        #expect(try await page.get("/chats?after=broken").status == 400)
    }

    @Test func anOperatorRepliesFromTheChatPageAndResumesTheAI() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        _ = try await h.deliver(GatewayHarness.textUpdate("Can I get a late checkout?"))
        try await eventually("AI reply") { h.sentTexts.count == 1 }
        let chat = try #require(try await h.chat)
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        try await page.signIn()

        let html = try await page.get("/chats/\(chat.id)").body
        #expect(html.contains(#"<label for="composer-text" id="composer-title">Reply as Alexey</label>"#))
        #expect(html.contains("AI answering") && html.contains("pauses the AI in this chat for 15 min"))
        #expect(html.contains(#"<ol class="timeline" id="timeline">"#) && html.contains("data-live-chat"))
        let csrf = try #require(PageClient.csrf(in: html))

        let forged = try await page.postForm("/chats/\(chat.id)/messages", [("text", "Hi from a forged form")])
        #expect(forged.status == 403)
        let crossSite = try await page.postForm(
            "/chats/\(chat.id)/messages", [("text", "Hi"), ("csrf", csrf)], headers: [("Sec-Fetch-Site", "cross-site")])
        #expect(crossSite.status == 403)
        #expect(try await page.postForm("/chats/\(chat.id)/messages", [("text", "   "), ("csrf", csrf)]).status == 400)
        #expect(try await h.gateway.store.outbox(chatID: chat.id).count == 1, "refused forms send nothing: only the AI's reply")

        let sent = try await page.postForm("/chats/\(chat.id)/messages", [("text", "Late checkout is fine, until 14:00."), ("csrf", csrf)])
        #expect(sent.status == 303 && sent.location == "/chats/\(chat.id)#composer")
        // Delivered and recorded: the page reads messages and the outbox in separate snapshots, so
        // it is read once the delivery's outcome is stored.
        try await eventually("the operator's message delivered") {
            try await h.gateway.store.messages(chatID: chat.id, limit: 10).contains { $0.author == .operator }
        }
        let paused = try await page.get("/chats/\(chat.id)").body
        #expect(paused.contains("Late checkout is fine, until 14:00.") && paused.contains("Operator (as Alexey)"), "in the history")
        #expect(paused.contains(#"<span class="badge waiting">AI paused</span>"#))
        #expect(paused.contains(#"<time datetime="2026-11-23T06:15:00Z""#), "the pause ends 15 minutes after the message")
        #expect(paused.contains(#"id="resume-ai">Resume AI now</button>"#))
        #expect(try await h.gateway.store.chat(id: chat.id)?.aiPausedUntil == at("2026-11-23T06:15:00Z"))

        #expect(try await page.postForm("/chats/\(chat.id)/resume-ai", []).status == 403, "resuming needs the CSRF token too")
        h.manualClock.advance(by: .seconds(60))
        let resumed = try await page.postForm("/chats/\(chat.id)/resume-ai", [("csrf", csrf)])
        #expect(resumed.status == 303 && resumed.location == "/chats/\(chat.id)#composer")
        #expect(try await h.gateway.store.chat(id: chat.id)?.aiPausedUntil == at("2026-11-23T06:01:00Z"), "the pause ended now")
        let after = try await page.get("/chats/\(chat.id)").body
        #expect(after.contains("AI answering") && after.contains("The AI has answered again since Mon 23 Nov, 09:01."))
        #expect(!after.contains("Resume AI now"))

        // The AI answers the client again at once, not at the old end of the pause.
        _ = try await h.deliver(GatewayHarness.textUpdate("And breakfast?"))
        try await eventually("AI answers after the early resume") { h.sentTexts.count == 3 }
    }

    @Test func theAPIResumesTheAIEarly() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        _ = try await h.deliver(GatewayHarness.textUpdate("Can I get a late checkout?"))
        try await eventually("AI reply") { h.sentTexts.count == 1 }
        let chat = try #require(try await h.chat)
        #expect(try await h.post("/api/chats/\(chat.id)/messages", json: #"{"text": "Sure, until 14:00."}"#).0 == 202)
        h.manualClock.advance(by: .seconds(60))
        // The client writes during the pause: the answer waits for the pause's end…
        _ = try await h.deliver(GatewayHarness.textUpdate("And breakfast?"))
        let owed = try #require(try await h.chat?.replyDueAt)
        #expect(owed >= at("2026-11-23T06:15:00Z"))
        #expect(try await h.post("/api/chats/\(chat.id)/resume-ai", json: "", token: nil).0 == 401)
        #expect(try await h.post("/api/chats/nope/resume-ai", json: "").0 == 404)
        let (status, body) = try await h.post("/api/chats/\(chat.id)/resume-ai", json: "")
        #expect(status == 200)
        let object = try json(body)
        #expect(object["paused"] as? Bool == false && object["ai_paused_until"] as? String == "2026-11-23T06:01:00Z")
        // …and comes now once the operator hands the chat back.
        try await eventually("answer after resume") { h.sentTexts.count == 3 }
        #expect(try await h.post("/api/chats/\(chat.id)/resume-ai", json: "").0 == 200, "resuming an unpaused chat changes nothing")
    }

    @Test func theUsagePageDrawsThirtyDaysPerEmployee() async throws {
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team)
        onTeardown { await h.shutdown() }
        let chat = try await h.seedScheduledChat(key: "u", client: "Usage Client", repliedAt: at("2026-11-23T05:00:00Z"))
        let store = h.gateway.store
        // Alexey works in Moscow (UTC+3): 22:30Z on the 21st is already the 22nd there.
        try await store.recordUsage(
            UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reply, usage: TokenUsage(promptTokens: 1000, completionTokens: 200), model: "m", at: at("2026-11-21T22:30:00Z")))
        try await store.recordUsage(
            UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reminder, usage: TokenUsage(promptTokens: 300, completionTokens: 50), model: "m", at: at("2026-11-23T05:00:00Z")))
        try await store.recordUsage(
            UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reply, usage: TokenUsage(promptTokens: 5, completionTokens: 5), model: "m", at: at("2026-10-01T10:00:00Z")))
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        #expect(try await page.get("/usage").status == 303)
        try await page.signIn()
        let html = try await page.get("/usage").body
        #expect(html.contains(#"<a href="/usage" aria-current="page">Usage</a>"#))
        #expect(html.contains(#"<h2 id="usage-alexey">Alexey</h2>"#) && html.contains(#"<h2 id="usage-maria">Мария</h2>"#))
        #expect(html.contains(#"<svg class="usage-chart""#) && html.contains(#"role="img""#))
        #expect(html.contains("Sun 22 Nov: 1,200 reply tokens, 0 reminder tokens"), "the Moscow day")
        #expect(html.contains("Mon 23 Nov: 0 reply tokens, 350 reminder tokens"))
        #expect(html.contains(#"<tr><th scope="row">Replies</th><td class="num">1,200</td></tr>"#), "the October usage is outside the 30 days")
        #expect(html.contains(#"<tr><th scope="row">Total</th><td class="num">1,550</td></tr>"#))
        #expect(html.contains("Sun 25 Oct – Mon 23 Nov"))
        #expect(!html.contains("<script>"))
        let only = try await page.get("/usage?employee=maria").body
        #expect(only.contains("usage-maria") && !only.contains("usage-alexey"))
    }
}
