import Foundation
import HTTPChannel
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing

@Suite("http channel inbound")
struct WebhookTests {
    let time = TestTime()
    let message = #"{"message_id": "m-1", "chat_id": "c-42", "client": {"id": "+4915112345678", "name": "Ana K"}, "text": "Is the spa open?", "sent_at": "2026-11-23T06:00:00Z"}"#

    @Test func aSignedMessageIsAcceptedAndNormalized() async throws {
        let channel = makeChannel(time: time)
        let result = await channel.handleWebhook(signedRequest(message, timestamp: time.unix))
        #expect(result.answer.status == 200)
        #expect(result.answer.text == #"{"accepted":1}"#)
        let inbound = try #require(result.messages.first)
        #expect(result.messages.count == 1)
        #expect(inbound.channelID == testChannelID)
        #expect(inbound.conversationKey == "c-42")
        #expect(inbound.providerMessageID == "m-1", "the store deduplicates on it")
        #expect(inbound.senderName == "Ana K")
        #expect(inbound.chatTitle == "Ana K")
        #expect(inbound.senderHandle == "+4915112345678")
        #expect(inbound.text == "Is the spa open?")
        #expect(inbound.receivedAt == parseISO("2026-11-23T06:00:00Z"), "the gateway's clock, not the sender's")
    }

    @Test func unknownFieldsAndIntegerIDsAreAccepted() async throws {
        let channel = makeChannel(time: time)
        let body = #"{"message_id": 981, "chat_id": 4242, "text": "Hi", "priority": "high", "client": {"id": 7, "vip": true}, "attachments": []}"#
        let result = await channel.handleWebhook(signedRequest(body, timestamp: time.unix))
        #expect(result.answer.status == 200)
        #expect(result.messages.first?.providerMessageID == "981")
        #expect(result.messages.first?.conversationKey == "4242")
        #expect(result.messages.first?.senderName == nil)
    }

    @Test func aWrongSignatureIsRefusedBeforeParsing() async throws {
        let channel = makeChannel(time: time)
        // Signed with another secret, and a body that would not even parse: the signature is checked first.
        for body in [message, "{not json"] {
            let result = await channel.handleWebhook(signedRequest(body, secret: "another-secret-0123456789", timestamp: time.unix))
            #expect(!result.accepted)
            #expect(result.answer.status == 401)
            #expect(result.answer.text.contains("signature does not match"))
        }
        // The right signature over other bytes than those sent.
        var tampered = signedRequest(message, timestamp: time.unix)
        tampered.body = Array(message.replacingOccurrences(of: "spa", with: "bar").utf8)
        #expect(await channel.handleWebhook(tampered).answer.status == 401)
        // Signed over a different timestamp than the one sent.
        let shifted = signedRequest(
            message, timestamp: time.unix, signature: FakeHTTPReceiver.sign(secret: testSecret, timestamp: time.unix - 1, body: Array(message.utf8)))
        #expect(await channel.handleWebhook(shifted).answer.status == 401)
    }

    @Test func missingOrMalformedHeadersAreRefused() async throws {
        let channel = makeChannel(time: time)
        let unsigned = WebhookRequest(method: "POST", headers: ["Content-Type": "application/json"], body: Array(message.utf8))
        let result = await channel.handleWebhook(unsigned)
        #expect(result.answer.status == 401)
        #expect(result.answer.text.contains("missing X-Switchboard-Signature"))

        var noPrefix = signedRequest(message, timestamp: time.unix)
        noPrefix.headers["x-switchboard-signature"] = String(noPrefix.headers["x-switchboard-signature"]!.dropFirst(7))
        #expect(await channel.handleWebhook(noPrefix).answer.text.contains("must be sha256="))

        var badTimestamp = signedRequest(message, timestamp: time.unix)
        badTimestamp.headers["x-switchboard-timestamp"] = "2026-11-23T06:00:00Z"
        #expect(await channel.handleWebhook(badTimestamp).answer.text.contains("unix seconds"))
    }

    @Test func anUppercaseHexSignatureIsAccepted() async throws {
        let channel = makeChannel(time: time)
        let signature = FakeHTTPReceiver.sign(secret: testSecret, timestamp: time.unix, body: Array(message.utf8))
        let upper = "sha256=" + signature.dropFirst(7).uppercased()
        #expect(await channel.handleWebhook(signedRequest(message, timestamp: time.unix, signature: upper)).answer.status == 200)
    }

    @Test(arguments: [-301, 301, -86_400]) func aStaleOrFutureTimestampIsRefused(offset: Int64) async throws {
        let channel = makeChannel(time: time)
        let result = await channel.handleWebhook(signedRequest(message, timestamp: time.unix + offset))
        #expect(result.answer.status == 401)
        #expect(result.answer.text.contains(offset < 0 ? "seconds old" : "in the future"))
        #expect(result.answer.text.contains("within 300 seconds"))
    }

