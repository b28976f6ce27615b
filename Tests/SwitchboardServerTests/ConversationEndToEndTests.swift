import Foundation
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

@Suite(.serialized, .awaitedTeardown) struct ConversationEndToEndTests {
    /// The issue's story: a client writes, the AI answers, reminders 1, 2, 3 follow at their
    /// planned times — a client reply cancels the next one, the chain restarts skipping the
    /// once-per-chat step, and a client who blocks the bot gets no further attempts.
    @Test func aConversationWithWorkingFollowUps() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let clock = h.manualClock  // Monday 09:00 Moscow

        let (status, _) = try await h.deliver(GatewayHarness.textUpdate("Hi, is breakfast included?"))
        #expect(status == 200)
        try await eventually("AI reply sent") { h.sentTexts == ["Hello from Alexey"] }
        let chat = try #require(try await h.chat)
        #expect(chat.title == "Ana K")
        try await eventually("chain armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == at("2026-11-23T10:00:00Z") }

        h.openAI.respond(text: "Just checking in — we're here if you need anything!")
        clock.advance(to: at("2026-11-23T10:00:00Z"))
        try await eventually("reminder 1") { h.sentTexts.count == 2 }
        let reminderPrompt = try #require(h.openAI.requests.last).messages.map(\.content).joined(separator: "\n")
        #expect(reminderPrompt.contains("Remind the user that we're available and ready to help"), "composed from the step instruction")
        #expect(reminderPrompt.contains("Hi, is breakfast included?"), "with the conversation")
        #expect(h.sentTexts[1] == "Just checking in — we're here if you need anything!", "the LLM's words, not the instruction")

        // Time moves on only once the gateway has recorded the send (its time anchors step 2).
        try await eventually("step 2 planned") { try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == at("2026-11-24T10:00:00Z") }
        clock.advance(to: at("2026-11-24T10:00:00Z"))  // +24 h after reminder 1 was sent
        try await eventually("reminder 2") { h.sentTexts.count == 3 }
        try await eventually("step 3 planned") { try await h.gateway.store.followUpState(chatID: chat.id)?.step == 3 }

        // The client answers before reminder 3: it is cancelled, and the AI answers again.
        clock.advance(to: at("2026-11-24T11:00:00Z"))
        h.openAI.respond(text: "Yes, breakfast is included.")
        _ = try await h.deliver(GatewayHarness.textUpdate("Yes it is"))
        try await eventually("second AI reply") { h.sentTexts.count == 4 }
        try await eventually("run 2 armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.run == 2 }
        let decisions = try await h.gateway.store.decisions(chatID: chat.id)
        #expect(decisions.contains { $0.kind == .cancelled && $0.reason == .clientReplied && $0.step == 3 })

        // Run 2: step 1 (4 h, Tue 14:00 + 4 h = 18:00, closed → Wed 09:00), then step 3 — step 2 fired in run 1.
        #expect(try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == at("2026-11-25T06:00:00Z"))
        clock.advance(to: at("2026-11-25T06:00:00Z"))
        try await eventually("run 2 reminder 1") { h.sentTexts.count == 5 }
        try await eventually("step 3 planned") { try await h.gateway.store.followUpState(chatID: chat.id)?.step == 3 }
        #expect(try await h.gateway.store.followUpState(chatID: chat.id)?.due == at("2026-11-27T06:00:00Z"))

        // The client blocks the bot: the attempt fails with 403 and nothing more is tried.
        h.telegram.script("sendMessage", .blocked)
        clock.advance(to: at("2026-11-27T06:00:00Z"))
        try await eventually("chat unreachable") { try await h.chat?.unreachable == true }
        try await eventually("the chain stopped") {
            let state = try await h.gateway.store.followUpState(chatID: chat.id)
            return state?.lastReason == .chatUnreachable && state?.sendsAt == nil
        }
        #expect(try await h.gateway.store.outbox(chatID: chat.id).allSatisfy { $0.status != .pending && $0.status != .sending }, "nothing left to retry")
        let attempts = h.sendAttempts(toChat: 4242)
        // Two weeks on, the gateway answers another client — and has tried nothing more here.
        try await h.advanceAndWaitForAnotherClientsAnswer(to: at("2026-12-10T06:00:00Z"))
        #expect(h.sendAttempts(toChat: 4242) == attempts)
        let usage = try await h.gateway.store.usage(chatID: chat.id)
        // Two replies and four reminders composed (the last one could not be delivered).
        #expect(usage.count == 6 && usage.allSatisfy { $0.usage.promptTokens == 42 }, "every composition's tokens recorded")
    }

    @Test func webhookAuthenticationBodiesAndDuplicates() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let update = GatewayHarness.textUpdate("Hello", updateID: 77)

        #expect(try await h.deliver(update, secret: nil).0 == 401)
        #expect(try await h.deliver(update, secret: "tg_wrong-secret_0123").0 == 401)
        #expect(try await h.chat == nil, "a refused webhook stores nothing")
        #expect(try await h.deliver("{not json", secret: GatewayHarness.secret).0 == 400)
        let huge = GatewayHarness.textUpdate(String(repeating: "a", count: 2 << 20))
        #expect(try await h.deliver(huge).0 == 413)
        #expect(try await h.deliver(update, path: "/webhooks/nope").0 == 404)

        #expect(try await h.deliver(update).0 == 200)
        #expect(try await h.deliver(update).0 == 200, "a provider retry is acknowledged")
        let chat = try #require(try await h.chat)
        try await eventually("reply") { h.sentTexts.count == 1 }
        let messages = try await h.gateway.store.messages(chatID: chat.id, limit: 10)
        #expect(messages.filter { $0.author == .client }.count == 1, "and not stored twice")
        // The chain is armed once the answer is recorded as sent; by then one answer is all
        // the outbox ever held, so there is no second one on its way.
        try await eventually("chain armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled }
        #expect(try await h.gateway.store.outbox(chatID: chat.id).map(\.entry.purpose) == [.reply], "nor answered twice")
        #expect(h.sentTexts.count == 1)
        let (_, metrics) = try await h.get("/metrics", token: nil)
        for series in [
            #"switchboard_webhook_requests_total{channel="tg",status="401"} 2"#, #"switchboard_webhook_requests_total{channel="tg",status="200"} 2"#,
            #"switchboard_inbound_messages_total{channel="tg",outcome="stored"}"#, #"switchboard_outbound_messages_total{channel="tg",outcome="delivered"} 1"#,
            #"switchboard_composer_calls_total{purpose="reply",outcome="ok"} 1"#, #"switchboard_composer_tokens_total{purpose="reply",kind="prompt"} 42"#,
            #"switchboard_followup_decisions_total{kind="scheduled",reason="employee_message"} 1"#, "switchboard_composer_latency_seconds",
        ] {
            #expect(metrics.contains(series), "metrics lack \(series)")
        }
    }

    @Test func outsideWorkingHoursTheAutoReplyGoesOncePerClosedPeriodAndTheAnswerComesInTheMorning() async throws {
        let h = try await GatewayHarness(clock: ManualClock("2026-11-28T10:00:00Z"))  // Saturday
        onTeardown { await h.shutdown() }
        _ = try await h.deliver(GatewayHarness.textUpdate("Anyone there?"))
        try await eventually("auto-reply") { h.sentTexts == ["We are closed now and will answer in the morning."] }
        h.manualClock.advance(by: .seconds(3600))
        // The answer to a message is decided (and any auto-reply queued) before the webhook
        // gets its 200, so the outbox already shows everything this message caused.
        #expect(try await h.deliver(GatewayHarness.textUpdate("Hello??")).0 == 200)
        let chat = try #require(try await h.chat)
        #expect(try await h.gateway.store.outbox(chatID: chat.id).map(\.entry.purpose) == [.autoReply], "once per closed period, not after every message")
        #expect(try await h.chat?.replyDueAt == at("2026-11-30T06:00:00Z"), "the answer waits for Monday 09:00")
        #expect(h.openAI.requests.isEmpty, "silent until working hours")

        h.manualClock.advance(to: at("2026-11-30T06:00:00Z"))  // Monday 09:00 Moscow
        try await eventually("morning answer") { h.sentTexts.count == 2 }
        #expect(h.sentTexts[1] == "Hello from Alexey")
        // The next closed period gets its own auto-reply.
        h.manualClock.advance(to: at("2026-11-30T16:00:00Z"))
        _ = try await h.deliver(GatewayHarness.textUpdate("One more thing"))
        try await eventually("second period auto-reply") { h.sentTexts.count == 3 }
        #expect(h.sentTexts[2] == "We are closed now and will answer in the morning.")
    }

    @Test func anOperatorMessagePausesTheAIAndArmsTheChain() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        _ = try await h.deliver(GatewayHarness.textUpdate("Can I get a late checkout?"))
        try await eventually("AI reply") { h.sentTexts.count == 1 }
        let chat = try #require(try await h.chat)

        #expect(try await h.post("/api/chats/\(chat.id)/messages", json: #"{"text": "Sure, until 14:00."}"#, token: nil).0 == 401)
        #expect(try await h.post("/api/chats/\(chat.id)/messages", json: #"{"text": "Sure, until 14:00."}"#, token: "wrong-token-wrong-token").0 == 401)
        #expect(try await h.post("/api/chats/nope/messages", json: #"{"text": "x"}"#).0 == 404)
        #expect(try await h.post("/api/chats/\(chat.id)/messages", json: #"{"text": "Sure, until 14:00."}"#).0 == 202)
        try await eventually("operator message sent") { h.sentTexts.count == 2 }
        #expect(h.sentTexts[1] == "Sure, until 14:00.")
        // An operator's message arms the chain like the employee's.
        try await eventually("chain re-armed by the operator") { try await h.gateway.store.followUpState(chatID: chat.id)?.run == 2 }
        #expect(try await h.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled)

        h.manualClock.advance(by: .seconds(5 * 60))
        // Whether and when to answer is decided before the webhook gets its 200.
        #expect(try await h.deliver(GatewayHarness.textUpdate("Thanks!")).0 == 200)
        let paused = try #require(try await h.chat)
        let pauseEnds = try #require(paused.aiPausedUntil)
        #expect(paused.replyDueAt.map { $0 >= pauseEnds } ?? true, "the AI stays quiet during the operator pause")
        #expect(try await h.gateway.store.outbox(chatID: chat.id).count == 2, "nothing new queued: the reply and the operator's message")

        h.manualClock.advance(by: .seconds(11 * 60))
        _ = try await h.deliver(GatewayHarness.textUpdate("And breakfast?"))
        try await eventually("AI resumes after the pause") { h.sentTexts.count == 3 }
    }

