import Foundation

/// Turns the bytes of a mail part into text by the charset its headers name.
///
/// Single-byte charsets (windows-125x, KOI8-R/U, ISO-8859-x, IBM866) come from tables of our
/// own: Foundation on Linux decodes few of them. Labels follow the WHATWG Encoding Standard's
/// habit of reading `us-ascii` and `iso-8859-1` as windows-1252, because mail labelled so
/// routinely carries windows-1252 bytes (curly quotes from Outlook).
enum Charset {
    /// Decoded text, and what went wrong when the bytes did not match the label.
    struct Decoded: Sendable, Hashable {
        var text: String
        var problem: String?
    }

    static func decode(_ bytes: some Collection<UInt8>, charset label: String?) -> Decoded {
        let name = normalize(label ?? "us-ascii")
        if name == "utf-8" { return utf8(bytes, label: label ?? "utf-8") }
        if name == "windows-1252" {
            // ASCII-only content is the common case for these labels: skip the table walk.
            if bytes.allSatisfy({ $0 < 0x80 }) { return Decoded(text: String(decoding: bytes, as: UTF8.self)) }
            return Decoded(text: latin1Family(bytes))
        }
        if let table = singleByteTables[name] {
            return Decoded(text: singleByte(bytes, table: table))
        }
        if let encoding = foundationEncodings[name], let text = String(bytes: Array(bytes), encoding: encoding) {
            return Decoded(text: text)
        }
        // An unknown or undecodable label: UTF-8 when the bytes are valid UTF-8, else windows-1252,
        // which maps every byte — the mail is readable, with the problem noted.
        if let text = String(validating: Array(bytes), as: UTF8.self) {
            return Decoded(text: text, problem: "unknown charset \"\(label ?? "")\"; read as UTF-8")
        }
        return Decoded(text: latin1Family(bytes), problem: "unknown charset \"\(label ?? "")\"; read as windows-1252")
    }

    /// Whether `label` names a charset this decoder knows.
    static func isKnown(_ label: String) -> Bool {
        let name = normalize(label)
        return name == "utf-8" || name == "windows-1252" || singleByteTables[name] != nil || foundationEncodings[name] != nil
    }

    private static func utf8(_ bytes: some Collection<UInt8>, label: String) -> Decoded {
        if let text = String(validating: Array(bytes), as: UTF8.self) { return Decoded(text: text) }
        // Mislabelled mail is usually windows-1252 (or windows-1251 in Russian mail); guessing
        // between them is unreliable, so keep the UTF-8 reading with replacement characters.
        return Decoded(text: String(decoding: bytes, as: UTF8.self), problem: "invalid \(label) bytes replaced with U+FFFD")
    }

    private static func singleByte(_ bytes: some Collection<UInt8>, table: [UInt16]) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes {
            let value = byte < 0x80 ? UInt32(byte) : UInt32(table[Int(byte) - 0x80])
            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
        }
        return String(scalars)
    }

    private static func latin1Family(_ bytes: some Collection<UInt8>) -> String {
        // windows-1252 maps the C1 range to punctuation; its five undefined bytes fall back to
        // their ISO-8859-1 code points, as browsers do.
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        let table = windows1252
        for byte in bytes {
            if byte < 0x80 {
                scalars.append(Unicode.Scalar(byte))
            } else {
                let mapped = table[Int(byte) - 0x80]
                scalars.append(mapped == 0xFFFD ? Unicode.Scalar(byte) : (Unicode.Scalar(UInt32(mapped)) ?? "\u{FFFD}"))
            }
        }
        return String(scalars)
    }

    private static let windows1252: [UInt16] = singleByteTables["windows-1252"] ?? []

    private static let foundationEncodings: [String: String.Encoding] = [
        "utf-16": .utf16, "utf-16le": .utf16LittleEndian, "utf-16be": .utf16BigEndian,
        "shift_jis": .shiftJIS, "euc-jp": .japaneseEUC, "iso-2022-jp": .iso2022JP,
    ]

    /// The canonical name of a charset label: lowercased, quotes and spaces gone, common aliases
    /// (`cp1251`, `win-1251`, `latin1`, `koi8r`, `iso8859-5`, `utf8`) folded.
    static func normalize(_ label: String) -> String {
        var name = label.trimmingCharacters(in: CharacterSet(charactersIn: "\"' \t")).lowercased().replacingOccurrences(of: "_", with: "-")
        if name.hasPrefix("x-") { name.removeFirst(2) }
        switch name {
        case "utf8", "unicode-1-1-utf-8": return "utf-8"
        case "us-ascii", "ascii", "ansi-x3.4-1968", "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "cp819", "iso-ir-100",
            "cp1252", "win-1252", "windows1252":
            return "windows-1252"
        case "koi8r": return "koi8-r"
        case "koi8u": return "koi8-u"
        case "cp866", "866", "ibm-866", "dos-866": return "ibm866"
        case "latin2", "l2": return "iso-8859-2"
        case "cyrillic": return "iso-8859-5"
        case "shift-jis", "sjis", "ms-kanji": return "shift_jis"
        default: break
        }
        for prefix in ["cp", "win-", "windows", "win"] where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if rest.count == 4, rest.hasPrefix("125"), rest.allSatisfy(\.isNumber) { return "windows-\(rest)" }
        }
        for prefix in ["iso8859-", "iso-8859", "iso8859", "iso-8859-"] where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count).drop { $0 == "-" }
            if let number = Int(rest), (1...16).contains(number) { return number == 1 ? "windows-1252" : "iso-8859-\(number)" }
        }
        return name
    }
}
