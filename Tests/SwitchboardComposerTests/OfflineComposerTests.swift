import Foundation
import SwitchboardComposer
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

    @Test func replyAcknowledgesTheTopicAndSignsWithTheEmployeeName() async throws {
        let history = [message(1, .client, "Do you deliver roses on Sunday?")]
        let composition = try await composer.compose(request(.reply, history: history))
        #expect(composition.text == "Thanks for your message! Anna here — I've noted your question about “Do you deliver roses on Sunday” and will get back to you shortly.")
        #expect(composition.usage.completionTokens == (composition.text.count + 3) / 4)
    }

    @Test func autoReplySaysWeAreClosed() async throws {
        let composition = try await composer.compose(request(.autoReply, history: [message(1, .client, "Hello?")]))
        #expect(composition.text.contains("outside working hours"))
    }
}
