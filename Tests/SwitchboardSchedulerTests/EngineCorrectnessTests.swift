import Foundation
import Logging
import SwitchboardCore
import SwitchboardScheduler
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

extension Harness {
    func scheduler(owner: String = "test", health: ComponentHealth?, composer: (any Composer)? = nil, maxCompositions: Int = 5) -> Scheduler {
        var configuration = Scheduler.Configuration(owner: owner)
        configuration.maxDeliveryAttempts = 4
        configuration.maxCompositionAttempts = maxCompositions
        return Scheduler(store: store, composer: composer ?? self.composer, senders: senders, roster: roster, clock: clock, logger: Logger(label: "test"),
                         configuration: configuration, composerHealth: health)
    }

    func conversation(_ scheduler: Scheduler) -> Conversation {
        Conversation(store: store, roster: roster, senders: senders, clock: clock, scheduler: scheduler, logger: Logger(label: "test"))
    }

    /// The client writes through the real message flow (reply owed, auto-reply, cancelling).
    func clientSays(_ text: String, through conversation: Conversation) async throws -> Chat {
        try await conversation.receive([
            InboundMessage(channelID: "tg", conversationKey: "42", providerMessageID: UUID().uuidString, senderName: "Ana K", chatTitle: "Ana K",
                           receivedAt: clock.now(), text: text)
        ])
        return try #require(try await store.chat(channelID: "tg", conversationKey: "42"))
    }

    /// Puts the chain's first reminder in the outbox behind a provider 429, as a running gateway would.
    func reminderWaitingOutARateLimit() async throws -> Chat {
        let chat = try await clientWrites()
        try await employeeReplies(chat)
        sender.failNext(with: DeliveryError(.retryable, "429 Too Many Requests", retryAfter: .seconds(600)))
        clock.advance(by: .seconds(4 * 3600))
        try await scheduler().runDue()
        let state = try await state(chat)
        #expect(state.status == .sending, "composed and queued, waiting out the 429")
        return chat
    }
}

@Suite struct EngineCorrectnessTests {
    // MARK: Defect 1: a reminder stuck or composed again and again

