import Foundation
@testable import HTTPChannel
import SwitchboardCore
import SwitchboardFakes
import Testing

@Suite("http channel sending")
struct SendTests {
    let time = TestTime()

    private func outbound(
        _ text: String, purpose: OutboxPurpose? = .reply, step: Int? = nil, delivery: Delivery = .freeForm, key: String? = "chat-1:reply:1"
    ) -> OutboundMessage {
        OutboundMessage(
            chatID: "chat-1", channelID: testChannelID, conversationKey: "c-42", text: text, delivery: delivery, purpose: purpose, followUpStep: step,
            idempotencyKey: key)
    }

    /// Runs `body` against a fresh receiver and a channel pointed at it.
    private func withReceiver(
        maxText: Int? = nil, offlineDelivery: Bool = false, requestTimeout: Int = 5, _ body: (FakeHTTPReceiver, HTTPChannel) async throws -> Void
    ) async throws {
        let receiver = FakeHTTPReceiver(secret: testSecret)
        let url = try await receiver.start()
        let channel = makeChannel(outboundURL: url, maxText: maxText, offlineDelivery: offlineDelivery, requestTimeout: requestTimeout, time: time)
        do {
            try await body(receiver, channel)
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }

    private func deliveryError(_ work: () async throws -> DeliveryReceipt) async -> DeliveryError? {
        do {
            let receipt = try await work()
            Issue.record("expected a failure, got \(receipt)")
            return nil
        } catch let error as DeliveryError {
            return error
        } catch {
            Issue.record("expected a DeliveryError, got \(error)")
            return nil
        }
    }

    @Test func postsASignedBodyWithTheIdempotencyKey() async throws {
        try await withReceiver { receiver, channel in
            let receipt = try await channel.send(outbound("Your room is ready."))
            let request = try #require(receiver.requests.first)
            #expect(receiver.requests.count == 1)
            #expect(request.path == "/messages")
            #expect(request.signatureValid, "HMAC-SHA256 of \"<timestamp>.<body>\" with the secret")
            #expect(request.headers["x-switchboard-timestamp"] == String(time.unix), "signed with real time")
            #expect(request.headers["idempotency-key"] == "chat-1:reply:1")
            #expect(request.headers["content-type"] == "application/json")
            let message = try #require(request.message)
            #expect(message == FakeHTTPReceiver.Message(message_id: HTTPChannel.messageID(idempotencyKey: "chat-1:reply:1", part: 0), chat_id: "c-42", text: "Your room is ready.", kind: "reply"))
            #expect(receipt.providerMessageIDs == [message.message_id])
            #expect(receipt.delivered)
            // Absent fields are left out, not sent as null.
            let text = String(decoding: request.body, as: UTF8.self)
            #expect(!text.contains("null") && !text.contains("template") && !text.contains("followup_step"))
        }
    }

    @Test func theMessageIDIsStableAcrossRetriesAndUniquePerKeyAndPart() {
        let id = HTTPChannel.messageID(idempotencyKey: "chat-1:reminder:3:1", part: 0)
        #expect(id == HTTPChannel.messageID(idempotencyKey: "chat-1:reminder:3:1", part: 0))
        #expect(id.hasPrefix("sb_") && id.count == 27)
        #expect(id != HTTPChannel.messageID(idempotencyKey: "chat-1:reminder:3:1", part: 1))
        #expect(id != HTTPChannel.messageID(idempotencyKey: "chat-1:reminder:3:2", part: 0))
    }

    @Test(arguments: [
        (OutboxPurpose.reply, "reply"), (.reminder, "reminder"), (.operator, "operator"), (.autoReply, "auto_reply"),
    ])
    func theKindSaysWhyItIsSent(purpose: OutboxPurpose, kind: String) async throws {
        try await withReceiver { receiver, channel in
            _ = try await channel.send(outbound("Hello", purpose: purpose))
            #expect(receiver.accepted.first?.kind == kind)
        }
    }

    @Test func aReminderCarriesItsStepAndATemplateItsName() async throws {
        try await withReceiver { receiver, channel in
            _ = try await channel.send(outbound("Still interested?", purpose: .reminder, step: 2, delivery: .template("reengage_v1"), key: "chat-1:r:2"))
            let message = try #require(receiver.accepted.first)
            #expect(message.kind == "reminder")
            #expect(message.followup_step == 2)
            #expect(message.template == "reengage_v1")
            #expect(message.text == "Still interested?")
        }
    }

    @Test func aLongTextGoesOutInPartsEachWithItsOwnStableID() async throws {
        try await withReceiver(maxText: 20) { receiver, channel in
            let receipt = try await channel.send(outbound("First sentence here. Second one follows. And a third."))
            let messages = receiver.accepted
            #expect(messages.map(\.text) == ["First sentence here.", "Second one follows.", "And a third."])
            #expect(messages.map(\.part) == [1, 2, 3])
            #expect(messages.map(\.parts) == [3, 3, 3])
            #expect(receipt.providerMessageIDs == messages.map(\.message_id))
            #expect(Set(receipt.providerMessageIDs).count == 3)
            #expect(receiver.requests.map { $0.headers["idempotency-key"] } == ["chat-1:reply:1:part-1", "chat-1:reply:1:part-2", "chat-1:reply:1:part-3"])
        }
    }

    @Test func aFailedLaterPartSaysSoAndTheRetryRepeatsTheIDs() async throws {
        try await withReceiver(maxText: 20) { receiver, channel in
            receiver.script(.status(200), .status(503))
            let error = await deliveryError { try await channel.send(outbound("First sentence here. Second one follows.")) }
            #expect(error?.kind == .retryable)
            #expect(error?.message.contains("after 1 of 2 parts") == true)
            _ = try await channel.send(outbound("First sentence here. Second one follows."))
            let ids = receiver.requests.compactMap(\.message?.message_id)
            #expect(ids.count == 4)
            #expect(ids[0] == ids[2] && ids[1] == ids[3], "the receiver can drop the part it already has")
        }
    }

    @Test func tooManyRequestsIsRetryableAfterRetryAfter() async throws {
        try await withReceiver { receiver, channel in
            receiver.script(.status(429, body: "slow down", headers: ["Retry-After": "7"]))
            let error = await deliveryError { try await channel.send(outbound("Hi")) }
            #expect(error?.kind == .retryable)
            #expect(error?.retryAfter == .seconds(7))
            #expect(error?.message == "the receiver answered 429: slow down")
        }
    }

    @Test(arguments: [500, 502, 503, 504, 408]) func serverErrorsAreRetryable(status: Int) async throws {
        try await withReceiver { receiver, channel in
            receiver.script(.status(status))
            let error = await deliveryError { try await channel.send(outbound("Hi")) }
            #expect(error?.kind == .retryable)
            #expect(error?.message == "the receiver answered \(status)")
        }
    }

    @Test func aTimeoutAndADroppedConnectionAreRetryable() async throws {
        try await withReceiver(requestTimeout: 1) { receiver, channel in
            receiver.script(.delay(.seconds(3)), .drop)
            let timeout = await deliveryError { try await channel.send(outbound("Hi")) }
            #expect(timeout?.kind == .retryable)
            #expect(timeout?.message.contains("could not reach the receiver at http://127.0.0.1:") == true)
            let dropped = await deliveryError { try await channel.send(outbound("Hi")) }
            #expect(dropped?.kind == .retryable)
        }
    }

    @Test func aClosedPortIsRetryable() async throws {
        let channel = makeChannel(outboundURL: "http://127.0.0.1:9/messages?token=receiver-own-token", requestTimeout: 1, time: time)
        let error = await deliveryError { try await channel.send(outbound("Hi")) }
        #expect(error?.kind == .retryable)
        #expect(error?.message.contains("receiver-own-token") == false, "the URL's query may be a credential")
    }

    @Test func goneMeansUnreachable() async throws {
        try await withReceiver { receiver, channel in
            receiver.script(.status(410, body: #"{"error":"chat deleted"}"#))
            let error = await deliveryError { try await channel.send(outbound("Hi")) }
            #expect(error?.kind == .unreachable)
            #expect(error?.message == #"the receiver answered 410: {"error":"chat deleted"}"#)
        }
    }

    @Test(arguments: [400, 401, 404, 422]) func otherClientErrorsArePermanentWithTheReceiversAnswer(status: Int) async throws {
        try await withReceiver { receiver, channel in
            receiver.script(.status(status, body: "{\"error\":\"chat_id unknown\",\n\"code\":\(status)}"))
            let error = await deliveryError { try await channel.send(outbound("Hi")) }
            #expect(error?.kind == .permanent)
            #expect(error?.message == "the receiver answered \(status): {\"error\":\"chat_id unknown\", \"code\":\(status)}")
        }
    }

    @Test func aLongAnswerIsCutTo500Bytes() async throws {
        try await withReceiver { receiver, channel in
            receiver.script(.status(422, body: String(repeating: "x", count: 5000)))
            let error = await deliveryError { try await channel.send(outbound("Hi")) }
            #expect(error?.message == "the receiver answered 422: " + String(repeating: "x", count: 500) + "…")
        }
    }

    @Test func withOfflineDeliveryA202MeansHeldForLater() async throws {
        try await withReceiver(offlineDelivery: true) { receiver, channel in
            receiver.script(.status(202))
            let held = try await channel.send(outbound("Hi"))
            let delivered = try await channel.send(outbound("Hi"))
            #expect(!held.delivered)
            #expect(delivered.delivered)
        }
        try await withReceiver(offlineDelivery: false) { receiver, channel in
            receiver.script(.status(202))
            let receipt = try await channel.send(outbound("Hi"))
            #expect(receipt.delivered, "without offline_delivery a 202 is just a success")
        }
    }

    @Test func retryAfterAsAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let error = HTTPChannel.classify(status: 429, retryAfter: formatter.string(from: now.addingTimeInterval(90)), answer: [], now: now)
        #expect(error.retryAfter == .seconds(90))
        #expect(HTTPChannel.classify(status: 429, retryAfter: "soon", answer: [], now: now).retryAfter == nil)
        #expect(HTTPChannel.classify(status: 429, retryAfter: "999999999", answer: [], now: now).retryAfter == .seconds(86_400))
    }
}
