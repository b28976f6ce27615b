import AsyncHTTPClient
import Foundation
import Logging
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardCore
import SwitchboardFakes
import SwitchboardServer
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
import Testing

@testable import EmailChannel

private func at(_ iso: String) -> Date { parseISO(iso) }

/// A gateway with an email channel `mail` on a real Dovecot (IMAP, polled every 100 ms of real
/// time) and a real SMTP server (aiosmtpd) that records what it receives; the gateway's clock is
/// manual. The gateway can be stopped and started again on the same files.
private final class EmailHarness: Sendable {
    let directory: URL
    let openAI = FakeOpenAIServer()
    let dovecot: DovecotTestServer
    let smtp: SMTPTestServer
    let clock = ManualClock("2026-11-23T06:00:00Z")  // Monday 09:00 in Moscow
    private let running = Mutex<(gateway: Gateway, task: Task<Void, any Error>)?>(nil)

    init(channelExtra: String = "") async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-email-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("channels"), withIntermediateDirectories: true)
        dovecot = try await onOwnThread { try DovecotTestServer.start() }
        smtp = try await onOwnThread { try SMTPTestServer.start() }
        _ = try await openAI.start()
        openAI.respond(text: "Hello from Alexey")
        try """
            admin: { token: admin-token-for-tests-0123456789 }
            composer: { base_url: \(openAI.baseURL), api_key: sk-test, model: fake-model }
            employees:
            \(GatewayHarness.alexey)
            """.write(to: directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        try """
            type: email
            id: mail
            employee: alexey
            address: support@example.com
            display_name: Riverside Hotel
            smtp: { url: "\(smtp.url)", username: \(SMTPTestServer.username), password: \(SMTPTestServer.password) }
            imap: { url: "\(dovecot.url)", username: \(DovecotTestServer.username), password: \(DovecotTestServer.password), poll_interval: 100ms }
            \(channelExtra)
            """.write(to: directory.appendingPathComponent("channels/email.yaml"), atomically: true, encoding: .utf8)
        try await startGateway()
    }

    var gateway: Gateway {
        get throws {
            guard let gateway = running.withLock({ $0?.gateway }) else { throw ContractViolation(description: "the gateway is not running") }
            return gateway
        }
    }

    var store: any Store { get throws { try gateway.store } }

    func startGateway() async throws {
        let config = try ConfigLoader(channelValidators: ChannelRegistry.validators, environment: [:])
            .load(configPath: directory.appendingPathComponent("config.yaml").path)
        var logger = Logger(label: "email-e2e")
        logger.logLevel = .warning
        let port = PortBox()
        let gateway = try Gateway(
            config: config,
            options: GatewayOptions(clock: clock, host: "127.0.0.1", port: 0, onServerRunning: { port.set($0) }, logger: logger, channelTypes: ChannelRegistry.catalog))
        let app = gateway.application()
        let task = Task { try await app.run() }
        running.withLock { $0 = (gateway, task) }
        try await eventually("the gateway listening") { port.get() != nil }
        // The first poll places the mailbox cursor: mail from now on is read.
        try await eventually(timeout: .seconds(30), "the first poll of the mailbox") { try await self.store.cursor("email:mail:imap") != nil }
    }

    func stopGateway() async {
        guard let (gateway, task) = running.withLock({ $0 }) else { return }
        task.cancel()
        _ = await task.result
        running.withLock { $0 = nil }
        // Stopped: nothing writes any more, so the next start opens the file afresh.
        if let sqlite = gateway.store as? SQLiteStore { try? await sqlite.closeConnections() }
    }

    func shutdown() async {
        await stopGateway()
        await openAI.stop()
        smtp.stop()
        dovecot.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Parsed mails the SMTP server accepted for `address`, in order.
    func mails(to address: String) -> [(envelope: SMTPTestServer.Received, mail: ParsedMail)] {
        smtp.received.filter { $0.recipients.contains(address) }.map { ($0, MIMEParser().parse($0.raw)) }
    }

    func chat(_ address: String) async throws -> Chat? { try await store.chat(channelID: "mail", conversationKey: address) }

    func state(_ address: String) async throws -> FollowUpState? {
        guard let chat = try await chat(address) else { return nil }
        return try await store.followUpState(chatID: chat.id)
    }

    /// Boris writes and his answer arrives: every mail appended before his has been handled.
    func borisWritesAndIsAnswered(_ text: String = "Hello, is the spa open on Sunday?") async throws {
        let before = mails(to: "boris@example.org").count
        try dovecot.append(Mail.plain(from: "Boris B <boris@example.org>", subject: "Spa", id: "<boris-\(UUID().uuidString)@example.org>", body: text))
        try await eventually(timeout: .seconds(30), "the answer to Boris") { self.mails(to: "boris@example.org").count == before + 1 }
    }
}

