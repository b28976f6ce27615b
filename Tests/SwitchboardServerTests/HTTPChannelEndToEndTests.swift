import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

private func json(_ body: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not a JSON object: \(body)")
}

/// A gateway with an http channel `crm` whose `outbound_url` is a fake receiver.
private struct HTTPChannelHarness {
    static let secret = "http-e2e-secret-0123456789"

    let gateway: GatewayHarness
    let receiver: FakeHTTPReceiver

    static func start(channelExtra: String = "", employeeYAML: String = GatewayHarness.alexey) async throws -> HTTPChannelHarness {
        let receiver = FakeHTTPReceiver(secret: secret)
        let url = try await receiver.start()
        let file = """
            type: http
            id: crm
            employee: alexey
            secret: \(secret)
            outbound_url: \(url)
            \(channelExtra)
            """
        do {
            let gateway = try await GatewayHarness(employeeYAML: employeeYAML, channelFiles: ["http.yaml": file])
            return HTTPChannelHarness(gateway: gateway, receiver: receiver)
        } catch {
            await receiver.stop()
            throw error
        }
    }

    func shutdown() async {
        await gateway.shutdown()
        await receiver.stop()
    }

    /// POSTs `body` to `/webhooks/crm[/path]`, signed now (real time) unless told otherwise.
    func post(_ body: String, path: String = "", timestamp: Int64 = Int64(Date().timeIntervalSince1970), secret: String = secret) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: gateway.baseURL + "/webhooks/crm" + (path.isEmpty ? "" : "/\(path)"))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Switchboard-Timestamp", value: String(timestamp))
        request.headers.add(name: "X-Switchboard-Signature", value: FakeHTTPReceiver.sign(secret: secret, timestamp: timestamp, body: Array(body.utf8)))
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await gateway.client.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    static func message(_ id: String, chat: String = "c-42", text: String = "Is the spa open on Sunday?", name: String = "Ana K") -> String {
        #"{"message_id": "\#(id)", "chat_id": "\#(chat)", "client": {"id": "cl-\#(chat)", "name": "\#(name)"}, "text": "\#(text)", "sent_at": "2026-11-23T06:00:00Z"}"#
    }

    func chat(_ key: String = "c-42") async throws -> Chat? { try await gateway.gateway.store.chat(channelID: "crm", conversationKey: key) }

    func replies(to chat: String) -> [FakeHTTPReceiver.Message] { receiver.accepted.filter { $0.chat_id == chat } }

    /// The chat as `GET /api/chats/{id}` shows it.
    func detail(_ chatID: String) async throws -> [String: Any] {
        let (status, body) = try await gateway.get("/api/chats/\(chatID)")
        #expect(status == 200)
        return try json(body)
    }

    /// Waits until the reply has armed step 1 for `instant`: moving the clock before the reply
    /// is recorded would anchor the chain at the moved time.
    func waitUntilArmed(_ chatID: String, at instant: Date) async throws {
        try await eventually("step 1 armed for \(instant)") {
            let state = try await gateway.gateway.store.followUpState(chatID: chatID)
            return state?.status == .scheduled && state?.step == 1 && state?.sendsAt == instant
        }
    }

    func decisionLog(_ chatID: String) async throws -> [String] {
        try await gateway.gateway.store.decisions(chatID: chatID).map { "\($0.kind.rawValue):\($0.reason.rawValue):\($0.step.map(String.init) ?? "-")" }
    }
}

@Suite(.serialized, .awaitedTeardown) struct HTTPChannelEndToEndTests {
    @Test func aSignedMessageGetsAnAIReplyPostedToTheReceiver() async throws {
        let h = try await HTTPChannelHarness.start()
        onTeardown { await h.shutdown() }

        let (status, body) = try await h.post(HTTPChannelHarness.message("m-1"))
        #expect(status == 200)
        #expect(body == #"{"accepted":1}"#)
        let chat = try #require(try await h.chat(), "stored before the answer")
        #expect(chat.title == "Ana K")

        try await eventually("the reply POSTed") { h.receiver.accepted.count == 1 }
        let request = try #require(h.receiver.requests.first)
        #expect(request.signatureValid)
        let reply = try #require(request.message)
        #expect(reply.chat_id == "c-42")
        #expect(reply.text == "Hello from Alexey")
        #expect(reply.kind == "reply")
        #expect(request.headers["idempotency-key"]?.hasPrefix("\(chat.id):") == true)
        try await eventually("the reply recorded with its id") {
            try await h.gateway.gateway.store.messages(chatID: chat.id, limit: 10).contains { $0.author == .employee }
        }
        try await eventually("the chain armed by the reply") { try await h.gateway.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled }
    }

