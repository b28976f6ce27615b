import Foundation
import Testing

@testable import EmailChannel

@Suite("Email configuration")
struct EmailConfigurationTests {
    private func decode(_ json: String) throws -> EmailChannel.Configuration {
        try JSONDecoder().decode(EmailChannel.Configuration.self, from: Data(json.utf8))
    }

    private func error(_ json: String) -> String {
        do {
            _ = try decode(json)
            return "decoded"
        } catch {
            return "\(error)"
        }
    }

    let smtp = #""smtp": {"url": "smtps://smtp.example.com:465", "username": "support@example.com", "password": "app-pass"}"#
    let imap = #""imap": {"url": "imaps://imap.example.com:993/INBOX", "username": "support@example.com", "password": "app-pass"}"#

    @Test func decodesEveryKey() throws {
        let c = try decode(
            #"{"address": "support@example.com", "display_name": "Riverside Hotel", \#(smtp), "imap": {"url": "imaps://imap.example.com:993/INBOX", "username": "u", "password": "p", "poll_interval": "2m"}, "max_replies_per_hour": 3, "html": true, "max_message_bytes": 1048576, "timeout": 30}"#
        )
        #expect(c.address == "support@example.com")
        #expect(c.displayName == "Riverside Hotel")
        #expect(c.smtp.url == "smtps://smtp.example.com:465")
        #expect(c.imap?.pollInterval == .seconds(120))
        #expect(c.maxRepliesPerHour == 3)
        #expect(c.html)
        #expect(c.maxMessageBytes == 1_048_576)
        #expect(c.timeout == 30)
        #expect("\(c)".contains("***") || !"\(c)".contains("app-pass"))
        #expect(!"\(c)".contains("app-pass"))
    }

    @Test func defaults() throws {
        let c = try decode(#"{"address": "support@example.com", \#(smtp), \#(imap)}"#)
        #expect(c.imap?.pollInterval == .seconds(30))
        #expect(c.maxRepliesPerHour == 5)
        #expect(!c.html)
    }

    @Test(arguments: [
        (#"{"address": "support", "smtp": {"url": "smtps://h"}, "imap": {"url": "imaps://h", "username": "u", "password": "p"}}"#, "address must be a mailbox"),
        (#"{"address": "a@example.com", "imap": {"url": "imaps://h", "username": "u", "password": "p"}}"#, "smtp is required"),
        (#"{"address": "a@example.com", "smtp": {"url": "http://h"}, "imap": {"url": "imaps://h", "username": "u", "password": "p"}}"#, "smtps:// (TLS) or smtp://"),
        (#"{"address": "a@example.com", "smtp": {"url": "smtps://u:p@h"}, "imap": {"url": "imaps://h", "username": "u", "password": "p"}}"#, "not in the URL"),
        (#"{"address": "a@example.com", "smtp": {"url": "smtps://h", "username": "u"}, "imap": {"url": "imaps://h", "username": "u", "password": "p"}}"#, "both username and password"),
        (#"{"address": "a@example.com", "smtp": {"url": "smtps://h"}}"#, "needs a way to receive mail"),
        (#"{"address": "a@example.com", "smtp": {"url": "smtps://h"}, "imap": {"url": "imaps://h", "username": "u", "password": "p", "poll_interval": "soon"}}"#, "poll_interval must be a duration"),
        (#"{"address": "a@example.com", "smtp": {"url": "smtps://h"}, "imap": {"url": "imaps://h", "username": "u", "password": "p", "poll": "30s"}}"#, "unknown key 'poll'"),
        (#"{"address": "a@example.com", "smtp": {"url": "smtps://h", "pasword": "x"}, "imap": {"url": "imaps://h", "username": "u", "password": "p"}}"#, "unknown key 'pasword'"),
        (#"{"address": "a@example.com", "smtp": {"url": "smtps://h"}, "imap": {"url": "imaps://h", "username": "u", "password": "p"}, "max_replies_per_hour": 0}"#, "max_replies_per_hour must be 1–1000"),
        (#"{"address": "a@example.com", "smtp": {"url": "smtps://h"}, "inbound": {"mailgun": {"signing_key": "short"}}}"#, "signing_key"),
    ])
    func errorsSayWhatToFix(_ json: String, _ expected: String) {
        let message = error(json)
        #expect(message.contains(expected), "\(message)")
    }

    @Test(arguments: [
        ("smtps://smtp.example.com:465", MailServer.Security.implicitTLS),
        ("smtp://smtp.example.com:587", .startTLS),
        ("smtp://127.0.0.1:2525", .plainLoopback),
        ("smtp://localhost:25", .plainLoopback),
        ("smtp://[::1]:25", .plainLoopback),
        ("smtp://127.evil.example:25", .startTLS),
    ])
    func plainTextOnlyToLoopback(_ url: String, _ security: MailServer.Security) throws {
        guard case .success(let server) = MailServer.parse(url, protocol: "smtp") else {
            Issue.record("\(url) did not parse")
            return
        }
        #expect(server.security == security)
    }

    @Test func theMailboxComesFromTheIMAPPath() throws {
        guard case .success(let server) = MailServer.parse("imaps://imap.example.com:993/Support%20Desk", protocol: "imap") else {
            Issue.record("did not parse")
            return
        }
        #expect(server.origin == "imaps://imap.example.com:993")
        #expect(server.path == "Support Desk")
    }

    @Test(arguments: [("30s", 30_000), ("2m", 120_000), ("500ms", 500), ("1h", 3_600_000), ("45", 45_000)])
    func durations(_ text: String, _ milliseconds: Int64) {
        #expect(EmailChannel.Configuration.parseDuration(text) == .milliseconds(milliseconds))
    }
}
