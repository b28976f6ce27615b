import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardTesting
import Testing

@testable import EmailChannel

@Suite("Mailgun inbound route")
struct MailgunTests {
    static let key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
    static let now = Date(timeIntervalSince1970: 1_795_429_800)

    private func channel() throws -> EmailChannel {
        let configuration = EmailChannel.Configuration(
            address: "support@example.com", smtp: .init(url: "smtp://127.0.0.1:9"), mailgun: .init(signingKey: Secret(Self.key)))
        let environment = ChannelEnvironment(
            channelID: "mail", employeeID: "alexey", httpClient: HTTPClient.shared, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
            clock: ManualClock("2026-11-23T06:00:00Z"), intake: RecordingIntake(), cursors: MemoryCursorStore())
        return try EmailChannel(configuration: configuration, environment: environment, realNow: { Self.now })
    }

    static func signed(_ fields: [String: String], timestamp: Int = Int(now.timeIntervalSince1970), token: String = UUID().uuidString, key: String = key) -> [UInt8] {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp)\(token)".utf8), using: SymmetricKey(data: Array(key.utf8)))
        var all = fields
        all["timestamp"] = String(timestamp)
        all["token"] = token
        all["signature"] = mac.map { String(format: "%02x", $0) }.joined()
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        return Array(all.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&").utf8)
    }

    private func post(_ channel: EmailChannel, _ body: [UInt8], contentType: String = "application/x-www-form-urlencoded") async -> WebhookResult {
        await channel.handleWebhook(WebhookRequest(method: "POST", headers: ["Content-Type": contentType], body: body))
    }

    static let parsedFields = [
        "from": "Ana K <ana@example.net>", "sender": "ana@example.net", "subject": "Re: Booking",
        "body-plain": "Yes, please book it.\n\nOn Mon, Riverside <support@example.com> wrote:\n> Shall we?",
        "message-headers": #"[["From", "Ana K <ana@example.net>"], ["Subject", "Re: Booking"], ["Message-Id", "<mg-1@example.net>"], ["In-Reply-To", "<sb.1@example.com>"], ["Content-Type", "multipart/alternative; boundary=\"x\""]]"#,
    ]

    @Test func aSignedParsedMailIsAcceptedAndReadLikeAPolledOne() async throws {
        let result = await post(try channel(), Self.signed(Self.parsedFields))
        guard case .accept(let messages, _, let response) = result else {
            Issue.record("not accepted: \(result)")
            return
        }
        #expect(response.status == 200)
        let message = try #require(messages.first)
        #expect(message.conversationKey == "ana@example.net")
        #expect(message.providerMessageID == "<mg-1@example.net>")
        #expect(message.text == "Yes, please book it.")
    }

    @Test func theRawMIMEFieldIsPreferred() async throws {
        let raw = "From: Boris <boris@example.org>\r\nSubject: Spa\r\nMessage-ID: <mime-1@example.org>\r\n\r\nIs the spa open?\r\n"
        guard case .accept(let messages, _, _) = await post(try channel(), Self.signed(["body-mime": raw])) else {
            Issue.record("not accepted")
            return
        }
        #expect(messages.first?.providerMessageID == "<mime-1@example.org>")
        #expect(messages.first?.text == "Spa\n\nIs the spa open?")
    }

    @Test func multipartFormDataWithAnAttachment() async throws {
        var fields = Self.signedFields(["from": "Ana <ana@example.net>", "body-plain": "See attached", "message-headers": #"[["Message-Id", "<mp@example.net>"]]"#])
        fields["attachment-count"] = "1"
        var body = ""
        for (name, value) in fields { body += "--BOUND\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n" }
        body += "--BOUND\r\nContent-Disposition: form-data; name=\"attachment-1\"; filename=\"scan.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--BOUND--\r\n"
        guard case .accept(let messages, _, _) = await post(try channel(), Array(body.utf8), contentType: "multipart/form-data; boundary=BOUND") else {
            Issue.record("not accepted")
            return
        }
        #expect(messages.first?.text.hasPrefix("See attached") == true)
    }

    static func signedFields(_ fields: [String: String]) -> [String: String] {
        MailgunInbound.formFields(body: signed(fields), contentType: "application/x-www-form-urlencoded")
    }

    @Test func forgedStaleAndReplayedRequestsStoreNothing() async throws {
        let channel = try channel()
        let wrongKey = await post(channel, Self.signed(Self.parsedFields, key: "key-not-the-right-one-000000"))
        guard case .respond(let response) = wrongKey else { Issue.record("forged accepted"); return }
        #expect(response.status == 401)

        let stale = await post(channel, Self.signed(Self.parsedFields, timestamp: Int(Self.now.timeIntervalSince1970) - 600))
        guard case .respond(let staleResponse) = stale else { Issue.record("stale accepted"); return }
        #expect(staleResponse.status == 401)

        let body = Self.signed(Self.parsedFields, token: "token-1")
        guard case .accept = await post(channel, body) else { Issue.record("first sight refused"); return }
        guard case .respond(let replay) = await post(channel, body) else { Issue.record("replay accepted"); return }
        #expect(replay.status == 401)
        // The gateway could not store it: Mailgun's retry with the same token is taken.
        channel.webhookNotStored(WebhookRequest(method: "POST", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: body))
        guard case .accept = await post(channel, body) else { Issue.record("retry after a failed store refused"); return }
    }

    @Test func aMailWithoutASenderIs406SoMailgunDoesNotRetry() async throws {
        guard case .respond(let response) = await post(try channel(), Self.signed(["subject": "x"])) else { Issue.record("accepted"); return }
        #expect(response.status == 406)
    }
}
