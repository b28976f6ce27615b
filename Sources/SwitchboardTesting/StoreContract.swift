import Foundation
public import SwitchboardCore

/// A failed expectation in a contract check.
public struct ContractViolation: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

func ensure(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
    if !condition { throw ContractViolation(description: "StoreContract.swift:\(line): \(message())") }
}

/// The behaviour every `Store` implementation must have. A test target runs each check against
/// a fresh store: `@Test(arguments: StoreContract.checks) func contract(_ c: StoreContract) async throws`.
public struct StoreContract: Sendable, CustomStringConvertible {
    public let name: String
    public let run: @Sendable (any Store) async throws -> Void

    public var description: String { name }

    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    static func inbound(_ id: String?, key: String = "c1", channel: String = "tg", name: String? = "Ana K", at: Date = t0, text: String = "hello")
        -> InboundMessage
    {
        InboundMessage(channelID: channel, conversationKey: key, providerMessageID: id, senderName: name, chatTitle: name, receivedAt: at, text: text)
    }

    static func newChat(_ store: any Store, key: String = "c1", name: String? = "Ana K", employee: String = "alexey") async throws -> Chat {
        guard case .stored(let chat, _) = try await store.recordInbound(inbound("\(key)-1", key: key, name: name), employeeID: employee, followUp: { _, _ in [] }) else {
            throw ContractViolation(description: "first inbound message was reported as duplicate")
        }
        return chat
    }

    /// Puts the chat's follow-up at `scheduled` for `sendsAt`.
    static func schedule(_ store: any Store, _ chat: Chat, at sendsAt: Date, step: Int = 1) async throws {
        try await store.updateFollowUp(chatID: chat.id) { state, _ in
            state.run += 1
            state.status = .scheduled
            state.step = step
            state.anchor = sendsAt.addingTimeInterval(-3600)
            state.due = sendsAt
            state.sendsAt = sendsAt
            return [FollowUpDecision(kind: .scheduled, reason: .employeeMessage, run: state.run, step: step, at: t0, due: sendsAt, sendsAt: sendsAt)]
        }
    }