    @Test func rateLimitedSendsWaitForRetryAfter() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        h.telegram.script("sendMessage", .tooManyRequests(retryAfter: 30), .serverError)
        _ = try await h.deliver(GatewayHarness.textUpdate("Hello"))
        // Time moves only once each failure is recorded: its retry time counts from then.
        try await eventually("first attempt (429) recorded") {
            let outbox = try await h.gateway.store.outbox(chatID: try await h.chat?.id ?? "")
            return outbox.first?.attempts == 1 && outbox.first?.status == .pending
        }
        let failedAt = h.manualClock.now()
        let chat = try #require(try await h.chat)
        let retry = try #require(try await h.gateway.store.outbox(chatID: chat.id).first)
        #expect(retry.nextAttemptAt == failedAt.addingTimeInterval(30), "not before retry_after")
        #expect(h.telegram.calls("sendMessage").count == 1)
        h.manualClock.advance(by: .seconds(30))
        try await eventually("second attempt (500) recorded") {
            let chat = try await h.chat
            let outbox = try await h.gateway.store.outbox(chatID: chat?.id ?? "")
            return outbox.first?.attempts == 2 && outbox.first?.status == .pending
        }
        h.manualClock.advance(by: .seconds(60))
        try await eventually("delivered") { h.sentTexts == ["Hello from Alexey"] }
    }

    /// `time_scale: 3600` turns a chain of three 60-minute steps into about three seconds. What
    /// the test checks is scaled time, not the machine's speed: each reminder goes out in order
    /// and no sooner than its 60 simulated minutes after the message before it.
    @Test func aScaledClockPlaysAChainOutInSeconds() async throws {
        let employee = GatewayHarness.hourlyChain
        let h = try await GatewayHarness(employeeYAML: employee, clock: ScaledClock(scale: 3600, startingAt: at("2026-11-23T06:00:00Z")))
        onTeardown { await h.shutdown() }
        _ = try await h.deliver(GatewayHarness.textUpdate("Hello"))
        let chat = try #require(try await h.chat)
        try await eventually(timeout: .seconds(30), "reply + three reminders recorded") {
            try await h.gateway.store.messages(chatID: chat.id, limit: 50).filter { $0.followUpStep != nil }.count == 3
        }
        #expect(h.sentTexts.count == 4, "reply + three reminders")
        let sent = try await h.gateway.store.messages(chatID: chat.id, limit: 50).filter { $0.author == .employee }
        #expect(sent.map(\.followUpStep) == [nil, 1, 2, 3], "the reply, then steps 1, 2, 3 in order")
        for (previous, reminder) in zip(sent, sent.dropFirst()) {
            // (A second of slack for the store rounding instants.)
            #expect(reminder.at.timeIntervalSince(previous.at) >= 3599, "step \(reminder.followUpStep ?? 0) came before its 60 simulated minutes")
        }
    }
}