    @Test func switchingAChatOffAndOnWhileItsReminderWaitsOutA429StillDeliversItOnce() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.reminderWaitingOutARateLimit()
        let conversation = h.conversation(h.scheduler())
        _ = try await conversation.setFollowUp(chatID: chat.id, enabled: false)
        _ = try await conversation.setFollowUp(chatID: chat.id, enabled: true)
        for _ in 0..<4 {
            h.clock.advance(by: .seconds(15 * 60))
            try await h.scheduler().runDue()
        }
        #expect(h.reminders.count == 1, "the resumed reminder arrives, once")
        let state = try await h.state(chat)
        #expect(state.step == 2, "and the chain moves on to step 2")
        let outbox = try await h.store.outbox(chatID: chat.id).filter { $0.entry.purpose == .reminder }
        #expect(outbox.map(\.status) == [.cancelled, .sent], "the entry queued before the switch-off ended at once: \(outbox.map(\.status))")
        let composed = h.composer.requests.filter { if case .reminder = $0.purpose { true } else { false } }
        #expect(composed.count == 2)
        #expect(try await h.store.usage(chatID: chat.id).filter { $0.purpose == .reminder }.count == 2, "every composition's tokens are recorded")
    }

    @Test func aConfigReloadWhileAReminderWaitsOutA429DeliversItUnchanged() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.reminderWaitingOutARateLimit()
        var edited = Harness.alexey
        edited.persona = "Concierge, warmer"
        try await h.conversation(h.scheduler()).replan(roster: Roster(employees: [edited], channelOwners: ["tg": "alexey"]))
        #expect(try await h.state(chat).status == .sending, "a persona edit does not pull a composed reminder back")
        h.clock.advance(by: .seconds(601))
        try await h.scheduler().runDue()
        #expect(h.reminders.count == 1)
        #expect(h.composer.requests.count == 1, "the reminder was composed once")
        #expect(try await h.state(chat).step == 2)
    }

    // MARK: Defect 3: permanent composer errors

    @Test func aRefusedAPIKeyEndsTheReplyAsAVisibleFailureAndMarksTheComposerNotReady() async throws {
        let h = Harness(store: try SQLiteStore())
        let health = ComponentHealth()
        let scheduler = h.scheduler(health: health)
        let conversation = h.conversation(scheduler)
        h.composer.failNext(1, with: CompositionError("401 invalid_api_key", isRetryable: false))
        let chat = try await conversation.receive(text: "Hello", harness: h)
        try await scheduler.runDue()
        h.clock.advance(by: .seconds(3600))
        try await scheduler.runDue()
        #expect(h.composer.requests.count == 1, "a permanent error is not retried")
        let stored = try #require(try await h.store.chat(id: chat.id))
        #expect(stored.replyDueAt == nil)
        let failed = try await h.store.outbox(chatID: chat.id)
        #expect(failed.map(\.status) == [.dead])
        #expect(failed.first?.lastError?.contains("401 invalid_api_key") == true)
        #expect(h.sender.attempts == 0, "a failure record is never sent")
        #expect(health.problem?.contains("composer.api_key") == true)

        // The key is fixed: the next message is answered and the composer is ready again.
        _ = try await conversation.receive(text: "Anyone?", harness: h)
        try await scheduler.runDue()
        #expect(h.sender.sent.map(\.message.text) == ["Reply from Alexey"])
        #expect(health.isHealthy)
    }

    @Test func retryableComposerErrorsGiveUpAfterTheLimit() async throws {
        let h = Harness(store: try SQLiteStore())
        let scheduler = h.scheduler(health: nil, maxCompositions: 3)
        let conversation = h.conversation(scheduler)
        h.composer.failNext(10, with: CompositionError("503 overloaded", isRetryable: true, retryAfter: .seconds(30)))
        let chat = try await conversation.receive(text: "Hello", harness: h)
        for _ in 0..<10 {
            try await scheduler.runDue()
            h.clock.advance(by: .seconds(31))
        }
        #expect(h.composer.requests.count == 3)
        #expect(try await h.store.outbox(chatID: chat.id).map(\.status) == [.dead])
        #expect(try await h.store.chat(id: chat.id)?.replyDueAt == nil)
    }

    // MARK: Defect 4: shutdown loses records

    @Test func aMessageTheProviderAcceptedIsRecordedEvenWhenShutdownCancelsTheScheduler() async throws {
        let h = Harness(store: try SQLiteStore())
        let chat = try await h.clientWrites()
        let handle = Mutex<Task<Void, Never>?>(nil)
        let sender = CancellingSender { handle.withLock { $0 }?.cancel() }
        let senders = ChannelSenders(["tg": sender])
        let scheduler = Scheduler(store: h.store, composer: h.composer, senders: senders, roster: h.roster, clock: h.clock, logger: Logger(label: "test"))
        _ = try await h.store.enqueue(NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "r1", text: "Hi", notBefore: h.clock.now()),
                                      usage: nil, followUp: nil)
        let task = Task { _ = try? await scheduler.runDue() }
        handle.withLock { $0 = task }
        await task.value
        #expect(sender.calls == 1)
        let outbox = try await h.store.outbox(chatID: chat.id)
        #expect(outbox.map(\.status) == [.sent], "recorded as sent although the task was cancelled mid-send")
        #expect(try await h.state(chat).status == .scheduled, "and its consequence, the armed chain, too")
    }

    // MARK: Defect 5: rule gaps

    @Test func anAIReplyComposedJustBeforeAnOperatorWroteDoesNotGoOut() async throws {
        let h = Harness(store: try SQLiteStore())
        let scheduler = h.scheduler(health: nil)
        let conversation = h.conversation(scheduler)
        let chat = try await conversation.receive(text: "Hello", harness: h)
        // The reply is composed and queued...
        let claimed = try await h.store.claimDueReplies(now: h.clock.now(), owner: "x", leaseUntil: h.clock.now().addingTimeInterval(60), limit: 1)
        #expect(claimed.count == 1)
        _ = try await h.store.enqueue(
            NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: OutboxKey.reply(answering: h.clock.now()).rawValue, text: "AI answer",
                           notBefore: h.clock.now()),
            usage: nil, chatChange: { $0.replyDueAt = nil }, followUp: nil)
        // ...and an operator writes before it is delivered.
        _ = try await conversation.sendOperatorMessage(chatID: chat.id, text: "Operator here")
        try await scheduler.runDue()
        #expect(h.sender.sent.map(\.message.text) == ["Operator here"])
        let outbox = try await h.store.outbox(chatID: chat.id)
        #expect(outbox.first { $0.entry.text == "AI answer" }?.status == .cancelled)
    }

    @Test func aClientMessageDuringTheOperatorPauseIsAnsweredWhenItEnds() async throws {
        let h = Harness(store: try SQLiteStore())
        let scheduler = h.scheduler(health: nil)
        let conversation = h.conversation(scheduler)
        let chat = try await conversation.receive(text: "Hello", harness: h)
        _ = try await conversation.sendOperatorMessage(chatID: chat.id, text: "Operator here")
        try await scheduler.runDue()
        h.clock.advance(by: .seconds(60))
        _ = try await conversation.receive(text: "Thanks, one more thing", harness: h)
        try await scheduler.runDue()
        #expect(h.sender.sent.map(\.message.text) == ["Operator here"], "the AI stays quiet during the pause")
        h.clock.advance(by: .seconds(15 * 60))
        try await scheduler.runDue()
        #expect(h.sender.sent.map(\.message.text) == ["Operator here", "Reply from Alexey"], "and answers once it is over")
    }

    @Test func theOutOfHoursAutoReplyIsQueuedWithTheMessageThatCausedIt() async throws {
        var closed = Harness.alexey
        closed.outsideHours = .autoReply("We are closed")
        let h = Harness(store: try SQLiteStore(), clock: ManualClock("2026-11-28T10:00:00Z"))  // Saturday
        h.roster.replace(with: Roster(employees: [closed], channelOwners: ["tg": "alexey"]))
        let conversation = h.conversation(h.scheduler(health: nil))
        let chat = try await conversation.receive(text: "Hello?", harness: h)
        // No scheduler ran: the entry was written by the same transaction as the message.
        #expect(try await h.store.outbox(chatID: chat.id).map(\.entry.text) == ["We are closed"])
        _ = try await conversation.receive(text: "Hello??", harness: h)
        #expect(try await h.store.outbox(chatID: chat.id).count == 1, "once per closed period")
    }

    @Test func aDeliveryRetryThatWouldLandOutsideWorkingHoursWaitsForTheNextWorkingMoment() async throws {
        let h = Harness(store: try SQLiteStore(), clock: ManualClock("2026-11-27T14:59:59Z"))  // Friday 17:59:59 Moscow
        let chat = try await h.clientWrites()
        h.sender.failNext(with: DeliveryError(.retryable, "500"))
        try await h.employeeReplies(chat)
        let retry = try #require(try await h.store.outbox(chatID: chat.id).first)
        #expect(retry.status == .pending)
        #expect(retry.nextAttemptAt == at("2026-11-30T06:00:00Z"), "Monday 09:00 Moscow, not Friday 18:00:01")
    }

    @Test func everyGateThatBlocksArmingIsRecorded() async throws {
        let h = Harness(store: try SQLiteStore())
        let conversation = h.conversation(h.scheduler(health: nil))
        let chat = try await h.clientWrites()
        _ = try await conversation.setFollowUp(chatID: chat.id, enabled: false)
        try await h.employeeReplies(chat)
        let decisions = try await h.store.decisions(chatID: chat.id)
        #expect(decisions.map(\.reason).suffix(1) == [.chatDisabled])
        #expect(decisions.count == 2, "the switch-off and the message it kept from arming: \(decisions)")
    }

    // MARK: Defect 6: the scheduler's parts wait on each other

    @Test func aSlowModelDoesNotHoldUpDeliveries() async throws {
        let h = Harness(store: try SQLiteStore())
        let composer = GatedComposer()
        let scheduler = h.scheduler(health: nil, composer: composer)
        let conversation = h.conversation(scheduler)
        let service = Task { try await scheduler.run() }
        let chat = try await conversation.receive(text: "Hello", harness: h)
        try await eventually("the AI reply is being composed") { composer.waiting > 0 }
        _ = try await conversation.sendOperatorMessage(chatID: chat.id, text: "Operator here")
        // The operator's message is delivered while the model is still busy.
        try await eventually("the operator's message is delivered") { h.sender.sent.map(\.message.text) == ["Operator here"] }
        #expect(composer.waiting == 1)
        composer.open()
        service.cancel()
        _ = try? await service.value
    }
}

extension Conversation {
    /// The client writes through this conversation; returns the chat.
    func receive(text: String, harness h: Harness) async throws -> Chat {
        try await h.clientSays(text, through: self)
    }
}

/// A provider that accepts the message and, while answering, has the caller cancelled (the
/// gateway stopping mid-request).
final class CancellingSender: ChannelSender {
    let capabilities = ChannelCapabilities.plain
    private let onSend: @Sendable () -> Void
    private let count = Mutex(0)
    init(onSend: @escaping @Sendable () -> Void) { self.onSend = onSend }
    var calls: Int { count.withLock { $0 } }

    func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        count.withLock { $0 += 1 }
        onSend()
        return DeliveryReceipt(providerMessageIDs: ["accepted"])
    }
}

/// A composer that holds every request until `open()`.
final class GatedComposer: Composer {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    var waiting: Int { state.withLock { $0.waiters.count } }

    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func compose(_ request: CompositionRequest) async throws -> Composition {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
        return Composition(text: "Slow reply", usage: .zero, model: "gated")
    }
}
