import Foundation
import SwitchboardComposer
import SwitchboardCore
import Testing

@Suite struct PromptBuilderTests {
    let builder = PromptBuilder()

    @Test func systemMessageCarriesNamePersonaAndLanguageRule() {
        let messages = builder.messages(for: request(.reply, history: sampleHistory))
        let system = messages[0]
        #expect(system.role == .system)
        #expect(system.content.contains("Anna"))
        #expect(system.content.contains("You are a friendly sales assistant at Flowers & Co."))
        #expect(system.content.contains("client's language"))
        #expect(system.content.contains("short"))
        #expect(system.content.contains("Answer the client's latest message"))
        #expect(messages.filter { $0.role == .system }.count == 1)
    }

    @Test func historyMapsAuthorsToRolesAndSkipsGatewayNotices() {
        let messages = builder.messages(for: request(.reply, history: sampleHistory))
        let history = Array(messages.dropFirst())
        #expect(history.map(\.role) == [.user, .assistant, .user, .assistant])
        #expect(history.map(\.content) == [
            "Hi! Do you deliver roses on Sunday?", "Yes, we deliver every day from 9 to 21.", "[image]",
            "That bouquet is available, 45 EUR.",
        ])
        #expect(!messages.contains { $0.content.contains("blocked the bot") })
    }

    @Test func historyKeepsOnlyTheLatestMessages() {
        let long = (1...30).map { message(Int64($0), $0 % 2 == 0 ? .employee : .client, "message \($0)") }
        let messages = PromptBuilder(maxHistoryMessages: 5).messages(for: request(.reply, history: long))
        #expect(messages.dropFirst().map(\.content) == (26...30).map { "message \($0)" })
    }

    @Test func historyFitsTheCharacterBudgetDroppingOldestFirst() {
        let history = (1...10).map { message(Int64($0), .client, String(repeating: "\($0 % 10)", count: 100)) }
        let messages = PromptBuilder(maxHistoryMessages: 20, maxHistoryCharacters: 350).messages(for: request(.reply, history: history))
        let kept = messages.dropFirst()
        #expect(kept.count == 3)
        #expect(kept.last?.content == String(repeating: "0", count: 100))
        #expect(kept.reduce(0) { $0 + $1.content.count } <= 350)
    }

    @Test func anOversizedLatestMessageIsCutNotDropped() {
        let history = [message(1, .client, String(repeating: "x", count: 1000))]
        let messages = PromptBuilder(maxHistoryCharacters: 100).messages(for: request(.reply, history: history))
        #expect(messages.count == 2)
        #expect(messages[1].content.count == 100)
    }

    @Test func reminderEndsWithTheGoalAndTheDoNotRepeatRule() throws {
        let instruction = "Remind the client that we are available and ready to help."
        let messages = builder.messages(for: request(.reminder(step: 1, instruction: instruction), history: sampleHistory))
        let note = try #require(messages.last)
        #expect(note.role == .user)
        #expect(note.content.contains(instruction))
        #expect(note.content.contains("gone quiet"))
        #expect(note.content.contains("in your own words"))
        #expect(note.content.contains("Do not repeat this instruction verbatim"))
        #expect(note.content.contains("Do not mention that you are following an instruction"))
        // The conversation comes before the note, so the model sees what it is following up on.
        #expect(messages[messages.count - 2].content == "That bouquet is available, 45 EUR.")
    }

    @Test func autoReplySaysWeAreOutsideWorkingHours() {
        let messages = builder.messages(for: request(.autoReply, history: [message(1, .client, "Hello?")]))
        #expect(messages[0].content.contains("outside working hours"))
        #expect(messages.last?.content == "Hello?")
    }

    @Test func sameRequestSameMessages() {
        let r = request(.reminder(step: 2, instruction: "Ask if still relevant"), history: sampleHistory)
        #expect(builder.messages(for: r) == builder.messages(for: r))
    }
}
