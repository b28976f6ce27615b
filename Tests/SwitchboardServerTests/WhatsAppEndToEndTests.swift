import Foundation
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

private typealias Payload = FakeGraphAPI.Payload

/// A gateway with a WhatsApp channel `wa` pointed at a fake Graph API, Meta's webhook side
/// included. Alexey works around the clock (UTC), so only the 24-hour window moves reminders.
private struct WhatsAppRig {
    let h: GatewayHarness
    let graph: FakeGraphAPI
    static let client = "16505551234"
    static let verifyToken = "wa-verify-token-0123"

    /// - Parameters:
    ///   - steps: the chain's delays in hours.
    ///   - window: the channel's `window:` block, as YAML flow text.
    static func start(steps: [Int] = [4, 24], window: String = "{ pull_in: true }", extra: String = "") async throws -> WhatsAppRig {
        let graph = FakeGraphAPI()
        let apiBase = try await graph.start()
        let stepsYAML = steps.enumerated().map { "            - { delay: { hours: \($1) }, instruction: \"Check in \($0 + 1)\" }" }.joined(separator: "\n")
        let employee = """
              - id: alexey
                name: Alexey
                auto_followup:
                  steps:
            \(stepsYAML)
            """
        let channel = """
            type: whatsapp
            id: wa
            employee: alexey
            phone_number_id: "\(FakeGraphAPI.defaultPhoneNumberID)"
            access_token: \(FakeGraphAPI.defaultAccessToken)
            app_secret: \(FakeGraphAPI.defaultAppSecret)
            verify_token: \(verifyToken)
            api_base: \(apiBase)
            window: \(window)
            \(extra)
            """
        let h = try await GatewayHarness(employeeYAML: employee, channelFiles: ["whatsapp.yaml": channel])
        graph.connectWebhook(url: h.baseURL + "/webhooks/wa")
        return WhatsAppRig(h: h, graph: graph)
    }

    func shutdown() async {
        await h.shutdown()
        await graph.stop()
    }

    var store: any Store { h.gateway.store }

    var chat: Chat? { get async throws { try await store.chat(channelID: "wa", conversationKey: Self.client) } }

    func state() async throws -> FollowUpState? {
        guard let chat = try await chat else { return nil }
        return try await store.followUpState(chatID: chat.id)
    }

    func decisions() async throws -> [FollowUpDecision] {
        guard let chat = try await chat else { return [] }
        return try await store.decisions(chatID: chat.id)
    }

    func say(_ text: String) async throws -> Int {
        try await graph.postWebhook(Payload.batch(messages: [.text(text, from: Self.client, name: "Sheena N")])).status
    }

    /// The client writes at 06:00, Alexey answers, and reminder 1 goes out free-form at 10:00,
    /// inside the window (which closes at 06:00 the next day).
    func playUntilReminderOne() async throws -> Chat {
        #expect(try await say("Does it come in blue?") == 200)
        try await eventually("the answer") { graph.sentTexts == ["Hello from Alexey"] }
        let chat = try #require(try await chat)
        #expect(chat.title == "Sheena N", "contacts[].profile.name names the chat")
        try await eventually("step 1 planned") { try await state()?.sendsAt == at("2026-11-23T10:00:00Z") }
        #expect(try await state()?.delivery == .freeForm)
        h.openAI.respond(text: "Just checking in about the blue one!")
        h.manualClock.advance(to: at("2026-11-23T10:00:00Z"))
        try await eventually("reminder 1") { graph.sent.count == 2 }
        #expect(graph.sent[1].type == "text" && graph.sent[1].text == "Just checking in about the blue one!", "step 1 is free-form inside the window")
        try await eventually("step 2 planned") {
            let state = try await state()
            return state?.step == 2 || state?.status == .finished
        }
        return chat
    }
}

@Suite(.serialized, .awaitedTeardown) struct WhatsAppEndToEndTests {
    // MARK: - The window

