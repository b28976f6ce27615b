import AsyncHTTPClient
import Foundation
import Logging
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardTesting
import Synchronization
import Testing

@testable import EmailChannel

/// Cursors kept in memory; shared between two channel instances it plays the durable store
/// across a restart.
final class MemoryCursorStore: CursorStore {
    private let values = Mutex<[String: String]>([:])
    func cursor(_ name: String) async throws -> String? { values.withLock { $0[name] } }
    func setCursor(_ name: String, to value: String) async throws { values.withLock { $0[name] = value } }
}

/// Records what the channel hands in.
final class RecordingIntake: InboundIntake {
    private let state = Mutex<(messages: [InboundMessage], statuses: [DeliveryStatusUpdate])>(([], []))
    var messages: [InboundMessage] { state.withLock { $0.messages } }
    var statuses: [DeliveryStatusUpdate] { state.withLock { $0.statuses } }
    func receive(_ messages: [InboundMessage]) async throws { state.withLock { $0.messages += messages } }
    func receiveStatuses(_ updates: [DeliveryStatusUpdate]) async throws { state.withLock { $0.statuses += updates } }
}

private func makeChannel(
    smtp: SMTPTestServer, dovecot: DovecotTestServer? = nil, password: String = SMTPTestServer.password, maxReplies: Int = 5,
    cursors: MemoryCursorStore = MemoryCursorStore(), intake: RecordingIntake = RecordingIntake()
) throws -> EmailChannel {
    let imap = EmailChannel.Configuration.IMAP(
        url: dovecot?.url ?? "imap://127.0.0.1:9/INBOX", username: DovecotTestServer.username, password: Secret(DovecotTestServer.password),
        pollInterval: .milliseconds(100))
    let configuration = EmailChannel.Configuration(
        address: "support@example.com", displayName: "Riverside Hotel",
        smtp: .init(url: smtp.url, username: SMTPTestServer.username, password: Secret(password)), imap: imap, maxRepliesPerHour: maxReplies,
        timeout: 10)
    let environment = ChannelEnvironment(
        channelID: "mail", employeeID: "alexey", httpClient: HTTPClient.shared, logger: Logger(label: "email-tests", factory: { _ in SwiftLogNoOpLogHandler() }),
        clock: ManualClock("2026-11-23T06:00:00Z"), intake: intake, cursors: cursors)
    return try EmailChannel(configuration: configuration, environment: environment)
}

private func reply(to address: String, _ text: String = "Hello from Alexey", key: String = UUID().uuidString) -> OutboundMessage {
    OutboundMessage(chatID: "c1", channelID: "mail", conversationKey: address, text: text, purpose: .reply, idempotencyKey: key)
}

@Suite(.serialized, .enabled(if: SMTPTestServer.isAvailable, "needs aiosmtpd (pip install aiosmtpd)"))
struct SMTPTransportTests {
    @Test func aReplyIsSubmittedWithTheEnvelopeAndItsMessageIDIsTheReceipt() async throws {
        let smtp = try await onOwnThread { try SMTPTestServer.start() }
        defer { smtp.stop() }
        let channel = try makeChannel(smtp: smtp)
        let receipt = try await channel.send(reply(to: "ana@example.net", "Ваш номер готов."))
        let received = try #require(smtp.received.first)
        #expect(received.mailFrom == "support@example.com")
        #expect(received.recipients == ["ana@example.net"])
        let mail = MIMEParser().parse(received.raw)
        #expect(receipt.providerMessageIDs == [mail.messageID ?? "-"])
        #expect(mail.text == "Ваш номер готов.\n")
        #expect(mail.subject == "Message from Riverside Hotel")
    }

    @Test(arguments: [
        ("tempfail@example.net", DeliveryError.Kind.retryable, "451 4.3.0"),
        ("unknown@example.net", .unreachable, "550 5.1.1"),
        ("rejectdata@example.net", .permanent, "554 5.7.1 Message rejected as spam"),
    ])
    func smtpRefusalsAreClassifiedWithTheServersWords(_ recipient: String, _ kind: DeliveryError.Kind, _ words: String) async throws {
        let smtp = try await onOwnThread { try SMTPTestServer.start() }
        defer { smtp.stop() }
        let channel = try makeChannel(smtp: smtp)
        do {
            _ = try await channel.send(reply(to: recipient))
            Issue.record("sent to \(recipient)")
        } catch let error as DeliveryError {
            #expect(error.kind == kind)
            #expect(error.message.contains(words), "\(error.message)")
        }
        #expect(smtp.received.isEmpty)
    }

