import Foundation
import Logging
import SwitchboardChannelKit
import SwitchboardCore

/// Where the poller stands in the mailbox, kept in the cursor store: the mailbox's UIDVALIDITY
/// and the highest UID stored. A restart continues after that UID: no mail lost, none re-read.
struct MailboxCursor: Sendable, Hashable, Codable {
    var uidValidity: UInt32
    var lastUID: UInt32
    /// When a poll last completed (real time: IMAP's SINCE compares with the server's clock).
    var lastPoll: Date
}

/// Polls one IMAP mailbox by UID (libcurl has no IDLE; protocols.md §3.3), one mail after
/// another over one connection, handing each batch to the intake before moving the cursor.
actor MailboxPoller {
    /// Mails stored per intake call: one durable write for many mails, and a restart at most
    /// re-reads this many (deduplicated by Message-ID).
    static let batchSize = 50
    /// A mail whose fetch keeps failing is skipped after this many polls, so it never blocks
    /// the mails after it.
    static let maxFetchAttempts = 3

    private let server: MailServer
    private let channelID: String
    private let intake: MailIntake
    private let environment: ChannelEnvironment
    private let logger: Logger
    private let maxMessageBytes: Int
    private let timeout: Int
    private let threads: ThreadBook
    private var mailbox: IMAPMailbox?
    private var failedFetches: [UInt32: Int] = [:]

    init(
        server: MailServer, channelID: String, intake: MailIntake, environment: ChannelEnvironment, logger: Logger, maxMessageBytes: Int,
        timeout: Int, threads: ThreadBook
    ) {
        self.server = server
        self.channelID = channelID
        self.intake = intake
        self.environment = environment
        self.logger = logger
        self.maxMessageBytes = maxMessageBytes
        self.timeout = timeout
        self.threads = threads
    }

    private var cursorName: String { "email:\(channelID):imap" }

    func run(every interval: Duration) async throws {
        logger.info("Polling the mailbox", metadata: ["email.mailbox": "\(server.origin)/\(server.path)", "email.poll_interval": "\(interval)"])
        var failures = 0
        defer { mailbox?.abort() }
        while !Task.isCancelled {
            do {
                try await pollOnce()
                if failures > 0 { logger.notice("The mailbox answers again") }
                failures = 0
                environment.health?.recover()
            } catch {
                if Task.isCancelled { return }
                failures += 1
                let message = Self.describe(error)
                if failures == 1 || failures % 10 == 0 {
                    logger.error("Could not poll the mailbox; will retry", metadata: ["error": "\(message)", "email.failures": "\(failures)"])
                }
                if let curl = error as? CurlError, curl.code == CurlError.loginDenied { environment.health?.fail("the IMAP server refused the username or password") }
                // A broken connection is not reused.
                mailbox = nil
                // Back off to at most 5 minutes while the server is down.
                let pause = min(interval.seconds * pow(2, Double(min(failures, 8))), max(interval.seconds, 300))
                do { try await Task.sleep(for: .milliseconds(Int64(pause * 1000))) } catch { return }
                continue
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// One poll: what arrived since the last is stored. Returns how many mails were read.
    @discardableResult
    func pollOnce() async throws -> Int {
        let mailbox = try openMailbox()
        let status = try await mailbox.status()
        guard var cursor = try await loadCursor() else {
            // First start: mail already in the mailbox is the past, not questions to answer now.
            let start = MailboxCursor(uidValidity: status.uidValidity, lastUID: (status.uidNext ?? 1) &- 1, lastPoll: Date())
            try await saveCursor(start)
            logger.notice(
                "First poll of this mailbox: mail already in it is left alone; new mail from now on is read",
                metadata: ["email.uidvalidity": "\(status.uidValidity)", "email.uid": "\(start.lastUID)"])
            return 0
        }
        var uids: [UInt32]
        if cursor.uidValidity != status.uidValidity {
            // The server renumbered the mailbox (restored, migrated): old UIDs mean nothing now.
            // Read again what arrived since the day of the last poll; mail already stored is
            // recognised by its Message-ID and not stored (or answered) twice.
            uids = try await mailbox.uids(since: cursor.lastPoll.addingTimeInterval(-86_400), uidValidity: status.uidValidity)
            logger.warning(
                "The mailbox's UIDVALIDITY changed: re-reading recent mail, duplicates are recognised by Message-ID",
                metadata: ["email.uidvalidity.old": "\(cursor.uidValidity)", "email.uidvalidity": "\(status.uidValidity)", "email.mails": "\(uids.count)"])
            cursor = MailboxCursor(uidValidity: status.uidValidity, lastUID: 0, lastPoll: cursor.lastPoll)
            failedFetches = [:]
        } else {
            uids = try await mailbox.uids(after: cursor.lastUID, uidValidity: status.uidValidity)
        }
        var read = 0
        var start = 0
        while start < uids.count {
            let batch = uids[start..<min(uids.count, start + Self.batchSize)]
            start += Self.batchSize
            var messages: [InboundMessage] = []
            var statuses: [DeliveryStatusUpdate] = []
            var highest = cursor.lastUID
            for uid in batch {
                let fetched: IMAPMailbox.Fetched
                do {
                    fetched = try await mailbox.fetch(uid: uid, uidValidity: status.uidValidity, maxBytes: maxMessageBytes)
                } catch {
                    let attempts = failedFetches[uid, default: 0] + 1
                    failedFetches[uid] = attempts
                    guard attempts >= Self.maxFetchAttempts else { throw error }
                    logger.error("Skipping a mail that could not be fetched", metadata: ["email.uid": "\(uid)", "error": "\(Self.describe(error))"])
                    failedFetches[uid] = nil
                    highest = max(highest, uid)
                    continue
                }
                highest = max(highest, uid)
                let outcome: MailIntake.Outcome
                switch fetched {
                case .gone: continue
                case .message(let raw): outcome = intake.read(raw, receivedAt: environment.clock.now())
                case .tooLarge(let headers): outcome = intake.read(headers, receivedAt: environment.clock.now(), truncated: true)
                }
                read += 1
                if let robot = outcome.robot { logger.info("Mail from a robot stored, not answered", metadata: ["email.reason": "\(robot)"]) }
                if !outcome.problems.isEmpty { logger.notice("Mail read with problems", metadata: ["email.problems": "\(outcome.problems.joined(separator: "; "))"]) }
                // The thread first: the reply may be composed the moment the intake stores the mail.
                if let thread = outcome.thread { try await threads.received(thread.mail, from: thread.key) }
                messages += outcome.messages
                statuses += outcome.statuses
            }
            if !messages.isEmpty { try await environment.intake.receive(messages) }
            if !statuses.isEmpty { try await environment.intake.receiveStatuses(statuses) }
            cursor.lastUID = highest
            try await saveCursor(cursor)
        }
        cursor.lastPoll = Date()
        try await saveCursor(cursor)
        return read
    }

    private func openMailbox() throws -> IMAPMailbox {
        if let mailbox { return mailbox }
        let opened = try IMAPMailbox(server: server, timeout: timeout)
        mailbox = opened
        return opened
    }

    private func loadCursor() async throws -> MailboxCursor? {
        guard let text = try await environment.cursors.cursor(cursorName) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        guard let cursor = try? decoder.decode(MailboxCursor.self, from: Data(text.utf8)) else {
            logger.warning("Ignoring an unreadable mailbox cursor", metadata: ["email.cursor": "\(text.prefix(200))"])
            return nil
        }
        return cursor
    }

    private func saveCursor(_ cursor: MailboxCursor) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        try await environment.cursors.setCursor(cursorName, to: String(decoding: try encoder.encode(cursor), as: UTF8.self))
    }

    static func describe(_ error: any Error) -> String {
        if let curl = error as? CurlError {
            if curl.code == CurlError.loginDenied { return "the IMAP server refused the username or password (fix imap.username/password)" }
            return curl.description
        }
        return "\(error)"
    }
}
