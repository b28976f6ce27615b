import Foundation
public import SwitchboardCore

/// A stand-in composer for a gateway with no `composer.base_url`. It is **not AI**: it fills
/// fixed templates, so a gateway can be tried out, demonstrated and tested end to end without a
/// model.
///
/// It is deterministic — the same request always gives the same text. A reply answers what the
/// client's latest message is about, told from keywords (`ClientTopic`: booking, price, check-in
/// and check-out, parking, breakfast, pets, Wi‑Fi, directions, cancellation, a greeting, thanks),
/// the way a concierge would: what they can say without knowing the business, and what they need
/// to know to help; anything else gets a helpful general answer. A reminder recognises a few
/// intents in the step's instruction (offer help, ask whether the question is still relevant,
/// say goodbye, ask for feedback), names the client's topic, and never sends the instruction
/// itself. It writes Russian when the client wrote in Cyrillic, else English, and greets the
/// client by name only when the chat title is a name (`ClientName`). Usage is estimated at one
/// token per four characters so that token accounting and budgets work as they would with a model.
public struct OfflineComposer: Composer {
    /// The model name recorded with every composition.
    public static let modelName = "offline"

    public init() {}

    public func compose(_ request: CompositionRequest) async throws -> Composition {
        let text = self.text(for: request)
        let promptCharacters =
            request.employee.persona.count + request.history.reduce(0) { $0 + $1.text.count } + Self.purposeText(request.purpose).count
        return Composition(
            text: text,
            usage: TokenUsage(promptTokens: Self.estimatedTokens(promptCharacters), completionTokens: Self.estimatedTokens(text.count)),
            model: Self.modelName)
    }

    /// The message for `request`; exposed to the module for tests.
    func text(for request: CompositionRequest) -> String {
        let language = Language.of(request)
        let employee = request.employee.name.trimmingCharacters(in: .whitespacesAndNewlines)
        let name = ClientName.firstName(request.chatTitle)
        let question = request.history.last(where: { $0.author == .client && !$0.text.isEmpty })?.text ?? ""
        let topics = ClientTopic.of(question)
        switch request.purpose {
        case .reminder(let step, let instruction):
            let body = language.reminder(Intent.of(instruction), step: step, about: topics.first { !$0.isSmallTalk })
            let text = "\(language.reminderGreeting(name)) \(body)"
            return employee.isEmpty ? text : "\(text)\n— \(employee)"
        case .reply:
            // Introduced once, in the first answer of a chat.
            let introduced = request.history.contains { $0.author == .employee || $0.author == .operator }
            var parts = [language.replyGreeting(name)]
            if !introduced, !employee.isEmpty { parts.append(language.introduction(employee)) }
            parts += topics.isEmpty ? [language.generalAnswer] : topics.prefix(2).map(language.answer)
            return parts.joined(separator: " ")
        case .autoReply:
            return language.autoReply(employee: employee)
        }
    }

    // MARK: - Pieces

    /// What a reminder step's instruction asks for.
    enum Intent: CaseIterable {
        case goodbye, feedback, stillRelevant, available, checkIn

        /// Keyword matching, in order: a goodbye that also offers help is still a goodbye.
        static func of(_ instruction: String) -> Intent {
            let text = instruction.lowercased()
            let keywords: [(Intent, [String])] = [
                (.goodbye, ["goodbye", "good bye", "farewell", "close the", "closing", "last message", "final", "bye", "попрощ", "закры", "заверш", "последн"]),
                (.feedback, ["feedback", "review", "rating", "how did", "отзыв", "оцен", "впечатлен"]),
                (.stillRelevant, ["still relevant", "relevant", "still interested", "still need", "still looking", "актуал", "интерес", "нужн"]),
                (.available, ["available", "ready to help", "here to help", "happy to help", "help", "assist", "questions", "готов", "помо", "на связи", "вопрос"]),
            ]
            for (intent, words) in keywords where words.contains(where: text.contains) { return intent }
            return .checkIn
        }
    }

    enum Language {
        case english, russian

