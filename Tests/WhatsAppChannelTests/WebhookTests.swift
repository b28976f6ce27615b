import Foundation
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardFakes
import Testing
import WhatsAppChannel

private typealias Payload = FakeGraphAPI.Payload

@Suite("WhatsApp webhook")
struct WebhookTests {
    let channel = makeChannel()

    @Test func verificationHandshakeEchoesExactlyTheChallenge() async {
        let query = ["hub.mode": "subscribe", "hub.verify_token": testVerifyToken, "hub.challenge": "1158201444"]
        guard case .respond(let answer) = await channel.handleWebhook(WebhookRequest(method: "GET", query: query)) else {
            Issue.record("a handshake stores nothing")
            return
        }
        #expect(answer.status == 200)
        #expect(answer.body == Array("1158201444".utf8))
        #expect(answer.contentType == "text/plain")
        for wrong in [
            ["hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"], ["hub.mode": "unsubscribe", "hub.verify_token": testVerifyToken, "hub.challenge": "1"],
            ["hub.verify_token": testVerifyToken, "hub.challenge": "1"], [:],
        ] {
            #expect(await channel.handleWebhook(WebhookRequest(method: "GET", query: wrong)).status == 403)
        }
    }

    @Test func theSignatureIsCheckedOverTheRawBytesBeforeParsing() async {
        let body = Payload.batch(messages: [.text("Hi")])
        #expect(await channel.handleWebhook(signedPost(body)).accepted?.messages.count == 1)
        // One changed byte, a missing header, another secret, the right hex without its prefix:
        // all 401 and nothing accepted.
        let signature = "sha256=" + FakeGraphAPI.signature(of: Array(body.utf8), secret: FakeGraphAPI.defaultAppSecret)
        let tampered = WebhookRequest(method: "POST", headers: ["X-Hub-Signature-256": signature], body: Array(body.replacingOccurrences(of: "Hi", with: "Ho").utf8))
        #expect(await channel.handleWebhook(tampered).status == 401)
        #expect(await channel.handleWebhook(WebhookRequest(method: "POST", body: Array(body.utf8))).status == 401)
        let wrongSecret = "sha256=" + FakeGraphAPI.signature(of: Array(body.utf8), secret: "another")
        #expect(await channel.handleWebhook(signedPost(body, signature: wrongSecret)).status == 401)
        #expect(await channel.handleWebhook(signedPost(body, signature: String(signature.dropFirst(7)))).status == 401)
        #expect(await channel.handleWebhook(signedPost(body, signature: signature.uppercased())).status == 200, "hex case does not matter")
        // Re-encoding would change the bytes: an escaped character must verify as sent.
        let escaped = Payload.batch(messages: [.text("caf\u{e9} \u{1F44D}")]).replacingOccurrences(of: "é", with: "\\u00e9")
        #expect(await channel.handleWebhook(signedPost(escaped)).accepted?.messages.first?.text == "café 👍")
    }

    @Test func signedGarbageIs400AndOtherMethodsAndPathsAreRefused() async {
        #expect(await channel.handleWebhook(signedPost("{not json")).status == 400)
        #expect(await channel.handleWebhook(signedPost("[1,2]")).status == 400)
        #expect(await channel.handleWebhook(signedPost(#"{"entry": "nope"}"#)).status == 400)
        #expect(await channel.handleWebhook(WebhookRequest(method: "PUT")).status == 405)
        #expect(await channel.handleWebhook(WebhookRequest(method: "POST", path: "receipts")).status == 404)
        let other = #"{"object":"page","entry":[]}"#
        #expect(await channel.handleWebhook(signedPost(other)).accepted?.messages.isEmpty == true, "another product's events are acknowledged")
    }

    @Test func aBatchIsReadWholeAcrossEntriesChangesMessagesAndStatuses() async throws {
        let messages = (0..<250).map { Payload.Message.text("message \($0)", from: "1650555\(1000 + $0 % 7)", name: "Client \($0 % 7)") }
        let statuses = (0..<50).map { FakeGraphAPI.Status(wamid: "wamid.OUT\($0)", status: "delivered") }
        let body = Payload.batch(messages: messages, statuses: statuses, entries: 3)
        let accepted = try #require(await channel.handleWebhook(signedPost(body)).accepted)
        #expect(accepted.messages.count == 250)
        #expect(Set(accepted.messages.map(\.text)) == Set((0..<250).map { "message \($0)" }))
        #expect(accepted.statuses.count == 50)
        let first = try #require(accepted.messages.first { $0.text == "message 3" })
        #expect(first.conversationKey == "16505551003")
        #expect(first.senderName == "Client 3" && first.chatTitle == "Client 3", "contacts[].profile.name is the client's name")
        #expect(first.channelID == testChannelID)
    }

    @Test func aRepeatedWamidInOneBatchIsHandedInOnce() async throws {
        let message = Payload.Message.text("Hi", id: "wamid.SAME")
        let accepted = try #require(await channel.handleWebhook(signedPost(Payload.batch(messages: [message, message]))).accepted)
        #expect(accepted.messages.map(\.providerMessageID) == ["wamid.SAME"])
    }

