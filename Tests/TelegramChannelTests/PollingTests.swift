import Foundation
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing
import TelegramChannel

@Suite("Telegram polling and webhook registration")
struct PollingTests {
    let cursorName = "telegram:\(testChannelID):offset"

    private func pollingChannel(
        _ telegram: FakeTelegramServer, apiBase: String, intake: RecordingIntake, cursors: MemoryCursorStore
    ) -> TelegramChannel {
        makeChannel(
            apiBase: apiBase, mode: .polling, token: FakeTelegramServer.defaultToken, pollTimeout: 1,
            environment: makeEnvironment(intake: intake, cursors: cursors))
    }

    @Test func persistsTheOffsetAndARestartContinuesFromIt() async throws {
        try await withFakeTelegram { telegram, apiBase in
            // A webhook left over from an earlier deployment: polling must remove it first.
            telegram.setWebhookURL("https://old.example.com/webhooks/\(testChannelID)", secret: "old")
            let intake = RecordingIntake()
            let cursors = MemoryCursorStore()

            let first = telegram.enqueueTextMessage("Hello")
            telegram.enqueueTextMessage("Is the spa open tonight?")
            let run1 = Task { try await pollingChannel(telegram, apiBase: apiBase, intake: intake, cursors: cursors).run() }
            try await eventually("the first batch") { intake.messages.count == 2 }
            try await eventually("the offset to be stored") { cursors[cursorName] == String(first + 2) }
            run1.cancel()
            try await run1.value
            #expect(telegram.calls.first?.method == "deleteWebhook")

            // Two more arrive while the gateway is down.
            telegram.enqueueTextMessage("Hello again?")
            telegram.enqueueTextMessage("Anyone there?")
            let callsBeforeRestart = telegram.calls("getUpdates").count
            let run2 = Task { try await pollingChannel(telegram, apiBase: apiBase, intake: intake, cursors: cursors).run() }
            try await eventually("the second batch") { intake.messages.count == 4 }
            try await eventually("the offset to move on") { cursors[cursorName] == String(first + 4) }
            run2.cancel()
            try await run2.value

            #expect(intake.messages.map(\.text) == ["Hello", "Is the spa open tonight?", "Hello again?", "Anyone there?"])
            #expect(intake.messages.map(\.providerMessageID) == (first..<first + 4).map { String($0) })
            // The restarted instance asked from the stored offset on, never from the start.
            let offsets = telegram.calls("getUpdates").dropFirst(callsBeforeRestart).map { $0.parameters["offset"]?.int }
            #expect(!offsets.isEmpty)
            #expect(offsets.allSatisfy { ($0 ?? 0) >= first + 2 })
            let request = try #require(telegram.calls("getUpdates").first?.parameters)
            #expect(request["timeout"]?.int == 1)
            #expect(request["allowed_updates"]?.array?.compactMap(\.string) == ["message", "edited_message", "callback_query", "my_chat_member"])
        }
    }

    /// Two gateway processes sharing a store run the same polling bot: one polls, the other
    /// stands by, and takes over from the stored offset once the first stops.
    @Test func oneProcessPollsABotAndAnotherTakesOverWhenItStops() async throws {
        try await withFakeTelegram { telegram, apiBase in
            let shared = MemorySharedState()
            let cursors = MemoryCursorStore()
            let (intakeA, intakeB) = (RecordingIntake(), RecordingIntake())
            func channel(_ intake: RecordingIntake) -> TelegramChannel {
                makeChannel(
                    apiBase: apiBase, mode: .polling, token: FakeTelegramServer.defaultToken, pollTimeout: 1,
                    environment: makeEnvironment(intake: intake, cursors: cursors, shared: shared))
            }
            let a = Task { try await channel(intakeA).run() }
            try await eventually("a polls") { telegram.calls("getUpdates").count >= 1 }
            let b = Task { try await channel(intakeB).run() }
            // B has looked at the lease (and found it taken) once a's lease was renewed after b started.
            let first = telegram.enqueueTextMessage("Hello")
            try await eventually("a stores the message") { intakeA.messages.count == 1 }
            let polls = telegram.calls("getUpdates").count
            try await eventually("a polls again") { telegram.calls("getUpdates").count >= polls + 2 }
            #expect(intakeB.messages.isEmpty, "only the lease holder polls")

            a.cancel()
            try await a.value
            telegram.enqueueTextMessage("Anyone there?")
            try await eventually(timeout: .seconds(20), "b takes over") { intakeB.messages.count == 1 }
            #expect(intakeB.messages.map(\.providerMessageID) == [String(first + 1)], "b starts from the offset a stored")
            #expect(intakeA.messages.count == 1)
            b.cancel()
            try await b.value
        }
    }

