import Foundation
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardCore
import SwitchboardTesting
import Synchronization
import Testing

@testable import EmailChannel

private func at(_ iso: String) -> Date { parseISO(iso) }

/// `email_fallback` on a widget channel (design.md §4): a visitor who left an email address and
/// is offline when a reminder goes out gets it by mail too, threaded per visitor — against a
/// real SMTP server (aiosmtpd) the test starts on loopback.
@Suite(.serialized, .awaitedTeardown)
struct WidgetEmailFallbackTests {
    static func emailChannel(smtp: SMTPTestServer) -> String {
        """
        type: email
        id: mail
        employee: alexey
        address: support@example.com
        display_name: Riverside Hotel
        smtp: { url: "\(smtp.url)", username: \(SMTPTestServer.username), password: \(SMTPTestServer.password) }
        inbound: { mailgun: { signing_key: mailgun-test-key-0123456789 } }
        """
    }

    /// Anna left her address: reminders 1 and 3 (she is away) come by mail too, the second in
    /// the first one's thread; reminder 2 (her page is open) does not. Boris left none: no mail.
    /// Carol's address is refused by the mail server: her chat says why she got no mail, and
    /// her reminder waits for her in the widget all the same.
    @Test(.enabled(if: SMTPTestServer.isAvailable, "needs aiosmtpd (pip install aiosmtpd)"))
    func anOfflineVisitorWithAnAddressGetsRemindersByMailInOneThread() async throws {
        let smtp = try await onOwnThread { try SMTPTestServer.start() }
        let h = try await WidgetGatewayHarness(widgetYAML: "email_fallback: mail", otherChannels: ["email.yaml": Self.emailChannel(smtp: smtp)])
        onTeardown {
            await h.shutdown()
            smtp.stop()
        }
        let clock = h.manualClock
        let anna = "anna@example.org"
        let carol = "unknown-carol@example.org"
        func mails(to address: String) -> [ParsedMail] {
            smtp.received.filter { $0.recipients == [address] }.map { MIMEParser().parse($0.raw) }
        }
        /// A visitor (with an address, or none) asks a question, is answered, and leaves.
        func visitorChats(email: String?) async throws -> (token: String, chat: Chat, lastSeq: Int64) {
            let token = try await h.newVisitorToken()
            let lastSeq = Mutex<Int64>(0)
            try await h.withSocket { socket in
                try await socket.auth(token)
                try await socket.read(until: "ready")
                if let email {
                    try await socket.send(#"{"type":"profile","name":"","email":"\#(email)"}"#)
                    let echo = try await socket.read(until: "profile").last
                    #expect(echo?["email"] as? String == email)
                }
                try await socket.send(#"{"type":"message","client_msg_id":"c1","text":"Is the spa open on Sunday?"}"#)
                let frames = try await socket.read { $0.ofType("message").count == 2 }
                lastSeq.withLock { $0 = frames.seqs.last ?? 0 }
            }
            let chat = try #require(try await h.chat(visitorToken: token))
            try await eventually("chain armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == at("2026-11-23T10:00:00Z") }
            return (token, chat, lastSeq.withLock { $0 })
        }
        func stored(_ chat: Chat) async throws -> [StoredMessage] { try await h.gateway.store.messages(chatID: chat.id, limit: 50) }

        let (annaToken, annaChat, _) = try await visitorChats(email: anna)
        let (_, borisChat, _) = try await visitorChats(email: nil)
        let (_, carolChat, _) = try await visitorChats(email: carol)

        // Reminder 1, everyone away. Each reminder is stored once its send (and mail) is done.
        clock.advance(to: at("2026-11-23T10:00:00Z"))
        for chat in [annaChat, borisChat, carolChat] {
            try await eventually(timeout: .seconds(30), "reminder 1 stored") { try await stored(chat).contains { $0.text == "Reminder 1 from Alexey" } }
        }
        let first = try #require(mails(to: anna).first)
        #expect(mails(to: anna).count == 1)
        #expect(smtp.received.count == 1, "Boris left no address; Carol's was refused")
        #expect(smtp.received.first?.mailFrom == "support@example.com")
        #expect(first.from == MailAddress(name: "Riverside Hotel", address: "support@example.com"))
        #expect(first.subject == "Message from Riverside Hotel")
        #expect(first.headers["Auto-Submitted"] == "auto-generated")
        #expect(first.inReplyTo.isEmpty)
        #expect(first.text.trimmingCharacters(in: .whitespacesAndNewlines) == "Reminder 1 from Alexey")
        let firstID = try #require(first.messageID)
        #expect(firstID.hasSuffix("@example.com>"))
        let annaReminder = try #require(try await stored(annaChat).first { $0.text == "Reminder 1 from Alexey" })
        #expect(annaReminder.deliveredAt == nil, "still waiting for her in the widget")
        try await eventually("why Carol got no mail") {
            try await stored(carolChat).contains { $0.author == .system && $0.text.contains("The reminder was not emailed to \(carol)") && $0.text.contains("550") }
        }
        #expect(try await stored(carolChat).contains { $0.text == "Reminder 1 from Alexey" && $0.author == .employee })

        // Reminder 2 while Anna's page is open: she reads it there, no mail.
        let seen = Mutex<Int64>(0)
        try await h.withSocket { socket in
            try await socket.auth(annaToken)
            let replay = try await socket.read(until: "ready")
            seen.withLock { $0 = replay.seqs.last ?? 0 }
            clock.advance(to: at("2026-11-24T10:00:00Z"))
            let frames = try await socket.read { $0.texts.contains("Reminder 2 from Alexey") }
            #expect(frames.texts.last == "Reminder 2 from Alexey")
        }
        try await eventually("reminder 2 stored") { try await stored(annaChat).contains { $0.text == "Reminder 2 from Alexey" && $0.deliveredAt != nil } }
        #expect(mails(to: anna).count == 1, "no mail for a visitor whose page is open")
        for chat in [borisChat, carolChat] {
            try await eventually(timeout: .seconds(30), "the others' reminder 2 stored") { try await stored(chat).contains { $0.text == "Reminder 2 from Alexey" } }
        }

        // Reminder 3, away again: by mail, in the first mail's thread.
        clock.advance(to: at("2026-11-26T10:00:00Z"))
        try await eventually(timeout: .seconds(30), "reminder 3 stored") { try await stored(annaChat).contains { $0.text == "Reminder 3 from Alexey" } }
        let annas = mails(to: anna)
        #expect(annas.count == 2)
        let third = try #require(annas.last)
        #expect(third.subject == "Re: Message from Riverside Hotel")
        #expect(third.inReplyTo == [firstID])
        #expect(third.references == [firstID])
        #expect(third.text.trimmingCharacters(in: .whitespacesAndNewlines) == "Reminder 3 from Alexey")
        #expect(third.messageID != firstID)
    }

    /// `switchboard check` names a wrong `email_fallback` on its line: no such channel, or a
    /// channel that is not an email channel; an email channel passes.
    @Test func checkJudgesEmailFallbackAgainstTheOtherChannels() throws {
        let loader = ConfigLoader(channelValidators: ChannelRegistry.validators, environment: [:])
        let widget = "type: widget\nid: web\nemployee: alexey\nemail_fallback: mail\n"
        let email = """
            type: email
            id: mail
            employee: alexey
            address: support@example.com
            smtp: { url: "smtp://127.0.0.1:2525" }
            inbound: { mailgun: { signing_key: mailgun-test-key-0123456789 } }
            """
        let telegram = "type: telegram\nid: mail\nemployee: alexey\ntoken: \"123:abc\"\nmode: polling\n"
        func check(_ channels: [(String, String)]) -> [ConfigDiagnostic] {
            do {
                _ = try loader.parse(config: "employees:\n  - id: alexey\n", file: "config.yaml", channels: channels, baseDirectory: "/tmp")
                return []
            } catch {
                return error.diagnostics
            }
        }
        #expect(check([("channels/email.yaml", email), ("channels/widget.yaml", widget)]).isEmpty)
        #expect(check([("channels/widget.yaml", widget), ("channels/email.yaml", email)]).isEmpty, "the order of the files does not matter")

        let missing = check([("channels/widget.yaml", widget)])
        #expect(missing.count == 1)
        #expect(missing.first?.file == "channels/widget.yaml" && missing.first?.line == 4)
        #expect(missing.first?.message.contains("email_fallback names channel 'mail', but no channel file has that id") == true, "\(missing)")

        let wrongType = check([("channels/widget.yaml", widget), ("channels/telegram.yaml", telegram)])
        #expect(wrongType.count == 1, "\(wrongType)")
        #expect(wrongType.first?.message.contains("email_fallback must name an email channel; 'mail' is type: telegram") == true, "\(wrongType)")
    }
}
