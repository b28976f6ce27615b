import Foundation
import Logging
import SwitchboardCore
import SwitchboardScheduler
import SwitchboardStorePostgres
import SwitchboardTesting
import Testing

/// Two processes' stores on one database: what one arms, the other's sleeping scheduler fires
/// on time, woken by LISTEN/NOTIFY rather than by its next poll.
@Suite struct CrossProcessWakeupTests {
    static let employee = Employee(
        id: "alexey", name: "Alexey", persona: "Concierge", workingHours: .always,
        followUp: FollowUpChain(enabled: true, steps: [FollowUpStep(delay: .seconds(2), instruction: "Check in")]))

    @Test(.enabled(if: PostgresTestServer.isAvailable, "PostgreSQL is not installed"), .timeLimit(.minutes(1)))
    func aReminderArmedByOneProcessIsFiredOnTimeByAnotherThatWasAsleep() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.createDatabase()
        let a = PostgresStore(configuration: PostgresStoreContractTests.configuration(server, database))
        let b = PostgresStore(configuration: PostgresStoreContractTests.configuration(server, database))
        let clock = ScaledClock()
        let sender = RecordingSender(clock: clock)
        var configuration = Scheduler.Configuration(owner: "b")
        // B polls for others' work only once a minute: finding the reminder sooner is the wakeup's doing.
        configuration.idleCheck = .seconds(60)
        let scheduler = Scheduler(
            store: b, composer: RecordingComposer(), senders: ChannelSenders(["tg": sender]),
            roster: LiveRoster(Roster(employees: [Self.employee], channelOwners: ["tg": "alexey"])), clock: clock, logger: Logger(label: "b"),
            configuration: configuration)
        // Unstructured, cancelled at the end and not awaited: a pool that is slow to wind down
        // after a failed run must not hold the whole test run up.
        let pools = [Task { await a.run() }, Task { await b.run() }]
        var schedulerRun: Task<Void, any Error>?
        defer {
            schedulerRun?.cancel()
            for pool in pools { pool.cancel() }
        }
        do {
            // A chat exists before B's scheduler starts, with nothing due: B goes to sleep.
            guard case .stored(let chat, _) = try await a.recordInbound(
                InboundMessage(channelID: "tg", conversationKey: "42", providerMessageID: "1", senderName: "Ana", chatTitle: "Ana", receivedAt: clock.now(), text: "hi"),
                employeeID: "alexey", followUp: { _, _ in [] })
            else { throw ContractViolation(description: "not stored") }
            schedulerRun = Task { try await scheduler.run() }
            try await Task.sleep(for: .milliseconds(500))
            #expect(sender.sent.isEmpty)

            // Process A arms a reminder due in 2 s.
            let armedAt = Date()
            let due = clock.now().addingTimeInterval(2)
            try await a.updateFollowUp(chatID: chat.id) { state, _ in
                state.run += 1
                state.status = .scheduled
                state.step = 1
                state.anchor = due.addingTimeInterval(-2)
                state.due = due
                state.sendsAt = due
                return [FollowUpDecision(kind: .scheduled, reason: .employeeMessage, run: state.run, step: 1, at: clock.now(), due: due, sendsAt: due)]
            }
            // B fires it about on time: well within its 60 s poll.
            let deadline = Date().addingTimeInterval(15)
            while sender.sent.isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            let firedAfter = Date().timeIntervalSince(armedAt)
            // The provider has it before the store records it: wait for the decision.
            var decisions = try await a.decisions(chatID: chat.id)
            let recorded = Date().addingTimeInterval(10)
            while !decisions.contains(where: { $0.kind == .sent }) && Date() < recorded {
                try await Task.sleep(for: .milliseconds(50))
                decisions = try await a.decisions(chatID: chat.id)
            }
            #expect(sender.sent.map(\.message.text) == ["Reminder 1 from Alexey"], "decisions: \(decisions.map(\.kind))")
            #expect(firedAfter >= 1.9 && firedAfter < 6, "fired \(firedAfter) s after being armed for 2 s")
            #expect(decisions.filter { $0.kind == .sent }.count == 1, "the decision is recorded once: \(decisions)")
        }
    }
}