    @Test func aDuplicateIsStoredOnceAndAnIdenticalRequestIsRefusedAsAReplay() async throws {
        let h = try await HTTPChannelHarness.start()
        onTeardown { await h.shutdown() }
        let now = Int64(Date().timeIntervalSince1970)
        let message = HTTPChannelHarness.message("m-1")

        #expect(try await h.post(message, timestamp: now).0 == 200)
        let replay = try await h.post(message, timestamp: now)
        #expect(replay.0 == 409)
        #expect(replay.1.contains("already received and stored"))
        // The sender's retry, signed again: acknowledged, not stored twice.
        #expect(try await h.post(message, timestamp: now - 1) == (200, #"{"accepted":1}"#))
        // A batch repeating it next to a new message from another client.
        let batch = #"{"messages": [\#(message), \#(HTTPChannelHarness.message("m-2", chat: "c-43", text: "Hello", name: "Boris B"))]}"#
        #expect(try await h.post(batch) == (200, #"{"accepted":2}"#))

        // The answer to Boris shows the gateway has handled everything sent before it.
        try await eventually("the answer to the other client") { h.replies(to: "c-43").count == 1 }
        let chat = try #require(try await h.chat())
        let clientMessages = try await h.gateway.gateway.store.messages(chatID: chat.id, limit: 50).filter { $0.author == .client }
        #expect(clientMessages.count == 1)
        try await eventually("Ana's one reply") { h.replies(to: "c-42").count == 1 }
    }

