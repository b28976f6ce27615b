import Foundation
@testable import SwitchboardComposer
import SwitchboardCore
import Testing

@Suite struct OfflineComposerTests {
    let composer = OfflineComposer()

    static let instructions = [
        "Remind the client that we are available and ready to help.",
        "Ask whether the question is still relevant.",
        "Say goodbye politely and close the conversation.",
        "Ask the client for feedback about the delivery.",
        "Mention our spring discount on tulips.",
        "help",
        "Напомнить клиенту, что мы на связи и готовы помочь.",
    ]

    @Test(arguments: instructions)
    func reminderNeverSendsTheInstruction(instruction: String) async throws {
        let r = request(.reminder(step: 1, instruction: instruction), history: sampleHistory)
        let first = try await composer.compose(r)
        #expect(first.text != instruction)
        #expect(!first.text.lowercased().contains(instruction.lowercased()) || instruction.split(separator: " ").count < 3)
        #expect(first.text.contains("Anna"))
        #expect(first.model == "offline")
        #expect(first.usage.promptTokens > 0 && first.usage.completionTokens > 0)
        // Deterministic: the same request, the same words.
        #expect(try await composer.compose(r) == first)
    }

    @Test func commonIntentsGetFittingSentences() async throws {
        func text(_ instruction: String) async throws -> String {
            try await composer.compose(request(.reminder(step: 1, instruction: instruction), history: sampleHistory)).text
        }
        #expect(try await text("Remind them we are here to help") == "Hi Mike, just a reminder that I'm here and ready to help whenever it suits you.\n— Anna")
        #expect(try await text("Check the request is still relevant").contains("still relevant"))
        #expect(try await text("Say goodbye").contains("leave this conversation here"))
        #expect(try await text("Mention the spring discount") == "Hi Mike, just checking in — is there anything else I can help you with?\n— Anna")
    }

    @Test func answersInRussianWhenTheClientWritesInRussian() async throws {
        let history = [message(1, .client, "Здравствуйте, а доставка в воскресенье есть?"), message(2, .employee, "Да, есть.")]
        let composition = try await composer.compose(
            request(.reminder(step: 1, instruction: "Ask whether it is still relevant"), history: history, title: "Михаил"))
        #expect(composition.text == "Здравствуйте, Михаил! Ваш вопрос ещё актуален? Напишите, и мы продолжим с того места, где остановились.\n— Anna")
    }