    /// The bug in the issue: the planner must get the chat's facts when a reminder is recorded
    /// as sent. Without them the window's deadline is "long past" and step 2 — 20 hours after
    /// the client wrote — would be templated or skipped instead of going out free-form.
    @Test func stepTwoInsideTheWindowGoesOutFreeForm() async throws {
        let rig = try await WhatsAppRig.start(steps: [4, 16], window: "{ pull_in: false }")
        onTeardown { await rig.shutdown() }
        _ = try await rig.playUntilReminderOne()
        let state = try #require(try await rig.state())
        #expect(state.step == 2 && state.sendsAt == at("2026-11-24T02:00:00Z") && state.delivery == .freeForm, "\(state)")
        rig.h.openAI.respond(text: "Still thinking about it?")
        rig.h.manualClock.advance(to: at("2026-11-24T02:00:00Z"))
        try await eventually("reminder 2") { rig.graph.sent.count == 3 }
        #expect(rig.graph.sent[2].type == "text" && rig.graph.sent[2].text == "Still thinking about it?")
        let reasons = try await rig.decisions().map(\.reason)
        #expect(!reasons.contains(.windowClosed) && !reasons.contains(.reengagementTemplate) && !reasons.contains(.pulledIntoWindow), "\(reasons)")
    }

    /// Step 2 (24 h after reminder 1, i.e. 28 h after the client wrote) would land after the
    /// window: with `pull_in` it goes out free-form at 05:55, five minutes before it closes.
    @Test func stepTwoIsPulledIntoTheWindow() async throws {
        let rig = try await WhatsAppRig.start(window: "{ pull_in: true, template: { name: followup_reengage, language: en_US } }")
        onTeardown { await rig.shutdown() }
        let chat = try await rig.playUntilReminderOne()
        #expect(try await rig.state()?.sendsAt == at("2026-11-24T05:55:00Z"))
        let pulled = try await rig.decisions().first { $0.kind == .deferred && $0.step == 2 }
        #expect(pulled?.reason == .pulledIntoWindow, "the decision log says why")
        rig.h.openAI.respond(text: "Last chance to reserve the blue one today!")
        rig.h.manualClock.advance(to: at("2026-11-24T05:55:00Z"))
        try await eventually("reminder 2") { rig.graph.sent.count == 3 }
        #expect(rig.graph.sent[2].type == "text" && rig.graph.sent[2].text == "Last chance to reserve the blue one today!")
        let (status, body) = try await rig.h.get("/api/chats/\(chat.id)")
        #expect(status == 200 && body.contains("pulled_into_window"), "\(body)")
    }

