import Foundation

/// Decides whether a mail was written by a robot (protocols.md §3.6, RFC 3834, discourse's
/// `is_auto_generated?`): such mail is stored but never answered, and it is not the client's
/// reply — an out-of-office note must not cancel a reminder, and answering it starts a loop.
enum RobotCheck {
    /// Why a mail counts as automatic, for the log and the chat history.
    struct Verdict: Sendable, Hashable, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// - Parameters:
    ///   - ownDomain: the domain of our Message-IDs; mail carrying one is our own coming back.
    ///   - ownAddress: our mailbox; mail from it is ours (a copy, or a loop through a forwarder).
    static func check(_ mail: ParsedMail, ownDomain: String, ownAddress: String? = nil) -> Verdict? {
        let headers = mail.headers
        if let value = headers["Auto-Submitted"], value.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() != "no" {
            return Verdict(reason: "Auto-Submitted: \(value)")
        }
        if let value = headers["Precedence"]?.lowercased(), ["bulk", "list", "junk", "auto_reply", "auto-reply"].contains(value) {
            return Verdict(reason: "Precedence: \(value)")
        }
        for name in ["List-Id", "List-Unsubscribe", "List-Post"] where headers.contains(name) {
            return Verdict(reason: "mailing list (\(name))")
        }
        if let field = headers.fields.first(where: { isVendorAutoreplyHeader($0.name) }) {
            return Verdict(reason: "autoresponder header \(field.name)")
        }
        if let returnPath = mail.returnPath, returnPath.isEmpty {
            return Verdict(reason: "null envelope sender (Return-Path: <>)")
        }
        if ContentType(headers["Content-Type"]).value == "multipart/report" || mail.report != nil {
            return Verdict(reason: "delivery or disposition report")
        }
        guard let from = mail.from else { return Verdict(reason: "no sender address") }
        let local = from.localPart
        if robotLocalParts.contains(local) || local.hasPrefix("noreply") || local.hasPrefix("no-reply") || local.hasPrefix("do-not-reply")
            || local.hasPrefix("donotreply") || local.hasPrefix("mailer-daemon")
        {
            return Verdict(reason: "robot sender \(from.address)")
        }
        let subject = mail.subject.lowercased()
        if let prefix = autoReplySubjects.first(where: { subject.hasPrefix($0) }) {
            return Verdict(reason: "auto-reply subject (\(prefix))")
        }
        if let ownAddress, from.key == ownAddress.lowercased() {
            return Verdict(reason: "sent from our own address")
        }
        if let id = mail.messageID, domain(ofID: id) == ownDomain.lowercased() {
            return Verdict(reason: "our own Message-ID \(id)")
        }
        return nil
    }

    /// The domain of `<local@domain>`, lowercased.
    static func domain(ofID id: String) -> String? {
        guard let at = id.lastIndex(of: "@") else { return nil }
        return id[id.index(after: at)...].trimmingCharacters(in: CharacterSet(charactersIn: "<> ")).lowercased()
    }

    /// `X-Autoreply`, `X-Autorespond`, and any header matching `auto[-_]?(response|submitted|
    /// replied|reply|generated|respond)` — except `X-Auto-Response-Suppress`, which only asks
    /// others not to answer and is set by ordinary Outlook mail.
    private static func isVendorAutoreplyHeader(_ name: String) -> Bool {
        let lower = name.lowercased()
        if lower == "x-auto-response-suppress" || lower == "auto-submitted" { return false }
        if lower == "x-autoreply" || lower == "x-autorespond" { return true }
        let range = NSRange(lower.startIndex..., in: lower)
        return vendorPattern?.firstMatch(in: lower, range: range) != nil
    }

    private static let vendorPattern = try? NSRegularExpression(pattern: #"auto[-_]?(response|submitted|replied|reply|generated|respond)"#)

    private static let robotLocalParts: Set<String> = ["mailer-daemon", "postmaster", "noreply", "no-reply", "bounce", "bounces"]

    private static let autoReplySubjects = [
        "auto:", "automatic reply", "autoreply", "auto-reply", "out of office", "out of the office", "autosvar", "abwesenheitsnotiz",
        "réponse automatique", "автоответ", "автоматический ответ", "нет на месте",
    ]
}
