import Foundation

/// A mail's header fields in order, values unfolded but not yet RFC 2047-decoded.
struct MailHeaders: Sendable, Hashable {
    struct Field: Sendable, Hashable {
        var name: String
        var value: String
    }

    var fields: [Field] = []

    /// The first field named `name` (case-insensitive), trimmed.
    subscript(_ name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map { $0.value.trimmingCharacters(in: .whitespaces) }
    }

    func all(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map { $0.value.trimmingCharacters(in: .whitespaces) }
    }

    func contains(_ name: String) -> Bool { self[name] != nil }

    /// The field with encoded-words decoded.
    func decoded(_ name: String) -> String? { self[name].map(EncodedWords.decode) }
}

/// A mailbox as a header names it: `Ana K <ana@example.net>`.
struct MailAddress: Sendable, Hashable, CustomStringConvertible {
    var name: String?
    var address: String

    /// The address lowercased: the conversation key, so `Ana@Example.net` and `ana@example.net`
    /// are one client. (Local parts are case-sensitive in theory; no real mailbox relies on it.)
    var key: String { address.lowercased() }

    var domain: String { address.split(separator: "@").last.map { String($0).lowercased() } ?? "" }

    var localPart: String { address.split(separator: "@").first.map { String($0).lowercased() } ?? "" }

    var description: String { name.map { "\($0) <\(address)>" } ?? address }
}

/// A file attached to a mail: noted (so the employee knows it came), never stored.
struct MailAttachment: Sendable, Hashable {
    var name: String?
    var contentType: String
    var size: Int
}

/// What a delivery-status notification (RFC 3464 bounce) says.
struct DeliveryReport: Sendable, Hashable {
    /// `failed`, `delayed`, `delivered`, `relayed`, `expanded` — the first recipient's.
    var action: String?
    /// The enhanced status code, e.g. `5.1.1`.
    var status: String?
    /// The recipients the report is about, bare addresses.
    var recipients: [String] = []
    /// The receiving server's words, e.g. `smtp; 550 5.1.1 <ana@example.net>: user unknown`.
    var diagnostic: String?
    /// The `Message-ID` of the mail that bounced, from the returned message or its headers.
    var originalMessageID: String?
    /// The `To:` of the mail that bounced.
    var originalRecipient: String?

    var isFailure: Bool { action?.lowercased() == "failed" || (action == nil && status?.hasPrefix("5") == true) }
}

/// A mail as the parser read it: enough to normalize, thread and screen it.
struct ParsedMail: Sendable, Hashable {
    var headers = MailHeaders()
    var subject = ""
    var from: MailAddress?
    var replyTo: MailAddress?
    var to: [MailAddress] = []
    /// With angle brackets, as it appears in `References`.
    var messageID: String?
    var inReplyTo: [String] = []
    var references: [String] = []
    /// The body as text: `text/plain` when there is one, else the HTML part as text.
    var text = ""
    var html: String?
    var attachments: [MailAttachment] = []
    var report: DeliveryReport?
    /// What could not be read, in words for the chat history (broken MIME, unknown charset).
    var problems: [String] = []

    /// `Return-Path`, bare; `""` for the null sender `<>`; `nil` when the header is absent.
    var returnPath: String? {
        guard let value = headers["Return-Path"] else { return nil }
        return value.trimmingCharacters(in: CharacterSet(charactersIn: "<> \t"))
    }
}