    @Test func aWrongPasswordIsRetriedAndSaysSoWithoutThePassword() async throws {
        let smtp = try await onOwnThread { try SMTPTestServer.start() }
        defer { smtp.stop() }
        let channel = try makeChannel(smtp: smtp, password: "wrong-password-42")
        do {
            _ = try await channel.send(reply(to: "ana@example.net"))
            Issue.record("sent with a wrong password")
        } catch let error as DeliveryError {
            #expect(error.kind == .retryable)
            #expect(error.message.contains("refused the username or password"), "\(error.message)")
            #expect(!error.message.contains("wrong-password-42"))
        }
    }

    @Test func noMoreThanNRepliesToOneClientPerHourButRemindersStillGo() async throws {
        let smtp = try await onOwnThread { try SMTPTestServer.start() }
        defer { smtp.stop() }
        let channel = try makeChannel(smtp: smtp, maxReplies: 2)
        _ = try await channel.send(reply(to: "loop@example.net"))
        _ = try await channel.send(reply(to: "loop@example.net"))
        do {
            _ = try await channel.send(reply(to: "loop@example.net"))
            Issue.record("a third reply within the hour")
        } catch let error as DeliveryError {
            #expect(error.kind == .permanent)
            #expect(error.message.contains("max_replies_per_hour"))
        }
        _ = try await channel.send(reply(to: "other@example.net"))
        _ = try await channel.send(OutboundMessage(chatID: "c1", channelID: "mail", conversationKey: "loop@example.net", text: "Reminder", purpose: .reminder))
        #expect(smtp.received.count == 4)
    }
}

@Suite(.serialized, .enabled(if: DovecotTestServer.isAvailable && SMTPTestServer.isAvailable, "needs Dovecot and aiosmtpd"))
struct IMAPPollingTests {
    static func mail(_ n: Int, from: String = "client\(0)@example.net", extra: String = "", body: String? = nil) -> String {
        "From: Client \(n) <\(from)>\r\nTo: support@example.com\r\nSubject: Question \(n)\r\nMessage-ID: <q\(n)-\(UUID().uuidString)@example.net>\r\n\(extra)\r\n\(body ?? "Question number \(n)?")\r\n"
    }

    @Test func pollsByUIDAcrossRestartsAndPastBadMail() async throws {
        let smtp = try await onOwnThread { try SMTPTestServer.start() }
        defer { smtp.stop() }
        let dovecot = try await onOwnThread { try DovecotTestServer.start() }
        defer { dovecot.stop() }
        try dovecot.append(Self.mail(0))  // already there before the first poll: the past
        let cursors = MemoryCursorStore()
        let intake = RecordingIntake()
        let channel = try makeChannel(smtp: smtp, dovecot: dovecot, cursors: cursors, intake: intake)
        #expect(try await channel.pollOnce() == 0)
        #expect(try await cursors.cursor("email:mail:imap") != nil)

        // A huge attachment, a broken mail and a mail without headers, between good ones.
        let big = "From: Big <big@example.net>\r\nSubject: big\r\nMessage-ID: <big@example.net>\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
            + "Content-Type: text/plain\r\n\r\nSee the scan.\r\n--x\r\nContent-Type: application/pdf; name=scan.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + String(repeating: String(repeating: "QUJD", count: 19) + "\r\n", count: 20 * 1024 * 1024 / 57) + "--x--\r\n"
        try dovecot.append([
            Array(Self.mail(1).utf8), Array(big.utf8), Array("Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\ngarbage".utf8),
            Array("just text, no headers\r\n".utf8), Array(Self.mail(2).utf8),
        ])
        #expect(try await channel.pollOnce() == 5)
        let texts = intake.messages.filter { $0.event == nil }.map(\.text)
        #expect(texts.count == 5)
        #expect(texts.first?.contains("Question number 1?") == true)
        // Over max_message_bytes (25 MiB): stored from its headers, with the problem noted.
        #expect(intake.messages.contains { $0.text.contains("only the headers were read") })
        #expect(texts.last?.contains("Question number 2?") == true)
        #expect(!texts.contains { $0.contains("Question number 0?") }, "mail from before the first poll is not read")

        // Nothing new: nothing read. A restarted channel on the same cursors reads only what is new.
        #expect(try await channel.pollOnce() == 0)
        let restarted = try makeChannel(smtp: smtp, dovecot: dovecot, cursors: cursors, intake: intake)
        try dovecot.append(Self.mail(3))
        #expect(try await restarted.pollOnce() == 1)
        #expect(intake.messages.last { $0.event == nil }?.text.contains("Question number 3?") == true)

        // The server renumbers the mailbox: recent mail is read again (the store recognises it by
        // Message-ID), and polling goes on under the new numbering.
        try dovecot.changeUIDValidity(to: 4242)
        let reread = try await restarted.pollOnce()
        #expect(reread >= 5)
        try dovecot.append(Self.mail(4))
        #expect(try await restarted.pollOnce() == 1)
        #expect(try await cursors.cursor("email:mail:imap")?.contains("4242") == true)
    }
}
