import Foundation
public import SwitchboardCore

/// A stand-in composer for a gateway with no `composer.base_url`. It is **not AI**: it fills a
/// few fixed, polite templates, so a gateway can be tried out, demonstrated and tested end to
/// end without a model.
///
/// It is deterministic — the same request always gives the same text. For a reminder it
/// recognises a few common intents in the instruction (offer help, ask whether the question is
/// still relevant, say goodbye, ask for feedback) and otherwise writes a generic check-in; it
/// never sends the instruction itself. It answers in Russian when the client wrote in Cyrillic,
/// else in English. Usage is estimated at one token per four characters so that token
/// accounting and budgets work as they would with a model.
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
        let greeting = language.greeting(Self.clientName(request.chatTitle))
        switch request.purpose {
        case .reminder(_, let instruction):
            let body = language.reminder(Intent.of(instruction))
            return employee.isEmpty ? "\(greeting) \(body)" : "\(greeting) \(body)\n— \(employee)"
        case .reply:
            let topic = request.history.last(where: { $0.author == .client }).map { Self.topic(of: $0.text) } ?? ""
            return language.reply(employee: employee, topic: topic)
        case .autoReply:
            return language.autoReply(employee: employee)
        }
    }

    // MARK: - Pieces

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
            var sample = request.history.last(where: { $0.author == .client })?.text ?? ""
            if sample.isEmpty, case .reminder(_, let instruction) = request.purpose { sample = instruction }
            let letters = sample.unicodeScalars.filter { CharacterSet.letters.contains($0) }
            let cyrillic = letters.filter { (0x0400...0x04FF).contains($0.value) }
            return !letters.isEmpty && cyrillic.count * 2 > letters.count ? .russian : .english
        }

        func greeting(_ name: String?) -> String {
            switch self {
            case .english: name.map { "Hi \($0)," } ?? "Hi,"
            case .russian: name.map { "Здравствуйте, \($0)!" } ?? "Здравствуйте!"
            }
        }

        func reminder(_ intent: Intent) -> String {
            switch (self, intent) {
            case (.english, .goodbye):
                "I haven't heard back, so I'll leave this conversation here for now. If you need anything later, just write — I'll be glad to help."
            case (.english, .feedback):
                "how did everything go? I'd be grateful if you shared a few words about your experience."
            case (.english, .stillRelevant):
                "is your question still relevant? Let me know and I'll be glad to continue where we left off."
            case (.english, .available):
                "just a reminder that I'm here and ready to help whenever it suits you."
            case (.english, .checkIn):
                "just checking in — is there anything else I can help you with?"
            case (.russian, .goodbye):
                "Ответа пока нет, поэтому я на время завершу наш разговор. Если что-то понадобится, просто напишите — с радостью помогу."
            case (.russian, .feedback):
                "Как всё прошло? Будет здорово, если вы поделитесь впечатлениями."
            case (.russian, .stillRelevant):
                "Ваш вопрос ещё актуален? Напишите, и мы продолжим с того места, где остановились."
            case (.russian, .available):
                "Напоминаю, что я на связи и с радостью помогу, когда вам будет удобно."
            case (.russian, .checkIn):
                "Хочу уточнить — могу ли я ещё чем-нибудь помочь?"
            }
        }

        func reply(employee: String, topic: String) -> String {
            switch self {
            case .english:
                let who = employee.isEmpty ? "" : " \(employee) here —"
                let about = topic.isEmpty ? "I've received it" : "I've noted your question about “\(topic)”"
                return "Thanks for your message!\(who) \(about) and will get back to you shortly."
            case .russian:
                let who = employee.isEmpty ? "" : " Это \(employee)."
                let about = topic.isEmpty ? "Ваше сообщение получено" : "Ваш вопрос «\(topic)» принят"
                return "Спасибо за сообщение!\(who) \(about) — скоро отвечу."
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

    /// The chat title when it looks like a person's name (it usually is the client's name).
    static func clientName(_ title: String) -> String? {
        let name = title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 40, !name.contains("\n") else { return nil }
        return name
    }

    /// The first words of the client's message, enough to show it was read.
    static func topic(of text: String) -> String {
        let words = text.split(whereSeparator: \.isWhitespace)
        guard !words.isEmpty else { return "" }
        var topic = words.prefix(8).joined(separator: " ")
        while let last = topic.last, ".,!?;:…".contains(last) { topic.removeLast() }
        if topic.count > 60 { topic = String(topic.prefix(60)) }
        return words.count > 8 || topic.count == 60 ? topic + "…" : topic
    }

    static func purposeText(_ purpose: CompositionRequest.Purpose) -> String {
        if case .reminder(_, let instruction) = purpose { return instruction }
        return ""
    }

    /// About four characters per token, the usual rule of thumb for English text; at least 1.
    static func estimatedTokens(_ characters: Int) -> Int { max(1, (characters + 3) / 4) }
}
