import Crypto
import Foundation
import SwitchboardCore

/// Turns one raw mail into what the core stores, deciding who wrote it and what it means.
/// Pure: no I/O, the same input gives the same messages, so it is tested on fixtures alone.
struct MailIntake: Sendable {
    var channelID: String
    /// The domain of our own Message-IDs: a bounce of, or a copy of, our own mail carries it.
    var ownDomain: String
    var ownAddress: String
    var parser = MIMEParser()

    /// What one mail becomes.
    struct Outcome: Sendable {
        /// The client's message (and a note with what was cut from it), or a robot's mail, or
        /// the unreachable event a bounce means.
        var messages: [InboundMessage]
        /// For a bounce: our mail that failed, as a delivery status.
        var statuses: [DeliveryStatusUpdate]
        /// The client's mail that the next reply threads under; `nil` for robots and bounces.
        var thread: (key: String, mail: ParsedMail)?
        /// Why the mail will not be answered, for the log; `nil` for a client's mail.
        var robot: RobotCheck.Verdict?
        var problems: [String]
    }

    func read(_ raw: [UInt8], receivedAt: Date, truncated: Bool = false) -> Outcome {
        var mail = parser.parse(raw)
        if truncated { mail.problems.append("larger than max_message_bytes: only the headers were read") }
        let providerID = mail.messageID ?? Self.fallbackID(raw)

        // A bounce of one of our mails: the recipient cannot be reached.
        if let report = mail.report, report.isFailure, let original = report.originalMessageID,
            RobotCheck.domain(ofID: original) == ownDomain.lowercased(),
            let recipient = report.recipients.first ?? report.originalRecipient
        {
            let reason = [report.status, report.diagnostic].compactMap { $0 }.joined(separator: " ")
            let text = "Delivery to \(recipient) failed" + (reason.isEmpty ? "" : ": \(reason)")
            let event = InboundMessage(
                channelID: channelID, conversationKey: recipient.lowercased(), providerMessageID: providerID, senderHandle: mail.from?.address,
                receivedAt: receivedAt, kind: .system, text: text, event: .unreachable)
            let status = DeliveryStatusUpdate(channelID: channelID, providerMessageID: original, state: .failed, at: receivedAt, error: String(text.prefix(500)))
            return Outcome(messages: [event], statuses: [status], thread: nil, robot: RobotCheck.Verdict(reason: "bounce"), problems: mail.problems)
        }

        let client = mail.from
        let key = client?.key ?? "unknown-sender"
        let name = client?.name
        let title = name ?? client?.address ?? "Unknown sender"
        let attachmentLines = mail.attachments.map { attachment in
            "[Attachment: \(attachment.name ?? "unnamed") (\(attachment.contentType), \(Self.size(attachment.size))) — not stored]"
        }

        if let verdict = RobotCheck.check(mail, ownDomain: ownDomain, ownAddress: ownAddress) {
            // Stored in the sender's chat so the history shows it (an out-of-office note in the
            // client's chat), never answered, and not the client's reply.
            var text = "[Automatic mail, not answered: \(verdict.reason)]"
            if !mail.subject.isEmpty { text += "\nSubject: \(mail.subject)" }
            let body = mail.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !body.isEmpty { text += "\n\n" + String(body.prefix(4000)) }
            let message = InboundMessage(
                channelID: channelID, conversationKey: key, providerMessageID: providerID, senderName: name, senderHandle: client?.address,
                chatTitle: title, receivedAt: receivedAt, text: text, isAutomated: true)
            return Outcome(messages: [message], statuses: [], thread: nil, robot: verdict, problems: mail.problems)
        }

        let stripped = ReplyStripper.strip(mail.text)
        var text = stripped.reply
        // The first mail of a conversation says what it is about in its subject.
        if mail.inReplyTo.isEmpty, mail.references.isEmpty, !mail.subject.isEmpty, !text.hasPrefix(mail.subject) {
            text = text.isEmpty ? mail.subject : "\(mail.subject)\n\n\(text)"
        }
        if !attachmentLines.isEmpty { text += (text.isEmpty ? "" : "\n\n") + attachmentLines.joined(separator: "\n") }
        if text.isEmpty { text = "[Empty mail]" }
        var messages = [
            InboundMessage(
                channelID: channelID, conversationKey: key, providerMessageID: providerID, senderName: name, senderHandle: client?.address,
                chatTitle: title, receivedAt: receivedAt, text: text)
        ]
        // What was cut stays in the history as a notice the AI does not see.
        var note: [String] = []
        if !stripped.removed.isEmpty { note.append("Quoted text and signature, not given to the AI:\n\n" + String(stripped.removed.prefix(20_000))) }
        if !mail.problems.isEmpty { note.append("Problems reading this mail: " + mail.problems.joined(separator: "; ")) }
        if !note.isEmpty {
            messages.append(
                InboundMessage(
                    channelID: channelID, conversationKey: key, providerMessageID: providerID + "#context", senderHandle: client?.address,
                    receivedAt: receivedAt, kind: .system, text: note.joined(separator: "\n\n"), event: .note))
        }
        return Outcome(messages: messages, statuses: [], thread: (key, mail), robot: nil, problems: mail.problems)
    }

    /// A stable id for a mail without `Message-ID`: the same bytes are the same mail.
    static func fallbackID(_ raw: [UInt8]) -> String {
        let digest = SHA256.hash(data: Data(raw))
        return "<sha256." + digest.prefix(16).map { String(format: "%02x", $0) }.joined() + "@no-message-id>"
    }

    static func size(_ bytes: Int) -> String {
        if bytes >= 1 << 20 { return String(format: "%.1f MB", Double(bytes) / Double(1 << 20)) }
        if bytes >= 1 << 10 { return "\(bytes >> 10) KB" }
        return "\(bytes) bytes"
    }
}