    /// Without `pull_in`, step 2 goes out as the approved template at its own time.
    @Test func stepTwoIsSentAsTheTemplate() async throws {
        let rig = try await WhatsAppRig.start(
            window: #"{ pull_in: false, template: { name: followup_reengage, language: en_US, parameters: ["{client_name}", "{employee_name}"] } }"#)
        onTeardown { await rig.shutdown() }
        _ = try await rig.playUntilReminderOne()
        let state = try #require(try await rig.state())
        #expect(state.sendsAt == at("2026-11-24T10:00:00Z") && state.delivery == .template("followup_reengage"), "\(state)")
        #expect(try await rig.decisions().contains { $0.kind == .deferred && $0.reason == .reengagementTemplate && $0.step == 2 })
        rig.h.manualClock.advance(to: at("2026-11-24T10:00:00Z"))
        try await eventually("the template") { rig.graph.sent.count == 3 }
        let template = rig.graph.sent[2]
        #expect(template.type == "template" && template.templateName == "followup_reengage" && template.templateLanguage == "en_US")
        #expect(template.templateParameters == ["Sheena N", "Alexey"])
        try await eventually("the chain finished") { try await rig.state()?.status == .finished }
    }

    /// With neither, step 2 is skipped with `window_closed` and nothing goes out.
    @Test func stepTwoIsSkippedWhenNothingIsAllowed() async throws {
        let rig = try await WhatsAppRig.start(window: "{ pull_in: false }")
        onTeardown { await rig.shutdown() }
        _ = try await rig.playUntilReminderOne()
        #expect(try await rig.state()?.status == .finished)
        #expect(try await rig.decisions().contains { $0.kind == .skipped && $0.reason == .windowClosed && $0.step == 2 })
        // A day later the gateway has answered another client, and written nothing more here.
        try await rig.h.advanceAndWaitForAnotherClientsAnswer(to: at("2026-11-24T12:00:00Z"))
        #expect(rig.graph.sent.count == 2)
    }

    /// A client message reopens the window: the next run plans free-form again.
    @Test func aClientMessageReopensTheWindow() async throws {
        let rig = try await WhatsAppRig.start(window: "{ pull_in: false }")
        onTeardown { await rig.shutdown() }
        _ = try await rig.playUntilReminderOne()
        rig.h.manualClock.advance(to: at("2026-11-25T09:00:00Z"))
        rig.h.openAI.respond(text: "Great to hear from you again!")
        #expect(try await rig.say("Back again — still have the blue one?") == 200)
        try await eventually("the answer") { rig.graph.sent.count == 3 }
        try await eventually("run 2 planned") {
            let state = try await rig.state()
            return state?.run == 2 && state?.status == .scheduled
        }
        let state = try #require(try await rig.state())
        #expect(state.sendsAt == at("2026-11-25T13:00:00Z") && state.delivery == .freeForm)
    }

    // MARK: - 131047 from the provider

    /// Meta accepts the free-form reminder, then reports it failed with 131047: the step goes
    /// the template path, and the failure shows on the message.
    @Test func anAsynchronous131047SendsTheTemplate() async throws {
        let rig = try await WhatsAppRig.start(window: "{ pull_in: true, template: { name: followup_reengage, language: en_US } }")
        onTeardown { await rig.shutdown() }
        #expect(try await rig.say("Does it come in blue?") == 200)
        try await eventually("the answer") { rig.graph.sent.count == 1 }
        try await eventually("step 1 planned") { try await rig.state()?.status == .scheduled }
        rig.graph.script(.acceptThenFail(code: 131047, title: "Re-engagement message"))
        rig.h.manualClock.advance(to: at("2026-11-23T10:00:00Z"))
        try await eventually("reminder 1 recorded") { try await rig.state()?.step == 2 }
        #expect(try await rig.graph.deliverQueuedStatuses() == 200)
        try await eventually("the template in its place") { rig.graph.sent.last?.type == "template" }
        let chat = try #require(try await rig.chat)
        let refused = try #require(try await rig.store.messages(chatID: chat.id, limit: 20).first { $0.followUpStep == 1 && $0.deliveryState == .failed })
        #expect(refused.deliveryError == "131047: Re-engagement message")
        #expect(try await rig.decisions().contains { $0.kind == .deferred && $0.reason == .reengagementTemplate && $0.step == 1 })
        let (_, body) = try await rig.h.get("/api/chats/\(chat.id)")
        #expect(body.contains("131047: Re-engagement message"), "visible in the admin API")
    }

    /// The same with no template configured: the step is recorded as skipped, not silently lost.
    @Test func anAsynchronous131047WithoutATemplateIsRecordedAsSkipped() async throws {
        let rig = try await WhatsAppRig.start(window: "{ pull_in: true }")
        onTeardown { await rig.shutdown() }
        #expect(try await rig.say("Does it come in blue?") == 200)
        try await eventually("step 1 planned") { try await rig.state()?.status == .scheduled }
        rig.graph.script(.acceptThenFail(code: 131047, title: "Re-engagement message"))
        rig.h.manualClock.advance(to: at("2026-11-23T10:00:00Z"))
        try await eventually("reminder 1 recorded") { try await rig.state()?.step == 2 }
        #expect(try await rig.graph.deliverQueuedStatuses() == 200)
        try await eventually("skipped with its reason") {
            try await rig.decisions().contains { $0.kind == .skipped && $0.reason == .windowClosed && $0.step == 1 }
        }
    }

    /// Meta refuses the free-form reminder at once (HTTP 400, 131047): never retried as
    /// free-form; the template goes instead, or the step is skipped and the chain moves on.
    @Test(arguments: [true, false])
    func aSynchronous131047IsNotRetriedAsFreeForm(withTemplate: Bool) async throws {
        let window = withTemplate ? "{ pull_in: true, template: { name: followup_reengage, language: en_US } }" : "{ pull_in: true }"
        let rig = try await WhatsAppRig.start(steps: [4, 4], window: window)
        onTeardown { await rig.shutdown() }
        #expect(try await rig.say("Does it come in blue?") == 200)
        try await eventually("step 1 planned") { try await rig.state()?.status == .scheduled }
        rig.graph.script(.windowClosed)
        rig.h.manualClock.advance(to: at("2026-11-23T10:00:00Z"))
        try await eventually("step 1's decision") {
            try await rig.decisions().contains { $0.step == 1 && [.windowClosed, .reengagementTemplate].contains($0.reason) }
        }
        let decision = try #require(try await rig.decisions().first { $0.step == 1 && [.windowClosed, .reengagementTemplate].contains($0.reason) })
        // The chain moved on: step 2 (due 10:00 too, counted from the same anchor) goes out.
        try await eventually("step 2") { rig.graph.sent.contains { $0.text == "Hello from Alexey" && $0.wamid != rig.graph.sent.first?.wamid } }
        if withTemplate {
            #expect(decision.kind == .deferred && decision.reason == .reengagementTemplate)
            try await eventually("the template") { rig.graph.sent.contains { $0.type == "template" } }
        } else {
            #expect(decision.kind == .skipped && decision.reason == .windowClosed)
        }
        #expect(rig.graph.calls.filter { $0.type == "text" && $0.errorCode == 131047 }.count == 1, "one refused attempt, no retry")
        let chat = try #require(try await rig.chat)
        let outbox = try await rig.store.outbox(chatID: chat.id)
        #expect(outbox.contains { $0.status == .dead && $0.lastError?.contains("131047") == true }, "the refused text is visible as a dead letter")
    }

    // MARK: - Webhook intake

    @Test func verificationHandshakeThroughTheGateway() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        let ok = try await rig.graph.verify(token: WhatsAppRig.verifyToken, challenge: "1158201444")
        #expect(ok.status == 200 && ok.body == "1158201444")
        #expect(ok.contentType?.hasPrefix("text/plain") == true)
        #expect(try await rig.graph.verify(token: "wrong", challenge: "1158201444").status == 403)
        #expect(try await rig.graph.verify(token: WhatsAppRig.verifyToken, challenge: "1", mode: "unsubscribe").status == 403)
    }

