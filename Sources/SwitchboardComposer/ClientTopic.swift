import Foundation

/// What a client's message is about, told from simple keywords in English and Russian — what
/// the offline composer answers to. Not understanding: "a room without breakfast" is about
/// breakfast too. Good enough for a demo to answer the question asked.
enum ClientTopic: String, CaseIterable, Sendable {
    // Declared in priority order: "cancel my booking" is a cancellation before it is a booking.
    case cancellation, breakfast, parking, pets, wifi, checkInOut, booking, location, price
    case greeting, thanks

    /// How a topic is recognised in lowercased text.
    struct Keywords {
        /// Matches a word that starts with it ("book" → "booking", "брон" → "бронь").
        var stems: [String] = []
        /// Matches a whole word only, for short words that open longer unrelated ones ("cat", "кот").
        var words: [String] = []
        /// Matches anywhere, for phrases and words with punctuation ("check-in", "how much").
        var phrases: [String] = []
    }

    var keywords: Keywords {
        switch self {
        case .cancellation:
            Keywords(stems: ["cancel", "refund", "reschedul", "отмен", "возврат", "перенес", "перенос"],
                     phrases: ["change my booking", "change the booking", "change my reservation", "вернуть деньги", "изменить бронь"])
        case .booking:
            Keywords(stems: ["book", "reserv", "availab", "vacanc", "брон", "забронир", "свободн"],
                     phrases: ["free room", "any rooms", "a room for", "room for", "есть ли номер", "номер на"])
        case .checkInOut:
            Keywords(stems: ["checkin", "checkout", "заезд", "заселен", "засел", "выезд", "выселен"],
                     phrases: ["check-in", "check in", "check-out", "check out", "arrival time", "early arrival", "late departure", "ранний", "поздний"])
        case .breakfast:
            Keywords(stems: ["breakfast", "brunch", "завтрак"])
        case .parking:
            Keywords(stems: ["parking", "garage", "парков", "стоянк"], words: ["park"])
        case .pets:
            Keywords(stems: ["puppy", "animal", "собак", "кошк", "питом", "животн", "котик", "щен"],
                     words: ["pet", "pets", "dog", "dogs", "cat", "cats", "кот", "кота", "котом"])
        case .wifi:
            Keywords(stems: ["wifi", "internet", "wireless", "интернет", "вайфа"], phrases: ["wi-fi", "wi fi", "вай-фай", "вай фай"])
        case .location:
            Keywords(stems: ["address", "location", "located", "direction", "airport", "адрес", "добрать", "доехать", "аэропорт", "вокзал", "метро", "находит"],
                     words: ["map", "station"],
                     phrases: ["where are you", "where is the hotel", "where is your", "get to you", "get there", "how to get", "где вы", "где отель", "как проехать"])
        case .price:
            Keywords(stems: ["price", "pricing", "cost", "tariff", "expensive", "cheap", "цен", "стоим", "стоит", "прайс", "тариф", "дорог", "дешев", "руб"],
                     words: ["rate", "rates", "fee"], phrases: ["how much", "€", "$", "₽", "сколько будет"])
        case .greeting:
            Keywords(stems: ["hello", "здравств", "привет"], words: ["hi", "hey", "hiya"],
                     phrases: ["good morning", "good afternoon", "good evening", "доброе утро", "добрый день", "добрый вечер"])
        case .thanks:
            Keywords(stems: ["thank", "thx", "appreciat", "спасиб", "благодар"])
        }
    }

    /// The topics of `text`, most specific first. A greeting or thanks counts only when the
    /// message asks about nothing else.
    static func of(_ text: String) -> [ClientTopic] {
        let lowered = text.lowercased()
        let words = lowered.split { !$0.isLetter && !$0.isNumber }.map(String.init)
        let found = allCases.filter { topic in
            let k = topic.keywords
            return k.phrases.contains(where: lowered.contains)
                || words.contains { word in k.words.contains(word) || k.stems.contains(where: word.hasPrefix) }
        }
        // "Cancel my booking" names a booking but is not asking for one.
        let specific = found.filter { !$0.isSmallTalk && !($0 == .booking && found.contains(.cancellation)) }
        return specific.isEmpty ? found : specific
    }

    /// A greeting or thanks: answered only when nothing else was asked.
    var isSmallTalk: Bool { self == .greeting || self == .thanks }
}
