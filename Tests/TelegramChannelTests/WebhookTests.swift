import Foundation
import SwitchboardChannelKit
import SwitchboardCore
import Testing
import TelegramChannel

@Suite("Telegram webhook")
struct WebhookTests {
    let channel = makeChannel()

    private func post(_ body: [UInt8], secret: String? = testWebhookSecret, method: String = "POST") async -> WebhookResult {
        var headers = ["Content-Type": "application/json"]
        if let secret { headers["X-Telegram-Bot-Api-Secret-Token"] = secret }
        return await channel.handleWebhook(WebhookRequest(method: method, headers: headers, body: body))
    }

    private func status(_ result: WebhookResult) -> Int {
        switch result {
        case .accept(_, _, let response): response.status
        case .respond(let response): response.status
        }
    }

    @Test(arguments: [nil, "", "tg_7Qk2-VxP9_aLm5", "tg_7Qk2-VxP9_aLm", "tg_7Qk2-VxP9_aLm4x"])
    func wrongOrMissingSecretIsRejectedBeforeParsing(secret: String?) async throws {
        let result = await post(try Fixtures.bytes("text_message"), secret: secret)
        guard case .respond(let response) = result else {
            Issue.record("a request without the right secret was accepted: \(result)")
            return
        }
        #expect(response.status == 401)
    }

    @Test func badBodyWithWrongSecretIs401NotA400() async {
        // Authentication comes first: an unauthenticated caller learns nothing about parsing.
        #expect(status(await post(Array("{not json".utf8), secret: "nope")) == 401)
    }