    @Test(arguments: [-300, 300]) func aTimestampAtTheEdgeOfTheWindowIsAccepted(offset: Int64) async throws {
        let channel = makeChannel(time: time)
        #expect(await channel.handleWebhook(signedRequest(message, timestamp: time.unix + offset)).answer.status == 200)
    }

    @Test func freshnessIsJudgedByRealTimeNotTheGatewaysScaledClock() async throws {
        // The gateway's clock is a week ahead (a demo's scaled time); the sender signs with real time.
        let channel = makeChannel(time: time, clock: ManualClockForTests.weekAhead)
        #expect(await channel.handleWebhook(signedRequest(message, timestamp: time.unix)).answer.status == 200)
    }

    /// A request the gateway could not store (503) is forgotten: the provider's identical retry is taken.
    @Test func anIdenticalRetryIsTakenWhenTheFirstAttemptWasNotStored() async throws {
        let channel = makeChannel(time: time)
        let request = signedRequest(message, timestamp: time.unix)
        #expect(await channel.handleWebhook(request).answer.status == 200)
        channel.webhookNotStored(request)
        time.advance(seconds: 5)
        let retry = await channel.handleWebhook(request)
        #expect(retry.answer.status == 200 && retry.accepted)
        #expect(await channel.handleWebhook(request).answer.status == 409, "once taken, it is remembered again")
    }

    @Test func anIdenticalSignedRequestIsRefusedAsAReplayUntilItExpires() async throws {
        let channel = makeChannel(time: time)
        let request = signedRequest(message, timestamp: time.unix)
        #expect(await channel.handleWebhook(request).answer.status == 200)
        time.advance(seconds: 60)
        let replay = await channel.handleWebhook(request)
        #expect(replay.answer.status == 409)
        #expect(!replay.accepted)
        #expect(replay.answer.text.contains("already received and stored"))
        // Re-signed, the same message goes through (and the store dedupes it on message_id).
        let resent = await channel.handleWebhook(signedRequest(message, timestamp: time.unix))
        #expect(resent.answer.status == 200)
        #expect(resent.messages.first?.providerMessageID == "m-1")
        // Once the timestamp is stale the replay is refused as stale instead.
        time.advance(seconds: 300)
        #expect(await channel.handleWebhook(request).answer.status == 401)
    }