    @Test func aRestartDoesNotRepeatUpdatesStoredButNotYetConfirmed() async throws {
        // The gateway stored 815230001–2 and persisted offset 815230003, then died before the
        // next getUpdates confirmed them, so Telegram still holds them.
        try await withFakeTelegram { telegram, apiBase in
            for text in ["already stored 1", "already stored 2", "new 1", "new 2"] { telegram.enqueueTextMessage(text) }
            let intake = RecordingIntake()
            let cursors = MemoryCursorStore([cursorName: "815230003"])

            let run = Task { try await pollingChannel(telegram, apiBase: apiBase, intake: intake, cursors: cursors).run() }
            try await eventually("the new updates") { intake.messages.count == 2 }
            try await eventually("the offset") { cursors[cursorName] == "815230005" }
            run.cancel()
            try await run.value

            #expect(intake.messages.map(\.text) == ["new 1", "new 2"])
            #expect(telegram.calls("getUpdates").first?.parameters["offset"]?.int == 815_230_003)
        }
    }

    @Test func aBatchTheIntakeCouldNotStoreIsFetchedAgain() async throws {
        try await withFakeTelegram { telegram, apiBase in
            let id = telegram.enqueueTextMessage("Do you have parking?")
            let intake = RecordingIntake()
            intake.failNext(1)
            let cursors = MemoryCursorStore()

            let run = Task { try await pollingChannel(telegram, apiBase: apiBase, intake: intake, cursors: cursors).run() }
            try await eventually("the retried batch") { intake.messages.count == 1 }
            try await eventually("the offset") { cursors[cursorName] == String(id + 1) }
            run.cancel()
            try await run.value

            #expect(intake.messages.map(\.providerMessageID) == [String(id)])
            // The failed attempt did not move the offset: the retry asked for the same update.
            let offsets = telegram.calls("getUpdates").map { $0.parameters["offset"]?.int }
            #expect(offsets.prefix(2) == [nil, nil])
        }
    }

    @Test func floodControlOnGetUpdatesIsWaitedOut() async throws {
        try await withFakeTelegram { telegram, apiBase in
            telegram.script("getUpdates", .tooManyRequests(retryAfter: 1))
            telegram.enqueueTextMessage("Hi")
            let intake = RecordingIntake()

            let started = ContinuousClock.now
            let run = Task { try await pollingChannel(telegram, apiBase: apiBase, intake: intake, cursors: MemoryCursorStore()).run() }
            try await eventually("the update after the wait") { intake.messages.count == 1 }
            run.cancel()
            try await run.value
            #expect(ContinuousClock.now - started >= .seconds(1))
        }
    }

    @Test func buttonPressesAreAnsweredAfterPolling() async throws {
        try await withFakeTelegram { telegram, apiBase in
            try telegram.enqueueUpdate(json: String(decoding: try Fixtures.bytes("callback_query"), as: UTF8.self))
            let intake = RecordingIntake()

            let run = Task { try await pollingChannel(telegram, apiBase: apiBase, intake: intake, cursors: MemoryCursorStore()).run() }
            try await eventually("the answer") { !telegram.calls("answerCallbackQuery").isEmpty }
            run.cancel()
            try await run.value
            #expect(intake.messages.first?.kind == .buttonReply)
            #expect(telegram.calls("answerCallbackQuery").first?.parameters["callback_query_id"] == .string("4382938471928374651"))
        }
    }

    @Test func aRefusedTokenStopsPollingWithAnErrorThatDoesNotQuoteIt() async throws {
        try await withFakeTelegram(token: "7012345678:AAF-theRealOneIsDifferent") { telegram, apiBase in
            let channel = pollingChannel(telegram, apiBase: apiBase, intake: RecordingIntake(), cursors: MemoryCursorStore())
            do {
                try await channel.run()
                Issue.record("polling with a refused token kept going")
            } catch {
                #expect("\(error)".contains("token"))
                #expect(!"\(error)".contains(FakeTelegramServer.defaultToken))
            }
        }
    }

    @Test func webhookModeRegistersTheWebhookAndReturns() async throws {
        try await withFakeTelegram { telegram, apiBase in
            let channel = makeChannel(apiBase: apiBase, mode: .webhook, token: FakeTelegramServer.defaultToken, publicURL: "https://gw.example.com/")
            try await channel.run()

            #expect(telegram.webhookURL == "https://gw.example.com/webhooks/\(testChannelID)")
            #expect(telegram.webhookSecret == testWebhookSecret)
            let call = try #require(telegram.calls("setWebhook").first)
            #expect(call.parameters["allowed_updates"]?.array?.compactMap(\.string) == ["message", "edited_message", "callback_query", "my_chat_member"])
        }
    }

    @Test func aFailedWebhookRegistrationIsNotFatal() async throws {
        try await withFakeTelegram { telegram, apiBase in
            telegram.script("setWebhook", .error(status: 400, description: "Bad Request: bad webhook: HTTPS url must be provided for webhook"))
            let channel = makeChannel(apiBase: apiBase, mode: .webhook, token: FakeTelegramServer.defaultToken, publicURL: "http://gw.example.com")
            try await channel.run()
            #expect(telegram.webhookURL == nil)
            #expect(telegram.calls("setWebhook").count == 1)
        }
    }

    @Test func webhookModeWithoutAPublicURLDoesNothing() async throws {
        try await withFakeTelegram { telegram, apiBase in
            try await makeChannel(apiBase: apiBase, mode: .webhook, token: FakeTelegramServer.defaultToken).run()
            #expect(telegram.calls.isEmpty)
        }
    }
}
