import Foundation
import SwitchboardCore
import Testing

@testable import EmailChannel

@Suite("Mail intake: who wrote it and what it means")
struct MailIntakeTests {
    let intake = MailIntake(channelID: "mail", ownDomain: "example.com", ownAddress: "support@example.com")
    let now = Date(timeIntervalSince1970: 1_795_429_800)

    @Test func aClientsReplyGivesTheNewPartToTheAIAndKeepsTheRestAsANote() throws {
        let outcome = intake.read(try Fixtures.raw("gmail_reply"), receivedAt: now)
        #expect(outcome.robot == nil)
        #expect(outcome.messages.count == 2)
        let message = try #require(outcome.messages.first)
        #expect(message.conversationKey == "ana.k@gmail.com")
        #expect(message.senderName == "Ana K")
        #expect(message.chatTitle == "Ana K")
        #expect(message.providerMessageID == "<CAF=k2xZ9q8Lw_r4bTQ1+pY@mail.gmail.com>")
        #expect(message.text == "Thanks! Could you also book a table for two at 8 pm? 😊")
        #expect(message.isNewTurn)
        let note = try #require(outcome.messages.last)
        #expect(note.event == .note)
        #expect(!note.isNewTurn)
        #expect(note.text.contains("your room is confirmed"))
        #expect(note.providerMessageID == "<CAF=k2xZ9q8Lw_r4bTQ1+pY@mail.gmail.com>#context")
        #expect(outcome.thread?.key == "ana.k@gmail.com")
    }

    @Test func aFirstMailCarriesItsSubject() throws {
        let outcome = intake.read(try Fixtures.raw("first_mail_cp1251"), receivedAt: now)
        let message = try #require(outcome.messages.first)
        #expect(message.text.hasPrefix("Бронирование номера на декабрь\n\nЗдравствуйте!"))
        #expect(message.senderName == "Михаил Соколов")
        #expect(outcome.messages.count == 1)
    }

    @Test(arguments: [
        ("out_of_office", "Auto-Submitted"),
        ("newsletter", "Precedence"),
    ])
    func robotsAreStoredButNeverAnswered(_ fixture: String, _ reason: String) throws {
        let outcome = intake.read(try Fixtures.raw(fixture), receivedAt: now)
        let verdict = try #require(outcome.robot)
        #expect(verdict.reason.contains(reason))
        #expect(outcome.messages.count == 1)
        let message = try #require(outcome.messages.first)
        #expect(message.isAutomated)
        #expect(!message.isNewTurn)
        #expect(outcome.thread == nil)
    }

    @Test(arguments: [
        ("Auto-Submitted: auto-generated\r\n", "Auto-Submitted"),
        ("Precedence: junk\r\n", "Precedence"),
        ("List-Unsubscribe: <mailto:x@y>\r\n", "mailing list"),
        ("X-Autoreply: yes\r\n", "autoresponder"),
        ("X-Autorespond: yes\r\n", "autoresponder"),
        ("Return-Path: <>\r\n", "null envelope sender"),
        ("", ""),
        ("Auto-Submitted: no\r\n", ""),
        ("X-Auto-Response-Suppress: All\r\n", ""),
    ])
    func robotHeaders(_ header: String, _ reason: String) {
        let raw = Array("From: Ana <ana@example.net>\r\nSubject: Question\r\nMessage-ID: <q1@example.net>\r\n\(header)\r\nHello\r\n".utf8)
        let verdict = RobotCheck.check(MIMEParser().parse(raw), ownDomain: "example.com")
        if reason.isEmpty {
            #expect(verdict == nil)
        } else {
            #expect(verdict?.reason.contains(reason) == true, "\(String(describing: verdict))")
        }
    }

    @Test(arguments: [
        "From: MAILER-DAEMON@mx.example.net", "From: noreply@shop.example", "From: No Reply <no-reply@shop.example>",
        "From: postmaster@example.net", "From: Ana <ana@example.net>\r\nSubject: Out of Office: back Monday",
        "From: Ana <ana@example.net>\r\nSubject: Автоответ: Бронь",
    ])
    func robotSendersAndSubjects(_ headers: String) {
        let raw = Array("\(headers)\r\nMessage-ID: <r@example.net>\r\n\r\nHello\r\n".utf8)
        #expect(RobotCheck.check(MIMEParser().parse(raw), ownDomain: "example.com") != nil)
    }

    @Test func ourOwnMailComingBackIsNotAnswered() {
        let raw = Array("From: Riverside <support@example.com>\r\nMessage-ID: <sb.1234@example.com>\r\n\r\nHello\r\n".utf8)
        #expect(RobotCheck.check(MIMEParser().parse(raw), ownDomain: "example.com")?.reason.contains("our own Message-ID") == true)
    }

    @Test func aBounceOfOurMailMarksTheRecipientUnreachable() throws {
        let outcome = intake.read(try Fixtures.raw("bounce_dsn"), receivedAt: now)
        #expect(outcome.messages.count == 1)
        let event = try #require(outcome.messages.first)
        #expect(event.event == .unreachable)
        #expect(event.conversationKey == "gone@example.net")
        #expect(event.text.contains("5.1.1"))
        #expect(!event.isNewTurn)
        let status = try #require(outcome.statuses.first)
        #expect(status.providerMessageID == "<sb.deadbeefdeadbeefdeadbeefdeadbeef@example.com>")
        #expect(status.state == .failed)
    }

    @Test func aBounceOfSomeoneElsesMailIsOnlyARobotsMail() throws {
        let intake = MailIntake(channelID: "mail", ownDomain: "other.example", ownAddress: "desk@other.example")
        let outcome = intake.read(try Fixtures.raw("bounce_dsn"), receivedAt: now)
        #expect(outcome.messages.first?.event == nil)
        #expect(outcome.messages.first?.isAutomated == true)
        #expect(outcome.statuses.isEmpty)
    }

    @Test func attachmentsAreNotedInTheText() throws {
        let outcome = intake.read(try Fixtures.raw("mixed_attachment"), receivedAt: now)
        let text = try #require(outcome.messages.first?.text)
        #expect(text.contains("Please find our company details attached for the invoice."))
        #expect(text.contains("[Attachment: Реквизиты.pdf (application/pdf, 10 KB) — not stored]"))
    }

    @Test func brokenMailIsStoredWithItsProblemsAndAStableID() throws {
        let raw = try Fixtures.raw("broken")
        let outcome = intake.read(raw, receivedAt: now)
        let message = try #require(outcome.messages.first)
        #expect(message.providerMessageID == MailIntake.fallbackID(raw))
        #expect(message.text.contains("Hello"))
        #expect(outcome.messages.last?.text.contains("Problems reading this mail") == true)
    }

    @Test(arguments: [[UInt8](), Array("garbage without headers".utf8), Array("\r\n\r\n\r\n".utf8), [0xFF, 0xFE, 0x00, 0x0A, 0x0A, 0x80]])
    func anythingAtAllIsReadWithoutCrashing(_ raw: [UInt8]) {
        let outcome = intake.read(raw, receivedAt: now)
        #expect(outcome.messages.count >= 1)
    }
}