    @Test func aMalformedRequestIsNotRememberedAsSeen() async throws {
        let channel = makeChannel(time: time)
        let request = signedRequest(#"{"message_id": "m-1", "text": "no chat"}"#, timestamp: time.unix)
        #expect(await channel.handleWebhook(request).answer == (400, "chat_id is missing"))
        #expect(await channel.handleWebhook(request).answer == (400, "chat_id is missing"), "the same answer, not a replay")
    }

    @Test func eachEndpointTakesOnlyItsOwnBatchKey() async throws {
        let channel = makeChannel(time: time)
        let receipts = #"{"receipts": [{"message_id": "sb_1", "status": "read"}]}"#
        #expect(await channel.handleWebhook(signedRequest(receipts, timestamp: time.unix)).answer == (400, "message_id is missing"))
        let messages = #"{"messages": [{"message_id": "a", "chat_id": "1", "text": "one"}]}"#
        #expect(await channel.handleWebhook(signedRequest(messages, path: "receipts", timestamp: time.unix)).answer == (400, "message_id is missing"))
    }

    @Test func aBatchIsAcceptedWhole() async throws {
        let channel = makeChannel(time: time)
        let batch = #"{"messages": [{"message_id": "a", "chat_id": "1", "text": "one"}, {"message_id": "b", "chat_id": "2", "text": "two", "client": {"name": "Bo"}}]}"#
        let result = await channel.handleWebhook(signedRequest(batch, timestamp: time.unix))
        #expect(result.answer.text == #"{"accepted":2}"#)
        #expect(result.messages.map(\.providerMessageID) == ["a", "b"])
        #expect(result.messages.map(\.conversationKey) == ["1", "2"])
        #expect(result.messages.map(\.senderName) == [nil, "Bo"])
    }

    @Test func aBatchWithOneBadElementStoresNothingAndSaysWhich() async throws {
        let channel = makeChannel(time: time)
        let batch = #"{"messages": [{"message_id": "a", "chat_id": "1", "text": "one"}, {"message_id": "b", "text": "two"}]}"#
        let result = await channel.handleWebhook(signedRequest(batch, timestamp: time.unix))
        #expect(!result.accepted)
        #expect(result.answer.status == 400)
        #expect(result.answer.text == "messages[1].chat_id is missing")
    }

    @Test func aBatchOverTheCapIsRefused() async throws {
        let channel = makeChannel(time: time)
        let one = #"{"message_id": "a", "chat_id": "1", "text": "x"}"#
        let batch = #"{"messages": ["# + Array(repeating: one, count: HTTPChannel.maxBatch + 1).joined(separator: ",") + "]}"
        let result = await channel.handleWebhook(signedRequest(batch, timestamp: time.unix))
        #expect(result.answer.status == 400)
        #expect(result.answer.text.contains("at most 1000"))
    }

    @Test(arguments: [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (#"{"chat_id": "1", "text": "x"}"#, "message_id is missing"),
        (#"{"message_id": "1", "chat_id": "1"}"#, "text is missing"),
        (#"{"message_id": "1", "chat_id": "1", "text": 5}"#, "text has the wrong type"),
        (#"{"message_id": 1.5, "chat_id": "1", "text": "x"}"#, "message_id must be a string or an integer"),
        (#"{"message_id": "", "chat_id": "1", "text": "x"}"#, "message_id must be 1–256 bytes"),
        (#"{"message_id": "1", "chat_id": "1", "text": "   "}"#, "text is empty"),
        (#"{"message_id": "1", "chat_id": "1", "text": "x", "sent_at": "yesterday"}"#, "sent_at must be an RFC 3339"),
        (#"{"message_id": "1", "chat_id": "1", "text": "x", "client": "Ana"}"#, "client has the wrong type"),
        (#"{"messages": {"message_id": "1"}}"#, "messages has the wrong type"),
    ])
    func malformedBodiesAre400WithWhatIsWrong(body: String, says: String) async throws {
        let channel = makeChannel(time: time)
        let result = await channel.handleWebhook(signedRequest(body, timestamp: time.unix))
        #expect(!result.accepted)
        #expect(result.answer.status == 400)
        #expect(result.answer.text.contains(says), "\(result.answer.text)")
    }

    @Test func onlyPOSTAndTheTwoPathsAreServed() async throws {
        let channel = makeChannel(time: time)
        var get = signedRequest(message, timestamp: time.unix)
        get.method = "GET"
        #expect(await channel.handleWebhook(get).answer.status == 405)
        #expect(await channel.handleWebhook(signedRequest(message, path: "status", timestamp: time.unix)).answer.status == 404)
        #expect(channel.maxWebhookBodyBytes == 4 << 20)
    }

    // MARK: - Receipts

    @Test func receiptsBecomeDeliveryStatuses() async throws {
        let channel = makeChannel(time: time)
        let one = await channel.handleWebhook(signedRequest(#"{"message_id": "sb_1", "status": "delivered"}"#, path: "receipts", timestamp: time.unix))
        #expect(one.answer.text == #"{"accepted":1}"#)
        #expect(one.messages.isEmpty)
        #expect(one.statuses == [DeliveryStatusUpdate(channelID: testChannelID, providerMessageID: "sb_1", state: .delivered, at: parseISO("2026-11-23T06:00:00Z"))])

        let batch = #"""
            {"receipts": [{"message_id": "sb_2", "status": "read", "error": "ignored unless failed"},
                          {"message_id": "sb_3", "status": "failed", "error": "number not in service"},
                          {"message_id": "sb_4", "status": "failed", "error": "window_closed"}]}
            """#
        let many = await channel.handleWebhook(signedRequest(batch, path: "receipts", timestamp: time.unix))
        #expect(many.answer.text == #"{"accepted":3}"#)
        #expect(many.statuses.map(\.state) == [.read, .failed, .failed])
        #expect(many.statuses.map(\.error) == [nil, "number not in service", "window_closed"])
        #expect(many.statuses.map(\.windowClosed) == [false, false, true])
    }

    @Test func receiptsAreSignedAndValidatedLikeMessages() async throws {
        let channel = makeChannel(time: time)
        let body = #"{"message_id": "sb_1", "status": "delivered"}"#
        #expect(await channel.handleWebhook(signedRequest(body, path: "receipts", secret: "wrong-secret-0123456789", timestamp: time.unix)).answer.status == 401)
        let bad = await channel.handleWebhook(signedRequest(#"{"message_id": "sb_1", "status": "seen"}"#, path: "receipts", timestamp: time.unix))
        #expect(bad.answer.status == 400)
        #expect(bad.answer.text.contains("status must be one of delivered, read, failed"))
    }
}

enum ManualClockForTests {
    static var weekAhead: ManualClock { ManualClock(Date(timeIntervalSince1970: 1_795_000_000 + 7 * 86_400)) }
}