    public static let checks: [StoreContract] = [
        StoreContract(name: "inbound creates the chat once and deduplicates by provider id") { store in
            let first = try await store.recordInbound(inbound("1"), employeeID: "alexey") { _, _ in [] }
            guard case .stored(let chat, let message) = first else { throw ContractViolation(description: "first message not stored") }
            try ensure(chat.title == "Ana K" && chat.clientName == "Ana K" && chat.employeeID == "alexey", "chat fields: \(chat)")
            try ensure(chat.lastClientMessageAt == t0, "lastClientMessageAt")
            try ensure(message.author == .client && message.text == "hello", "message: \(message)")
            let again = try await store.recordInbound(inbound("1", text: "changed"), employeeID: "alexey") { _, _ in
                throw ContractViolation(description: "transition ran for a duplicate")
            }
            try ensure(again == .duplicate, "repeat was not a duplicate")
            _ = try await store.recordInbound(inbound("2", at: t0.addingTimeInterval(60)), employeeID: "alexey") { _, _ in [] }
            let messages = try await store.messages(chatID: chat.id, limit: 10)
            try ensure(messages.map(\.providerMessageID) == ["1", "2"], "history: \(messages)")
            let byKey = try await store.chat(channelID: "tg", conversationKey: "c1")
            try ensure(byKey?.id == chat.id, "lookup by conversation key")
            try ensure(try await store.chat(channelID: "other", conversationKey: "c1") == nil, "channels are separate")
        },
        StoreContract(name: "the same provider id on another channel is another message") { store in
            _ = try await store.recordInbound(inbound("1"), employeeID: "alexey") { _, _ in [] }
            let other = try await store.recordInbound(inbound("1", channel: "wa"), employeeID: "alexey") { _, _ in [] }
            guard case .stored = other else { throw ContractViolation(description: "deduplicated across channels") }
        },
        StoreContract(name: "a follow-up transition is stored with its decisions, atomically") { store in
            let chat = try await newChat(store)
            try await schedule(store, chat, at: t0.addingTimeInterval(3600))
            let state = try await store.followUpState(chatID: chat.id)
            try ensure(state?.status == .scheduled && state?.sendsAt == t0.addingTimeInterval(3600), "state: \(String(describing: state))")
            try ensure(try await store.decisions(chatID: chat.id).map(\.kind) == [.scheduled], "decision log")
            do {
                try await store.updateFollowUp(chatID: chat.id) { state, _ in
                    state.status = .cancelled
                    throw TransitionRejected("no")
                }
                throw ContractViolation(description: "rejection did not propagate")
            } catch is TransitionRejected {}
            try ensure(try await store.followUpState(chatID: chat.id)?.status == .scheduled, "rejected transition was kept")
        },
        StoreContract(name: "a due reminder is leased to one claimer until its state changes or the lease ends") { store in
            let chat = try await newChat(store)
            let due = t0.addingTimeInterval(3600)
            try await schedule(store, chat, at: due)
            try ensure(try await store.claimDueFollowUps(now: due.addingTimeInterval(-1), owner: "a", leaseUntil: due.addingTimeInterval(60), limit: 10).isEmpty, "claimed before due")
            let a = try await store.claimDueFollowUps(now: due, owner: "a", leaseUntil: due.addingTimeInterval(60), limit: 10)
            try ensure(a.map(\.chat.id) == [chat.id], "first claim: \(a)")
            let b = try await store.claimDueFollowUps(now: due.addingTimeInterval(30), owner: "b", leaseUntil: due.addingTimeInterval(90), limit: 10)
            try ensure(b.isEmpty, "claimed twice while leased")
            let c = try await store.claimDueFollowUps(now: due.addingTimeInterval(61), owner: "b", leaseUntil: due.addingTimeInterval(120), limit: 10)
            try ensure(c.count == 1, "an expired lease was not taken over")
            try await store.updateFollowUp(chatID: chat.id) { state, _ in
                state.sendsAt = due.addingTimeInterval(600)
                return []
            }
            let d = try await store.claimDueFollowUps(now: due.addingTimeInterval(600), owner: "c", leaseUntil: due.addingTimeInterval(700), limit: 10)
            try ensure(d.count == 1, "a changed state kept its old lease")
        },
        StoreContract(name: "the outbox queues a key once, leases entries, and reports interrupted deliveries") { store in
            let chat = try await newChat(store)
            let entry = NewOutboxEntry(chatID: chat.id, purpose: .reminder, idempotencyKey: "reminder:1:1", text: "hi", notBefore: t0, followUpRun: 1, followUpStep: 1)
            let usage = UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reminder, usage: TokenUsage(promptTokens: 10, completionTokens: 5), model: "m", at: t0)
            try ensure(try await store.enqueue(entry, usage: usage, followUp: nil) != nil, "first enqueue")
            try ensure(try await store.enqueue(entry, usage: usage, followUp: nil) == nil, "same key queued twice")
            let used = try await store.tokenUsage(employeeID: "alexey", purpose: .reminder, from: t0, to: t0.addingTimeInterval(1))
            try ensure(used.totalTokens == 15, "usage recorded once: \(used)")
            try ensure(try await store.nextWakeTime() == t0, "next wake time is the pending entry")
            let claimed = try await store.claimDueOutbox(now: t0, owner: "a", leaseUntil: t0.addingTimeInterval(60), limit: 10)
            try ensure(claimed.count == 1 && claimed[0].attempts == 1 && !claimed[0].interrupted, "claim: \(claimed)")
            try ensure(try await store.claimDueOutbox(now: t0.addingTimeInterval(10), owner: "b", leaseUntil: t0.addingTimeInterval(70), limit: 10).isEmpty, "claimed twice")
            let taken = try await store.claimDueOutbox(now: t0.addingTimeInterval(61), owner: "b", leaseUntil: t0.addingTimeInterval(120), limit: 10)
            try ensure(taken.count == 1 && taken[0].interrupted, "an expired delivery is not reported interrupted: \(taken)")
            try await store.complete(outboxID: taken[0].id, .sent(at: t0.addingTimeInterval(62), providerMessageIDs: ["p1"]), chatChange: nil, followUp: nil)
            let history = try await store.messages(chatID: chat.id, limit: 10)
            try ensure(history.last?.text == "hi" && history.last?.author == .employee && history.last?.followUpStep == 1, "sent message not in history")
            try ensure(try await store.outbox(chatID: chat.id).first?.status == .sent, "status not sent")
            try ensure(try await store.claimDueOutbox(now: t0.addingTimeInterval(1000), owner: "c", leaseUntil: t0.addingTimeInterval(2000), limit: 10).isEmpty, "sent entry claimed")
        },
        StoreContract(name: "a retried entry waits for its time; a rejected transition rolls the enqueue back") { store in
            let chat = try await newChat(store)
            let entry = NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "reply:1", text: "hi", notBefore: t0)
            let queued = try await store.enqueue(entry, usage: nil, followUp: nil)
            _ = try await store.claimDueOutbox(now: t0, owner: "a", leaseUntil: t0.addingTimeInterval(60), limit: 10)
            try await store.complete(outboxID: queued!.id, .retry(at: t0.addingTimeInterval(30), error: "429"), chatChange: nil, followUp: nil)
            try ensure(try await store.claimDueOutbox(now: t0.addingTimeInterval(29), owner: "a", leaseUntil: t0.addingTimeInterval(90), limit: 10).isEmpty, "retried early")
            let again = try await store.claimDueOutbox(now: t0.addingTimeInterval(30), owner: "a", leaseUntil: t0.addingTimeInterval(90), limit: 10)
            try ensure(again.first?.attempts == 2 && again.first?.interrupted == false, "retry: \(again)")
            let other = NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "reply:2", text: "no", notBefore: t0)
            do {
                _ = try await store.enqueue(other, usage: nil) { _, _ in throw TransitionRejected("moved on") }
            } catch is TransitionRejected {}
            try ensure(try await store.outbox(chatID: chat.id).count == 1, "rejected enqueue was kept")
        },
        StoreContract(name: "pending follow-ups: soonest first, Unicode search, employee filter, both combined") { store in
            let mikhail = try await newChat(store, key: "a", name: "Михаил Петров", employee: "alexey")
            let anna = try await newChat(store, key: "b", name: "Anna Smith", employee: "maria")
            let idle = try await newChat(store, key: "c", name: "Михаил Idle", employee: "alexey")
            try await schedule(store, anna, at: t0.addingTimeInterval(100))
            try await schedule(store, mikhail, at: t0.addingTimeInterval(200))
            _ = idle
            let all = try await store.pendingFollowUps(FollowUpQuery())
            try ensure(all.items.map(\.chat.id) == [anna.id, mikhail.id] && all.total == 2, "all: \(all.items.map(\.chat.title))")
            let cyr = try await store.pendingFollowUps(FollowUpQuery(search: "михаил"))
            try ensure(cyr.items.map(\.chat.id) == [mikhail.id], "cyrillic search: \(cyr.items.map(\.chat.title))")
            let word = try await store.pendingFollowUps(FollowUpQuery(search: "SMITH"))
            try ensure(word.items.map(\.chat.id) == [anna.id], "case-insensitive word")
            let byEmployee = try await store.pendingFollowUps(FollowUpQuery(employeeID: "maria"))
            try ensure(byEmployee.items.map(\.chat.id) == [anna.id], "employee filter")
            let byEmployeeName = try await store.pendingFollowUps(FollowUpQuery(search: "Maria", employeesMatchingSearch: ["maria"]))
            try ensure(byEmployeeName.items.map(\.chat.id) == [anna.id], "employee name search")
            let combined = try await store.pendingFollowUps(FollowUpQuery(employeeID: "maria", search: "михаил"))
            try ensure(combined.items.isEmpty && combined.total == 0, "combined filters")
            let limited = try await store.pendingFollowUps(FollowUpQuery(limit: 1))
            try ensure(limited.items.count == 1 && limited.total == 2, "limit and total")
        },
        StoreContract(name: "token usage sums by employee, purpose and time; cursors persist") { store in
            let chat = try await newChat(store)
            for (i, purpose) in [UsagePurpose.reply, .reminder, .reminder].enumerated() {
                try await store.recordUsage(UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: purpose,
                                                        usage: TokenUsage(promptTokens: 10, completionTokens: 1), model: "m", at: t0.addingTimeInterval(Double(i) * 3600)))
            }
            try ensure(try await store.tokenUsage(employeeID: "alexey", purpose: nil, from: t0, to: .distantFuture).totalTokens == 33, "all usage")
            try ensure(try await store.tokenUsage(employeeID: "alexey", purpose: .reminder, from: t0, to: .distantFuture).promptTokens == 20, "by purpose")
            try ensure(try await store.tokenUsage(employeeID: "alexey", purpose: nil, from: t0.addingTimeInterval(3600), to: t0.addingTimeInterval(7200)).totalTokens == 11, "by time")
            try ensure(try await store.tokenUsage(employeeID: "maria", purpose: nil, from: t0, to: .distantFuture) == .zero, "other employee")
            try ensure(try await store.usage(chatID: chat.id).count == 3, "usage per chat")
            try ensure(try await store.cursor("telegram:offset") == nil, "unset cursor")
            try await store.setCursor("telegram:offset", to: "41")
            try await store.setCursor("telegram:offset", to: "42")
            try ensure(try await store.cursor("telegram:offset") == "42", "cursor")
        },
    ]
}
