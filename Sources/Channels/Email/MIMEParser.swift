import Foundation

/// Reads a raw RFC 5322 / MIME mail. Total: any input gives a `ParsedMail`; what could not be
/// read is listed in `problems` instead of thrown, so one broken mail never stops a mailbox.
///
/// Multipart nesting is followed to `maxDepth` and `maxParts`; a part's body is decoded only
/// when it is text the employee reads — attachments are measured, not decoded or kept.
struct MIMEParser: Sendable {
    var maxDepth = 12
    var maxParts = 500
    /// Longest text kept from one mail; the rest is cut with a note (a 5 MB log pasted into a mail).
    var maxTextCharacters = 100_000

    func parse(_ raw: [UInt8]) -> ParsedMail {
        var mail = ParsedMail()
        var state = WalkState()
        let (headerRange, bodyRange) = Self.split(raw, in: raw.startIndex..<raw.endIndex)
        let headers = Self.parseHeaders(raw[headerRange], problems: &state.problems)
        mail.headers = headers
        if headers.fields.isEmpty { state.problems.append("no header fields") }

        mail.subject = headers.decoded("Subject").map(Self.collapseWhitespace) ?? ""
        mail.from = headers["From"].flatMap { Self.parseAddressList($0).first }
        mail.replyTo = headers["Reply-To"].flatMap { Self.parseAddressList($0).first }
        mail.to = headers.all("To").flatMap(Self.parseAddressList)
        mail.messageID = headers["Message-ID"].flatMap { Self.parseIDs($0).first }
        mail.inReplyTo = headers["In-Reply-To"].map(Self.parseIDs) ?? []
        mail.references = headers.all("References").flatMap(Self.parseIDs)
        if headers.fields.isEmpty == false, mail.from == nil { state.problems.append("no readable From: address") }

        let content = walk(raw, headers: headers, body: bodyRange, depth: 0, state: &state)
        var text = (content.text ?? "").replacingOccurrences(of: "\r\n", with: "\n")
        if text.count > maxTextCharacters {
            text = String(text.prefix(maxTextCharacters))
            state.problems.append("text longer than \(maxTextCharacters) characters cut")
        }
        mail.text = text
        mail.html = state.html
        mail.attachments = state.attachments
        if var report = state.report {
            report.originalMessageID = state.embeddedMessageID
            report.originalRecipient = state.embeddedRecipient
            mail.report = report
        }
        mail.problems = state.problems
        return mail
    }

    // MARK: - Parts

    private struct WalkState {
        var parts = 0
        var html: String?
        var attachments: [MailAttachment] = []
        var report: DeliveryReport?
        var embeddedMessageID: String?
        var embeddedRecipient: String?
        var problems: [String] = []
    }

    private struct Content {
        var text: String?
        /// The text came from HTML: a plain alternative is preferred.
        var fromHTML = false
    }

