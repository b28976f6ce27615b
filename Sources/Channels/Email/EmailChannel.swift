public import Foundation
import Logging
public import SwitchboardChannelKit
public import SwitchboardCore

/// Registers the email adapter under `type: email`: one line in the gateway's channel list.
public let emailChannelType = ChannelType(name: "email", configuration: EmailChannel.Configuration.self) { configuration, environment in
    try EmailChannel(configuration: configuration, environment: environment)
}

/// A mailbox as a channel: clients' mail comes in over IMAP (or a Mailgun webhook), replies and
/// reminders go out over SMTP as threaded mail (protocols.md §3).
///
/// The chat is the client's address: one conversation per client, like a messenger. The AI
/// reads the new part of each mail; quotes and signatures stay in the history as a notice.
/// Mail from robots (out-of-office notes, lists, bounces, our own mail coming back) is stored
/// and never answered; a bounce of our mail marks the chat unreachable.
public struct EmailChannel: SwitchboardChannelKit.Channel {
    public let id: String
    public let configuration: Configuration
    /// Threads replies (`In-Reply-To`, `References`); no window; no length limit.
    public let capabilities: ChannelCapabilities

    let environment: ChannelEnvironment
    let logger: Logger
    let composer: MailComposer
    let intake: MailIntake
    let smtp: SMTPSubmission
    let imap: MailServer?
    let poller: MailboxPoller?
    let mailgun: MailgunInbound?
    /// Real time, for Mailgun's signature timestamps: the gateway's clock may run faster in a
    /// demo, but Mailgun signs with its wall clock. Tests move it.
    let realNow: @Sendable () -> Date

    public init(configuration: Configuration, environment: ChannelEnvironment, realNow: @escaping @Sendable () -> Date = { Date() }) throws {
        self.realNow = realNow
        mailgun = configuration.mailgun.map { MailgunInbound(signingKey: Array($0.signingKey.value.utf8)) }
        id = environment.channelID
        self.configuration = configuration
        self.environment = environment
        var logger = environment.logger
        logger[metadataKey: "channel.id"] = "\(environment.channelID)"
        self.logger = logger
        capabilities = ChannelCapabilities(maxTextLength: nil, threaded: true)
        composer = MailComposer(address: configuration.address, displayName: configuration.displayName)
        intake = MailIntake(channelID: environment.channelID, ownDomain: composer.domain, ownAddress: configuration.address)

        guard case .success(var smtpServer) = MailServer.parse(configuration.smtp.url, protocol: "smtp") else {
            throw ConfigurationProblem("smtp.url is not a usable SMTP URL")
        }
        smtpServer.username = configuration.smtp.username
        smtpServer.password = configuration.smtp.password
        smtp = SMTPSubmission(server: smtpServer, heloName: composer.domain, timeout: configuration.timeout)
        if let settings = configuration.imap {
            guard case .success(var server) = MailServer.parse(settings.url, protocol: "imap") else {
                throw ConfigurationProblem("imap.url is not a usable IMAP URL")
            }
            server.username = settings.username
            server.password = settings.password
            imap = server
            poller = MailboxPoller(
                server: server, channelID: environment.channelID, intake: intake, environment: environment, logger: logger,
                maxMessageBytes: configuration.maxMessageBytes, timeout: configuration.timeout,
                threads: ThreadBook(channelID: environment.channelID, cursors: environment.cursors))
        } else {
            imap = nil
            poller = nil
        }
    }

    var threads: ThreadBook { ThreadBook(channelID: id, cursors: environment.cursors) }

    // MARK: - Inbound

    /// Polls the mailbox until cancelled (nothing to do without `imap`).
    public func run() async throws {
        guard let poller, let interval = configuration.imap?.pollInterval else { return }
        try await poller.run(every: interval)
    }

    /// Checks the mailbox once: what arrived since the last check is stored. Returns how many
    /// mails were read. For tests and the benchmark; `run()` calls it on its interval.
    @discardableResult
    public func pollOnce() async throws -> Int {
        guard let poller else { return 0 }
        return try await poller.pollOnce()
    }

    public var maxWebhookBodyBytes: Int? { configuration.maxMessageBytes + (1 << 20) }

    /// A Mailgun route's POST: verified (signature, timestamp, token once), then read like a
    /// polled mail. 401 for what Mailgun did not sign, 406 for mail it should not retry.
    public func handleWebhook(_ request: WebhookRequest) async -> WebhookResult {
        guard let mailgun, request.path.isEmpty else {
            return .respond(.text(404, "this email channel takes no webhooks; a Mailgun route needs inbound: { mailgun: { signing_key } }"))
        }
        guard request.method == "POST" else { return .respond(.text(405, "Mailgun routes POST")) }
        switch mailgun.read(body: request.body, contentType: request.header("content-type"), now: realNow()) {
        case .forged(let reason):
            logger.notice("Rejected a Mailgun request", metadata: ["email.reason": "\(reason)"])
            return .respond(.text(401, reason))
        case .rejected(let reason):
            return .respond(.text(406, reason))
        case .accepted(let raw, _):
            let outcome = intake.read(raw, receivedAt: environment.clock.now())
            if let thread = outcome.thread {
                do {
                    try await threads.received(thread.mail, from: thread.key)
                } catch {
                    // Not acknowledged: Mailgun retries, and the token is forgotten below.
                    if let token = MailgunInbound.formFields(body: request.body, contentType: request.header("content-type"))["token"] {
                        mailgun.tokens.forget(token)
                    }
                    return .respond(.text(503, "could not store the mail's thread; retry"))
                }
            }
            return .accept(outcome.messages, statuses: outcome.statuses, response: .ok)
        }
    }

