import Foundation
import Logging
import SwitchboardCore
import SwitchboardScheduler
import SwitchboardStoreSQLite
import SwitchboardTesting
import Testing

/// A scheduler over a real SQLite store, with a manual clock and recording fakes.
struct Harness {
    static let hours = WorkingHours(
        timeZone: TimeZone(identifier: "Europe/Moscow")!,
        week: [.mon: [WorkingInterval("09:00-18:00")!], .tue: [WorkingInterval("09:00-18:00")!], .wed: [WorkingInterval("09:00-18:00")!],
               .thu: [WorkingInterval("09:00-18:00")!], .fri: [WorkingInterval("09:00-18:00")!]])
    static let chain = FollowUpChain(enabled: true, steps: [
        FollowUpStep(delay: .seconds(4 * 3600), instruction: "Remind the user that we're available"),
        FollowUpStep(delay: .seconds(24 * 3600), instruction: "Ask if the question is still relevant", oncePerChat: true),
        FollowUpStep(delay: .seconds(48 * 3600), instruction: "Say a warm goodbye"),
    ])
    static let alexey = Employee(id: "alexey", name: "Alexey", persona: "Concierge", workingHours: hours, followUp: chain)

    let store: any Store
    let clock: ManualClock
    let composer = RecordingComposer()
    let sender: RecordingSender
    let roster = LiveRoster(Roster(employees: [alexey], channelOwners: ["tg": "alexey"]))
    let senders: ChannelSenders

    /// Monday 2026-11-23 09:00 Moscow.
    init(store: any Store, clock: ManualClock = ManualClock("2026-11-23T06:00:00Z"), capabilities: ChannelCapabilities = .plain) {
        self.store = store
        self.clock = clock
        sender = RecordingSender(capabilities: capabilities, clock: clock)
        senders = ChannelSenders(["tg": sender])
    }

    func scheduler(owner: String = "test") -> Scheduler {
        var configuration = Scheduler.Configuration(owner: owner)
        configuration.maxDeliveryAttempts = 4
        return Scheduler(store: store, composer: composer, senders: senders, roster: roster, clock: clock, logger: Logger(label: "test"),
                         configuration: configuration)
    }

    var planner: FollowUpPlanner { FollowUpPlanner(employee: Harness.alexey, channel: sender.capabilities) }

    /// A client writes at the clock's current time.
    @discardableResult
    func clientWrites(_ text: String = "Hello", id: String = UUID().uuidString) async throws -> Chat {
        let planner = self.planner
        let now = clock.now()
        let result = try await store.recordInbound(
            InboundMessage(channelID: "tg", conversationKey: "42", providerMessageID: id, senderName: "Ana K", chatTitle: "Ana K", receivedAt: now, text: text),
            employeeID: "alexey") { state, _ in planner.apply(.clientMessage(at: now, text: text), to: &state, facts: .init()) }
        guard case .stored(let chat, _) = result else { throw ContractViolation(description: "duplicate") }
        return chat
    }

    /// The employee answers: the reply is queued and delivered, which arms the chain.
    func employeeReplies(_ chat: Chat, key: String = UUID().uuidString) async throws {
        _ = try await store.enqueue(NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: key, text: "Happy to help", notBefore: clock.now()),
                                    usage: nil, followUp: nil)
        try await scheduler().runDue()
    }

    func state(_ chat: Chat) async throws -> FollowUpState { try #require(try await store.followUpState(chatID: chat.id)) }
    var reminders: [RecordingSender.Sent] { sender.sent.filter { $0.message.text.hasPrefix("Reminder") } }
}

private func at(_ iso: String) -> Date { parseISO(iso) }

@Suite struct SchedulerTests {
    @Test func aChainPlaysOutWithEachStepCountedFromTheReminderBeforeIt() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        h.clock.advance(by: .seconds(60))
        try await h.employeeReplies(chat)  // Mon 09:01 MSK
        #expect(try await h.state(chat).sendsAt == at("2026-11-23T10:01:00Z"))

