import Foundation
import Logging
import SwitchboardCore
import SwitchboardTesting
import Synchronization
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

private func json(_ body: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not a JSON object: \(body)")
}

private func query(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
}

/// Four chats of two employees with reminders scheduled, soonest first:
/// Anna Smith (Мария, 08:00Z), Михаил Сидоров (Мария, 08:30Z), Ольга Иванова (Alexey, 09:30Z),
/// Михаил Петров (Alexey, 10:00Z); and one chat whose client answered (nothing scheduled).
private func seededTeam() async throws -> (GatewayHarness, [String: Chat]) {
    let h = try await GatewayHarness(employeeYAML: GatewayHarness.team)
    var chats: [String: Chat] = [:]
    chats["anna"] = try await h.seedScheduledChat(key: "anna", client: "Anna Smith", title: "Anna Smith (Riverside Hotel)", employee: "maria", repliedAt: at("2026-11-23T06:00:00Z"))
    chats["sidorov"] = try await h.seedScheduledChat(key: "sidorov", client: "Михаил Сидоров", employee: "maria", repliedAt: at("2026-11-23T06:30:00Z"))
    chats["olga"] = try await h.seedScheduledChat(key: "olga", client: "Ольга Иванова", employee: "alexey", repliedAt: at("2026-11-23T05:30:00Z"))
    chats["petrov"] = try await h.seedScheduledChat(key: "petrov", client: "Михаил Петров", employee: "alexey", repliedAt: at("2026-11-23T06:00:00Z"))
    chats["answered"] = try await h.seedScheduledChat(key: "answered", client: "Михаил Answered", employee: "alexey", repliedAt: at("2026-11-23T05:00:00Z"))
    try await h.seedClientAnswer(key: "answered", at: at("2026-11-23T05:10:00Z"))
    return (h, chats)
}

extension GatewayHarness {
    /// Chat titles of `GET /api/followups` with this query, in order.
    func followUpTitles(_ query: String = "") async throws -> [String] {
        let (status, body) = try await get("/api/followups" + (query.isEmpty ? "" : "?" + query))
        #expect(status == 200, "GET /api/followups?\(query): \(body)")
        let items = try #require(try json(body)["items"] as? [[String: Any]])
        return items.compactMap { $0["chat"] as? String }
    }
}

@Suite(.serialized, .awaitedTeardown) struct AdminAPITests {
    @Test func theAPINeedsTheAdminToken() async throws {
        let (h, chats) = try await seededTeam()
        onTeardown { await h.shutdown() }
        let id = try #require(chats["anna"]).id
        for path in ["/api/employees", "/api/followups", "/api/chats/\(id)", "/api/usage?employee=alexey"] {
            #expect(try await h.get(path, token: nil).0 == 401, "\(path) without a token")
            #expect(try await h.get(path, token: "not-the-admin-token-0123456789").0 == 401, "\(path) with a wrong token")
            #expect(try await h.get(path).0 == 200, "\(path) with the token")
        }
        #expect(try await h.post("/api/chats/\(id)/followup", json: #"{"enabled": false}"#, token: nil).0 == 401)
        #expect(try await h.gateway.store.followUpState(chatID: id)?.status == .scheduled, "a refused request changes nothing")
        // A session cookie is for the pages; the API only takes the bearer token.
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        try await page.signIn()
        #expect(try await page.get("/api/followups").status == 401)
    }