    @Test func aFirstReplyIntroducesTheEmployeeAndAnswersTheQuestionAsked() async throws {
        let first = try await composer.compose(request(.reply, history: [message(1, .client, "Do you have parking?")], title: "Zinaida Quill"))
        #expect(
            first.text
                == "Hi Zinaida! This is Anna. About parking: let me know when you arrive and how long you'll need a space, and I'll check and reserve one for you.")
        #expect(first.usage.completionTokens == (first.text.count + 3) / 4)
        // Later in the chat the employee is known: no second introduction.
        let later = try await composer.compose(
            request(.reply, history: [message(1, .client, "Do you have parking?"), message(2, .employee, "Yes."), message(3, .client, "Thanks!")]))
        #expect(later.text == "Hi Mike! You're welcome! If anything else comes up, just write — I'm here to help.")
    }

    @Test func aQuestionTheKeywordsDoNotKnowGetsAHelpfulGeneralAnswerNeverAnEcho() async throws {
        let text = try await composer.compose(request(.reply, history: [message(1, .client, "Do you deliver roses on Sunday?")])).text
        #expect(text.hasPrefix("Hi Mike! This is Anna. Thanks for your question! I'll look into it"))
        #expect(!text.contains("roses") && !text.contains("noted your question"), "the question is answered, not quoted back")
    }

    @Test func twoTopicsInOneMessageGetTwoAnswersInTheClientsLanguage() async throws {
        let english = try await composer.compose(request(.reply, history: [message(1, .client, "Is breakfast included in the River King rate?")])).text
        #expect(english.contains("About breakfast:") && english.contains("The price depends on the dates"))
        let russian = try await composer.compose(
            request(.reply, history: [message(1, .client, "Добрый день! Можно ли с собакой и есть ли парковка?")], title: "Михаил Петров")).text
        #expect(russian.hasPrefix("Здравствуйте, Михаил! Это Anna. Насчёт парковки:"), "\(russian)")
        #expect(russian.contains("Путешествуете с питомцем?"))
    }

    @Test func remindersNameTheClientsTopicAndReadNaturallyPerStep() async throws {
        let history = [message(1, .client, "Where are you located?"), message(2, .employee, "On the embankment.")]
        func text(_ step: Int, _ instruction: String, _ title: String = "Visitor F65F", _ history: [StoredMessage] = history) async throws -> String {
            try await composer.compose(request(.reminder(step: step, instruction: instruction), history: history, title: title)).text
        }
        #expect(try await text(1, "Remind the user that we're available and ready to help")
            == "Hi, just a reminder that I'm here and ready to help with getting here whenever it suits you.\n— Anna")
        #expect(try await text(2, "Ask if the question is still relevant", "Ana")
            == "Hi Ana, is your question about getting here still relevant? Let me know and I'll be glad to pick up where we left off.\n— Anna")
        #expect(try await text(2, "Check in").hasPrefix("Hi, following up once more — is there anything else I can help you with about getting here?"))
        let russian = [message(1, .client, "Сколько стоит ночь?")]
        #expect(try await text(2, "Ask if the question is still relevant", "", russian)
            == "Здравствуйте! Ваш вопрос о ценах ещё актуален? Напишите, и мы продолжим с того места, где остановились.\n— Anna")
    }

    /// The widget's "Visitor F65F", the store's "Client 3f9a1c", a phone number or an email
    /// address is not a name: the message greets no one rather than a placeholder.
    @Test(arguments: ["Visitor F65F", "Visitor ABCD", "Client 3f9a1c", "+7 916 123-45-67", "79161234567", "ana@example.com", "@ana_k", "", "   ", "Guest",
                      "Посетитель 3F9A", "Гость"])
    func aPlaceholderIsNeverUsedAsAName(title: String) async throws {
        #expect(ClientName.usable(title) == nil && ClientName.firstName(title) == nil)
        let reply = try await composer.compose(request(.reply, history: [message(1, .client, "Hello")], title: title)).text
        #expect(reply.hasPrefix("Hello! This is Anna."), "\(reply)")
        let reminder = try await composer.compose(request(.reminder(step: 1, instruction: "Check in"), history: sampleHistory, title: title)).text
        #expect(reminder.hasPrefix("Hi, just checking in"), "\(reminder)")
        if !title.isEmpty {
            #expect(!reply.contains(title.trimmingCharacters(in: .whitespaces)) && !reminder.contains(title.trimmingCharacters(in: .whitespaces)))
        }
    }

    @Test(arguments: [("Zinaida Quill", "Zinaida"), ("Михаил Петров", "Михаил"), ("Anne-Marie", "Anne-Marie"), ("  Ana K  ", "Ana"), ("José", "José")])
    func aRealNameGivesItsFirstWord(title: String, first: String) {
        #expect(ClientName.firstName(title) == first)
        #expect(ClientName.usable(title) == title.trimmingCharacters(in: .whitespaces))
    }

    @Test func theModelIsNotShownAPlaceholderTitle() {
        let builder = PromptBuilder()
        #expect(!builder.systemPrompt(for: request(.reply, title: "Visitor F65F")).contains("F65F"))
        #expect(builder.systemPrompt(for: request(.reply, title: "Zinaida Quill")).contains("The chat is titled \"Zinaida Quill\"."))
    }

    static let topics: [(String, [ClientTopic])] = [
        ("Do you have a room available for 12-14 December?", [.booking]),
        ("I'd like to book the River King for two nights", [.booking]),
        ("How much is a night in the loft suite?", [.price]),
        ("What time is check-in? Can I check out late?", [.checkInOut]),
        ("Is there parking for one car?", [.parking]),
        ("Is breakfast included?", [.breakfast]),
        ("Can I bring my dog?", [.pets]),
        ("Is the wifi fast enough for calls?", [.wifi]),
        ("How do I get to you from the airport?", [.location]),
        ("I need to cancel my booking", [.cancellation]),
        ("Hello there!", [.greeting]),
        ("Thanks a lot!", [.thanks]),
        ("Hi! Is breakfast included in the rate?", [.breakfast, .price]),
        ("Do you deliver roses on Sunday?", []),
        ("This category of catalogue", []),
        ("Есть ли свободные номера на выходные?", [.booking]),
        ("Хочу забронировать номер на двоих", [.booking]),
        ("Сколько стоит ночь?", [.price]),
        ("Во сколько заезд и выезд?", [.checkInOut]),
        ("Есть ли у вас парковка?", [.parking]),
        ("Завтрак включён?", [.breakfast]),
        ("Можно с собакой?", [.pets]),
        ("Какой пароль от вайфая?", [.wifi]),
        ("Как до вас добраться из аэропорта?", [.location]),
        ("Хочу отменить бронь", [.cancellation]),
        ("Здравствуйте!", [.greeting]),
        ("Спасибо большое", [.thanks]),
        ("Который час?", []),
    ]

    @Test(arguments: topics)
    func topicsAreToldFromKeywordsInEnglishAndRussian(text: String, expected: [ClientTopic]) {
        #expect(ClientTopic.of(text) == expected, "\(text)")
    }

    @Test func everyTopicHasAnAnswerAndASubjectInBothLanguages() {
        for language in [OfflineComposer.Language.english, .russian] {
            for topic in ClientTopic.allCases {
                #expect(!language.answer(topic).isEmpty)
                #expect(language.subject(topic).isEmpty == topic.isSmallTalk)
            }
        }
    }

    @Test func autoReplySaysWeAreClosed() async throws {
        let composition = try await composer.compose(request(.autoReply, history: [message(1, .client, "Hello?")]))
        #expect(composition.text.contains("outside working hours"))
    }
}