    private func walk(_ raw: [UInt8], headers: MailHeaders, body: Range<Int>, depth: Int, state: inout WalkState) -> Content {
        state.parts += 1
        let contentType = ContentType(headers["Content-Type"])
        let disposition = ContentType(headers["Content-Disposition"])
        let isAttachment = disposition.value == "attachment"
        let filename = disposition.parameters["filename"] ?? contentType.parameters["name"]

        if contentType.type == "multipart" {
            guard depth < maxDepth, state.parts < maxParts else {
                state.problems.append("MIME nesting deeper than \(maxDepth) levels or more than \(maxParts) parts; the rest is not read")
                return Content()
            }
            guard let boundary = contentType.parameters["boundary"], !boundary.isEmpty else {
                state.problems.append("\(contentType.value) without a boundary; read as text")
                return Content(text: Charset.decode(raw[body], charset: "utf-8").text)
            }
            let parts = Self.splitMultipart(raw, body: body, boundary: boundary, problems: &state.problems)
            var children: [Content] = []
            for part in parts {
                if state.parts >= maxParts {
                    state.problems.append("more than \(maxParts) MIME parts; the rest is not read")
                    break
                }
                let (h, b) = Self.split(raw, in: part)
                let childHeaders = Self.parseHeaders(raw[h], problems: &state.problems)
                children.append(walk(raw, headers: childHeaders, body: b, depth: depth + 1, state: &state))
            }
            if contentType.subtype == "report", contentType.parameters["report-type"]?.lowercased() == "delivery-status" {
                // The human-readable first part says what the report says; keep it as the text.
                return children.first { $0.text != nil } ?? Content()
            }
            if contentType.subtype == "alternative" {
                // The last alternative is the richest (RFC 2046); prefer plain text, which the
                // sender wrote and needs no conversion.
                if let plain = children.last(where: { $0.text != nil && !$0.fromHTML }) { return plain }
                return children.last { $0.text != nil } ?? Content()
            }
            let texts = children.compactMap(\.text).filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
            return Content(text: texts.isEmpty ? nil : texts.joined(separator: "\n\n"), fromHTML: children.allSatisfy(\.fromHTML))
        }

        let transfer = headers["Content-Transfer-Encoding"]?.lowercased().trimmingCharacters(in: .whitespaces) ?? "7bit"

        if contentType.value == "message/delivery-status" {
            let decoded = decodeTransfer(raw[body], encoding: transfer, problems: &state.problems)
            var report = state.report ?? DeliveryReport()
            Self.readDeliveryStatus(decoded, into: &report)
            state.report = report
            return Content()
        }
        if contentType.value == "message/rfc822" || contentType.value == "text/rfc822-headers" || contentType.value == "message/rfc822-headers" {
            let decoded = decodeTransfer(raw[body], encoding: transfer, problems: &state.problems)
            let (h, _) = Self.split(decoded, in: decoded.startIndex..<decoded.endIndex)
            var ignored: [String] = []
            let original = Self.parseHeaders(decoded[h], problems: &ignored)
            // A bounce returns our mail (or its headers) in such a part: remember the first.
            if state.embeddedMessageID == nil {
                state.embeddedMessageID = original["Message-ID"].flatMap { Self.parseIDs($0).first }
                state.embeddedRecipient = original["To"].flatMap { Self.parseAddressList($0).first?.address }
            }
            if contentType.value == "message/rfc822" {
                // A forwarded or returned mail: noted like an attachment, by its subject.
                state.attachments.append(
                    MailAttachment(name: original.decoded("Subject") ?? filename.map(EncodedWords.decode), contentType: contentType.value, size: decoded.count))
            }
            return Content()
        }

        let isText = contentType.type == "text" && (contentType.subtype == "plain" || contentType.subtype == "html")
        if isText && !isAttachment && filename.map({ _ in disposition.value != "inline" }) != true {
            let decoded = decodeTransfer(raw[body], encoding: transfer, problems: &state.problems)
            let charset = contentType.parameters["charset"]
            let result = Charset.decode(decoded, charset: charset)
            if let problem = result.problem { state.problems.append(problem) }
            if contentType.subtype == "html" {
                if state.html == nil { state.html = result.text }
                return Content(text: HTMLText.plainText(result.text), fromHTML: true)
            }
            var text = result.text
            if contentType.parameters["format"]?.lowercased() == "flowed" {
                text = Self.unflow(text, delSp: contentType.parameters["delsp"]?.lowercased() == "yes")
            }
            return Content(text: text)
        }

        let size = transfer == "base64" ? Base64.decodedSize(raw[body]) : body.count
        let name = filename.map(EncodedWords.decode)
        state.attachments.append(MailAttachment(name: name, contentType: contentType.value, size: size))
        return Content()
    }

