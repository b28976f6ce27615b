import Foundation

/// Splits a mail body into what the client wrote now and what came with it: the quoted earlier
/// mails, forwarded blocks and the signature (protocols.md §3.5, after discourse's
/// email_reply_trimmer). The new part goes to the AI; the rest stays in the chat history.
///
/// The body is cut at the first line that starts the quoted history or the signature:
/// - an attribution (`On … wrote:`, localized, possibly wrapped over two lines; Russian
///   Thunderbird's `… пишет:`, Yandex's `23.11.2026, 10:15, "Riverside" <…>:`, mail.ru's
///   `Понедельник, 23 ноября 2026, 10:15 +03:00 от …:`),
/// - an original/forwarded-message marker, or an Outlook header block (`From:`/`Sent:`/`To:`/
///   `Subject:`, also in Russian),
/// - a trailing block of `>` lines (inline quotes with answers between them are kept),
/// - a signature: `-- `, `Sent from my iPhone`, `Get Outlook for …`, `Отправлено из …`.
/// A delimiter line (`____`, `----`) right before the cut goes with it.
enum ReplyStripper {
    struct Result: Sendable, Hashable {
        /// What the client wrote in this mail.
        var reply: String
        /// The rest: quotes, forwards, signature (empty when there is none).
        var removed: String
    }

    static func strip(_ body: String) -> Result {
        let lines = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var cut = lines.count
        for index in lines.indices where cut == lines.count {
            if startsQuotedHistory(lines, at: index) || isSignatureStart(lines[index]) { cut = index }
        }
        if let quote = trailingQuoteStart(lines[..<cut]) { cut = quote }
        // A delimiter line or empty lines just before the cut belong to what is removed.
        while cut > 0, cut < lines.count, isDelimiter(lines[cut - 1]) || lines[cut - 1].trimmingCharacters(in: .whitespaces).isEmpty {
            cut -= 1
        }
        let reply = lines[..<cut].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        let removed = lines[cut...].joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        // Everything quoted and nothing new (a forward with no comment, a top line we misread):
        // the AI gets the whole text rather than nothing.
        if reply.isEmpty { return Result(reply: body.trimmingCharacters(in: .whitespacesAndNewlines), removed: "") }
        return Result(reply: reply, removed: removed)
    }

    // MARK: - Markers

    private static func startsQuotedHistory(_ lines: [String], at index: Int) -> Bool {
        let line = lines[index].trimmingCharacters(in: .whitespaces)
        guard !line.isEmpty else { return false }
        if matches(line, attribution) || matches(line, originalMarkers) { return true }
        // An attribution wrapped over two lines: "On Mon, 23 Nov 2026 at 10:15, Riverside Hotel <" + "support@…> wrote:".
        if index + 1 < lines.count, matches(line, attributionStart) {
            let joined = line + " " + lines[index + 1].trimmingCharacters(in: .whitespaces)
            if matches(joined, attribution) { return true }
        }
        return isHeaderBlock(lines, at: index)
    }