        /// Russian when the client's latest message (or, with none, the instruction) is mostly Cyrillic.
        static func of(_ request: CompositionRequest) -> Language {
            var sample = request.history.last(where: { $0.author == .client && !$0.text.isEmpty })?.text ?? ""
            if sample.isEmpty, case .reminder(_, let instruction) = request.purpose { sample = instruction }
            let letters = sample.unicodeScalars.filter { CharacterSet.letters.contains($0) }
            let cyrillic = letters.filter { (0x0400...0x04FF).contains($0.value) }
            return !letters.isEmpty && cyrillic.count * 2 > letters.count ? .russian : .english
        }

        func replyGreeting(_ name: String?) -> String {
            switch self {
            case .english: name.map { "Hi \($0)!" } ?? "Hello!"
            case .russian: name.map { "Здравствуйте, \($0)!" } ?? "Здравствуйте!"
            }
        }

        func reminderGreeting(_ name: String?) -> String {
            switch self {
            case .english: name.map { "Hi \($0)," } ?? "Hi,"
            case .russian: name.map { "Здравствуйте, \($0)!" } ?? "Здравствуйте!"
            }
        }

        func introduction(_ employee: String) -> String {
            switch self {
            case .english: "This is \(employee)."
            case .russian: "Это \(employee)."
            }
        }

        /// A concierge's answer to a topic: what can be said without knowing the business, and
        /// what they need from the client to help.
        func answer(_ topic: ClientTopic) -> String {
            switch (self, topic) {
            case (.english, .booking):
                "I'd be glad to help you book. Which dates do you have in mind, and for how many guests? I'll check what's free and hold it for you."
            case (.english, .price):
                "The price depends on the dates and the room. Tell me when you'd like to come and for how many people, and I'll send you the exact rate."
            case (.english, .checkInOut):
                "Tell me your dates and roughly when you'll arrive, and I'll confirm the check-in and check-out times — an early check-in or a late check-out can often be arranged."
            case (.english, .breakfast):
                "About breakfast: tell me your dates and the room you have in mind, and I'll confirm whether it's included and when it's served."
            case (.english, .parking):
                "About parking: let me know when you arrive and how long you'll need a space, and I'll check and reserve one for you."
            case (.english, .pets):
                "Travelling with a pet? Tell me what kind and roughly how big, and I'll confirm our pet policy and any extra fee for your dates."
            case (.english, .wifi):
                "Wi‑Fi is available to guests; you'll get the network name and password when you check in. If it gives you any trouble, just write to me."
            case (.english, .location):
                "I'll gladly help you find us. Are you coming by car, by public transport or from the airport? I'll send you the address and the easiest route."
            case (.english, .cancellation):
                "Of course. Tell me the name the booking is under and your dates, and I'll check the cancellation terms and help you change or cancel it."
            case (.english, .greeting):
                "How can I help you today — a booking, a question about your stay, or something else?"
            case (.english, .thanks):
                "You're welcome! If anything else comes up, just write — I'm here to help."
            case (.russian, .booking):
                "С радостью помогу с бронированием. На какие даты и на сколько гостей? Я проверю, что свободно, и придержу вариант для вас."
            case (.russian, .price):
                "Стоимость зависит от дат и номера. Подскажите, когда вы хотите приехать и сколько будет гостей, — я пришлю точную цену."
            case (.russian, .checkInOut):
                "Подскажите ваши даты и примерное время приезда — я подтвержу время заезда и выезда. Ранний заезд или поздний выезд часто можно устроить."
            case (.russian, .breakfast):
                "Насчёт завтрака: подскажите даты и номер, который вы рассматриваете, — я уточню, включён ли завтрак и во сколько его подают."
            case (.russian, .parking):
                "Насчёт парковки: напишите, когда вы приедете и на сколько дней нужно место, — я проверю и забронирую его для вас."
            case (.russian, .pets):
                "Путешествуете с питомцем? Расскажите, какой он и примерно какого размера, — я уточню правила проживания с животными и доплату на ваши даты."
            case (.russian, .wifi):
                "Wi‑Fi для гостей есть; название сети и пароль вы получите при заселении. Если будут сложности с подключением — просто напишите мне."
            case (.russian, .location):
                "С радостью подскажу, как до нас добраться. Вы едете на машине, на общественном транспорте или из аэропорта? Я пришлю адрес и самый удобный маршрут."
            case (.russian, .cancellation):
                "Конечно. Подскажите, на чьё имя и на какие даты оформлено бронирование, — я проверю условия отмены и помогу изменить или отменить его."
            case (.russian, .greeting):
                "Чем могу помочь — бронирование, вопрос о проживании или что-то другое?"
            case (.russian, .thanks):
                "Пожалуйста! Если появятся вопросы — просто напишите, я на связи."
            }
        }

