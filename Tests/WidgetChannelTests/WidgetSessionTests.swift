import Foundation
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardTesting
import Testing
@testable import WidgetChannel

/// The widget protocol against a fake socket and a real (in-memory) store.
@Suite struct WidgetSessionTests {
    @Test func aVisitorAuthenticatesWritesAndSeesTheStoredMessageWithItsSeq() async throws {
        let bed = try WidgetTestbed()
        let token = try await bed.newToken()
        let (socket, _) = bed.connect(token: token)
        try await eventually("ready") { !socket.frames(ofType: "ready").isEmpty }
        let ready = socket.frames(ofType: "ready")[0]
        #expect(ready["visitor_id"] as? String == visitorID(of: token))
        #expect(ready["employee_name"] as? String == "Alexey")
        #expect((ready["chat_title"] as? String)?.hasPrefix("Visitor ") == true)

        socket.receive(#"{"type":"message","client_msg_id":"m-1","text":"  Is breakfast included?  "}"#)
        try await eventually("ack and echo") { !socket.frames(ofType: "ack").isEmpty && !socket.frames(ofType: "message").isEmpty }
        let echo = socket.frames(ofType: "message")[0]
        #expect(echo["author"] as? String == "client" && echo["text"] as? String == "Is breakfast included?" && echo["client_msg_id"] as? String == "m-1")
        let chat = try #require(try await bed.chat(visitorID: visitorID(of: token)))
        #expect(chat.title == "Visitor \(visitorID(of: token).prefix(4).uppercased())")
        let stored = try await bed.store.messages(chatID: chat.id, limit: 10)
        #expect(stored.map(\.text) == ["Is breakfast included?"] && echo["seq"] as? Int64 == stored[0].id)

        // A resend after a reconnect (same client_msg_id) is stored once.
        socket.receive(#"{"type":"message","client_msg_id":"m-1","text":"Is breakfast included?"}"#)
        try await eventually("second ack") { socket.frames(ofType: "ack").count == 2 }
        #expect(try await bed.store.messages(chatID: chat.id, limit: 10).count == 1)

        let receipt = try await bed.employeeSays("Yes, from 7 to 11.", visitorID: visitorID(of: token))
        #expect(receipt.delivered, "the visitor is online")
        try await eventually("reply pushed") { socket.messageTexts.contains("Yes, from 7 to 11.") }
        #expect(socket.frames(ofType: "message").last?["author"] as? String == "employee")
        #expect(socket.messageSeqs == socket.messageSeqs.sorted() && Set(socket.messageSeqs).count == socket.messageSeqs.count)
    }

    /// The heart of the protocol: what a visitor misses while away arrives on reconnect, in
    /// order, exactly once — and the chat records when it was stored and when it was delivered.
    @Test func aReconnectingPageGetsExactlyWhatItMissed() async throws {
        let bed = try WidgetTestbed()
        let token = try await bed.newToken()
        let visitor = visitorID(of: token)
        let (first, _) = bed.connect(token: token)
        first.receive(#"{"type":"message","client_msg_id":"a1","text":"Hello"}"#)
        try await eventually("echo") { first.messageTexts == ["Hello"] }
        try await bed.employeeSays("Hi! How can I help?", visitorID: visitor)
        try await eventually("reply") { first.messageTexts == ["Hello", "Hi! How can I help?"] }
        let lastSeen = try #require(first.messageSeqs.last)
        first.disconnect()
        try await eventually("offline") { !bed.channel.runtime.hub.isOnline(visitor) }

        var receipts: [DeliveryReceipt] = []
        for step in 1...3 {
            bed.clock.advance(by: .seconds(4 * 3600))
            receipts.append(try await bed.employeeSays("Reminder \(step)", visitorID: visitor, step: step))
        }
        #expect(receipts.allSatisfy { !$0.delivered }, "stored for an offline visitor")
        let chat = try #require(try await bed.chat(visitorID: visitor))
        let waiting = try await bed.store.messages(chatID: chat.id, after: lastSeen, limit: 10)
        #expect(waiting.map(\.text) == ["Reminder 1", "Reminder 2", "Reminder 3"] && waiting.allSatisfy { $0.deliveredAt == nil })

        bed.clock.advance(by: .seconds(3600))
        let (second, _) = bed.connect(token: token, lastSeq: lastSeen)
        try await eventually("ready after the replay") { !second.frames(ofType: "ready").isEmpty }
        #expect(second.messageTexts == ["Reminder 1", "Reminder 2", "Reminder 3"], "exactly the missed messages, in order")
        #expect(second.messageSeqs == waiting.map(\.id))
        #expect(second.frames.last?["type"] as? String == "ready", "ready follows the replay")
        #expect(second.frames(ofType: "ready")[0]["last_seq"] as? Int64 == waiting.last?.id)
        let delivered = try await bed.store.messages(chatID: chat.id, after: lastSeen, limit: 10)
        #expect(delivered.allSatisfy { $0.deliveredAt == bed.clock.now() }, "delivered on reconnect")
        #expect(delivered.allSatisfy { $0.at < bed.clock.now() }, "stored earlier")

        // Pings and later wake-ups send nothing twice: the session catches up one wake-up at a
        // time, so once a later message has arrived, whatever the ping's wake-up sent is in too.
        second.receive(#"{"type":"ping"}"#)
        try await eventually("pong") { !second.frames(ofType: "pong").isEmpty }
        _ = try await bed.employeeSays("Anything else?", visitorID: visitor)
        try await eventually("the later message") { second.messageTexts.last == "Anything else?" }
        #expect(second.messageTexts == ["Reminder 1", "Reminder 2", "Reminder 3", "Anything else?"])

        // A fresh page (no last_seq) gets the whole conversation.
        let (fresh, _) = bed.connect(token: token)
        try await eventually("fresh ready") { !fresh.frames(ofType: "ready").isEmpty }
        #expect(fresh.messageTexts == ["Hello", "Hi! How can I help?", "Reminder 1", "Reminder 2", "Reminder 3", "Anything else?"])
        #expect(fresh.frames(ofType: "message")[0]["client_msg_id"] as? String == "a1")
        #expect(fresh.frames(ofType: "ready")[0]["has_more"] as? Int64 == 0)
    }

    @Test func aFreshPageGetsTheLatestMessagesAndKnowsThereAreMore() async throws {
        let bed = try WidgetTestbed(WidgetChannel.Configuration(historyLimit: 3))
        let token = try await bed.newToken(origin: nil)
        let (socket, _) = bed.connect(token: token)
        for i in 1...5 { socket.receive(#"{"type":"message","client_msg_id":"m\#(i)","text":"message \#(i)"}"#) }
        try await eventually("five echoes") { socket.frames(ofType: "message").count == 5 }
        let (fresh, _) = bed.connect(token: token)
        try await eventually("ready") { !fresh.frames(ofType: "ready").isEmpty }
        #expect(fresh.messageTexts == ["message 3", "message 4", "message 5"])
        #expect(fresh.frames(ofType: "ready")[0]["has_more"] as? Int64 == 1)
    }

    @Test func everyTabOfAVisitorSeesEveryMessage() async throws {
        let bed = try WidgetTestbed()
        let token = try await bed.newToken()
        let (tab1, _) = bed.connect(token: token)
        let (tab2, _) = bed.connect(token: token)
        try await eventually("both ready") { !tab1.frames(ofType: "ready").isEmpty && !tab2.frames(ofType: "ready").isEmpty }
        tab1.receive(#"{"type":"message","client_msg_id":"x","text":"from tab 1"}"#)
        try await bed.chatExists(visitorID(of: token))
        try await bed.employeeSays("answer", visitorID: visitorID(of: token))
        try await eventually("both tabs") { tab1.messageTexts == ["from tab 1", "answer"] && tab2.messageTexts == ["from tab 1", "answer"] }
    }

    @Test(arguments: [
        (nil as String?, 4401), (#"{"type":"auth"}"#, 4401), (#"{"type":"auth","visitor_token":"v1.forged.1.AAAA"}"#, 4401),
        (#"{"type":"message","client_msg_id":"a","text":"hi"}"#, 4401), ("not json", 4400), (#"{"no":"type"}"#, 4400),
        (#"{"type":"auth","visitor_token":"x","last_seq":-1}"#, 4400),
    ])
    func aSocketWithoutAValidTokenIsClosed(_ firstFrame: String?, _ code: Int) async throws {
        // A frame is answered long before a busy machine's scheduler reaches a 1 s timeout only
        // when the timeout is out of its way; the case without a frame waits for the timeout.
        let bed = try WidgetTestbed(WidgetChannel.Configuration(authTimeout: firstFrame == nil ? 1 : 30))
        let (socket, task) = bed.connect(token: nil)
        if let firstFrame { socket.receive(firstFrame) }
        await task.value
        #expect(socket.closeCode == (firstFrame == nil ? 4408 : code))
        #expect(socket.frames.isEmpty, "nothing is sent before authentication")
    }

    @Test func anExpiredTokenOrAnotherChannelsTokenIsRefused() async throws {
        let bed = try WidgetTestbed(WidgetChannel.Configuration(tokenTTLDays: 1))
        let token = try await bed.newToken()
        bed.realNow.advance(2 * 86400)
        let (expired, task) = bed.connect(token: token)
        await task.value
        #expect(expired.closeCode == 4401)

        let other = try WidgetTestbed()
        let foreign = try await other.newToken()
        let (socket, task2) = bed.connect(token: foreign)
        await task2.value
        #expect(socket.closeCode == 4401)
    }

    @Test func binaryFramesAreRefused() async throws {
        let bed = try WidgetTestbed()
        let token = try await bed.newToken()
        let (socket, task) = bed.connect(token: token)
        try await eventually("ready") { !socket.frames(ofType: "ready").isEmpty }
        socket.receiveBinary(10)
        await task.value
        #expect(socket.closeCode == 1003)
    }

    @Test func messagesOverTheAllowanceAreRefusedAndAFloodClosesTheSocket() async throws {
        let bed = try WidgetTestbed(WidgetChannel.Configuration(messagesPerMinute: 6, messageBurst: 2))
        let token = try await bed.newToken()
        let (socket, task) = bed.connect(token: token)
        for i in 1...3 { socket.receive(#"{"type":"message","client_msg_id":"r\#(i)","text":"hi \#(i)"}"#) }
        try await eventually("two stored, one refused") { socket.frames(ofType: "ack").count == 2 && socket.frames(ofType: "error").count == 1 }
        let refusal = socket.frames(ofType: "error")[0]
        #expect(refusal["code"] as? String == "rate_limited" && refusal["client_msg_id"] as? String == "r3")
        let retry = try #require(refusal["retry_after_ms"] as? Int64)
        #expect(retry > 5000 && retry <= 10001, "one message per 10 s: \(retry)")
        let chat = try #require(try await bed.chat(visitorID: visitorID(of: token)))
        #expect(try await bed.store.messages(chatID: chat.id, limit: 10).count == 2)

        for _ in 0..<60 { socket.receive(#"{"type":"ping"}"#) }
        await task.value
        #expect(socket.closeCode == 4429)
    }

    @Test func aFloodOfPingFramesClosesTheSocketLikeAnyOtherFlood() async throws {
        let bed = try WidgetTestbed()
        let token = try await bed.newToken()
        let (socket, task) = bed.connect(token: token)
        try await eventually("ready") { !socket.frames(ofType: "ready").isEmpty }
        // A ping every 25 s, as browsers' pongs to the server's pings, is far inside the limit.
        for _ in 0..<5 { socket.receiveControlFrame() }
        socket.receive(#"{"type":"ping"}"#)
        try await eventually("pong") { !socket.frames(ofType: "pong").isEmpty }
        #expect(socket.closeCode == nil)
        // The WebSocket layer answers pings itself; they still count toward the visitor's frames.
        for _ in 0..<60 { socket.receiveControlFrame() }
        await task.value
        #expect(socket.closeCode == 4429)
    }

    @Test func aFloodOfPingFramesBeforeAuthClosesTheSocket() async throws {
        let bed = try WidgetTestbed()
        let (socket, task) = bed.connect(token: nil)
        for _ in 0..<60 { socket.receiveControlFrame() }
        await task.value
        #expect(socket.closeCode == 4429, "not left to the auth timeout")
    }

    @Test func invalidMessagesAreRefusedWithAReason() async throws {
        let bed = try WidgetTestbed(WidgetChannel.Configuration(maxTextLength: 10))
        let token = try await bed.newToken()
        let (socket, _) = bed.connect(token: token)
        socket.receive(#"{"type":"message","client_msg_id":"a","text":"   "}"#)
        socket.receive(#"{"type":"message","client_msg_id":"b","text":"far too long for ten"}"#)
        socket.receive(#"{"type":"message","client_msg_id":"no spaces allowed","text":"hi"}"#)
        socket.receive(#"{"type":"sticker"}"#)
        try await eventually("four errors") { socket.frames(ofType: "error").count == 4 }
        #expect(socket.frames(ofType: "error").compactMap { $0["code"] as? String } == ["empty_text", "text_too_long", "bad_client_msg_id", "unknown_type"])
        #expect(socket.closeCode == nil, "the socket stays open")
    }

    @Test func aStoreOutageIsReportedAndTheMessageCanBeSentAgain() async throws {
        let bed = try WidgetTestbed()
        let token = try await bed.newToken()
        let (socket, _) = bed.connect(token: token)
        bed.intake.failNext(1)
        socket.receive(#"{"type":"message","client_msg_id":"z","text":"hello"}"#)
        try await eventually("unavailable") { socket.frames(ofType: "error").first?["code"] as? String == "unavailable" }
        #expect(socket.frames(ofType: "ack").isEmpty)
        socket.receive(#"{"type":"message","client_msg_id":"z","text":"hello"}"#)
        try await eventually("stored on the retry") { socket.frames(ofType: "ack").count == 1 && socket.messageTexts == ["hello"] }
    }

    @Test func aVisitorsOldestConnectionYieldsBeyondTheLimit() async throws {
        let bed = try WidgetTestbed(WidgetChannel.Configuration(maxConnectionsPerVisitor: 1))
        let token = try await bed.newToken()
        let (old, oldTask) = bed.connect(token: token)
        try await eventually("ready") { !old.frames(ofType: "ready").isEmpty }
        let (new, _) = bed.connect(token: token)
        await oldTask.value
        #expect(old.closeCode == 4409)
        try await eventually("new ready") { !new.frames(ofType: "ready").isEmpty }
        #expect(bed.channel.connectionCount == 1)
    }

    @Test func theVisitorsNameTitlesTheChatAndIsRemembered() async throws {
        let bed = try WidgetTestbed()
        let token = try await bed.newToken()
        let (socket, _) = bed.connect(token: token)
        socket.receive(#"{"type":"profile","name":"Ana K","email":"bad-email"}"#)
        try await eventually("refused") { socket.frames(ofType: "error").first?["code"] as? String == "invalid_profile" }
        socket.receive(#"{"type":"profile","name":"  Ana K ","email":"ana@example.com"}"#)
        try await eventually("echo") { !socket.frames(ofType: "profile").isEmpty }
        #expect(socket.frames(ofType: "profile")[0]["name"] as? String == "Ana K")
        socket.receive(#"{"type":"message","client_msg_id":"n1","text":"Hi"}"#)
        try await eventually("stored") { !socket.frames(ofType: "ack").isEmpty }
        let chat = try #require(try await bed.chat(visitorID: visitorID(of: token)))
        #expect(chat.title == "Ana K" && chat.clientName == "Ana K")

        let (again, _) = bed.connect(token: token)
        try await eventually("ready") { !again.frames(ofType: "ready").isEmpty }
        let profile = try #require(again.frames(ofType: "ready")[0]["profile"] as? [String: any Sendable])
        #expect(profile["name"] as? String == "Ana K" && profile["email"] as? String == "ana@example.com")
        #expect(again.frames(ofType: "ready")[0]["chat_title"] as? String == "Ana K")
    }
}

extension WidgetTestbed {
    func chatExists(_ visitorID: String) async throws {
        try await eventually("chat") { try await self.chat(visitorID: visitorID) != nil }
    }
}