        h.clock.advance(to: at("2026-11-23T10:00:59Z"))
        try await h.scheduler().runDue()
        #expect(h.reminders.isEmpty, "nothing before it is due")

        h.clock.advance(to: at("2026-11-23T10:03:00Z"))  // the scheduler was late by two minutes
        try await h.scheduler().runDue()
        #expect(h.reminders.map(\.message.text) == ["Reminder 1 from Alexey"])
        let request = try #require(h.composer.requests.last)
        #expect(request.purpose == .reminder(step: 1, instruction: "Remind the user that we're available"))
        #expect(request.history.map(\.author) == [.client, .employee], "the composer sees the conversation")
        // Step 2 counts from when reminder 1 was actually sent, not from when it was due.
        #expect(try await h.state(chat).sendsAt == at("2026-11-24T10:03:00Z"))
        let usage = try await h.store.usage(chatID: chat.id)
        #expect(usage.map(\.purpose) == [.reminder] && usage[0].usage.totalTokens == 120)

        h.clock.advance(to: at("2026-11-24T10:03:00Z"))
        try await h.scheduler().runDue()
        h.clock.advance(to: at("2026-11-26T10:03:00Z"))
        try await h.scheduler().runDue()
        #expect(h.reminders.map(\.message.text) == ["Reminder 1 from Alexey", "Reminder 2 from Alexey", "Reminder 3 from Alexey"])
        #expect(try await h.state(chat).status == .finished)
        let kinds = try await h.store.decisions(chatID: chat.id).map(\.kind)
        #expect(kinds.filter { $0 == .sent }.count == 3 && kinds.last == .finished)
    }

    @Test func aClientReplyCancelsAndTheNextAnswerRestartsSkippingOncePerChatSteps() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        try await h.employeeReplies(chat)
        h.clock.advance(by: .seconds(4 * 3600))
        try await h.scheduler().runDue()
        h.clock.advance(by: .seconds(24 * 3600))
        try await h.scheduler().runDue()
        #expect(h.reminders.count == 2)

        h.clock.advance(by: .seconds(3600))
        try await h.clientWrites("Still here")
        #expect(try await h.state(chat).status == .cancelled)
        #expect(try await h.store.decisions(chatID: chat.id).last?.reason == .clientReplied)
        h.clock.advance(by: .seconds(72 * 3600))
        try await h.scheduler().runDue()
        #expect(h.reminders.count == 2, "a cancelled reminder is never sent")

        h.clock.advance(to: at("2026-11-30T07:00:00Z"))  // Monday 10:00 MSK
        try await h.employeeReplies(chat)
        h.clock.advance(by: .seconds(4 * 3600))
        try await h.scheduler().runDue()
        let state = try await h.state(chat)
        #expect(state.run == 2 && state.step == 3, "step 2 fired in run 1, so run 2 goes from step 1 to step 3")
        #expect(state.due == at("2026-11-30T11:00:00Z").addingTimeInterval(48 * 3600))
    }

    @Test func aReminderDueWhileTheGatewayWasDownIsSentOnceAfterRestart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-restart-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gateway.sqlite").path
        let clock = ManualClock("2026-11-23T06:00:00Z")
        let first = Harness(store: try SQLiteStore(path: path), clock: clock)
        let chat = try await first.clientWrites()
        try await first.employeeReplies(chat)
        // The process stops; time passes the due moment while nothing runs.
        clock.advance(to: at("2026-11-23T12:00:00Z"))

        let reopened = Harness(store: try SQLiteStore(path: path), clock: clock)
        let a = reopened.scheduler(owner: "a")
        let b = reopened.scheduler(owner: "b")
        async let one = a.runDue()
        async let two = b.runDue()
        _ = try await (one, two)
        try await reopened.scheduler(owner: "c").runDue()
        #expect(reopened.reminders.count == 1, "two processes and a third pass still send it once")
        #expect(try await reopened.state(chat).step == 2)
    }

    @Test func aComposedReminderLeftInTheOutboxByACrashIsDeliveredOnce() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gateway.sqlite").path
        let clock = ManualClock("2026-11-23T06:00:00Z")
        let h = Harness(store: try SQLiteStore(path: path), clock: clock)
        let chat = try await h.clientWrites()
        try await h.employeeReplies(chat)
        let state = try await h.state(chat)
        // What a crash right after queueing leaves behind: the reminder composed, in the outbox, not sent.
        let planner = h.planner
        _ = try await h.store.enqueue(
            NewOutboxEntry(chatID: chat.id, purpose: .reminder, idempotencyKey: "reminder:\(state.run):1", text: "Reminder 1 from Alexey",
                           notBefore: state.sendsAt!, followUpRun: state.run, followUpStep: 1),
            usage: nil) { s, _ in planner.apply(.reminderQueued(step: 1, at: state.sendsAt!), to: &s, facts: .init()) }
        clock.advance(to: state.sendsAt!)

        let restarted = Harness(store: try SQLiteStore(path: path), clock: clock)
        try await restarted.scheduler().runDue()
        try await restarted.scheduler().runDue()
        #expect(restarted.reminders.count == 1)
        #expect(restarted.composer.requests.isEmpty, "not composed again")
        #expect(try await restarted.state(chat).step == 2)
    }

    @Test func anInterruptedDeliveryBecomesADeadLetterInsteadOfADuplicate() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        try await h.employeeReplies(chat)
        h.clock.advance(by: .seconds(4 * 3600))
        // A process claims the reminder's delivery and dies mid-request.
        let planner = h.planner
        let s = try await h.state(chat)
        _ = try await h.store.enqueue(
            NewOutboxEntry(chatID: chat.id, purpose: .reminder, idempotencyKey: "reminder:\(s.run):1", text: "Reminder 1", notBefore: h.clock.now(),
                           followUpRun: s.run, followUpStep: 1),
            usage: nil) { state, _ in planner.apply(.reminderQueued(step: 1, at: h.clock.now()), to: &state, facts: .init()) }
        _ = try await h.store.claimDueOutbox(now: h.clock.now(), owner: "dead", leaseUntil: h.clock.now().addingTimeInterval(120), limit: 10)
        h.clock.advance(by: .seconds(121))
        try await h.scheduler().runDue()
        #expect(h.sender.attempts == 1, "only the original reply was sent; the interrupted reminder is not resent")
        let outbox = try await h.store.outbox(chatID: chat.id)
        #expect(outbox.last?.status == .dead)
        #expect(try await h.state(chat).lastReason == .deliveryFailed)
    }

    @Test func providerFailuresAreRetriedHonouringRetryAfter() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        h.sender.failNext(with: DeliveryError(.retryable, "429 Too Many Requests", retryAfter: .seconds(35)),
                          DeliveryError(.retryable, "500"))
        try await h.employeeReplies(chat)
        #expect(h.sender.sent.isEmpty)
        h.clock.advance(by: .seconds(34))
        try await h.scheduler().runDue()
        #expect(h.sender.attempts == 1, "not before retry_after")
        h.clock.advance(by: .seconds(1))
        try await h.scheduler().runDue()
        #expect(h.sender.attempts == 2 && h.sender.sent.isEmpty)
        h.clock.advance(by: .seconds(600))
        try await h.scheduler().runDue()
        #expect(h.sender.sent.count == 1)
        #expect(try await h.state(chat).status == .scheduled, "a delivered reply arms the chain")
    }

    @Test func aBlockedClientEndsTheChainWithoutRetries() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        try await h.employeeReplies(chat)
        h.sender.failNext(with: DeliveryError(.unreachable, "Forbidden: bot was blocked by the user"))
        h.clock.advance(by: .seconds(4 * 3600))
        try await h.scheduler().runDue()
        h.clock.advance(by: .seconds(100 * 3600))
        try await h.scheduler().runDue()
        #expect(h.sender.attempts == 2)
        #expect(try await h.store.chat(id: chat.id)?.unreachable == true)
        let state = try await h.state(chat)
        #expect(state.status == .cancelled && state.lastReason == .chatUnreachable)
    }

    @Test func aFailedCompositionIsRetriedLater() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        try await h.employeeReplies(chat)
        h.composer.failNext(1, with: CompositionError("503 loading", isRetryable: true, retryAfter: .seconds(30)))
        h.clock.advance(by: .seconds(4 * 3600))
        try await h.scheduler().runDue()
        #expect(h.reminders.isEmpty)
        #expect(try await h.store.decisions(chatID: chat.id).last?.reason == .compositionFailed)
        h.clock.advance(by: .seconds(30))
        try await h.scheduler().runDue()
        #expect(h.reminders.count == 1)
    }

    @Test func aReminderFoundDueOutsideWorkingHoursWaitsForTheNextInterval() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        try await h.employeeReplies(chat)
        h.clock.advance(to: at("2026-11-28T10:00:00Z"))  // Saturday: the gateway was down all week
        try await h.scheduler().runDue()
        #expect(h.reminders.isEmpty)
        let state = try await h.state(chat)
        #expect(state.sendsAt == at("2026-11-30T06:00:00Z"), "Monday 09:00 Moscow")
        #expect(try await h.store.decisions(chatID: chat.id).last?.reason == .outsideWorkingHours)
        h.clock.advance(to: at("2026-11-30T06:00:00Z"))
        try await h.scheduler().runDue()
        #expect(h.reminders.count == 1)
    }

    @Test func aChangedChainReplansPendingRemindersFromTheirAnchors() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        try await h.employeeReplies(chat)
        var changed = Harness.alexey
        changed.followUp.steps[0].delay = .seconds(3600)
        let planner = FollowUpPlanner(employee: changed)
        let now = h.clock.now()
        let count = try await h.store.updatePendingFollowUps(employeeID: "alexey") { state, _ in planner.apply(.chainChanged(at: now), to: &state, facts: .init()) }
        #expect(count == 1)
        #expect(try await h.state(chat).sendsAt == at("2026-11-23T07:00:00Z"))
    }

    @Test func theServiceSleepsUntilWorkIsDueAndWakesOnANudge() async throws {
        let h = Harness(store: try SQLiteStore())
        let scheduler = h.scheduler()
        let task = Task { try await scheduler.run() }
        defer { task.cancel() }
        let chat = try await h.clientWrites()
        _ = try await h.store.enqueue(NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "r", text: "Hi", notBefore: h.clock.now()),
                                      usage: nil, followUp: nil)
        scheduler.nudge()
        try await eventually("the reply is delivered") { h.sender.sent.count == 1 }
        // The send is recorded (and the chain armed from its time) a moment after the provider
        // took it: advancing the clock before that would anchor the chain hours later.
        try await eventually("the chain is armed") { try await h.store.followUpState(chatID: chat.id)?.status == .scheduled }
        let due = try #require(try await h.state(chat).sendsAt)
        try await eventually("the scheduler sleeps") { h.clock.sleeperCount > 0 }
        h.clock.advance(to: due)
        try await eventually("the reminder is sent") { h.reminders.count == 1 }
    }
}

struct RetryBackoffTests {
    /// 2 s doubling, capped at `maxRetryWait` (10 minutes unless set).
    @Test func theWaitDoublesUpToItsCap() {
        var configuration = Scheduler.Configuration(owner: "backoff")
        #expect((1...5).map { configuration.backoff(attempt: $0) } == [.seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32)])
        #expect(configuration.backoff(attempt: 9) == .seconds(512))
        #expect(configuration.backoff(attempt: 10) == .seconds(600))
        configuration.maxRetryWait = .seconds(8)
        #expect(configuration.backoff(attempt: 3) == .seconds(8) && configuration.backoff(attempt: 9) == .seconds(8))
        #expect(configuration.backoff(attempt: 2) == .seconds(4))
    }
}