/// Client mail as clients' programs write it.
private enum Mail {
    /// The first mail: a Cyrillic subject in windows-1251 encoded-words, a
    /// quoted-printable windows-1251 body (what Outlook in a Russian locale sends).
    static let firstCyrillic = """
        From: =?windows-1251?B?zOj14OjrINHu6u7r7uI=?= <mikhail@example.net>\r
        To: support@example.com\r
        Subject: =?windows-1251?Q?=C1=F0=EE=ED=E8=F0=EE=E2=E0=ED=E8=E5_=ED=EE=EC?=\r
         =?windows-1251?Q?=E5=F0=E0_=ED=E0_=E4=E5=EA=E0=E1=F0=FC?=\r
        Date: Mon, 23 Nov 2026 09:00:00 +0300\r
        Message-ID: <first-8d7c6b5a@example.net>\r
        MIME-Version: 1.0\r
        Content-Type: text/plain; charset="windows-1251"\r
        Content-Transfer-Encoding: quoted-printable\r
        \r
        =C7=E4=F0=E0=E2=F1=F2=E2=F3=E9=F2=E5!\r
        \r
        =D5=EE=F7=F3 =E7=E0=E1=F0=EE=ED=E8=F0=EE=E2=E0=F2=FC =ED=EE=EC=E5=F0 =ED=E0=\r
         =E4=E2=EE=E8=F5 =F1 5 =EF=EE 7 =E4=E5=EA=E0=E1=F0=FF.\r
        \r

        """

    static func plain(from: String, subject: String, id: String, inReplyTo: String? = nil, headers: String = "", body: String) -> String {
        var text = "From: \(from)\r\nTo: Riverside Hotel <support@example.com>\r\nSubject: \(subject)\r\nMessage-ID: \(id)\r\n"
        text += "Date: Thu, 26 Nov 2026 12:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        if let inReplyTo { text += "In-Reply-To: \(inReplyTo)\r\nReferences: \(inReplyTo)\r\n" }
        text += headers
        return text + "\r\n" + body.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
    }

    /// A Postfix bounce of our mail `id` to `recipient`.
    static func bounce(of id: String, to recipient: String) -> String {
        """
        Return-Path: <>\r
        From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r
        To: support@example.com\r
        Subject: Undelivered Mail Returned to Sender\r
        Auto-Submitted: auto-replied\r
        Message-Id: <bounce-\(UUID().uuidString)@mx.example.net>\r
        MIME-Version: 1.0\r
        Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r
        \r
        --B\r
        Content-Type: text/plain\r
        \r
        Your message could not be delivered.\r
        --B\r
        Content-Type: message/delivery-status\r
        \r
        Reporting-MTA: dns; mx.example.net\r
        \r
        Final-Recipient: rfc822; \(recipient)\r
        Action: failed\r
        Status: 5.2.1\r
        Diagnostic-Code: smtp; 550 5.2.1 <\(recipient)>: mailbox disabled\r
        \r
        --B\r
        Content-Type: text/rfc822-headers\r
        \r
        From: Riverside Hotel <support@example.com>\r
        To: \(recipient)\r
        Message-ID: \(id)\r
        \r
        --B--\r

        """
    }
}

@Suite(
    .serialized, .awaitedTeardown,
    .enabled(if: DovecotTestServer.isAvailable && SMTPTestServer.isAvailable, "needs Dovecot (apt-get install dovecot-imapd) and aiosmtpd (pip install aiosmtpd)"))
