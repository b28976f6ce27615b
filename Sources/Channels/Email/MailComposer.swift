import Crypto
import Foundation

/// Where an outgoing mail sits in its conversation: what the client wrote last, so the reply
/// lands in the same thread in Gmail, Outlook and Apple Mail (protocols.md §3.2). Kept per client
/// in the channel's cursor store.
struct MailThread: Sendable, Hashable, Codable {
    /// The subject of the client's latest mail, decoded.
    var subject: String
    /// The latest mail in the thread, ours or the client's: the next mail's `In-Reply-To`.
    var lastMessageID: String?
    /// The thread's ids, oldest first: the next mail's `References`.
    var references: [String]
    /// The client's display name, for `To:`.
    var clientName: String?

    init(subject: String, lastMessageID: String?, references: [String], clientName: String?) {
        self.subject = subject
        self.lastMessageID = lastMessageID
        self.references = references
        self.clientName = clientName
    }

    /// The thread after the client's mail `mail`: its references (or its `In-Reply-To` when it
    /// has none) followed by its own id (RFC 5322 §3.6.4).
    static func after(_ mail: ParsedMail, previous: MailThread?) -> MailThread {
        var references = mail.references
        if references.isEmpty, mail.inReplyTo.count == 1 { references = mail.inReplyTo }
        if let id = mail.messageID { references.append(id) }
        return MailThread(
            subject: mail.subject.isEmpty ? (previous?.subject ?? "") : mail.subject, lastMessageID: mail.messageID ?? previous?.lastMessageID,
            references: trimmed(unique(references)), clientName: mail.from?.name ?? previous?.clientName)
    }

    /// The thread after our own mail `id` went out.
    func adding(sent id: String) -> MailThread {
        var next = self
        next.references = Self.trimmed(Self.unique(references + [id]))
        next.lastMessageID = id
        return next
    }

    /// Long `References` are cut in the middle, keeping the first id (the thread's root) and the
    /// latest ones, as RFC 5322 allows: some servers refuse very long header fields.
    static func trimmed(_ ids: [String], limit: Int = 20) -> [String] {
        guard ids.count > limit, let first = ids.first else { return ids }
        return [first] + ids.suffix(limit - 1)
    }

    private static func unique(_ ids: [String]) -> [String] {
        var seen = Set<String>()
        return ids.filter { seen.insert($0).inserted }
    }
}

/// Writes outgoing mail: RFC 5322 headers with threading and loop-safety fields, UTF-8 text as
/// quoted-printable, an optional HTML alternative.
struct MailComposer: Sendable {
    var address: String
    var displayName: String?

    /// Whether a mail answers the client or reaches out by itself (RFC 3834 `Auto-Submitted`).
    enum Kind: Sendable, Hashable {
        /// An AI reply to the client's mail: `auto-replied`.
        case reply
        /// A reminder or notice the gateway sends on its own: `auto-generated`.
        case generated
        /// A human operator's message: no `Auto-Submitted`.
        case human

        var autoSubmitted: String? {
            switch self {
            case .reply: "auto-replied"
            case .generated: "auto-generated"
            case .human: nil
            }
        }
    }

    struct Mail: Sendable, Hashable {
        var to: MailAddress
        var subject: String
        var text: String
        var kind: Kind
        var thread: MailThread?
        var messageID: String
        var date: Date
        var html: Bool
    }

    var domain: String { address.split(separator: "@").last.map { String($0).lowercased() } ?? "localhost" }

    /// A Message-ID on our domain. With a key (the outbox entry's idempotency key) it is the same
    /// on every retry of one message, so a retry after a lost `250 OK` looks like one mail to
    /// the client's mail program.
    func messageID(key: String?) -> String {
        let unique: String
        if let key {
            let digest = SHA256.hash(data: Data(key.utf8))
            unique = digest.prefix(16).map { String(format: "%02x", $0) }.joined()
        } else {
            unique = UUID().uuidString.lowercased()
        }
        return "<sb.\(unique)@\(domain)>"
    }

    /// `Re: <their subject>`, never `Re: Re:` (nor `Re: AW:`, `Re: Ответ:`).
    static func replySubject(_ subject: String, fallback: String) -> String {
        let trimmed = subject.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return fallback }
        let range = NSRange(trimmed.startIndex..., in: trimmed)
        if replyPrefix?.firstMatch(in: trimmed, range: range) != nil { return trimmed }
        return "Re: " + trimmed
    }

    private static let replyPrefix = try? NSRegularExpression(
        pattern: #"^(re|aw|sv|vs|antw|odp|ynt|ref|rif|res|回复|答复|ответ|на)\s*(\[\d+\]|\(\d+\))?\s*:"#, options: [.caseInsensitive])

    /// The whole mail, CRLF line ends, ready for SMTP `DATA` (libcurl dot-stuffs it).
    func render(_ mail: Mail) -> [UInt8] {
        var headers: [(String, String)] = []
        headers.append(("From", mailbox(displayName, address)))
        headers.append(("To", mailbox(mail.to.name, mail.to.address)))
        headers.append(("Subject", EncodedWords.encodeText(mail.subject)))
        headers.append(("Date", Self.rfc5322Date(mail.date)))
        headers.append(("Message-ID", mail.messageID))
        if let thread = mail.thread, let parent = thread.lastMessageID {
            headers.append(("In-Reply-To", parent))
            if !thread.references.isEmpty { headers.append(("References", thread.references.joined(separator: "\r\n "))) }
        }
        if let autoSubmitted = mail.kind.autoSubmitted {
            headers.append(("Auto-Submitted", autoSubmitted))
            // Asks Exchange not to answer us with out-of-office notes: fewer robots in the loop.
            headers.append(("X-Auto-Response-Suppress", "OOF, AutoReply"))
        }
        headers.append(("MIME-Version", "1.0"))
        var body: String
        if mail.html {
            let boundary = "sb-alt-" + String(mail.messageID.filter { $0.isLetter || $0.isNumber }.prefix(24))
            headers.append(("Content-Type", "multipart/alternative; boundary=\"\(boundary)\""))
            body = "--\(boundary)\r\n" + textPart(mail.text) + "\r\n--\(boundary)\r\n" + htmlPart(mail.text) + "\r\n--\(boundary)--\r\n"
        } else {
            headers.append(("Content-Type", "text/plain; charset=UTF-8"))
            headers.append(("Content-Transfer-Encoding", "quoted-printable"))
            body = QuotedPrintable.encode(mail.text) + "\r\n"
        }
        var text = ""
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        body = body.isEmpty ? "\r\n" : body
        return Array((text + body).utf8)
    }

    private func textPart(_ text: String) -> String {
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + QuotedPrintable.encode(text)
    }

    private func htmlPart(_ text: String) -> String {
        let paragraphs = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n").map { paragraph in
            "<p>" + Self.escapeHTML(paragraph).replacingOccurrences(of: "\n", with: "<br>\n") + "</p>"
        }
        let html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n" + paragraphs.joined(separator: "\n") + "\n</body></html>"
        return "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + QuotedPrintable.encode(html)
    }

    private func mailbox(_ name: String?, _ address: String) -> String {
        guard let name, !name.isEmpty else { return address }
        return "\(EncodedWords.encodePhrase(name)) <\(address)>"
    }

    static func escapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// `Mon, 23 Nov 2026 10:30:00 +0000`: English names whatever the machine's locale, UTC.
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return "\(days[(c.weekday ?? 1) - 1]), \(two(c.day)) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970) \(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }
}
