import Foundation

/// HTML mail as plain text, for mail that has no `text/plain` part: blocks become lines,
/// `<blockquote>` lines are prefixed with `> ` (so the reply stripper sees the quote), scripts
/// and styles vanish, entities are decoded.
enum HTMLText {
    static func plainText(_ html: String) -> String {
        var output = ""
        var quoteDepth = 0
        var index = html.startIndex
        var atLineStart = true
        func newline() {
            output += "\n"
            atLineStart = true
        }
        func emit(_ text: String) {
            for character in text {
                if character == "\n" {
                    newline()
                    continue
                }
                if atLineStart {
                    if character == " " { continue }
                    if quoteDepth > 0 { output += String(repeating: "> ", count: quoteDepth) }
                    atLineStart = false
                }
                output.append(character)
            }
        }
        while index < html.endIndex {
            let character = html[index]
            if character == "<", html[index...].hasPrefix("<!--") {
                index = html.range(of: "-->", range: index..<html.endIndex)?.upperBound ?? html.endIndex
                continue
            }
            if character == "<" {
                guard let close = html[index...].firstIndex(of: ">") else { break }
                let tag = html[html.index(after: index)..<close].lowercased()
                let name = String(tag.prefix { $0 != " " && $0 != "/" && $0 != "\t" && $0 != "\n" })
                let closing = tag.hasPrefix("/")
                let closingName = closing ? String(tag.dropFirst().prefix { $0 != " " && $0 != ">" }) : name
                index = html.index(after: close)
                if !closing, name == "script" || name == "style" || name == "head" || name == "title" {
                    // Skip to the matching close tag.
                    if let end = html.range(of: "</\(name)", options: .caseInsensitive, range: index..<html.endIndex),
                        let endClose = html[end.upperBound...].firstIndex(of: ">")
                    {
                        index = html.index(after: endClose)
                    }
                    continue
                }
                switch closingName {
                case "br":
                    newline()
                case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre", "hr":
                    if !atLineStart { newline() }
                case "blockquote":
                    if !atLineStart { newline() }
                    quoteDepth = max(0, quoteDepth + (closing ? -1 : 1))
                default:
                    break
                }
                continue
            }
            var end = index
            while end < html.endIndex, html[end] != "<" { end = html.index(after: end) }
            let chunk = html[index..<end].replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\t", with: " ")
            emit(decodeEntities(String(chunk)).replacingOccurrences(of: "\u{00A0}", with: " "))
            index = end
        }
        // Collapse runs of blank lines and trailing spaces.
        var lines: [String] = []
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            var trimmed = String(line)
            while trimmed.hasSuffix(" ") { trimmed.removeLast() }
            trimmed = trimmed.replacingOccurrences(of: "  +", with: " ", options: .regularExpression)
            if trimmed.isEmpty, lines.last?.isEmpty == true { continue }
            lines.append(trimmed)
        }
        return lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}", "laquo": "«", "raquo": "»",
        "mdash": "—", "ndash": "–", "hellip": "…", "rsquo": "’", "lsquo": "‘", "rdquo": "”", "ldquo": "“", "copy": "©",
    ]

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "&", let semicolon = text[index...].prefix(12).firstIndex(of: ";") else {
                output.append(character)
                index = text.index(after: index)
                continue
            }
            let entity = text[text.index(after: index)..<semicolon]
            var replacement: String?
            if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                replacement = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
            } else if entity.hasPrefix("#") {
                replacement = UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init).map { String($0) }
            } else {
                replacement = named[String(entity).lowercased()]
            }
            if let replacement {
                output += replacement
                index = text.index(after: semicolon)
            } else {
                output.append(character)
                index = text.index(after: index)
            }
        }
        return output
    }
}
