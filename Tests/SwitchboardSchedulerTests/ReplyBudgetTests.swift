import Foundation
import Logging
import SwitchboardCore
import SwitchboardScheduler
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
import Testing

/// `conversation.daily_token_budget`: what an employee's AI replies may spend per local day.
/// Every new widget visitor is a chat the AI answers, so without it anyone can spend without
/// limit.
@Suite struct ReplyBudgetTests {
    static let fallback = "Thanks! We got your message and a colleague will answer soon."

    /// Decisions as the store reports them to the gateway's metrics.
    final class ObservedDecisions: Sendable {
        private let seen = Mutex<[FollowUpDecision]>([])
        func record(_ decisions: [FollowUpDecision]) { seen.withLock { $0 += decisions } }
        var all: [FollowUpDecision] { seen.withLock { $0 } }
    }

    func scheduler(_ h: Harness, budget: Int?) -> Scheduler {
        var configuration = Scheduler.Configuration(owner: "test")
        configuration.replyBudget = budget.map { Scheduler.ReplyBudget(dailyTokens: $0, fallbackText: Self.fallback) }
        return Scheduler(store: h.store, composer: h.composer, senders: h.senders, roster: h.roster, clock: h.clock, logger: Logger(label: "test"),
                         configuration: configuration)
    }

    @Test func onceTheDaysReplyBudgetIsSpentClientsGetTheBudgetReplyWithAVisibleReasonUntilTheDayEnds() async throws {
        let observed = ObservedDecisions()
        let h = Harness(store: try SQLiteStore(decisionObserver: { observed.record($1) }))
        // Each composition of the recording composer costs 120 tokens: two fit under 200.
        let scheduler = scheduler(h, budget: 200)
        let conversation = h.conversation(scheduler)
        var chat = try await conversation.receive(text: "Hello", harness: h)
        try await scheduler.runDue()
        h.clock.advance(by: .seconds(60))
        _ = try await conversation.receive(text: "Is breakfast included?", harness: h)
        try await scheduler.runDue()
        #expect(h.composer.requests.count == 2)

        h.clock.advance(by: .seconds(60))
        chat = try await conversation.receive(text: "And parking?", harness: h)
        try await scheduler.runDue()
        #expect(h.composer.requests.count == 2, "no composition once 240 of 200 tokens are spent")
        #expect(h.sender.sent.map(\.message.text) == ["Reply from Alexey", "Reply from Alexey", Self.fallback])
        let stored = try #require(try await h.store.chat(id: chat.id))
        #expect(stored.replyDueAt == nil && stored.replyAttempts == 0, "the debt is settled")
        let replies = try await h.store.outbox(chatID: chat.id).filter { $0.entry.purpose == .reply }
        #expect(replies.map(\.status) == [.sent, .sent, .sent])
        #expect(try await h.store.usage(chatID: chat.id).count == 2, "the budget reply costs nothing")

        // The chat says why, and the metrics feed sees it.
        let reasons = try await h.store.decisions(chatID: chat.id).filter { $0.reason == .replyBudgetSpent }
        #expect(reasons.count == 1)
        #expect(reasons.first?.kind == .skipped && reasons.first?.detail?.contains("240 of 200") == true)
        #expect(observed.all.filter { $0.reason == .replyBudgetSpent }.count == 1)

        // The next local day (Tuesday 09:00 Moscow) the AI answers again.
        h.clock.advance(by: .seconds(24 * 3600 - 120))
        _ = try await conversation.receive(text: "Good morning", harness: h)
        try await scheduler.runDue()
        #expect(h.composer.requests.count == 3)
        #expect(h.sender.sent.last?.message.text == "Reply from Alexey")
    }

    @Test func remindersDoNotSpendTheReplyBudgetAndWithoutABudgetRepliesAreUnlimited() async throws {
        let h = Harness(store: try SQLiteStore())
        let budgeted = scheduler(h, budget: 200)
        let conversation = h.conversation(budgeted)
        let chat = try await conversation.receive(text: "Hello", harness: h)
        // Reminder tokens are not reply tokens.
        try await h.store.recordUsage(
            UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reminder, usage: TokenUsage(promptTokens: 10_000, completionTokens: 0),
                        model: "m", at: h.clock.now()))
        try await budgeted.runDue()
        #expect(h.sender.sent.map(\.message.text) == ["Reply from Alexey"])

        let unlimited = scheduler(h, budget: nil)
        let other = h.conversation(unlimited)
        for i in 0..<3 {
            h.clock.advance(by: .seconds(60))
            _ = try await other.receive(text: "Question \(i)", harness: h)
            try await unlimited.runDue()
        }
        #expect(h.composer.requests.count == 4 && !h.sender.sent.map(\.message.text).contains(Self.fallback))
    }

    @Test func aReloadedBudgetAppliesToTheNextReply() async throws {
        let h = Harness(store: try SQLiteStore())
        let scheduler = scheduler(h, budget: nil)
        let conversation = h.conversation(scheduler)
        _ = try await conversation.receive(text: "Hello", harness: h)
        try await scheduler.runDue()
        scheduler.updateReplyBudget(Scheduler.ReplyBudget(dailyTokens: 100, fallbackText: Self.fallback))
        h.clock.advance(by: .seconds(60))
        _ = try await conversation.receive(text: "Hello again", harness: h)
        try await scheduler.runDue()
        #expect(h.sender.sent.map(\.message.text) == ["Reply from Alexey", Self.fallback])
    }
}
