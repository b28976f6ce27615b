import Foundation

/// RFC 2047 encoded-words (`=?UTF-8?B?0J/RgNC40LLQtdGC?=`) in header text: decoding what clients
/// send, encoding what we send.
enum EncodedWords {
    /// Decodes every encoded-word in `text`. Whitespace between two adjacent encoded-words is
    /// dropped (RFC 2047 §6.2), so a subject split over several words reads as one. A word in a
    /// charset we cannot read is decoded as well as possible (see ``Charset``).
    static func decode(_ text: String) -> String {
        guard text.contains("=?") else { return text }
        var output = ""
        var pendingSpace = ""
        var lastWasEncoded = false
        var rest = Substring(text)
        while !rest.isEmpty {
            if let (decoded, after) = parseWord(rest) {
                if !lastWasEncoded { output += pendingSpace }
                pendingSpace = ""
                output += decoded
                lastWasEncoded = true
                rest = after
                continue
            }
            let character = rest.removeFirst()
            if character == " " || character == "\t" || character == "\r\n" || character == "\n" || character == "\r" {
                pendingSpace.append(character)
                continue
            }
            output += pendingSpace
            pendingSpace = ""
            output.append(character)
            lastWasEncoded = false
        }
        return output + pendingSpace
    }

    /// `=?charset?B|Q?text?=` at the start of `text`, decoded, and what follows it.
    private static func parseWord(_ text: Substring) -> (String, Substring)? {
        guard text.hasPrefix("=?") else { return nil }
        let body = text.dropFirst(2)
        guard let q1 = body.firstIndex(of: "?") else { return nil }
        var charset = String(body[..<q1])
        // RFC 2231 language suffix: =?utf-8*en?Q?...?=
        if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }
        let afterCharset = body[body.index(after: q1)...]
        guard let encodingChar = afterCharset.first, afterCharset.dropFirst().first == "?" else { return nil }
        let payloadStart = afterCharset.dropFirst(2)
        guard let end = payloadStart.range(of: "?=") else { return nil }
        let payload = payloadStart[..<end.lowerBound]
        // An encoded-word contains no spaces; one that does is not a word (a literal "=?").
        guard !payload.contains(" "), !charset.isEmpty else { return nil }
        let bytes: [UInt8]
        switch encodingChar {
        case "B", "b":
            bytes = Base64.decode(Array(payload.utf8)).bytes
        case "Q", "q":
            bytes = QuotedPrintable.decode(Array(payload.utf8), underscoreIsSpace: true)
        default:
            return nil
        }
        return (Charset.decode(bytes, charset: charset).text, payloadStart[end.upperBound...])
    }

    /// A display name as it may appear before `<address>`: as is when it is plain ASCII without
    /// specials, quoted when it has specials, encoded-words when it has anything beyond ASCII.
    static func encodePhrase(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value != 0x7F }) {
            let specials = CharacterSet(charactersIn: "()<>[]:;@\\,.\"")
            if text.unicodeScalars.contains(where: { specials.contains($0) }) {
                return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }
            return text
        }
        return encodeWords(text)
    }

    /// Unstructured header text (a subject): as is when it is ASCII, encoded-words otherwise.
    static func encodeText(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value != 0x7F }) { return text }
        return encodeWords(text)
    }

    /// `=?UTF-8?B?…?=` words of at most 75 characters, split between characters (never inside a
    /// UTF-8 sequence), separated by a folding space.
    static func encodeWords(_ text: String) -> String {
        // 30 bytes = 40 base64 characters, a 52-character word: with a header name before it
        // (`Subject: `) or an address after it, the line stays under 78 characters.
        let maxBytes = 30
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > maxBytes, !chunk.isEmpty {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words.joined(separator: "\r\n ")
    }
}

/// Base64 as mail uses it: line breaks and stray characters ignored, missing padding forgiven.
enum Base64 {
    static func decode(_ input: some Collection<UInt8>) -> (bytes: [UInt8], problem: String?) {
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var buffer: UInt32 = 0
        var bits = 0
        var stray = false
        for byte in input {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="), 13, 10, 32, 9: continue
            default:
                stray = true
                continue
            }
            buffer = (buffer << 6) | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return (output, stray ? "base64 with characters outside its alphabet (ignored)" : nil)
    }

    /// The decoded size without decoding: for attachments, which are noted, not stored.
    static func decodedSize(_ input: some Collection<UInt8>) -> Int {
        var symbols = 0
        for byte in input {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "/"):
                symbols += 1
            default: continue
            }
        }
        return symbols * 6 / 8
    }
}

/// Quoted-printable (RFC 2045 §6.7).
enum QuotedPrintable {
    /// Decodes `=XX` escapes and soft line breaks (`=` at a line's end). A malformed escape is
    /// kept literally, as RFC 2045 advises. In encoded-words (`underscoreIsSpace`) `_` is a space.
    static func decode(_ input: [UInt8], underscoreIsSpace: Bool = false) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "=") {
                // Soft line break: "=" then optional trailing whitespace then CRLF or LF.
                var probe = index + 1
                while probe < input.count, input[probe] == 32 || input[probe] == 9 { probe += 1 }
                if probe < input.count, input[probe] == 13 || input[probe] == 10 {
                    if input[probe] == 13, probe + 1 < input.count, input[probe + 1] == 10 { probe += 1 }
                    index = probe + 1
                    continue
                }
                if probe >= input.count {
                    index = probe
                    continue
                }
                if index + 2 < input.count, let high = hex(input[index + 1]), let low = hex(input[index + 2]) {
                    output.append(high << 4 | low)
                    index += 3
                    continue
                }
                output.append(byte)
                index += 1
                continue
            }
            if underscoreIsSpace && byte == UInt8(ascii: "_") {
                output.append(32)
            } else {
                output.append(byte)
            }
            index += 1
        }
        return output
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// Encodes text for a `Content-Transfer-Encoding: quoted-printable` body: UTF-8, CRLF line
    /// ends, lines of at most 76 characters with soft breaks, trailing whitespace protected.
    static func encode(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var lines: [String] = []
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            var tokens: [String] = []
            let bytes = Array(line.utf8)
            for (offset, byte) in bytes.enumerated() {
                let isLast = offset == bytes.count - 1
                let plain =
                    (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=")) || ((byte == 32 || byte == 9) && !isLast)
                tokens.append(plain ? String(UnicodeScalar(byte)) : String(format: "=%02X", byte))
            }
            // Soft breaks, never inside an =XX escape; 75 characters plus the "=".
            var current = ""
            for token in tokens {
                if current.count + token.count > 75 {
                    lines.append(current + "=")
                    current = ""
                }
                current += token
            }
            lines.append(current)
        }
        return lines.joined(separator: "\r\n")
    }
}