        /// For a message about nothing the keywords know.
        var generalAnswer: String {
            switch self {
            case .english:
                "Thanks for your question! I'll look into it and get back to you shortly. If you can share your dates or any details, I can answer more precisely."
            case .russian:
                "Спасибо за вопрос! Я уточню детали и скоро вернусь с ответом. Если поделитесь датами или подробностями, я смогу ответить точнее."
            }
        }

        /// What the client asked about, as a reminder names it ("your question about …").
        func subject(_ topic: ClientTopic) -> String {
            switch (self, topic) {
            case (.english, .booking): "your booking"
            case (.english, .price): "prices"
            case (.english, .checkInOut): "check-in and check-out"
            case (.english, .breakfast): "breakfast"
            case (.english, .parking): "parking"
            case (.english, .pets): "bringing your pet"
            case (.english, .wifi): "Wi‑Fi"
            case (.english, .location): "getting here"
            case (.english, .cancellation): "changing your booking"
            case (.russian, .booking): "бронировании"
            case (.russian, .price): "ценах"
            case (.russian, .checkInOut): "заезде и выезде"
            case (.russian, .breakfast): "завтраке"
            case (.russian, .parking): "парковке"
            case (.russian, .pets): "проживании с питомцем"
            case (.russian, .wifi): "Wi‑Fi"
            case (.russian, .location): "том, как до нас добраться"
            case (.russian, .cancellation): "изменении бронирования"
            case (_, .greeting), (_, .thanks): ""
            }
        }

        func reminder(_ intent: Intent, step: Int, about topic: ClientTopic?) -> String {
            let subject = topic.map(subject)
            switch (self, intent) {
            case (.english, .goodbye):
                return "I haven't heard back, so I'll leave this conversation here for now. If you need anything later, just write — I'll be glad to help."
            case (.english, .feedback):
                return "how did everything go? I'd be grateful if you shared a few words about your experience."
            case (.english, .stillRelevant):
                return "is your question\(subject.map { " about \($0)" } ?? "") still relevant? Let me know and I'll be glad to pick up where we left off."
            case (.english, .available):
                return "just a reminder that I'm here and ready to help\(subject.map { " with \($0)" } ?? "") whenever it suits you."
            case (.english, .checkIn):
                let opening = step <= 1 ? "just checking in" : "following up once more"
                return "\(opening) — is there anything else I can help you with\(subject.map { " about \($0)" } ?? "")?"
            case (.russian, .goodbye):
                return "Ответа пока нет, поэтому я на время завершу наш разговор. Если что-то понадобится, просто напишите — с радостью помогу."
            case (.russian, .feedback):
                return "Как всё прошло? Будет здорово, если вы поделитесь впечатлениями."
            case (.russian, .stillRelevant):
                return "Ваш вопрос\(subject.map { " о \($0)" } ?? "") ещё актуален? Напишите, и мы продолжим с того места, где остановились."
            case (.russian, .available):
                return "Напоминаю, что я на связи и с радостью помогу\(subject.map { " с вопросом о \($0)" } ?? ""), когда вам будет удобно."
            case (.russian, .checkIn):
                let opening = step <= 1 ? "Хочу уточнить" : "Напоминаю о себе ещё раз"
                return "\(opening) — могу ли я ещё чем-нибудь помочь\(subject.map { " по вопросу о \($0)" } ?? "")?"
            }
        }

        func autoReply(employee: String) -> String {
            switch self {
            case .english:
                let who = employee.isEmpty ? "we" : employee
                return "Thanks for your message! We're outside working hours right now; \(who) will reply as soon as we're back."
            case .russian:
                let who = employee.isEmpty ? "мы ответим" : "\(employee) ответит"
                return "Спасибо за сообщение! Сейчас нерабочее время; \(who), как только мы вернёмся."
            }
        }
    }

    static func purposeText(_ purpose: CompositionRequest.Purpose) -> String {
        if case .reminder(_, let instruction) = purpose { return instruction }
        return ""
    }

    /// About four characters per token, the usual rule of thumb for English text; at least 1.
    static func estimatedTokens(_ characters: Int) -> Int { max(1, (characters + 3) / 4) }
}