    @Test func duplicatesAreAcknowledgedAndStoredOnce() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        let body = Payload.batch(messages: [.text("Hi", from: WhatsAppRig.client, name: "Sheena N", id: "wamid.DUP1")])
        #expect(try await rig.graph.postWebhook(body).status == 200)
        #expect(try await rig.graph.postWebhook(body).status == 200, "Meta's retry is acknowledged")
        let chat = try #require(try await rig.chat)
        try await eventually("answered") { rig.graph.sent.count == 1 }
        try await eventually("chain armed") { try await rig.state()?.status == .scheduled }
        let messages = try await rig.store.messages(chatID: chat.id, limit: 10)
        #expect(messages.filter { $0.author == .client }.count == 1)
        #expect(try await rig.store.outbox(chatID: chat.id).count == 1, "and answered once")
    }

    @Test func signatureFailuresAndBadBodiesStoreNothing() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        let body = Payload.batch(messages: [.text("Hi", from: WhatsAppRig.client)])
        #expect(try await rig.graph.postWebhook(body, signature: .missing).status == 401)
        #expect(try await rig.graph.postWebhook(body, signature: .wrongSecret).status == 401)
        #expect(try await rig.graph.postWebhook(body, signature: .header("sha256=")).status == 401)
        #expect(try await rig.graph.postWebhook(body, signature: .header("sha1=abc")).status == 401)
        #expect(try await rig.graph.postWebhook("{not json").status == 400)
        #expect(try await rig.graph.postWebhook(#"{"object":"whatsapp_business_account","entry":{}}"#).status == 400)
        #expect(try await rig.chat == nil, "nothing stored")
        #expect(try await rig.store.chat(channelID: "wa", conversationKey: WhatsAppRig.client) == nil)

        // Meta's largest payload (3 MB) is taken; anything over max_body_bytes (4 MiB) is 413.
        let batch = Payload.batch(messages: [.text("Big batch", from: WhatsAppRig.client)])
        let threeMB = String(batch.dropLast()) + String(repeating: " ", count: 3_000_000 - batch.utf8.count) + "}"
        #expect(threeMB.utf8.count == 3_000_000)
        #expect(try await rig.graph.postWebhook(threeMB).status == 200)
        try await eventually("stored") { try await rig.chat != nil }
        let tooBig = String(batch.dropLast()) + String(repeating: " ", count: (4 << 20) + 1 - batch.utf8.count) + "}"
        #expect(try await rig.graph.postWebhook(tooBig).status == 413)
        #expect(try await rig.h.get("/readyz", token: nil).0 == 200, "bad input leaves the gateway ready")
    }

    @Test func aBatchOfManyClientsIsStoredBeforeThe200() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        let messages = (0..<60).map { Payload.Message.text("Hello \($0)", from: "4915110000\(String(format: "%02d", $0 % 20))", name: "Client \($0 % 20)") }
        let statuses = [FakeGraphAPI.Status(wamid: "wamid.NEVER-SENT", status: "read")]
        #expect(try await rig.graph.postWebhook(Payload.batch(messages: messages, statuses: statuses, entries: 4)).status == 200)
        for index in 0..<20 {
            let chat = try #require(try await rig.store.chat(channelID: "wa", conversationKey: "4915110000\(String(format: "%02d", index))"))
            #expect(chat.title == "Client \(index)")
            #expect(try await rig.store.messages(chatID: chat.id, limit: 10).filter { $0.author == .client }.count == 3)
        }
    }

    @Test func aReactionIsStoredButNotAnsweredAndKeepsTheReminder() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        #expect(try await rig.say("Does it come in blue?") == 200)
        try await eventually("step 1 planned") { try await rig.state()?.status == .scheduled }
        let chat = try #require(try await rig.chat)
        let lastClientMessage = chat.lastClientMessageAt
        rig.h.manualClock.advance(to: at("2026-11-23T07:00:00Z"))
        let reaction = Payload.batch(messages: [.reaction("👍", to: "wamid.FAKE1", from: WhatsAppRig.client, name: "Sheena N")])
        #expect(try await rig.graph.postWebhook(reaction).status == 200)
        let messages = try await rig.store.messages(chatID: chat.id, limit: 10)
        #expect(messages.last?.kind == .reaction && messages.last?.text == "[reacted 👍]")
        #expect(try await rig.state()?.status == .scheduled, "the reminder stays")
        #expect(try await rig.chat?.replyDueAt == nil, "no answer owed")
        #expect(try await rig.chat?.lastClientMessageAt == lastClientMessage, "the window is not moved by an emoji")
        try await rig.h.advanceAndWaitForAnotherClientsAnswer(to: at("2026-11-23T08:00:00Z"))
        #expect(rig.graph.sent.count == 1)
    }

    @Test func mediaIsStoredWithItsTypeAndTheEmployeeIsToldWhatArrived() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        #expect(try await rig.graph.postWebhook(Payload.batch(messages: [.image(caption: "Damaged box", from: WhatsAppRig.client)])).status == 200)
        try await eventually("answered") { rig.graph.sent.count == 1 }
        let chat = try #require(try await rig.chat)
        let stored = try #require(try await rig.store.messages(chatID: chat.id, limit: 5).first)
        #expect(stored.kind == .image && stored.text == "[photo] Damaged box")
        let prompt = try #require(rig.h.openAI.requests.last).messages.map(\.content).joined(separator: "\n")
        #expect(prompt.contains("[photo] Damaged box"))
    }

    // MARK: - Delivery statuses and provider errors

    @Test func statusCallbacksUpdateTheDeliveryState() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        #expect(try await rig.say("Hi") == 200)
        try await eventually("chain armed") { try await rig.state()?.status == .scheduled }
        let wamid = try #require(rig.graph.sent.first?.wamid)
        let chat = try #require(try await rig.chat)
        func answerState() async throws -> DeliveryState? {
            try await rig.store.messages(chatID: chat.id, limit: 5).first { $0.author == .employee }?.deliveryState
        }
        #expect(try await rig.graph.postStatuses([.init(wamid: wamid, status: "sent"), .init(wamid: wamid, status: "delivered")]) == 200)
        #expect(try await answerState() == .delivered)
        #expect(try await rig.graph.postStatuses([.init(wamid: wamid, status: "read")]) == 200)
        #expect(try await answerState() == .read)
        #expect(try await rig.graph.postStatuses([.init(wamid: wamid, status: "delivered")]) == 200)
        #expect(try await answerState() == .read, "a late delivered never undoes read")
        let (_, body) = try await rig.h.get("/api/chats/\(chat.id)")
        #expect(body.contains(#""delivery":"read""#), "\(body)")
    }

    @Test func throttlingIsRetriedAndAnUndeliverableNumberIsADeadLetterWithTheReason() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        rig.graph.script(.throughputLimit)
        #expect(try await rig.say("Hi") == 200)
        try await eventually("the retry was planned") { rig.graph.calls.count == 1 }
        let chat = try #require(try await rig.chat)
        try await eventually("retry pending") { try await rig.store.outbox(chatID: chat.id).first.map { $0.attempts == 1 && $0.status == .pending } == true }
        rig.h.manualClock.advance(by: .seconds(60))
        try await eventually("sent on retry") { rig.graph.sent.count == 1 }
        // Recorded as sent before the clock jumps past its lease (a jump mid-record would make
        // the entry look interrupted).
        try await eventually("recorded as sent") { try await rig.store.outbox(chatID: chat.id).first?.status == .sent }

        rig.graph.script(.undeliverable)
        rig.h.manualClock.advance(by: .seconds(600))
        #expect(try await rig.say("Another question") == 200)
        try await eventually("dead letter") { try await rig.store.outbox(chatID: chat.id).contains { $0.status == .dead } }
        let dead = try #require(try await rig.store.outbox(chatID: chat.id).first { $0.status == .dead })
        #expect(dead.lastError?.hasPrefix("131026: Message undeliverable") == true, "\(dead.lastError ?? "")")
    }

    @Test func aRefusedAccessTokenMakesTheChannelNotReady() async throws {
        let rig = try await WhatsAppRig.start()
        onTeardown { await rig.shutdown() }
        rig.graph.setAccessToken("a-rotated-token")
        #expect(try await rig.say("Hi") == 200)
        try await eventually("not ready") { try await rig.h.get("/readyz", token: nil).0 == 503 }
        let (_, body) = try await rig.h.get("/readyz", token: nil)
        #expect(body.contains("channel:wa") && body.contains("access_token"), "\(body)")
        #expect(!body.contains(FakeGraphAPI.defaultAccessToken))
        #expect(rig.graph.calls.count == 1, "no hot retry loop: the next attempt waits minutes")
    }
}