    private func decodeTransfer(_ bytes: ArraySlice<UInt8>, encoding: String, problems: inout [String]) -> [UInt8] {
        switch encoding {
        case "quoted-printable":
            return QuotedPrintable.decode(Array(bytes))
        case "base64":
            let (decoded, problem) = Base64.decode(bytes)
            if let problem { problems.append(problem) }
            return decoded
        case "7bit", "8bit", "binary", "":
            return Array(bytes)
        default:
            problems.append("unknown Content-Transfer-Encoding \"\(encoding)\"; read as is")
            return Array(bytes)
        }
    }

    // MARK: - Structure

    /// The header block and the body of a message or part: split at the first empty line.
    static func split(_ raw: [UInt8], in range: Range<Int>) -> (header: Range<Int>, body: Range<Int>) {
        var index = range.lowerBound
        // A part that starts with an empty line has no headers.
        if index < range.upperBound, raw[index] == 10 { return (index..<index, (index + 1)..<range.upperBound) }
        if index + 1 < range.upperBound, raw[index] == 13, raw[index + 1] == 10 { return (index..<index, (index + 2)..<range.upperBound) }
        while index < range.upperBound {
            guard raw[index] == 10 else {
                index += 1
                continue
            }
            let next = index + 1
            if next < range.upperBound, raw[next] == 10 { return (range.lowerBound..<index, (next + 1)..<range.upperBound) }
            if next + 1 < range.upperBound, raw[next] == 13, raw[next + 1] == 10 {
                return (range.lowerBound..<index, (next + 2)..<range.upperBound)
            }
            index += 1
        }
        return (range, range.upperBound..<range.upperBound)
    }