    /// Outlook's quoted header block: `From:` (or `От:`) followed within a few lines by a date and subject line.
    private static func isHeaderBlock(_ lines: [String], at index: Int) -> Bool {
        let first = lines[index].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "*", with: "")
        guard matches(first, headerFrom) else { return false }
        let following = lines[(index + 1)..<min(lines.count, index + 6)].map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "*", with: "") }
        let hasDate = following.contains { matches($0, headerDate) }
        let hasSubjectOrTo = following.contains { matches($0, headerSubjectOrTo) }
        return hasDate && hasSubjectOrTo
    }

    private static func isSignatureStart(_ line: String) -> Bool {
        if line == "-- " || line == "--" || line == "—" { return true }
        return matches(line.trimmingCharacters(in: .whitespaces), signatures)
    }

    private static func isDelimiter(_ line: String) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.count >= 4 && trimmed.allSatisfy { $0 == "_" || $0 == "-" || $0 == "=" || $0 == "*" }
    }

    /// The first line of a block of `>` lines (with empty lines) that runs to the end.
    private static func trailingQuoteStart(_ lines: ArraySlice<String>) -> Int? {
        var start: Int?
        for index in lines.indices.reversed() {
            let line = lines[index].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix(">") {
                start = index
            } else if line.isEmpty {
                continue
            } else {
                break
            }
        }
        return start
    }

    private static func matches(_ line: String, _ patterns: [NSRegularExpression]) -> Bool {
        let range = NSRange(line.startIndex..., in: line)
        return patterns.contains { $0.firstMatch(in: line, range: range) != nil }
    }

    private static func regexes(_ patterns: [String]) -> [NSRegularExpression] {
        patterns.compactMap { try? NSRegularExpression(pattern: $0, options: [.caseInsensitive]) }
    }

    private static let attribution = regexes([
        #"^>?\s*(On|At)\s.+(wrote|writes):$"#,
        #"^Am\s.+schrieb.*:$"#,
        #"^Le\s.+a\s+écrit\s?:$"#,
        #"^El\s.+escribió:$"#,
        #"^Em\s.+escreveu:$"#,
        #"^Il\s.+ha\s+scritto:$"#,
        #"^Op\s.+schreef.*:$"#,
        #"^Dnia\s.+napisał(\(a\))?:$"#,
        #"^在.+写道[:：]$"#,
        // Russian clients: Thunderbird "23.11.2026 10:15, Riverside Hotel пишет:", Outlook "… написал(а):".
        #"^.+\s(пишет|написал|написала|написал\(а\))\s?:$"#,
        // Yandex: "23.11.2026, 10:15, "Riverside Hotel" <support@example.com>:"
        #"^\d{1,2}\.\d{1,2}\.\d{2,4},\s+\d{1,2}:\d{2},\s+.+@.+>?:$"#,
        // mail.ru: "Понедельник, 23 ноября 2026, 10:15 +03:00 от Riverside Hotel <support@example.com>:"
        #"^.+\d{1,2}:\d{2}.*\sот\s.+:$"#,
        // Generic "<date> <time>, <name> <address>:" (many webmails).
        #"^.{0,80}\d{1,2}:\d{2}.{0,40},\s.{0,120}<[^>\s]+@[^>\s]+>\s?:$"#,
    ])

    private static let attributionStart = regexes([
        #"^(On|Am|Le|El|Em|Il|Op|Dnia)\s.+"#,
        #"^\d{1,2}\.\d{1,2}\.\d{2,4}.*"#,
    ])

    private static let originalMarkers = regexes([
        #"^-{2,}\s*Original Message\s*-{2,}$"#,
        #"^-{2,}\s*Forwarded message\s*-{2,}$"#,
        #"^-{2,}\s*Forwarded Message\s*-{2,}$"#,
        #"^Begin forwarded message:$"#,
        #"^-{2,}\s*Ursprüngliche Nachricht\s*-{2,}$"#,
        #"^-{2,}\s*Mensaje original\s*-{2,}$"#,
        #"^-{2,}\s*(Исходное|Пересылаемое|Перенаправленное|Оригинальное) сообщение\s*-{2,}$"#,
        #"^-{2,}\s*Конец пересылаемого сообщения\s*-{2,}$"#,
    ])

    private static let headerFrom = regexes([#"^(From|От|Von|De):\s*.+"#])
    private static let headerDate = regexes([#"^(Sent|Date|Отправлено|Дата|Gesendet|Envoyé|Enviado):\s*.+"#])
    private static let headerSubjectOrTo = regexes([#"^(Subject|To|Тема|Кому|Betreff|An|Objet|À|Asunto|Para):\s*.*"#])

    private static let signatures = regexes([
        #"^Sent from my .+$"#,
        #"^Sent from (Mail|Outlook|Yahoo Mail|Yandex Mail|Mail\.ru) .*$"#,
        #"^Sent from (Mail|Outlook) for .+$"#,
        #"^Get Outlook for .+$"#,
        #"^Отправлено (с|из) .+$"#,
        #"^Von meinem .+ gesendet$"#,
        #"^Enviado desde mi .+$"#,
        #"^Envoyé de mon .+$"#,
    ])
}