struct EmailEndToEndTests {
    /// The story against real mail servers: a Cyrillic mail gets a threaded AI reply,
    /// three reminders follow in the same thread at their planned times, an out-of-office note
    /// neither cancels nor gets answered, a client reply cancels, a bounce marks the chat
    /// unreachable, and a restart does not read old mail again.
    @Test
    func aMailConversationWithFollowUpsThreadsLoopGuardsAndABounce() async throws {
        let h = try await EmailHarness()
        onTeardown { await h.shutdown() }
        let mikhail = "mikhail@example.net"

        // 1. The first mail: a threaded AI reply in Russian.
        h.openAI.respond(text: "Здравствуйте, Михаил! Да, номер на 5–7 декабря свободен.")
        try h.dovecot.append(Mail.firstCyrillic)
        try await eventually(timeout: .seconds(30), "the AI reply") { h.mails(to: mikhail).count == 1 }
        let (envelope, reply) = try #require(h.mails(to: mikhail).first)
        #expect(envelope.mailFrom == "support@example.com")
        #expect(reply.from == MailAddress(name: "Riverside Hotel", address: "support@example.com"))
        #expect(reply.to.first == MailAddress(name: "Михаил Соколов", address: mikhail))
        #expect(reply.subject == "Re: Бронирование номера на декабрь")
        #expect(reply.inReplyTo == ["<first-8d7c6b5a@example.net>"])
        #expect(reply.references == ["<first-8d7c6b5a@example.net>"])
        #expect(reply.headers["Auto-Submitted"] == "auto-replied")
        #expect(reply.text.trimmingCharacters(in: .whitespacesAndNewlines) == "Здравствуйте, Михаил! Да, номер на 5–7 декабря свободен.")
        let replyID = try #require(reply.messageID)
        #expect(replyID.hasSuffix("@example.com>"))
        let chat = try #require(try await h.chat(mikhail))
        #expect(chat.title == "Михаил Соколов")
        let prompt = try #require(h.openAI.requests.last).messages.map(\.content).joined(separator: "\n")
        #expect(prompt.contains("Хочу забронировать номер на двоих с 5 по 7 декабря."), "the mail's text, decoded, reached the AI")
        #expect(prompt.contains("Бронирование номера на декабрь"), "with the subject of a first mail")

        // 2. Three reminders at the planned times, each in the same thread.
        var threadIDs = ["<first-8d7c6b5a@example.net>", replyID]
        let steps: [(String, String)] = [
            ("2026-11-23T10:00:00Z", "Напоминаем: мы на связи."), ("2026-11-24T10:00:00Z", "Вопрос ещё актуален?"),
            ("2026-11-26T10:00:00Z", "Всего доброго! Мы всегда рады помочь."),
        ]
        for (index, (due, text)) in steps.enumerated() {
            try await eventually("step \(index + 1) planned for \(due)") { try await h.state(mikhail)?.sendsAt == at(due) }
            if index == 2 {
                // 3. Before the last reminder, an out-of-office note: stored, not answered, and the
                // reminder stays. Boris's answer proves the gateway has handled it.
                try h.dovecot.append(
                    Mail.plain(
                        from: "Михаил Соколов <mikhail@example.net>", subject: "Автоответ: Re: Бронирование номера на декабрь", id: "<oof-1@example.net>",
                        inReplyTo: threadIDs.last, headers: "Auto-Submitted: auto-replied\r\n", body: "Я в отпуске до 1 декабря."))
                try await h.borisWritesAndIsAnswered()
                let history = try await h.store.messages(chatID: chat.id, limit: 50)
                #expect(history.contains { $0.text.contains("Я в отпуске до 1 декабря.") && $0.text.contains("[Automatic mail, not answered") })
                #expect(h.mails(to: mikhail).count == 3, "the out-of-office note was not answered")
                #expect(try await h.state(mikhail)?.sendsAt == at(due), "the out-of-office note did not cancel the reminder")
            }
            h.openAI.respond(text: text)
            h.clock.advance(to: at(due))
            try await eventually(timeout: .seconds(30), "reminder \(index + 1)") { h.mails(to: mikhail).count == index + 2 }
            let reminder = try #require(h.mails(to: mikhail).last?.mail)
            #expect(reminder.headers["Auto-Submitted"] == "auto-generated")
            #expect(reminder.subject == "Re: Бронирование номера на декабрь")
            #expect(reminder.inReplyTo == [threadIDs.last ?? ""], "reminder \(index + 1) answers the mail before it")
            #expect(reminder.references == threadIDs, "reminder \(index + 1) carries the whole thread")
            #expect(reminder.text.trimmingCharacters(in: .whitespacesAndNewlines) == text)
            threadIDs.append(try #require(reminder.messageID))
        }
        try await eventually("the chain finished") { try await h.state(mikhail)?.sendsAt == nil }

        // 4. The client replies (Gmail style, quoting us): the AI reads only the new part and
        // answers in the thread; the quote stays in the history.
        h.clock.advance(to: at("2026-11-26T11:00:00Z"))
        h.openAI.respond(text: "Отлично, ждём вас 5 декабря!")
        let clientReply = Mail.plain(
            from: "Михаил Соколов <mikhail@example.net>", subject: "Re: Бронирование номера на декабрь", id: "<reply-2@example.net>",
            inReplyTo: threadIDs.last, body: "Да, бронируйте, пожалуйста.\n\nOn Thu, 26 Nov 2026 at 13:00, Riverside Hotel <support@example.com> wrote:\n> Всего доброго!")
        try h.dovecot.append(clientReply)
        try await eventually(timeout: .seconds(30), "the answer to the client's reply") { h.mails(to: mikhail).count == 5 }
        let answer = try #require(h.mails(to: mikhail).last?.mail)
        #expect(answer.inReplyTo == ["<reply-2@example.net>"])
        #expect(answer.headers["Auto-Submitted"] == "auto-replied")
        let lastPrompt = try #require(h.openAI.requests.last).messages
        #expect(lastPrompt.last?.content.contains("Да, бронируйте, пожалуйста.") == true)
        #expect(lastPrompt.allSatisfy { !$0.content.contains("Riverside Hotel <support@example.com> wrote:") }, "the quote is not given to the AI")
        let history = try await h.store.messages(chatID: chat.id, limit: 50)
        #expect(history.contains { $0.author == .system && $0.text.contains("Riverside Hotel <support@example.com> wrote:") }, "the quote stays in the history")
        try await eventually("run 2 armed") { 
            let state = try await h.state(mikhail)
            return state?.run == 2 && state?.sendsAt != nil
        }

        // 5. Another client mail before the reminder cancels it.
        try h.dovecot.append(
            Mail.plain(
                from: "Михаил Соколов <mikhail@example.net>", subject: "Re: Бронирование номера на декабрь", id: "<reply-3@example.net>",
                inReplyTo: "<reply-2@example.net>", body: "И ещё: можно ли с собакой?"))
        try await eventually(timeout: .seconds(30), "the answer about the dog") { h.mails(to: mikhail).count == 6 }
        let decisions = try await h.store.decisions(chatID: chat.id)
        #expect(decisions.contains { $0.kind == .cancelled && $0.reason == .clientReplied })

        // 6. Our last mail bounces: the chat is unreachable and the chain ends.
        try await eventually("run 3 armed") { 
            let state = try await h.state(mikhail)
            return state?.run == 3 && state?.sendsAt != nil
        }
        let lastOurs = try #require(h.mails(to: mikhail).last?.mail.messageID)
        try h.dovecot.append(Mail.bounce(of: lastOurs, to: mikhail))
        try await eventually(timeout: .seconds(30), "the chat unreachable") { try await h.chat(mikhail)?.unreachable == true }
        try await eventually("the chain ended") {
            let state = try await h.state(mikhail)
            return state?.lastReason == .chatUnreachable && state?.sendsAt == nil
        }

        // 7. A restart reads nothing old again: only Boris's new mail is answered.
        let mailsBefore = h.smtp.received.count
        let clientMessagesBefore = try await h.store.messages(chatID: chat.id, limit: 100).count
        await h.stopGateway()
        try await h.startGateway()
        try await h.borisWritesAndIsAnswered("A second question from Boris")
        #expect(h.smtp.received.count == mailsBefore + 1)
        #expect(try await h.store.messages(chatID: chat.id, limit: 100).count == clientMessagesBefore)
    }
}