    /// Unfolds and splits header lines. Raw 8-bit header bytes are read as UTF-8 (RFC 6532)
    /// when valid, else as windows-1252 with a note.
    static func parseHeaders(_ bytes: ArraySlice<UInt8>, problems: inout [String]) -> MailHeaders {
        let text: String
        if let utf8 = String(validating: Array(bytes), as: UTF8.self) {
            text = utf8
        } else {
            text = Charset.decode(bytes, charset: "windows-1252").text
            problems.append("8-bit header bytes that are not UTF-8; read as windows-1252")
        }
        var headers = MailHeaders()
        var current: MailHeaders.Field?
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if let first = line.first, first == " " || first == "\t" {
                if current != nil {
                    current?.value += " " + line.trimmingCharacters(in: .whitespaces)
                }
                continue
            }
            if let field = current { headers.fields.append(field) }
            current = nil
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !name.contains(" ") else { continue }
            current = MailHeaders.Field(name: name, value: String(line[line.index(after: colon)...]))
        }
        if let field = current { headers.fields.append(field) }
        return headers
    }

    /// The byte ranges of a multipart body's parts (between `--boundary` lines).
    static func splitMultipart(_ raw: [UInt8], body: Range<Int>, boundary: String, problems: inout [String]) -> [Range<Int>] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Range<Int>] = []
        var partStart: Int?
        var lineStart = body.lowerBound
        var closed = false
        while lineStart < body.upperBound {
            var lineEnd = lineStart
            while lineEnd < body.upperBound, raw[lineEnd] != 10 { lineEnd += 1 }
            let next = lineEnd < body.upperBound ? lineEnd + 1 : lineEnd
            if lineEnd - lineStart >= delimiter.count, raw[lineStart] == 45, raw[lineStart..<(lineStart + delimiter.count)].elementsEqual(delimiter) {
                let after = raw[(lineStart + delimiter.count)..<lineEnd]
                let isClose = after.starts(with: [45, 45])
                let rest = isClose ? after.dropFirst(2) : after
                if rest.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) {
                    if let start = partStart {
                        // The line break before a delimiter belongs to the delimiter.
                        var end = lineStart
                        if end > start, raw[end - 1] == 10 { end -= 1 }
                        if end > start, raw[end - 1] == 13 { end -= 1 }
                        parts.append(start..<max(start, end))
                    }
                    if isClose {
                        closed = true
                        break
                    }
                    partStart = next
                }
            }
            lineStart = next
        }
        if !closed {
            if let start = partStart, start < body.upperBound { parts.append(start..<body.upperBound) }
            problems.append(parts.isEmpty ? "multipart body without its boundary" : "multipart body without its closing boundary")
        }
        return parts
    }

    static func readDeliveryStatus(_ bytes: [UInt8], into report: inout DeliveryReport) {
        var ignored: [String] = []
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        // Per-message fields, then one block per recipient, separated by empty lines.
        for block in text.components(separatedBy: "\n\n") {
            let fields = parseHeaders(ArraySlice(Array(block.utf8)), problems: &ignored)
            if let recipient = fields["Final-Recipient"] ?? fields["Original-Recipient"] {
                let address = recipient.split(separator: ";", maxSplits: 1).last.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " <>")) } ?? ""
                if !address.isEmpty { report.recipients.append(address) }
                report.action = report.action ?? fields["Action"]?.lowercased()
                report.status = report.status ?? fields["Status"]
                report.diagnostic = report.diagnostic ?? fields["Diagnostic-Code"]
            }
        }
    }

    // MARK: - Fields

    /// `<a@b> <c@d>` (or bare ids) in order.
    static func parseIDs(_ value: String) -> [String] {
        var ids: [String] = []
        var rest = Substring(value)
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { break }
            let id = rest[open...close].filter { !$0.isWhitespace }
            if id.count > 2 { ids.append(id) }
            rest = rest[rest.index(after: close)...]
        }
        if ids.isEmpty {
            ids = value.split(whereSeparator: { $0.isWhitespace || $0 == "," }).filter { $0.contains("@") }.map { "<\($0)>" }
        }
        return ids
    }

    /// Mailboxes in an address list: `Ana K <ana@x>`, `"K, Ana" <ana@x>`, `ana@x (Ana)`, groups.
    static func parseAddressList(_ value: String) -> [MailAddress] {
        var items: [String] = []
        var current = ""
        var quoted = false
        var angle = 0
        var comment = 0
        var escaped = false
        for character in value {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            switch character {
            case "\\" where quoted:
                escaped = true
                current.append(character)
            case "\"" where comment == 0:
                quoted.toggle()
                current.append(character)
            case "<" where !quoted && comment == 0: angle += 1; current.append(character)
            case ">" where !quoted && comment == 0: angle = max(0, angle - 1); current.append(character)
            case "(" where !quoted: comment += 1; current.append(character)
            case ")" where !quoted: comment = max(0, comment - 1); current.append(character)
            case "," where !quoted && angle == 0 && comment == 0:
                items.append(current)
                current = ""
            case ";" where !quoted && angle == 0 && comment == 0:
                // The end of a group: `Team: a@x, b@y;`
                items.append(current)
                current = ""
            default: current.append(character)
            }
        }
        items.append(current)
        return items.compactMap(parseMailbox)
    }

    private static func parseMailbox(_ text: String) -> MailAddress? {
        var item = text.trimmingCharacters(in: .whitespaces)
        // A group's display name: `Team: first@x`.
        if let colon = item.firstIndex(of: ":"), !item[..<colon].contains("<"), !item[..<colon].contains("\""), !item[..<colon].contains("@") {
            item = item[item.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard !item.isEmpty else { return nil }
        if let open = item.lastIndex(of: "<"), let close = item[open...].firstIndex(of: ">") {
            let address = item[item.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
            let name = cleanName(String(item[..<open]))
            guard address.contains("@") else { return address.isEmpty ? nil : MailAddress(name: name, address: address) }
            return MailAddress(name: name, address: address)
        }
        // `ana@x (Ana K)`
        var name: String?
        var bare = item
        if let open = item.firstIndex(of: "("), let close = item.lastIndex(of: ")"), open < close {
            name = cleanName(String(item[item.index(after: open)..<close]))
            bare = (item[..<open] + item[item.index(after: close)...]).trimmingCharacters(in: .whitespaces)
        }
        bare = bare.trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
        guard bare.contains("@"), !bare.contains(" ") else { return nil }
        return MailAddress(name: name, address: bare)
    }

    private static func cleanName(_ raw: String) -> String? {
        var name = raw.trimmingCharacters(in: .whitespaces)
        if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 {
            name = String(name.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
        }
        name = collapseWhitespace(EncodedWords.decode(name)).trimmingCharacters(in: CharacterSet(charactersIn: " '\""))
        return name.isEmpty ? nil : name
    }

    static func collapseWhitespace(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// RFC 3676 format=flowed: a line ending in a space continues on the next line.
    static func unflow(_ text: String, delSp: Bool) -> String {
        var output: [String] = []
        var paragraph = ""
        var open = false
        for line in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(line)
            // Space-stuffing: a leading space protects a line that starts with a space, ">" or "From ".
            if line.hasPrefix(" ") { line.removeFirst() }
            let isSignatureDelimiter = line == "-- "
            if line.hasSuffix(" ") && !isSignatureDelimiter {
                paragraph += delSp ? String(line.dropLast()) : line
                open = true
            } else {
                output.append(paragraph + line)
                paragraph = ""
                open = false
            }
        }
        if open { output.append(paragraph) }
        return output.joined(separator: "\n")
    }
}

/// `type/subtype; name=value; …` with RFC 2231 continuations (`name*0*=`) and charsets
/// (`name*=utf-8''%D0%9E…`).
struct ContentType: Sendable, Hashable {
    /// `text/plain`, lowercased; a missing header is `text/plain` (RFC 2045 default).
    var value: String
    var parameters: [String: String]

    var type: String { String(value.split(separator: "/").first ?? "") }
    var subtype: String { value.split(separator: "/").dropFirst().first.map(String.init) ?? "" }

    init(_ header: String?) {
        guard let header, !header.trimmingCharacters(in: .whitespaces).isEmpty else {
            value = "text/plain"
            parameters = [:]
            return
        }
        let pieces = Self.splitParameters(header)
        value = pieces.first?.trimmingCharacters(in: .whitespaces).lowercased() ?? "text/plain"
        if value.isEmpty { value = "text/plain" }
        var plain: [String: String] = [:]
        var extended: [String: [(Int, String, Bool)]] = [:]
        for piece in pieces.dropFirst() {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            var name = piece[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var raw = piece[piece.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if raw.hasPrefix("\""), raw.hasSuffix("\""), raw.count >= 2 {
                raw = String(raw.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            let encoded = name.hasSuffix("*")
            if encoded { name.removeLast() }
            if let star = name.firstIndex(of: "*"), let index = Int(name[name.index(after: star)...]) {
                extended[String(name[..<star]), default: []].append((index, raw, encoded))
            } else if encoded {
                extended[name, default: []].append((0, raw, true))
            } else {
                plain[name] = raw
            }
        }
        for (name, sections) in extended {
            var charset = "utf-8"
            var bytes: [UInt8] = []
            for (offset, section) in sections.sorted(by: { $0.0 < $1.0 }).enumerated() {
                var text = section.1
                if section.2 {
                    if offset == 0 {
                        let segments = text.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                        if segments.count == 3 {
                            if !segments[0].isEmpty { charset = String(segments[0]) }
                            text = String(segments[2])
                        }
                    }
                    bytes += Self.percentDecode(text)
                } else {
                    bytes += Array(text.utf8)
                }
            }
            plain[name] = Charset.decode(bytes, charset: charset).text
        }
        parameters = plain
    }

    private static func splitParameters(_ header: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in header {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if character == "\\" && quoted {
                escaped = true
                current.append(character)
                continue
            }
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted {
                pieces.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        pieces.append(current)
        return pieces
    }

    private static func percentDecode(_ text: String) -> [UInt8] {
        var output: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let value = UInt8(String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                output.append(value)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }
}
