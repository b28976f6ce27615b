import Foundation

/// What a chat title says about the client's name. Titles are often not names at all: the
/// widget calls an anonymous visitor "Visitor F65F", the store falls back to "Client 3f9a1c", and
/// WhatsApp or email chats may be titled with a phone number or an address. Greeting someone
/// by any of those reads like a machine, so they count as no name.
public enum ClientName {
    /// Words that open a generated title rather than a name.
    static let placeholders: Set<String> = [
        "visitor", "client", "guest", "user", "customer", "anonymous", "unknown", "посетитель", "клиент", "гость", "пользователь", "аноним",
    ]

    /// The title when it reads as a person's name; `nil` for an empty title, a generated
    /// placeholder, anything with a digit (phone numbers, ids), an email address or @handle, or
    /// something too long to be a name.
    public static func usable(_ title: String) -> String? {
        let name = title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 40, !name.contains(where: \.isNewline) else { return nil }
        guard !name.contains("@"), !name.contains(where: \.isNumber), name.contains(where: \.isLetter) else { return nil }
        let first = name.split(whereSeparator: { $0.isWhitespace || $0 == "-" || $0 == "_" }).first.map { $0.lowercased() } ?? ""
        guard !placeholders.contains(first) else { return nil }
        return name
    }

    /// The first name to greet the client by: the first word of a usable title, if it is a
    /// word (at least two letters, not an initial).
    public static func firstName(_ title: String) -> String? {
        guard let name = usable(title), var first = name.split(whereSeparator: \.isWhitespace).first.map(String.init) else { return nil }
        while let last = first.last, !last.isLetter { first.removeLast() }
        return first.filter(\.isLetter).count >= 2 ? first : nil
    }
}
