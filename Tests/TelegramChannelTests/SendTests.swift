import Foundation
import SwitchboardCore
import SwitchboardFakes
import Testing
import TelegramChannel

@Suite("Telegram sending")
struct SendTests {
    private func outbound(_ text: String, to key: String = "123456789") -> OutboundMessage {
        OutboundMessage(chatID: "chat-1", channelID: testChannelID, conversationKey: key, text: text)
    }

    /// Runs `body` against a fresh fake and a channel pointed at it.
    private func withFake(
        requestTimeout: Int = 5, _ body: (FakeTelegramServer, TelegramChannel) async throws -> Void
    ) async throws {
        let telegram = FakeTelegramServer()
        let apiBase = try await telegram.start()
        let channel = makeChannel(apiBase: apiBase, token: FakeTelegramServer.defaultToken, requestTimeout: requestTimeout)
        do {
            try await body(telegram, channel)
        } catch {
            await telegram.stop()
            throw error
        }
        await telegram.stop()
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

    @Test func sendsPlainText() async throws {
        try await withFake { telegram, channel in
            let receipt = try await channel.send(outbound("Your order 1043 shipped today."))
            let sent = telegram.sentMessages
            #expect(sent.count == 1)
            #expect(sent.first?.chatID == .int(123_456_789))
            #expect(sent.first?.text == "Your order 1043 shipped today.")
            #expect(receipt.providerMessageIDs == sent.map { String($0.messageID) })
            #expect(receipt.delivered)
            let call = try #require(telegram.calls("sendMessage").first)
            #expect(call.token == FakeTelegramServer.defaultToken)
            // Plain text: no parse_mode, so the employee's `<` or `*` arrive as typed.
            #expect(call.parameters["parse_mode"] == nil)
        }
    }

    @Test func channelUsernamesAreSentAsStrings() async throws {
        try await withFake { telegram, channel in
            _ = try await channel.send(outbound("Hello", to: "@riverside_news"))
            #expect(telegram.sentMessages.first?.chatID == .string("@riverside_news"))
        }
    }

    @Test func longTextIsSplitInOrderAtParagraphs() async throws {
        // Three paragraphs of ~3000 characters each, with emoji and accents along the way.
        let paragraphs = (1...3).map { n in
            String(repeating: "Paragraph \(n): ĉu vi ŝatas 🇩🇪 flags and 👩‍👩‍👧 families? ", count: 60)
                .trimmingCharacters(in: .whitespaces)
        }
        let text = paragraphs.joined(separator: "\n\n")
        #expect(text.utf16.count > 8192)
        try await withFake { telegram, channel in
            let receipt = try await channel.send(outbound(text))
            let sent = telegram.sentMessages
            #expect(sent.map(\.text) == paragraphs)
            #expect(sent.allSatisfy { $0.text.utf16.count <= 4096 })
            #expect(receipt.providerMessageIDs == sent.map { String($0.messageID) })
            #expect(receipt.providerMessageIDs.count == 3)
        }
    }

    @Test func textWithoutBreaksIsCutBetweenGraphemes() async throws {
        // 2,000 flags: 4 UTF-16 units each, two scalars that must stay together.
        let text = String(repeating: "🇩🇪", count: 2000)
        try await withFake { telegram, channel in
            let receipt = try await channel.send(outbound(text))
            let sent = telegram.sentMessages.map(\.text)
            #expect(sent.count == 2)
            #expect(sent.allSatisfy { $0.utf16.count <= 4096 })
            #expect(sent.joined() == text)
            #expect(sent.allSatisfy { $0.allSatisfy { $0 == "🇩🇪" } })
            #expect(receipt.providerMessageIDs.count == 2)
        }
    }

    @Test func lineBreaksWinOverSpacesWhenThereIsNoParagraph() async throws {
        let lines = (1...200).map { "Line \($0) of the long itemised invoice, with a few words" }
        let text = lines.joined(separator: "\n")
        try await withFake { telegram, channel in
            _ = try await channel.send(outbound(text))
            let sent = telegram.sentMessages.map(\.text)
            #expect(sent.count > 1)
            // Every part ends at the end of a line: no line is cut in two.
            #expect(sent.flatMap { $0.split(separator: "\n").map(String.init) } == lines)
        }
    }

    @Test func floodControlIsRetryableWithRetryAfter() async throws {
        try await withFake { telegram, channel in
            telegram.script("sendMessage", .tooManyRequests(retryAfter: 35))
            let error = await deliveryError { try await channel.send(outbound("Hello")) }
            #expect(error?.kind == .retryable)
            #expect(error?.retryAfter == .seconds(35))
        }
    }

    @Test func serverErrorIsRetryable() async throws {
        try await withFake { telegram, channel in
            telegram.script("sendMessage", .serverError)
            let error = await deliveryError { try await channel.send(outbound("Hello")) }
            #expect(error?.kind == .retryable)
            #expect(error?.retryAfter == nil)
        }
    }

    @Test(arguments: [
        "Forbidden: bot was blocked by the user", "Forbidden: user is deactivated",
        "Forbidden: bot can't initiate conversation with a user", "Forbidden: bot was kicked from the group chat",
    ])
    func forbiddenIsUnreachable(description: String) async throws {
        try await withFake { telegram, channel in
            telegram.script("sendMessage", .error(status: 403, description: description))
            let error = await deliveryError { try await channel.send(outbound("Hello")) }
            #expect(error?.kind == .unreachable)
            #expect(error?.message.contains(description) == true)
        }
    }

    @Test func chatNotFoundIsPermanent() async throws {
        try await withFake { telegram, channel in
            telegram.script("sendMessage", .chatNotFound)
            let error = await deliveryError { try await channel.send(outbound("Hello")) }
            #expect(error?.kind == .permanent)
        }
    }

    @Test func refusedTokenIsPermanentAndNeverQuoted() async throws {
        try await withFake { telegram, channel in
            telegram.setToken("7012345678:AAF-theRealOneIsDifferent")
            let error = await deliveryError { try await channel.send(outbound("Hello")) }
            #expect(error?.kind == .permanent)
            #expect(error?.message.contains("token") == true)
            #expect(error?.message.contains(FakeTelegramServer.defaultToken) == false)
            #expect(error.map { "\($0)" }?.contains("AAF-fake") == false)
        }
    }

    @Test func slowAnswerTimesOutAsRetryable() async throws {
        try await withFake(requestTimeout: 1) { telegram, channel in
            telegram.script("sendMessage", .delay(.seconds(3)))
            let error = await deliveryError { try await channel.send(outbound("Hello")) }
            #expect(error?.kind == .retryable)
            #expect(error?.message.contains(FakeTelegramServer.defaultToken) == false)
        }
    }

    @Test func unreachableServerIsRetryableWithoutTheToken() async throws {
        // Nothing listens on 127.0.0.1:9 (discard) in the test environment.
        let channel = makeChannel(apiBase: "http://127.0.0.1:9", requestTimeout: 2)
        let error = await deliveryError { try await channel.send(outbound("Hello")) }
        #expect(error?.kind == .retryable)
        #expect(error?.message.contains("AAF-fake") == false)
    }

    @Test func failureAfterAPartSaysHowFarItGot() async throws {
        let text = String(repeating: "word ", count: 1500)
        try await withFake { telegram, channel in
            // The first part goes through, the second hits flood control.
            telegram.script("sendMessage", .delay(.zero), .tooManyRequests(retryAfter: 2))
            let error = await deliveryError { try await channel.send(outbound(text)) }
            #expect(error?.kind == .retryable)
            #expect(error?.message.contains("1 of 2 parts") == true)
        }
    }

    @Test func conversationKeyMustBeAChatID() async {
        let channel = makeChannel()
        let error = await deliveryError { try await channel.send(outbound("Hello", to: "not-a-chat")) }
        #expect(error?.kind == .permanent)
    }
}

@Suite("Telegram text splitting")
struct SplittingTests {
    static let texts: [String] = [
        String(repeating: "a", count: 4096),
        String(repeating: "a", count: 4096) + " ",
        "  " + String(repeating: "a", count: 4096) + " b",
        String(repeating: "Windows line\r\n", count: 700),
        String(repeating: "Short sentence. ", count: 600),
        String(repeating: "é", count: 5000),
        String(repeating: "👩🏽‍💻", count: 1000),
        (1...900).map { "w\($0)" }.joined(separator: " ") + "\n\n" + String(repeating: "x ", count: 2500),
        "Intro\n\n" + String(repeating: "long sentence without a stop ", count: 400),
    ]

