/// Splits a reply that is too long for one message into parts that each fit, cutting at the
/// most natural boundary available.
///
/// Length is measured in UTF-16 code units: Telegram counts text (and entity offsets) that way,
/// so a part within the limit in UTF-16 is within it for Telegram, whatever the script or emoji;
/// for providers that count characters (WhatsApp) it is the safe side of their limit, and it
/// is a JavaScript string's `length`, what most receivers of the http channel count in.
/// Cuts fall only between grapheme clusters (Swift `Character`s), so no emoji, flag or accented
/// letter is broken.
public enum TextSplitter {
    /// The parts in order. A text within `limit` comes back unchanged as the only part. When a
    /// text is split, the whitespace at each cut is dropped so no part starts or ends blank.
    public static func split(_ text: String, limit: Int) -> [String] {
        precondition(limit > 0, "limit must be positive")
        guard text.utf16.count > limit else { return [text] }

        var parts: [String] = []
        var rest = Substring(text)
        while true {
            rest = rest.drop(while: \.isWhitespace)
            if rest.isEmpty { break }
            if rest.utf16.count <= limit {
                parts.append(String(rest))
                break
            }
            let cut = cutIndex(in: rest, limit: limit)
            let part = rest[..<cut].reversed().drop(while: \.isWhitespace).reversed()
            parts.append(String(part))
            rest = rest[cut...]
        }
        return parts
    }

    /// Where to end the part that starts `text`: the last paragraph break within the limit, else
    /// the last line break, else the last sentence end, else the last space, else the last
    /// grapheme boundary that fits. A boundary in the first half of the window is passed over
    /// for a finer one later on, so a stray early blank line does not leave a tiny part;
    /// it is used only when nothing finer exists.
    private static func cutIndex(in text: Substring, limit: Int) -> Substring.Index {
        // The best candidate of each kind, from coarse to fine: paragraph, line, sentence, space.
        var latest: [Substring.Index?] = [nil, nil, nil, nil]
        var early: [Substring.Index?] = [nil, nil, nil, nil]
        var units = 0
        var fitEnd = text.startIndex
        var previous: Character?
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            // A whitespace character at `index` ends the part before it; the whitespace itself
            // is dropped, so it may lie just past the limit.
            if character.isWhitespace, index > text.startIndex {
                let isSentenceEnd = previous.map { ".!?…。！？".contains($0) } ?? false
                let kinds = [
                    character.isNewline && (previous?.isNewline ?? false),
                    character.isNewline,
                    isSentenceEnd,
                    true,
                ]
                for (kind, matches) in kinds.enumerated() where matches {
                    if units >= limit / 2 { latest[kind] = index } else { early[kind] = index }
                }
            }
            let width = character.utf16.count
            if units + width > limit { break }
            units += width
            index = text.index(after: index)
            fitEnd = index
            previous = character
        }
        for candidate in latest + early {
            if let candidate { return candidate }
        }
        // One unbroken run longer than the limit. Cut at the last whole grapheme that fits; a
        // single grapheme wider than the limit (not a real message) still goes out whole, so
        // the loop always advances.
        return fitEnd > text.startIndex ? fitEnd : text.index(after: text.startIndex)
    }
}