    @Test func wrongAndStaleSignaturesStoreNothing() async throws {
        let h = try await HTTPChannelHarness.start()
        onTeardown { await h.shutdown() }
        let wrong = try await h.post(HTTPChannelHarness.message("m-1"), secret: "not-the-secret-0123456789")
        #expect(wrong.0 == 401)
        let stale = try await h.post(HTTPChannelHarness.message("m-1"), timestamp: Int64(Date().timeIntervalSince1970) - 600)
        #expect(stale.0 == 401)
        #expect(stale.1.contains("seconds old"))
        let malformed = try await h.post(#"{"message_id": "m-1", "text": "no chat"}"#)
        #expect(malformed == (400, "chat_id is missing"))
        #expect(try await h.chat() == nil)
    }

    @Test func aFailedDeliveryIsRetriedWithTheSameIDUntilItSucceeds() async throws {
        let h = try await HTTPChannelHarness.start()
        onTeardown { await h.shutdown() }
        h.receiver.script(.status(500, body: "database is down"))
        _ = try await h.post(HTTPChannelHarness.message("m-1"))
        let chat = try #require(try await h.chat())
        try await eventually("the first attempt (500) recorded") {
            let outbox = try await h.gateway.gateway.store.outbox(chatID: chat.id)
            return outbox.first?.attempts == 1 && outbox.first?.status == .pending
        }
        #expect(try await h.gateway.gateway.store.outbox(chatID: chat.id).first?.lastError == "the receiver answered 500: database is down")
        h.gateway.manualClock.advance(by: .seconds(60))
        try await eventually("delivered on the retry") { h.receiver.accepted.count == 1 }
        let requests = h.receiver.requests
        #expect(requests.count == 2)
        #expect(requests[0].message?.message_id == requests[1].message?.message_id, "a retry repeats the message_id")
        #expect(requests[0].headers["idempotency-key"] == requests[1].headers["idempotency-key"])
    }

    @Test func aRefusalIsADeadLetterWithTheReceiversAnswerOnTheChat() async throws {
        let h = try await HTTPChannelHarness.start()
        onTeardown { await h.shutdown() }
        h.receiver.script(.status(422, body: #"{"error": "chat c-42 is archived"}"#))
        _ = try await h.post(HTTPChannelHarness.message("m-1"))
        let chat = try #require(try await h.chat())
        try await eventually("the dead letter") { try await h.gateway.gateway.store.outbox(chatID: chat.id).first?.status == .dead }
        let undelivered = try #require(try await h.detail(chat.id)["undelivered"] as? [[String: Any]])
        #expect(undelivered.first?["status"] as? String == "dead")
        #expect(undelivered.first?["attempts"] as? Int == 1, "not retried")
        #expect(undelivered.first?["last_error"] as? String == #"the receiver answered 422: {"error": "chat c-42 is archived"}"#)
    }

    @Test func receiptsUpdateDeliveryOnTheChat() async throws {
        let h = try await HTTPChannelHarness.start()
        onTeardown { await h.shutdown() }
        _ = try await h.post(HTTPChannelHarness.message("m-1"))
        try await eventually("the reply") { h.receiver.accepted.count == 1 }
        let reply = try #require(h.receiver.accepted.first)
        let chat = try #require(try await h.chat())
        try await eventually("the reply recorded") {
            try await h.gateway.gateway.store.messages(chatID: chat.id, limit: 10).contains { $0.author == .employee }
        }

        func delivery() async throws -> (String?, String?) {
            let messages = try #require(try await h.detail(chat.id)["messages"] as? [[String: Any]])
            let employee = try #require(messages.first { $0["author"] as? String == "employee" })
            return (employee["delivery"] as? String, employee["delivery_error"] as? String)
        }
        #expect(try await h.post(#"{"message_id": "\#(reply.message_id)", "status": "delivered"}"#, path: "receipts") == (200, #"{"accepted":1}"#))
        #expect(try await delivery() == ("delivered", nil))
        let batch = #"{"receipts": [{"message_id": "\#(reply.message_id)", "status": "read"}, {"message_id": "sb_never_sent", "status": "read"}]}"#
        #expect(try await h.post(batch, path: "receipts") == (200, #"{"accepted":2}"#), "ids the gateway never sent are ignored")
        #expect(try await delivery() == ("read", nil))
        #expect(try await h.post(#"{"message_id": "\#(reply.message_id)", "status": "seen"}"#, path: "receipts").0 == 400)
    }

    @Test func aFailedReceiptShowsItsError() async throws {
        let h = try await HTTPChannelHarness.start()
        onTeardown { await h.shutdown() }
        _ = try await h.post(HTTPChannelHarness.message("m-1"))
        try await eventually("the reply") { h.receiver.accepted.count == 1 }
        let reply = try #require(h.receiver.accepted.first)
        let chat = try #require(try await h.chat())
        try await eventually("the reply recorded") {
            try await h.gateway.gateway.store.messages(chatID: chat.id, limit: 10).contains { $0.author == .employee }
        }
        let receipt = #"{"message_id": "\#(reply.message_id)", "status": "failed", "error": "handset unreachable"}"#
        #expect(try await h.post(receipt, path: "receipts").0 == 200)
        let messages = try #require(try await h.detail(chat.id)["messages"] as? [[String: Any]])
        let employee = try #require(messages.first { $0["author"] as? String == "employee" })
        #expect(employee["delivery"] as? String == "failed")
        #expect(employee["delivery_error"] as? String == "handset unreachable")
    }

    // MARK: - The free-form window

    /// Three 60-minute steps and a 90-minute window: step 1 (at +60m) fits, step 2 (at +120m)
    /// lands after the window has closed (+90m).
    enum WindowCase: String, CaseIterable, Sendable {
        case pullIn, template, skip

        var channelYAML: String {
            switch self {
            case .pullIn: "window_hours: 1.5"
            case .template: "window_hours: 1.5\nwindow: { pull_in: false, template: { name: reengage_v1 } }"
            case .skip: "window_hours: 1.5\nwindow: { pull_in: false }"
            }
        }

        var reason: String {
            switch self {
            case .pullIn: "pulled_into_window"
            case .template: "reengagement_template"
            case .skip: "window_closed"
            }
        }
    }

    @Test(arguments: WindowCase.allCases) func aStepPastTheWindow(_ windowCase: WindowCase) async throws {
        let h = try await HTTPChannelHarness.start(channelExtra: windowCase.channelYAML, employeeYAML: GatewayHarness.hourlyChain)
        onTeardown { await h.shutdown() }
        let t0 = h.gateway.manualClock.now()
        _ = try await h.post(HTTPChannelHarness.message("m-1"))
        try await eventually("the reply") { h.receiver.accepted.count == 1 }
        let chat = try #require(try await h.chat())
        try await h.waitUntilArmed(chat.id, at: t0.addingTimeInterval(3600))

        h.gateway.manualClock.advance(to: t0.addingTimeInterval(3600))
        try await eventually("reminder 1, inside the window") { h.receiver.accepted.contains { $0.followup_step == 1 } }
        try await eventually("step 2 planned: \(windowCase.reason)") {
            try await h.decisionLog(chat.id).contains { $0.contains(":\(windowCase.reason):2") }
        }

        let windowCloses = t0.addingTimeInterval(5400)
        if windowCase == .pullIn {
            // Sent at the moved time, before the window closes; a clock jumped past the close
            // would find the window shut and skip the step after all.
            let sendsAt = try #require(try await h.gateway.gateway.store.followUpState(chatID: chat.id)?.sendsAt)
            #expect(sendsAt < windowCloses)
            h.gateway.manualClock.advance(to: sendsAt)
        } else {
            h.gateway.manualClock.advance(to: t0.addingTimeInterval(3 * 3600))
        }
        switch windowCase {
        case .pullIn:
            try await eventually("reminder 2, pulled in") { h.receiver.accepted.contains { $0.followup_step == 2 } }
            try await eventually("reminder 2 recorded") {
                try await h.gateway.gateway.store.messages(chatID: chat.id, limit: 20).contains { $0.followUpStep == 2 }
            }
            let step2 = try #require(try await h.gateway.gateway.store.messages(chatID: chat.id, limit: 20).first { $0.followUpStep == 2 })
            #expect(step2.at < windowCloses, "before the window closed")
            #expect(h.receiver.accepted.first { $0.followup_step == 2 }?.template == nil)
        case .template:
            try await eventually("reminder 2 as the template") { h.receiver.accepted.contains { $0.followup_step == 2 } }
            let step2 = try #require(h.receiver.accepted.first { $0.followup_step == 2 })
            #expect(step2.template == "reengage_v1")
            #expect(step2.kind == "reminder")
        case .skip:
            try await eventually("the chain moved past step 2") {
                try await h.decisionLog(chat.id).contains { $0.hasSuffix(":3") }
            }
            #expect(!h.receiver.accepted.contains { $0.followup_step == 2 })
        }
    }

    /// The receiver refuses a free-form reminder after the fact (its own window rule): a failed
    /// receipt with `error: window_closed` sends the re-engagement template instead.
    @Test func aWindowClosedReceiptSendsTheTemplate() async throws {
        let h = try await HTTPChannelHarness.start(
            channelExtra: "window_hours: 24\nwindow: { template: { name: reengage_v1 } }", employeeYAML: GatewayHarness.hourlyChain)
        onTeardown { await h.shutdown() }
        let t0 = h.gateway.manualClock.now()
        _ = try await h.post(HTTPChannelHarness.message("m-1"))
        try await eventually("the reply") { h.receiver.accepted.count == 1 }
        let chat = try #require(try await h.chat())
        try await h.waitUntilArmed(chat.id, at: t0.addingTimeInterval(3600))
        h.gateway.manualClock.advance(to: t0.addingTimeInterval(3600))
        try await eventually("reminder 1") { h.receiver.accepted.contains { $0.followup_step == 1 } }
        let reminder = try #require(h.receiver.accepted.first { $0.followup_step == 1 })
        #expect(reminder.template == nil)
        try await eventually("reminder 1 recorded") {
            try await h.gateway.gateway.store.messages(chatID: chat.id, limit: 20).contains { $0.followUpStep == 1 }
        }

        let receipt = #"{"message_id": "\#(reminder.message_id)", "status": "failed", "error": "window_closed"}"#
        #expect(try await h.post(receipt, path: "receipts").0 == 200)
        try await eventually("the template instead") { h.receiver.accepted.contains { $0.followup_step == 1 && $0.template == "reengage_v1" } }
        #expect(try await h.decisionLog(chat.id).contains("deferred:reengagement_template:1"))
    }
}