    @Test(arguments: ["{not json", "[]", #"{"hello": "world"}"#, #"{"update_id": "815230001"}"#, ""])
    func malformedBodyIs400(body: String) async {
        let result = await post(Array(body.utf8))
        guard case .respond(let response) = result else {
            Issue.record("malformed body accepted")
            return
        }
        #expect(response.status == 400)
    }

    @Test func onlyPostIsAllowed() async throws {
        #expect(status(await post(try Fixtures.bytes("text_message"), method: "GET")) == 405)
    }

    @Test func oversizedBodyIs413() async {
        let body = Array(#"{"update_id": 1, "message": {"text": ""# .utf8) + Array(repeating: UInt8(ascii: "a"), count: 1 << 20) + Array(#""}}"#.utf8)
        #expect(status(await post(body)) == 413)
    }

    struct Expectation: Sendable, CustomTestStringConvertible {
        var fixture: String
        var conversationKey: String
        var providerMessageID: String
        var kind: MessageKind
        var text: String
        var senderName: String?
        var senderHandle: String?
        var chatTitle: String?
        /// Unix seconds; `nil` for a button press, which carries no date of its own.
        var receivedAt: Int?
        var isEdit = false
        var event: ChatEvent?

        var testDescription: String { fixture }
    }

    static let expectations: [Expectation] = [
        .init(
            fixture: "text_message", conversationKey: "123456789", providerMessageID: "815230001", kind: .text,
            text: "Hi, is my order 1042 shipped?", senderName: "Ana K", senderHandle: "ana_k", chatTitle: "Ana K", receivedAt: 1_763_633_100),
        .init(
            fixture: "photo_caption", conversationKey: "123456789", providerMessageID: "815230002", kind: .image,
            text: "This arrived damaged", senderName: "Ana K", senderHandle: "ana_k", chatTitle: "Ana K", receivedAt: 1_763_633_160),
        .init(
            fixture: "document", conversationKey: "123456789", providerMessageID: "815230003", kind: .document,
            text: "[document invoice.pdf]", senderName: "Ana K", senderHandle: "ana_k", chatTitle: "Ana K", receivedAt: 1_763_633_220),
        .init(
            fixture: "voice", conversationKey: "123456789", providerMessageID: "815230004", kind: .voice, text: "[voice message 7 s]",
            senderName: "Ana", chatTitle: "Ana", receivedAt: 1_763_633_280),
        .init(
            fixture: "location", conversationKey: "123456789", providerMessageID: "815230005", kind: .location,
            text: "[location 55.75, 37.61]", senderName: "Ana K", chatTitle: "Ana K", receivedAt: 1_763_633_340),
        .init(
            fixture: "contact", conversationKey: "123456789", providerMessageID: "815230006", kind: .contact,
            text: "[contact Ana K +4915112345678]", senderName: "Ana K", chatTitle: "Ana K", receivedAt: 1_763_633_400),
        .init(
            fixture: "edited_message", conversationKey: "123456789", providerMessageID: "815230007", kind: .text,
            text: "Hi, is my order 1043 shipped?", senderName: "Ana K", senderHandle: "ana_k", chatTitle: "Ana K",
            receivedAt: 1_763_633_460, isEdit: true),
        .init(
            fixture: "callback_query", conversationKey: "123456789", providerMessageID: "815230008", kind: .buttonReply,
            text: "csat:yes:conv_81", senderName: "Ana K", senderHandle: "ana_k", chatTitle: "Ana K", receivedAt: nil),
        .init(
            fixture: "my_chat_member_kicked", conversationKey: "123456789", providerMessageID: "815230009", kind: .system,
            text: "[the client blocked the bot]", senderName: "Ana K", senderHandle: "ana_k", chatTitle: "Ana K", receivedAt: 1_763_634_000,
            event: .unreachable),
        .init(
            fixture: "group_message", conversationKey: "-1002233445566", providerMessageID: "815230012", kind: .text,
            text: "Can we book the terrace for Friday, 40 guests?", senderName: "Marek Nowak", senderHandle: "marek_n",
            chatTitle: "Riverside Events Team", receivedAt: 1_763_635_200),
        .init(
            fixture: "sticker", conversationKey: "123456789", providerMessageID: "815230013", kind: .sticker, text: "[sticker 👍]",
            senderName: "Ana K", chatTitle: "Ana K", receivedAt: 1_763_633_520),
        .init(
            fixture: "video_caption", conversationKey: "123456789", providerMessageID: "815230014", kind: .video,
            text: "The leak under the sink, room 214", senderName: "Ana K", chatTitle: "Ana K", receivedAt: 1_763_633_580),
    ]

    @Test(arguments: expectations)
    func fixtureNormalizes(_ expected: Expectation) async throws {
        let result = await post(try Fixtures.bytes(expected.fixture))
        guard case .accept(let messages, _, let response) = result else {
            Issue.record("not accepted: \(result)")
            return
        }
        #expect(response.status == 200)
        try #require(messages.count == 1)
        let message = messages[0]
        #expect(message.channelID == testChannelID)
        #expect(message.conversationKey == expected.conversationKey)
        #expect(message.providerMessageID == expected.providerMessageID)
        #expect(message.kind == expected.kind)
        #expect(message.text == expected.text)
        #expect(message.senderName == expected.senderName)
        #expect(message.senderHandle == expected.senderHandle)
        #expect(message.chatTitle == expected.chatTitle)
        if let receivedAt = expected.receivedAt {
            #expect(message.receivedAt == Date(timeIntervalSince1970: TimeInterval(receivedAt)))
        }
        #expect(message.isEdit == expected.isEdit)
        #expect(message.event == expected.event)
    }

    @Test(arguments: ["channel_post", "my_chat_member_unblocked", "service_new_members"])
    func ignoredUpdatesAreAcceptedWithoutMessages(fixture: String) async throws {
        let result = await post(try Fixtures.bytes(fixture))
        guard case .accept(let messages, _, let response) = result else {
            Issue.record("an ignored update was not acknowledged: \(result)")
            return
        }
        #expect(messages.isEmpty)
        #expect(response.status == 200)
    }

    @Test func buttonPressIsAnsweredInTheWebhookResponse() async throws {
        let result = await post(try Fixtures.bytes("callback_query"))
        guard case .accept(_, _, let response) = result else {
            Issue.record("not accepted")
            return
        }
        #expect(response.status == 200)
        #expect(response.contentType == "application/json")
        let call = try JSONDecoder().decode([String: String].self, from: Data(response.body))
        #expect(call == ["method": "answerCallbackQuery", "callback_query_id": "4382938471928374651"])
    }
}