    @Test(arguments: texts.indices)
    func partsFitAndKeepEveryVisibleCharacter(index: Int) async throws {
        let text = Self.texts[index]
        try await withFakeTelegram { telegram, apiBase in
            let channel = makeChannel(apiBase: apiBase, token: FakeTelegramServer.defaultToken)
            let receipt = try await channel.send(
                OutboundMessage(chatID: "chat-1", channelID: testChannelID, conversationKey: "123456789", text: text))
            let parts = telegram.sentMessages.map(\.text)
            #expect(receipt.providerMessageIDs.count == parts.count)
            #expect(parts.allSatisfy { !$0.isEmpty && $0.utf16.count <= 4096 })
            if text.utf16.count <= 4096 {
                #expect(parts == [text])
            } else {
                // No part starts or ends blank at a cut (the text's own ends are left alone).
                #expect(parts.dropLast().allSatisfy { $0.last?.isWhitespace == false })
                #expect(parts.dropFirst().allSatisfy { $0.first?.isWhitespace == false })
                // Only whitespace at the cuts is dropped; no grapheme is altered.
                #expect(Array(parts.joined().filter { !$0.isWhitespace }) == Array(text.filter { !$0.isWhitespace }))
                // No needlessly small parts: each cut keeps at least half the limit, or the text
                // had nothing better.
                #expect(parts.count <= text.utf16.count / 2048 + 1)
            }
        }
    }
}