    @Test func eventsForAnotherNumberOfTheAccountAreIgnored() async throws {
        let accepted = try #require(await channel.handleWebhook(signedPost(Payload.batch(phoneNumberID: "999", messages: [.text("Hi")]))).accepted)
        #expect(accepted.messages.isEmpty)
    }

    @Test(arguments: [
        (#"{"from":"1","id":"w1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"csat_yes","title":"Yes"}}}"#, MessageKind.buttonReply, "Yes"),
        (#"{"from":"1","id":"w2","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"slot","title":"Tue 10:00","description":"Berlin store"}}}"#, .buttonReply, "Tue 10:00 (Berlin store)"),
        (#"{"from":"1","id":"w3","type":"button","button":{"payload":"reorder_1043","text":"Reorder"}}"#, .buttonReply, "Reorder"),
        (#"{"from":"1","id":"w4","type":"reaction","reaction":{"message_id":"wamid.OUT1","emoji":"👍"}}"#, .reaction, "[reacted 👍]"),
        (#"{"from":"1","id":"w5","type":"reaction","reaction":{"message_id":"wamid.OUT1"}}"#, .reaction, "[removed a reaction]"),
        (#"{"from":"1","id":"w6","type":"image","image":{"id":"123","mime_type":"image/jpeg","caption":"Damaged box"}}"#, .image, "[photo] Damaged box"),
        (#"{"from":"1","id":"w7","type":"audio","audio":{"id":"234","mime_type":"audio/ogg; codecs=opus","voice":true}}"#, .voice, "[voice message]"),
        (#"{"from":"1","id":"w8","type":"document","document":{"id":"345","filename":"invoice.pdf"}}"#, .document, "[document invoice.pdf]"),
        (#"{"from":"1","id":"w9","type":"location","location":{"latitude":37.5,"longitude":-122.25,"name":"Main Street Store","address":"1 Main St"}}"#, .location, "[location 37.5, -122.25] Main Street Store, 1 Main St"),
        (#"{"from":"1","id":"w10","type":"contacts","contacts":[{"name":{"formatted_name":"Ana K"},"phones":[{"phone":"+4915112345678"}]}]}"#, .contact, "[contact Ana K +4915112345678]"),
        (#"{"from":"1","id":"w11","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown"}]}"#, .unsupported, "[unsupported message: 131051: Message type unknown]"),
        (#"{"from":"1","id":"w12","type":"hologram","hologram":{}}"#, .unsupported, "[unsupported message: hologram]"),
        (#"{"from":"1","id":"w13","type":"sticker","sticker":{"id":"1","animated":false}}"#, .sticker, "[sticker]"),
        (#"{"from":"1","id":"w14","timestamp":1763633100,"type":"text","text":{"body":"numeric timestamp"}}"#, .text, "numeric timestamp"),
    ])
    func normalizesEveryMessageType(json: String, kind: MessageKind, text: String) async throws {
        let body = Payload.batch(messages: [Payload.Message(json: json, from: "1", name: "Ana")])
        let message = try #require(await channel.handleWebhook(signedPost(body)).accepted?.messages.first)
        #expect(message.kind == kind)
        #expect(message.text == text)
        #expect(message.isNewTurn == (kind != .reaction), "a reaction is stored, not answered")
    }

    @Test func anUnreadableItemCostsOnlyItself() async throws {
        let broken = Payload.Message(json: #"{"from":"1","id":"w1","type":"location","location":{"latitude":"north"}}"#, from: "1", name: nil)
        let noID = Payload.Message(json: #"{"from":"1","type":"text","text":{"body":"x"}}"#, from: "1", name: nil)
        let accepted = try #require(await channel.handleWebhook(signedPost(Payload.batch(messages: [broken, noID, .text("fine")]))).accepted)
        #expect(accepted.messages.map(\.text) == ["fine"])
    }

    @Test func statusesBecomeDeliveryUpdatesAnd131047ClosesTheWindow() async throws {
        let statuses = [
            FakeGraphAPI.Status(wamid: "wamid.A", status: "sent"), .init(wamid: "wamid.A", status: "delivered"), .init(wamid: "wamid.A", status: "read"),
            .init(wamid: "wamid.B", status: "failed", errorCode: 131047, errorTitle: "Re-engagement message"),
            .init(wamid: "wamid.C", status: "failed", errorCode: 131026, errorTitle: "Message undeliverable"),
            .init(wamid: "wamid.D", status: "played"), .init(wamid: "wamid.E", status: "deleted"),
        ]
        let updates = try #require(await channel.handleWebhook(signedPost(Payload.batch(statuses: statuses))).accepted?.statuses)
        #expect(updates.map(\.state) == [.sent, .delivered, .read, .failed, .failed, .read])
        #expect(updates[3].error == "131047: Re-engagement message" && updates[3].windowClosed)
        #expect(updates[4].error == "131026: Message undeliverable" && !updates[4].windowClosed)
        #expect(updates.allSatisfy { $0.channelID == testChannelID })
    }

    @Test func aBodyOverMaxBodyBytesIsRefused() async {
        #expect(channel.maxWebhookBodyBytes == 4 << 20)
        let big = signedPost(String(repeating: " ", count: (4 << 20) + 1))
        #expect(await channel.handleWebhook(big).status == 413)
    }
}