    /// The gateway could not store an accepted request: Mailgun's retry (same token) must be taken.
    public func webhookNotStored(_ request: WebhookRequest) {
        guard let mailgun, let token = MailgunInbound.formFields(body: request.body, contentType: request.header("content-type"))["token"] else { return }
        mailgun.tokens.forget(token)
    }

    // MARK: - Outbound

    /// Sends one mail to the chat's address, threaded under the client's latest mail.
    public func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        let recipient = message.conversationKey
        guard Configuration.isAddress(recipient) else {
            throw DeliveryError(.permanent, "the chat's key \"\(recipient)\" is not a mail address")
        }
        let kind: MailComposer.Kind =
            switch message.purpose {
            case .reminder: .generated
            case .operator: .human
            case .reply, .autoReply, nil: .reply
            }
        let book = threads
        let now = environment.clock.now()
        if kind == .reply {
            let sent = try await book.repliesInLastHour(to: recipient, now: now)
            if sent >= configuration.maxRepliesPerHour {
                logger.warning("Reply not sent: the per-client limit was reached", metadata: ["email.limit": "\(configuration.maxRepliesPerHour)"])
                throw DeliveryError(
                    .permanent,
                    "not sent: this client already got \(configuration.maxRepliesPerHour) AI replies within an hour (max_replies_per_hour guards against mail loops)")
            }
        }
        let thread = try await book.thread(for: recipient)
        let fallbackSubject = "Message from \(configuration.displayName ?? configuration.address)"
        let subject = thread.map { MailComposer.replySubject($0.subject, fallback: fallbackSubject) } ?? fallbackSubject
        let messageID = composer.messageID(key: message.idempotencyKey)
        let mail = MailComposer.Mail(
            to: MailAddress(name: thread?.clientName, address: recipient), subject: subject, text: message.text, kind: kind, thread: thread,
            messageID: messageID, date: now, html: configuration.html)
        do {
            try await smtp.send(composer.render(mail), from: configuration.address, to: [recipient])
        } catch {
            throw Self.classify(error)
        }
        do {
            // A first mail to an address (a widget visitor's reminder) starts the thread the
            // next ones join.
            let started = thread ?? MailThread(subject: subject, lastMessageID: nil, references: [], clientName: nil)
            try await book.recordSent(messageID, to: recipient, thread: started, isReply: kind == .reply, now: now)
        } catch {
            // Sent already: losing the thread bookkeeping costs the next mail its threading, not delivery.
            logger.warning("Could not record a sent mail in its thread", metadata: ["error": "\(error)"])
        }
        return DeliveryReceipt(providerMessageIDs: [messageID])
    }

    /// SMTP 4xx: try later. 5xx to a recipient (`RCPT`, 5.1.x): the address is gone. Other 5xx:
    /// this mail can never go, with the server's words. Transport trouble: try later.
    static func classify(_ error: CurlError) -> DeliveryError {
        let reply = error.serverReply ?? error.message
        let code = error.responseCode
        // Refused credentials (535, or libcurl's login-denied) are a setting to fix, not a
        // message that can never go: retried, so mail waits until the password is corrected.
        if error.code == CurlError.loginDenied || code == 535 || error.lastCommand == "AUTH" {
            return DeliveryError(.retryable, "the SMTP server refused the username or password (fix smtp.username/password): SMTP \(reply)")
        }
        if (400..<500).contains(code) { return DeliveryError(.retryable, "SMTP \(reply)") }
        if (500..<600).contains(code) {
            let toRecipient = error.lastCommand?.uppercased().hasPrefix("RCPT") == true
            let mailboxGone = [550, 551, 553].contains(code) && (reply.contains(" 5.1.") || !reply.contains(" 5."))
            if toRecipient && mailboxGone { return DeliveryError(.unreachable, "SMTP \(reply)") }
            return DeliveryError(.permanent, "SMTP \(reply)")
        }
        switch error.code {
        case CurlError.useSSLFailed: return DeliveryError(.retryable, "the SMTP server offers no STARTTLS; use smtps:// or a server with TLS: \(error)")
        case CurlError.peerFailedVerification: return DeliveryError(.retryable, "the SMTP server's TLS certificate did not verify: \(error)")
        default: return DeliveryError(.retryable, "\(error)")
        }
    }
}

extension EmailChannel {
    /// Parses and screens one raw mail exactly as the poller does, without I/O: the benchmark's
    /// in-memory ceiling. Returns how many messages it would store.
    public static func readForBenchmark(_ raw: [UInt8]) -> Int {
        MailIntake(channelID: "bench", ownDomain: "example.com", ownAddress: "support@example.com").read(raw, receivedAt: Date(timeIntervalSince1970: 0))
            .messages.count
    }
}