    @Test func employeesListEveryEmployeeWithTheirFollowUpSwitch() async throws {
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team)
        onTeardown { await h.shutdown() }
        let (status, body) = try await h.get("/api/employees")
        #expect(status == 200)
        let employees = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]])
        let byID = Dictionary(uniqueKeysWithValues: employees.map { ($0["id"] as? String ?? "", $0) })
        #expect(byID.keys.sorted() == ["alexey", "maria", "sam"])
        #expect(byID["maria"]?["name"] as? String == "Мария")
        #expect(byID["alexey"]?["followup_enabled"] as? Bool == true)
        #expect(byID["sam"]?["followup_enabled"] as? Bool == false)
    }

    @Test func theListIsSoonestFirstWithTheAPIKeysAndUTCTimes() async throws {
        let (h, chats) = try await seededTeam()
        onTeardown { await h.shutdown() }
        let (status, body) = try await h.get("/api/followups")
        #expect(status == 200)
        let object = try json(body)
        #expect(object["total"] as? Int == 4, "the answered chat has nothing scheduled")
        let items = try #require(object["items"] as? [[String: Any]])
        #expect(items.map { $0["chat"] as? String } == ["Anna Smith (Riverside Hotel)", "Михаил Сидоров", "Ольга Иванова", "Михаил Петров"])
        let anna = try #require(items.first)
        for key in ["chat_id", "chat", "client", "employee_id", "employee", "channel", "step", "sends_at"] {
            #expect(anna.keys.contains(key), "item has \(key)")
        }
        #expect(anna["chat_id"] as? String == chats["anna"]?.id)
        #expect(anna["client"] as? String == "Anna Smith")
        #expect(anna["employee_id"] as? String == "maria")
        #expect(anna["employee"] as? String == "Мария")
        #expect(anna["channel"] as? String == "tg")
        #expect(anna["step"] as? Int == 1)
        #expect(anna["sends_at"] as? String == "2026-11-23T08:00:00Z", "ISO 8601, UTC, with a Z")
        #expect(try await h.followUpTitles("limit=2").count == 2)
        #expect(try json(try await h.get("/api/followups?limit=2").1)["total"] as? Int == 4, "total counts beyond the page")
        #expect(try await h.get("/api/followups?limit=0").0 == 400)
    }

    @Test(arguments: [
        ("михаил", ["Михаил Сидоров", "Михаил Петров"]),
        ("МИХАИЛ", ["Михаил Сидоров", "Михаил Петров"]),
        ("  Петров ", ["Михаил Петров"]),
        ("иванова", ["Ольга Иванова"]),
        ("hotel", ["Anna Smith (Riverside Hotel)"]),
        ("SMITH", ["Anna Smith (Riverside Hotel)"]),
        ("мария", ["Anna Smith (Riverside Hotel)", "Михаил Сидоров"]),
        ("alexey", ["Ольга Иванова", "Михаил Петров"]),
        ("nobody", []),
    ])
    func searchMatchesClientEmployeeAndTitleWords(search: String, expected: [String]) async throws {
        let (h, _) = try await seededTeam()
        onTeardown { await h.shutdown() }
        #expect(try await h.followUpTitles("search=" + query(search)) == expected)
        #expect(try await h.followUpTitles("search=" + search.replacingOccurrences(of: " ", with: "+").addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!) == expected, "+ as space")
    }

    @Test func theEmployeeFilterAndSearchCombine() async throws {
        let (h, _) = try await seededTeam()
        onTeardown { await h.shutdown() }
        #expect(try await h.followUpTitles("employee=maria") == ["Anna Smith (Riverside Hotel)", "Михаил Сидоров"])
        #expect(try await h.followUpTitles("employee=alexey") == ["Ольга Иванова", "Михаил Петров"])
        #expect(try await h.followUpTitles("employee=sam").isEmpty)
        #expect(try await h.followUpTitles("employee=maria&search=\(query("михаил"))") == ["Михаил Сидоров"])
        #expect(try await h.followUpTitles("search=\(query("михаил"))&employee=alexey") == ["Михаил Петров"])
        #expect(try await h.followUpTitles("employee=alexey&search=hotel").isEmpty)
        #expect(try await h.followUpTitles("employee=&search=") .count == 4, "empty parameters mean no filter")
        let (status, body) = try await h.get("/api/followups?employee=nobody")
        #expect(status == 400 && body.contains("unknown employee"), "a typo is an error, not an empty list")
    }

    @Test func switchingFollowUpOffCancelsTheReminderAndOnResumesIt() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        _ = try await h.deliver(GatewayHarness.textUpdate("Is parking free?"))
        try await eventually("AI reply") { h.sentTexts.count == 1 }
        let chat = try #require(try await h.chat)
        try await eventually("chain armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled }
        #expect(try await h.followUpTitles() == ["Ana K"])

        let (status, body) = try await h.post("/api/chats/\(chat.id)/followup", json: #"{"enabled": false}"#)
        #expect(status == 200, "\(body)")
        let off = try json(body)
        #expect(off["enabled"] as? Bool == false && off["opt_out"] as? String == "admin" && off["status"] as? String == "cancelled")
        #expect(try await h.followUpTitles().isEmpty, "the cancelled reminder leaves the list")
        let detail = try json(try await h.get("/api/chats/\(chat.id)").1)
        let decisions = try #require(detail["decisions"] as? [[String: Any]])
        #expect(decisions.contains { $0["kind"] as? String == "cancelled" && $0["reason"] as? String == "chat_disabled" })

        // Off stays off: nothing is due, and nothing goes out when the reminder would have been
        // due — by the time another client has been answered at that hour.
        #expect(try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == nil)
        try await h.advanceAndWaitForAnotherClientsAnswer(to: at("2026-11-23T10:00:00Z"))
        #expect(h.sendAttempts(toChat: 4242) == 1)
        #expect(try await h.gateway.store.outbox(chatID: chat.id).map(\.entry.purpose) == [.reply])

        let (onStatus, onBody) = try await h.post("/api/chats/\(chat.id)/followup", json: #"{"enabled": true}"#)
        #expect(onStatus == 200)
        let on = try json(onBody)
        // It resumes from its anchor: already due, so the scheduler may be sending it by now.
        #expect(on["enabled"] as? Bool == true && ["scheduled", "sending"].contains(on["status"] as? String), "\(on)")
        #expect(try await h.followUpTitles("search=ana") == ["Ana K"], "back on the list")

        #expect(try await h.post("/api/chats/nope/followup", json: #"{"enabled": false}"#).0 == 404)
        #expect(try await h.post("/api/chats/\(chat.id)/followup", json: #"{"enabled": "no"}"#).0 == 400)
        #expect(try await h.post("/api/chats/\(chat.id)/followup", json: "not json").0 == 400)
    }

    /// A client writes late in the day: the first reminder is moved to the next morning, sent,
    /// and the client's answer cancels the next one — every decision in the log, every composed
    /// message with its tokens.
    @Test func aChatShowsItsMessagesDecisionsAndTokens() async throws {
        let h = try await GatewayHarness(clock: ManualClock("2026-11-23T13:30:00Z"))  // Monday 16:30 in Moscow
        onTeardown { await h.shutdown() }
        _ = try await h.deliver(GatewayHarness.textUpdate("Do you have a room for Friday?"))
        try await eventually("AI reply") { h.sentTexts.count == 1 }
        let chat = try #require(try await h.chat)
        try await eventually("chain armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled }
        h.openAI.respond(text: "Just checking in about Friday!", promptTokens: 100, completionTokens: 20)
        h.manualClock.advance(to: at("2026-11-24T06:00:00Z"))  // Tuesday 09:00 in Moscow
        try await eventually("reminder") { h.sentTexts.count == 2 }
        // Delivered is not yet recorded: wait for the store to log it before the client answers.
        try await eventually("reminder recorded") { try await h.gateway.store.decisions(chatID: chat.id).contains { $0.kind == .sent } }
        h.manualClock.advance(to: at("2026-11-24T07:00:00Z"))
        h.openAI.respond(text: "Great, see you on Friday.")
        _ = try await h.deliver(GatewayHarness.textUpdate("Yes, still interested"))
        try await eventually("second reply") { h.sentTexts.count == 3 }
        try await eventually("re-armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.run == 2 }

        let (status, body) = try await h.get("/api/chats/\(chat.id)")
        #expect(status == 200)
        let detail = try json(body)
        let info = try #require(detail["chat"] as? [String: Any])
        #expect(info["title"] as? String == "Ana K" && info["employee"] as? String == "Alexey" && info["time_zone"] as? String == "Europe/Moscow")

        let messages = try #require(detail["messages"] as? [[String: Any]])
        #expect(messages.map { $0["author"] as? String } == ["client", "employee", "employee", "client", "employee"])
        #expect(messages.map { $0["text"] as? String }.contains("Just checking in about Friday!"))
        let reminder = try #require(messages.first { $0["followup_step"] as? Int == 1 })
        let reminderUsage = try #require(reminder["usage"] as? [String: Any])
        #expect(reminderUsage["prompt_tokens"] as? Int == 100 && reminderUsage["completion_tokens"] as? Int == 20 && reminderUsage["total_tokens"] as? Int == 120)
        #expect((messages[1]["usage"] as? [String: Any])?["total_tokens"] as? Int == 51, "the reply's tokens")
        #expect(messages[0]["usage"] is NSNull, "nobody composed the client's message")

        let decisions = try #require(detail["decisions"] as? [[String: Any]])
        let log = decisions.map { "\($0["kind"] as? String ?? "?"):\($0["reason"] as? String ?? "?")" }
        #expect(log.contains("deferred:outside_working_hours"), "moved by working hours: \(log)")
        #expect(log.contains { $0.hasPrefix("sent:") }, "sent: \(log)")
        #expect(log.contains("cancelled:client_replied"), "cancelled by the client's answer: \(log)")
        let deferred = try #require(decisions.first { $0["kind"] as? String == "deferred" })
        #expect(deferred["due"] as? String == "2026-11-23T17:30:00Z" && deferred["sends_at"] as? String == "2026-11-24T06:00:00Z")

        let usage = try #require(detail["usage"] as? [String: Any])
        #expect(usage["total_tokens"] as? Int == 51 + 120 + 51 && usage["compositions"] as? Int == 3)
        let followup = try #require(detail["followup"] as? [String: Any])
        #expect(followup["enabled"] as? Bool == true && followup["status"] as? String == "scheduled" && followup["step"] as? Int == 1)

        #expect(try await h.get("/api/chats/unknown").0 == 404)
    }

    @Test func usageSumsAnEmployeesTokensPerDayOfItsCalendar() async throws {
        let h = try await GatewayHarness(employeeYAML: GatewayHarness.team, clock: ManualClock("2026-11-24T12:00:00Z"))
        onTeardown { await h.shutdown() }
        let chat = try await h.seedScheduledChat(key: "u", client: "Usage Client", repliedAt: at("2026-11-23T06:00:00Z"))
        let records: [(String, String, Int, Int, UsagePurpose)] = [
            ("alexey", "2026-11-22T20:30:00Z", 10, 1, .reply),  // Sunday 23:30 in Moscow
            ("alexey", "2026-11-22T21:30:00Z", 20, 2, .reminder),  // Monday 00:30 in Moscow
            ("alexey", "2026-11-23T12:00:00Z", 40, 4, .reminder),
            ("alexey", "2026-11-24T08:00:00Z", 80, 8, .reply),
            ("maria", "2026-11-23T12:00:00Z", 1000, 100, .reply),
        ]
        for (employee, time, prompt, completion, purpose) in records {
            try await h.gateway.store.recordUsage(UsageRecord(
                employeeID: employee, chatID: chat.id, purpose: purpose, usage: TokenUsage(promptTokens: prompt, completionTokens: completion), model: "m", at: at(time)))
        }

        let all = try json(try await h.get("/api/usage?employee=alexey").1)
        #expect(all["employee_id"] as? String == "alexey")
        #expect(all["prompt_tokens"] as? Int == 150 && all["completion_tokens"] as? Int == 15 && all["total_tokens"] as? Int == 165)
        let days = try #require(all["by_day"] as? [[String: Any]])
        #expect(days.map { $0["date"] as? String } == ["2026-11-22", "2026-11-23", "2026-11-24"], "Moscow days, not UTC days")
        #expect(days.map { $0["total_tokens"] as? Int } == [11, 22 + 44, 88])
        let purposes = try #require(all["by_purpose"] as? [String: [String: Any]])
        #expect(purposes["reminder"]?["total_tokens"] as? Int == 66 && purposes["reply"]?["total_tokens"] as? Int == 99)

        let monday = try json(try await h.get("/api/usage?employee=alexey&from=2026-11-23&to=2026-11-23").1)
        #expect(monday["total_tokens"] as? Int == 66, "to is inclusive and both are Moscow days")
        #expect((monday["by_day"] as? [[String: Any]])?.count == 1)
        #expect(monday["from"] as? String == "2026-11-22T21:00:00Z" && monday["to"] as? String == "2026-11-23T21:00:00Z")
        let instants = try json(try await h.get("/api/usage?employee=alexey&from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z").1)
        #expect(instants["total_tokens"] as? Int == 44)

        #expect(try await h.get("/api/usage").0 == 400, "the employee is required")
        #expect(try await h.get("/api/usage?employee=nobody").0 == 404)
        #expect(try await h.get("/api/usage?employee=alexey&from=yesterday").0 == 400)
        #expect(try await h.get("/api/usage?employee=alexey&from=2026-11-24&to=2026-11-23").0 == 400)
    }

    @Test func theAdminTokenNeverReachesTheLogs() async throws {
        let sink = LogCapture()
        let h = try await GatewayHarness(logger: sink.logger(level: .trace))
        onTeardown { await h.shutdown() }
        let page = h.pageClient()
        onTeardown { await page.shutdown() }
        let wrong = "wrong-token-that-is-secret-too-42"
        _ = try await page.signIn(token: wrong)
        _ = try await page.signIn()
        _ = try await page.get("/followups")
        _ = try await h.get("/api/followups?search=x")
        _ = try await h.get("/api/followups", token: wrong)
        _ = try await h.deliver(GatewayHarness.textUpdate("Hello"))
        try await eventually("AI reply") { h.sentTexts.count == 1 }
        let chat = try #require(try await h.chat)
        _ = try await h.post("/api/chats/\(chat.id)/followup", json: #"{"enabled": false}"#)
        let lines = sink.all
        #expect(lines.count > 5, "something was logged at trace level")
        #expect(!lines.contains { $0.contains(GatewayHarness.adminToken) }, "the admin token was logged")
        #expect(!lines.contains { $0.contains(wrong) }, "a presented token was logged")
        #expect(!lines.contains { $0.contains(page.sessionCookie?.split(separator: "=").last.map(String.init) ?? "<none>") }, "a session id was logged")
    }
}
