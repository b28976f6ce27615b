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
            let short = try await store.pendingFollowUps(FollowUpQuery(search: "ми"))
            try ensure(short.items.map(\.chat.id) == [mikhail.id] && short.total == 1, "a two-letter search: \(short.items.map(\.chat.title))")
            let nameOrText = try await store.pendingFollowUps(FollowUpQuery(search: "smith", employeesMatchingSearch: ["alexey"], limit: 1))
            try ensure(nameOrText.items.map(\.chat.id) == [anna.id] && nameOrText.total == 2, "text or employee name: \(nameOrText.total)")
            let both = try await store.pendingFollowUps(FollowUpQuery(search: "петров", employeesMatchingSearch: ["alexey"]))
            try ensure(both.items.map(\.chat.id) == [mikhail.id] && both.total == 1, "a chat matching both is counted once: \(both.total)")
            let ownName = try await store.pendingFollowUps(FollowUpQuery(employeeID: "maria", search: "mar", employeesMatchingSearch: ["maria"]))
            try ensure(ownName.items.map(\.chat.id) == [anna.id] && ownName.total == 1, "the filtered employee's own name")
            try await store.updateFollowUp(chatID: anna.id) { state, _ in
                state.status = .sending
                return []
            }
            try ensure(try await store.pendingFollowUps(FollowUpQuery(search: "smith")).total == 1, "a reminder being sent is still pending")
            try await store.updateFollowUp(chatID: anna.id) { state, _ in
                state.status = .finished
                return []
            }
            try ensure(try await store.pendingFollowUps(FollowUpQuery(search: "smith")).total == 0, "a finished chain is not pending")
        },
        StoreContract(name: "chat inbox: newest activity first, keyset pages, finished chains stay listed") { store in
            let a = try await newChat(store, key: "a", name: "Ana K")
            let b = try await newChat(store, key: "b", name: "Boris M")
            let c = try await newChat(store, key: "c", name: "Chen L")
            // New activity moves a chat to the top: a client's message, then an operator's.
            _ = try await store.recordInbound(inbound("a-2", key: "a", name: "Ana K", at: t0.addingTimeInterval(300), text: "second"), employeeID: "alexey") { _, _ in [] }
            _ = try await store.appendMessage(NewMessage(chatID: b.id, author: .operator, text: "on it", at: t0.addingTimeInterval(200)), followUp: nil)
            let all = try await store.chatInbox(ChatInboxQuery())
            try ensure(all.items.map(\.chat.id) == [a.id, b.id, c.id] && all.next == nil, "order: \(all.items.map(\.chat.title))")
            try ensure(all.items[0].lastActivityAt == t0.addingTimeInterval(300) && all.items[0].lastMessage == "second", "activity and preview")
            try ensure(all.items[0].lastAuthor == .client && all.items[1].lastAuthor == .operator, "last authors")
            let first = try await store.chatInbox(ChatInboxQuery(limit: 2))
            try ensure(first.items.map(\.chat.id) == [a.id, b.id] && first.next == first.items.last?.cursor, "first page")
            let second = try await store.chatInbox(ChatInboxQuery(after: first.next, limit: 2))
            try ensure(second.items.map(\.chat.id) == [c.id] && second.next == nil, "second page: \(second.items.map(\.chat.title))")
            try await store.updateFollowUp(chatID: c.id) { state, _ in
                state.status = .finished
                return []
            }
            let finished = try await store.chatInbox(ChatInboxQuery(state: .finished))
            try ensure(finished.items.map(\.chat.id) == [c.id], "a finished chain is listed: \(finished.items.map(\.chat.title))")
        },
        StoreContract(name: "chat inbox: filters by employee, channel and every state") { store in
            let waiting = try await newChat(store, key: "w", name: "Waiting W", employee: "maria")
            let scheduled = try await newChat(store, key: "s", name: "Sched S")
            let opted = try await newChat(store, key: "o", name: "Opted O")
            let gone = try await newChat(store, key: "u", name: "Gone U")
            let dead = try await newChat(store, key: "d", name: "Dead D")
            _ = try await store.recordInbound(inbound("wa-1", key: "x", channel: "wa", name: "Other Channel"), employeeID: "alexey") { _, _ in [] }
            for chat in [scheduled, opted, gone, dead] {
                _ = try await store.appendMessage(NewMessage(chatID: chat.id, author: .employee, text: "answer", at: t0.addingTimeInterval(10)), followUp: nil)
            }
            try await schedule(store, scheduled, at: t0.addingTimeInterval(3600))
            try await store.updateFollowUp(chatID: opted.id) { state, _ in
                state.optOut = .client
                state.status = .cancelled
                return []
            }
            _ = try await store.updateChat(id: gone.id, { $0.unreachable = true }, followUp: nil)
            let failed = NewOutboxEntry(chatID: dead.id, purpose: .reply, idempotencyKey: "reply:dead", text: "x", notBefore: t0, failure: "refused")
            _ = try await store.enqueue(failed, usage: nil, followUp: nil)
            func ids(_ query: ChatInboxQuery) async throws -> Set<String> { Set(try await store.chatInbox(query).items.map(\.chat.id)) }
            try ensure(try await ids(ChatInboxQuery(state: .waiting)).contains(waiting.id), "waiting")
            try ensure(!(try await ids(ChatInboxQuery(state: .waiting)).contains(scheduled.id)), "answered is not waiting")
            try ensure(try await ids(ChatInboxQuery(state: .scheduled)) == [scheduled.id], "scheduled")
            // A chain whose reminder is being sent is still listed under Scheduled.
            try await store.updateFollowUp(chatID: scheduled.id) { state, _ in
                state.status = .sending
                return []
            }
            try ensure(try await ids(ChatInboxQuery(state: .scheduled)) == [scheduled.id], "a chain being sent is scheduled")
            try ensure(try await ids(ChatInboxQuery(state: .finished)).isEmpty, "a chain being sent is not finished")
            try ensure(try await ids(ChatInboxQuery(state: .optedOut)) == [opted.id], "opted out")
            try ensure(try await ids(ChatInboxQuery(state: .unreachable)) == [gone.id], "unreachable")
            try ensure(try await ids(ChatInboxQuery(state: .deadLetter)) == [dead.id], "dead letter")
            try ensure(try await ids(ChatInboxQuery(employeeID: "maria")) == [waiting.id], "employee")
            try ensure(try await ids(ChatInboxQuery(channelID: "wa")).count == 1, "channel")
            try ensure(try await ids(ChatInboxQuery(employeeID: "maria", state: .scheduled)).isEmpty, "employee and state")
            let row = try await store.chatInbox(ChatInboxQuery(state: .deadLetter)).items.first
            try ensure(row?.deadLetters == 1 && row?.states.contains(.deadLetter) == true, "dead letter count: \(String(describing: row))")
        },
        StoreContract(name: "chat inbox: search by title, client, employee name and message text") { store in
            let alena = try await newChat(store, key: "a", name: "Алёна Ершова")
            let bob = try await newChat(store, key: "b", name: "Bob Stone", employee: "maria")
            _ = try await store.appendMessage(NewMessage(chatID: bob.id, author: .employee, text: "Your Deluxe room is booked", at: t0.addingTimeInterval(5)), followUp: nil)
            _ = try await store.recordInbound(inbound("a-2", key: "a", name: "Алёна Ершова", at: t0.addingTimeInterval(9), text: "Можно ПОЗДНИЙ выезд?"), employeeID: "alexey") { _, _ in [] }
            func ids(_ search: String, names: Set<String> = []) async throws -> [String] {
                try await store.chatInbox(ChatInboxQuery(search: SearchText.normalize(search), employeesMatchingSearch: names)).items.map(\.chat.id)
            }
            try ensure(try await ids("алена") == [alena.id], "title without ё")
            try ensure(try await ids("deluxe") == [bob.id], "message text, case-insensitive")
            try ensure(try await ids("поздний выезд") == [alena.id], "Cyrillic message text")
            try ensure(try await ids("maria", names: ["maria"]) == [bob.id], "employee name")
            try ensure(try await ids("zzz").isEmpty, "no match")
            try ensure(try await ids("bo") == [bob.id], "two letters match titles")
            try ensure(try await store.chatInbox(ChatInboxQuery(employeeID: "alexey", search: "deluxe")).items.isEmpty, "search within an employee")
        },
        StoreContract(name: "search ignores accents and follows renamed chats") { store in
            let alena = try await newChat(store, key: "a", name: "Алёна Ершова")
            let jose = try await newChat(store, key: "b", name: "José Núñez")
            try await schedule(store, alena, at: t0.addingTimeInterval(100))
            try await schedule(store, jose, at: t0.addingTimeInterval(200))
            try ensure(try await store.pendingFollowUps(FollowUpQuery(search: "алена")).items.map(\.chat.id) == [alena.id], "ё and е")
            try ensure(try await store.pendingFollowUps(FollowUpQuery(search: "ЕРШОВА")).items.map(\.chat.id) == [alena.id], "upper case Cyrillic")
            try ensure(try await store.pendingFollowUps(FollowUpQuery(search: "jose nunez")).items.map(\.chat.id) == [jose.id], "accents")
            _ = try await store.updateChat(id: jose.id, { $0.title = "Pepe"; $0.clientName = "Pepe" }, followUp: nil)
            try ensure(try await store.pendingFollowUps(FollowUpQuery(search: "jose")).items.isEmpty, "old name still found")
            try ensure(try await store.pendingFollowUps(FollowUpQuery(search: "pepe")).items.map(\.chat.id) == [jose.id], "new name not found")
        },
        StoreContract(name: "a composed message's usage points at its outbox entry and the message it became") { store in
            let chat = try await newChat(store)
            let entry = NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "reply:1", text: "composed", notBefore: t0)
            let usage = UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reply, usage: TokenUsage(promptTokens: 7, completionTokens: 3), model: "m", at: t0)
            guard let queued = try await store.enqueue(entry, usage: usage, followUp: nil) else { throw ContractViolation(description: "not queued") }
            try await store.recordUsage(UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reminder, usage: TokenUsage(promptTokens: 1, completionTokens: 1), model: "m", at: t0))
            try await store.complete(outboxID: queued.id, .sent(at: t0.addingTimeInterval(1), providerMessageIDs: ["p"]), chatChange: nil, followUp: nil)
            let records = try await store.usage(chatID: chat.id)
            try ensure(records.map(\.outboxID) == [queued.id, nil], "usage links: \(records)")
            let sent = try await store.messages(chatID: chat.id, limit: 10).last
            try ensure(sent?.text == "composed" && sent?.outboxID == queued.id, "message link: \(String(describing: sent))")
        },
        StoreContract(name: "token usage by day follows the employee's calendar") { store in
            let chat = try await newChat(store)
            let moscow = TimeZone(identifier: "Europe/Moscow")!  // UTC+3
            let evening = Date(timeIntervalSince1970: 1_795_194_000)  // 2026-11-20T17:00:00Z, 20:00 in Moscow
            for (hours, tokens) in [(0.0, 10), (3.5, 20), (5.0, 40), (30.0, 80)] {  // Moscow 20:00, 23:30, 01:00 (+1 day), 02:00 (+2 days)
                try await store.recordUsage(UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reply,
                                                        usage: TokenUsage(promptTokens: tokens, completionTokens: 1), model: "m", at: evening.addingTimeInterval(hours * 3600)))
            }
            try await store.recordUsage(UsageRecord(employeeID: "maria", chatID: chat.id, purpose: .reply, usage: TokenUsage(promptTokens: 1000, completionTokens: 0), model: "m", at: evening))
            let days = try await store.tokenUsageByDay(employeeID: "alexey", from: evening, to: evening.addingTimeInterval(30 * 3600), timeZone: moscow)
            try ensure(days.map(\.date.description) == ["2026-11-20", "2026-11-21"], "days: \(days)")
            try ensure(days.map(\.usage) == [TokenUsage(promptTokens: 30, completionTokens: 2), TokenUsage(promptTokens: 40, completionTokens: 1)], "sums: \(days)")
            let utc = try await store.tokenUsageByDay(employeeID: "alexey", from: evening, to: .distantFuture, timeZone: .gmt)
            try ensure(utc.map(\.date.description) == ["2026-11-20", "2026-11-21"] && utc.map(\.usage.promptTokens) == [70, 80], "UTC days: \(utc)")
            try await store.recordUsage(UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reminder, usage: TokenUsage(promptTokens: 5, completionTokens: 0), model: "m", at: evening))
            let replies = try await store.tokenUsageByDay(employeeID: "alexey", purpose: .reply, from: evening, to: .distantFuture, timeZone: .gmt)
            let reminders = try await store.tokenUsageByDay(employeeID: "alexey", purpose: .reminder, from: evening, to: .distantFuture, timeZone: .gmt)
            try ensure(replies.map(\.usage.promptTokens) == [70, 80] && reminders.map(\.usage.promptTokens) == [5], "by purpose: \(replies) \(reminders)")
        },
        StoreContract(name: "message ids order a chat for replay; delivery to an offline recipient is recorded once") { store in
            let chat = try await newChat(store)
            let other = try await newChat(store, key: "c2")
            let first = try await store.messages(chatID: chat.id, limit: 1)[0]
            for (key, delivered) in [("reply:1", true), ("reminder:1:1", false)] {
                let queued = try await store.enqueue(NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: key, text: key, notBefore: t0), usage: nil, followUp: nil)
                _ = try await store.claimDueOutbox(now: t0, owner: "a", leaseUntil: t0.addingTimeInterval(60), limit: 10)
                try await store.complete(outboxID: queued!.id, .sent(at: t0.addingTimeInterval(10), providerMessageIDs: ["w-\(key)"], delivered: delivered),
                                         chatChange: nil, followUp: nil)
            }
            _ = try await store.recordInbound(inbound("c2-2", key: "c2"), employeeID: "alexey") { _, _ in [] }
            let missed = try await store.messages(chatID: chat.id, after: first.id, limit: 10)
            try ensure(missed.map(\.text) == ["reply:1", "reminder:1:1"], "replay after the first message: \(missed.map(\.text))")
            try ensure(missed[0].id < missed[1].id && missed[0].id > first.id, "ids increase: \(missed.map(\.id))")
            try ensure(try await store.messages(chatID: chat.id, after: first.id, limit: 1).map(\.text) == ["reply:1"], "limit keeps the oldest")
            try ensure(try await store.messages(chatID: chat.id, after: missed[1].id, limit: 10).isEmpty, "nothing after the last")
            try ensure(missed[0].deliveredAt == t0.addingTimeInterval(10), "delivered on send: \(String(describing: missed[0].deliveredAt))")
            try ensure(missed[1].deliveredAt == nil, "stored for an offline recipient is not delivered yet")
            let otherMessages = try await store.messages(chatID: other.id, limit: 10)
            try await store.markDelivered(chatID: chat.id, messageIDs: [missed[1].id] + otherMessages.map(\.id), at: t0.addingTimeInterval(3600))
            try await store.markDelivered(chatID: chat.id, messageIDs: [missed[1].id], at: t0.addingTimeInterval(7200))
            let after = try await store.messages(chatID: chat.id, after: first.id, limit: 10)
            try ensure(after[1].deliveredAt == t0.addingTimeInterval(3600), "first delivery counts: \(String(describing: after[1].deliveredAt))")
            try ensure(after[0].deliveredAt == t0.addingTimeInterval(10), "an earlier delivery is kept")
            try ensure(try await store.messages(chatID: other.id, limit: 10).allSatisfy { $0.deliveredAt == nil }, "another chat's messages are not marked")
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
        StoreContract(name: "a queued reminder's entry is cancelled in the transaction that moves its chain off it") { store in
            let chat = try await newChat(store)
            try await schedule(store, chat, at: t0)
            let run = try await store.followUpState(chatID: chat.id)?.run ?? 0
            let entry = NewOutboxEntry(chatID: chat.id, purpose: .reminder, idempotencyKey: OutboxKey.reminder(run: run, step: 1).rawValue, text: "r",
                                       notBefore: t0, followUpRun: run, followUpStep: 1)
            _ = try await store.enqueue(entry, usage: nil) { state, _ in
                state.status = .sending
                return []
            }
            // A retry waits in the outbox when the client writes.
            let claimed = try await store.claimDueOutbox(now: t0, owner: "a", leaseUntil: t0.addingTimeInterval(60), limit: 10)
            try await store.complete(outboxID: claimed[0].id, .retry(at: t0.addingTimeInterval(30), error: "429"), chatChange: nil, followUp: nil)
            try await store.updateFollowUp(chatID: chat.id) { state, _ in
                state.status = .cancelled
                state.lastReason = .clientReplied
                return [FollowUpDecision(kind: .cancelled, reason: .clientReplied, run: state.run, step: 1, at: t0)]
            }
            let after = try await store.outbox(chatID: chat.id)
            try ensure(after.map(\.status) == [.cancelled], "entry cancelled with its chain: \(after.map(\.status))")
            try ensure(after[0].lastError?.contains("client_replied") == true, "the reason is kept: \(after[0].lastError ?? "")")
            try ensure(try await store.claimDueOutbox(now: t0.addingTimeInterval(60), owner: "b", leaseUntil: t0.addingTimeInterval(120), limit: 10).isEmpty,
                       "a cancelled entry is never claimed")
        },
        StoreContract(name: "a follow-up lease survives a change that keeps the same work, and ends with any other") { store in
            let chat = try await newChat(store)
            try await schedule(store, chat, at: t0)
            let lease = t0.addingTimeInterval(60)
            try ensure(try await store.claimDueFollowUps(now: t0, owner: "a", leaseUntil: lease, limit: 10).count == 1, "claimed")
            // The holder counts a composition: same (run, step, time) — the lease stays.
            try await store.updateFollowUp(chatID: chat.id) { state, _ in
                state.attempts += 1
                return []
            }
            try ensure(try await store.claimDueFollowUps(now: t0.addingTimeInterval(1), owner: "b", leaseUntil: lease, limit: 10).isEmpty,
                       "nobody else takes it while the holder composes")
            // Moved to a later time: a new piece of work, free for anyone once due.
            try await store.updateFollowUp(chatID: chat.id) { state, _ in
                state.sendsAt = t0.addingTimeInterval(5)
                return []
            }
            try ensure(try await store.claimDueFollowUps(now: t0.addingTimeInterval(5), owner: "b", leaseUntil: lease, limit: 10).count == 1,
                       "the moved reminder can be claimed")
        },
        StoreContract(name: "inbound queues the answer chatChange returns, once per key, in the same transaction") { store in
            let answer: InboundChatChange = { chat in
                NewOutboxEntry(chatID: chat.id, purpose: .autoReply, idempotencyKey: OutboxKey.autoReply(periodEnd: t0.addingTimeInterval(3600)).rawValue,
                               text: "We are closed", notBefore: t0)
            }
            guard case .stored(let chat, _) = try await store.recordInbound(inbound("a1"), employeeID: "alexey", followUp: { _, _ in [] }, chatChange: answer)
            else { throw ContractViolation(description: "not stored") }
            _ = try await store.recordInbound(inbound("a2"), employeeID: "alexey", followUp: { _, _ in [] }, chatChange: answer)
            let outbox = try await store.outbox(chatID: chat.id)
            try ensure(outbox.map(\.entry.text) == ["We are closed"], "one auto-reply per key: \(outbox.map(\.entry.text))")
            // A failure record is stored as a dead letter and never claimed for sending.
            let failed = NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "f", text: "(no answer)", notBefore: t0, failure: "refused")
            let stored = try await store.enqueue(failed, usage: nil, followUp: nil)
            try ensure(stored?.status == .dead && stored?.lastError == "refused", "failure stored dead: \(String(describing: stored))")
            let claimed = try await store.claimDueOutbox(now: t0.addingTimeInterval(60), owner: "a", leaseUntil: t0.addingTimeInterval(120), limit: 10)
            try ensure(claimed.map(\.entry.text) == ["We are closed"], "only the auto-reply is sent: \(claimed.map(\.entry.text))")
        },
        StoreContract(name: "delivery statuses find every part of a sent message, move forward only, and ignore unknown ids") { store in
            let chat = try await newChat(store)
            let queued = try await store.enqueue(
                NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "r1", text: "a long answer", notBefore: t0), usage: nil, followUp: nil)
            guard let queued else { throw ContractViolation(description: "not queued") }
            try await store.complete(outboxID: queued.id, .sent(at: t0, providerMessageIDs: ["p1", "p2"], delivered: false), chatChange: nil, followUp: nil)
            func sentMessage() async throws -> StoredMessage? { try await store.messages(chatID: chat.id, limit: 10).first { $0.author == .employee } }
            let read = try await store.recordDeliveryStatuses([
                DeliveryStatusUpdate(channelID: "tg", providerMessageID: "p2", state: .read, at: t0.addingTimeInterval(5)),
                DeliveryStatusUpdate(channelID: "tg", providerMessageID: "nobody", state: .read, at: t0),
                DeliveryStatusUpdate(channelID: "other", providerMessageID: "p1", state: .read, at: t0),
            ])
            try ensure(read.count == 1 && read.first?.outbox?.id == queued.id, "one status matched, with its outbox entry: \(read)")
            var message = try await sentMessage()
            try ensure(message?.deliveryState == .read && message?.deliveredAt == t0.addingTimeInterval(5), "read through the second part: \(String(describing: message))")
            let late = try await store.recordDeliveryStatuses([DeliveryStatusUpdate(channelID: "tg", providerMessageID: "p1", state: .delivered, at: t0.addingTimeInterval(9))])
            try ensure(late.isEmpty, "a late delivered never undoes read")
            _ = try await store.recordDeliveryStatuses([
                DeliveryStatusUpdate(channelID: "tg", providerMessageID: "p1", state: .failed, at: t0.addingTimeInterval(10), error: "131026: undeliverable")
            ])
            message = try await sentMessage()
            try ensure(message?.deliveryState == .failed && message?.deliveryError == "131026: undeliverable", "failure kept: \(String(describing: message))")
        },
        StoreContract(name: "the same provider message ingested concurrently is stored once") { store in
            // Two requests carrying one message (a provider's retry racing the original) on new
            // and on existing chats: one stores it, the other is told it is a duplicate.
            for i in 0..<16 {
                let message = inbound("race-\(i)", key: "k\(i % 4)", at: t0.addingTimeInterval(Double(i)))
                let results = try await withThrowingTaskGroup(of: InboundResult.self) { group in
                    for _ in 0..<2 { group.addTask { try await store.recordInbound(message, employeeID: "alexey") { _, _ in [] } } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                try ensure(results.filter { $0 != .duplicate }.count == 1, "message \(i) stored \(results.filter { $0 != .duplicate }.count) times")
            }
            // Batches that touch the same chats in opposite orders (group commits in two processes).
            let forward = (0..<4).map { InboundRecord(message: inbound("batch-\($0)", key: "k\($0)"), employeeID: "alexey", followUp: { _, _ in [] }) }
            let results = try await withThrowingTaskGroup(of: [InboundResult].self) { group in
                group.addTask { try await store.recordInbound(forward) }
                group.addTask { try await store.recordInbound(forward.reversed()) }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            try ensure(results.filter { $0 != .duplicate }.count == 4, "batch messages stored \(results.filter { $0 != .duplicate }.count) times, not 4")
            for key in 0..<4 {
                guard let chat = try await store.chat(channelID: "tg", conversationKey: "k\(key)") else { throw ContractViolation(description: "chat k\(key) missing") }
                let ids = try await store.messages(chatID: chat.id, limit: 100).compactMap(\.providerMessageID)
                try ensure(ids.count == 5 && Set(ids).count == 5, "chat k\(key) holds \(ids)")
            }
        },
        StoreContract(name: "concurrent claims never hand one reminder, reply or outbox entry to two claimers") { store in
            let count = 24
            for i in 0..<count {
                let chat = try await newChat(store, key: "k\(i)")
                try await schedule(store, chat, at: t0.addingTimeInterval(Double(i)))
                _ = try await store.updateChat(id: chat.id, { $0.replyDueAt = t0.addingTimeInterval(Double(i)) }, followUp: nil)
                _ = try await store.enqueue(
                    NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "reply:1", text: "x", notBefore: t0.addingTimeInterval(Double(i))),
                    usage: nil, followUp: nil)
            }
            let now = t0.addingTimeInterval(3600)
            let lease = now.addingTimeInterval(600)
            let claims = try await withThrowingTaskGroup(of: [String].self) { group in
                for owner in ["a", "b", "c", "d"] {
                    group.addTask {
                        var claimed: [String] = []
                        while true {
                            let round = try await store.claimDueFollowUps(now: now, owner: owner, leaseUntil: lease, limit: 2).map { "reminder \($0.chat.id)" }
                                + (try await store.claimDueReplies(now: now, owner: owner, leaseUntil: lease, limit: 2).map { "reply \($0.chat.id)" })
                                + (try await store.claimDueOutbox(now: now, owner: owner, leaseUntil: lease, limit: 2).map { "outbox \($0.id)" })
                            if round.isEmpty { return claimed }
                            claimed += round
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let twice = Dictionary(grouping: claims, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            try ensure(twice.isEmpty, "handed to two claimers: \(twice.prefix(5))")
            try ensure(claims.count == 3 * count, "\(claims.count) claims, not \(3 * count)")
        },
        StoreContract(name: "a late result after the lease ran out and another claimer took the work is refused, and the new holder's work stands") { store in
            let chat = try await newChat(store)
            try await schedule(store, chat, at: t0)
            _ = try await store.updateChat(id: chat.id, { $0.replyDueAt = t0 }, followUp: nil)
            guard let queued = try await store.enqueue(NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "r1", text: "x", notBefore: t0),
                                                       usage: nil, followUp: nil)
            else { throw ContractViolation(description: "not queued") }
            let aUntil = t0.addingTimeInterval(60)
            let later = aUntil.addingTimeInterval(1)
            let bUntil = later.addingTimeInterval(60)
            // A claims everything, then stalls past its lease; B takes every row over.
            let aReminder = try await store.claimDueFollowUps(now: t0, owner: "a", leaseUntil: aUntil, limit: 10)
            let aReply = try await store.claimDueReplies(now: t0, owner: "a", leaseUntil: aUntil, limit: 10)
            let aOutbox = try await store.claimDueOutbox(now: t0, owner: "a", leaseUntil: aUntil, limit: 10)
            let bReminder = try await store.claimDueFollowUps(now: later, owner: "b", leaseUntil: bUntil, limit: 10)
            let bReply = try await store.claimDueReplies(now: later, owner: "b", leaseUntil: bUntil, limit: 10)
            let bOutbox = try await store.claimDueOutbox(now: later, owner: "b", leaseUntil: bUntil, limit: 10)
            try ensure([aReminder.count, aReply.count, aOutbox.count, bReminder.count, bReply.count, bOutbox.count] == [1, 1, 1, 1, 1, 1],
                       "each row claimed by a, then by b")
            guard let aLease = aOutbox[0].lease, let bLease = bOutbox[0].lease, let aReminderLease = aReminder[0].lease,
                let bReminderLease = bReminder[0].lease
            else { throw ContractViolation(description: "claims hand out no lease") }
            try ensure(aLease != bLease && aReminderLease != bReminderLease && aReply[0].lease != bReply[0].lease, "a new claim, a new lease")
            func refused(_ what: String, _ write: () async throws -> Void) async throws {
                do {
                    try await write()
                    throw ContractViolation(description: "\(what): a late write with a lost lease was accepted")
                } catch StoreError.leaseLost {}
            }
            // The outbox: A's late "sent" is refused; B's outcome is recorded.
            try await refused("outbox") {
                try await store.complete(outboxID: queued.id, .sent(at: later, providerMessageIDs: ["late"]), lease: aLease, chatChange: nil, followUp: nil)
            }
            try ensure(try await store.messages(chatID: chat.id, limit: 10).allSatisfy { $0.providerMessageID != "late" }, "the refused result left a message")
            try ensure(try await store.outbox(chatID: chat.id).first?.status == .sending, "the refused result changed the entry")
            try await store.complete(outboxID: queued.id, .dead(at: later, error: "interrupted"), lease: bLease, chatChange: nil, followUp: nil)
            try await refused("outbox after b finished") {
                try await store.complete(outboxID: queued.id, .retry(at: later, error: "late"), lease: aLease, chatChange: nil, followUp: nil)
            }
            try ensure(try await store.outbox(chatID: chat.id).first?.status == .dead, "b's outcome stands")
            // The reminder: B queues it; A's late decisions are refused and change nothing.
            let reminder = NewOutboxEntry(chatID: chat.id, purpose: .reminder, idempotencyKey: "reminder:1:1", text: "b's", notBefore: later, followUpRun: 1, followUpStep: 1)
            try await refused("reminder enqueue") {
                _ = try await store.enqueue(
                    NewOutboxEntry(chatID: chat.id, purpose: .reminder, idempotencyKey: "reminder:1:1", text: "a's", notBefore: later, followUpRun: 1, followUpStep: 1),
                    usage: nil, lease: aReminderLease, chatChange: nil) { state, _ in
                    state.status = .sending
                    return []
                }
            }
            try await refused("reminder update") {
                try await store.updateFollowUp(chatID: chat.id, lease: aReminderLease) { state, _ in
                    state.attempts += 1
                    return []
                }
            }
            // B holds it: a change that keeps the work keeps B's lease, and B's enqueue goes through.
            try await store.updateFollowUp(chatID: chat.id, lease: bReminderLease) { state, _ in
                state.attempts += 1
                return []
            }
            let queuedReminder = try await store.enqueue(reminder, usage: nil, lease: bReminderLease, chatChange: nil) { state, _ in
                state.status = .sending
                return []
            }
            try ensure(queuedReminder != nil, "b's reminder was not queued")
            try await refused("reminder after b queued it") {
                try await store.updateFollowUp(chatID: chat.id, lease: bReminderLease) { state, _ in
                    state.status = .cancelled
                    return []
                }
            }
            let state = try await store.followUpState(chatID: chat.id)
            try ensure(state?.status == .sending && state?.attempts == 1, "the state is b's: \(String(describing: state))")
            try ensure(try await store.outbox(chatID: chat.id).map(\.entry.text).contains("b's"), "b's reminder is queued")
            // The reply: A's late answer is refused; B's settles the debt.
            try await refused("reply") {
                _ = try await store.enqueue(NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "answer", text: "a's answer", notBefore: later),
                                            usage: nil, lease: aReply[0].lease, chatChange: { $0.replyDueAt = nil }, followUp: nil)
            }
            try await refused("reply attempt count") {
                _ = try await store.updateChat(id: chat.id, lease: aReply[0].lease, { $0.replyAttempts += 1 }, followUp: nil)
            }
            _ = try await store.updateChat(id: chat.id, lease: bReply[0].lease, { $0.replyAttempts += 1 }, followUp: nil)
            _ = try await store.enqueue(NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "answer", text: "b's answer", notBefore: later),
                                        usage: nil, lease: bReply[0].lease, chatChange: { $0.replyDueAt = nil }, followUp: nil)
            let texts = try await store.outbox(chatID: chat.id).map(\.entry.text)
            try ensure(texts.contains("b's answer") && !texts.contains("a's answer") && !texts.contains("a's"), "outbox: \(texts)")
            try ensure(try await store.chat(id: chat.id)?.replyDueAt == nil, "b settled the debt")
        },
        StoreContract(name: "shared values change one at a time, lapse, and back leases, first values and token buckets") { store in
            // Concurrent read-modify-writes of one name (processes counting one client's failures) lose nothing.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        for _ in 0..<5 {
                            try await store.updateShared("counter", now: t0) { value in
                                value = SharedValue(String((value.flatMap { Int($0.value) } ?? 0) + 1), expires: nil)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let counter = try await store.shared("counter", now: t0)
            try ensure(counter?.value == "40", "counter: \(String(describing: counter))")
            try await store.updateShared("session", now: t0) { $0 = SharedValue("s", expires: t0.addingTimeInterval(60)) }
            try ensure(try await store.shared("session", now: t0.addingTimeInterval(59))?.value == "s", "live value")
            try ensure(try await store.shared("session", now: t0.addingTimeInterval(60)) == nil, "a lapsed value reads as absent")
            let seen = try await store.updateShared("session", now: t0.addingTimeInterval(61)) { value in value }
            try ensure(seen == nil, "a change sees a lapsed value as absent")
            try await store.updateShared("session", now: t0) { $0 = nil }
            try ensure(try await store.shared("session", now: t0) == nil, "removed")
            // Leases: one holder at a time, until it lapses or is given up.
            let racers = try await withThrowingTaskGroup(of: Bool.self) { group in
                for owner in ["a", "b", "c", "d"] {
                    group.addTask { try await store.acquireLease("poll:bot", owner: owner, now: t0, until: t0.addingTimeInterval(30)) }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            try ensure(racers.filter { $0 }.count == 1, "lease granted \(racers.filter { $0 }.count) times")
            let holder = try await store.shared("poll:bot", now: t0)?.value ?? ""
            try ensure(try await store.acquireLease("poll:bot", owner: holder, now: t0.addingTimeInterval(20), until: t0.addingTimeInterval(50)), "the holder renews")
            try ensure(!(try await store.acquireLease("poll:bot", owner: "x", now: t0.addingTimeInterval(40), until: t0.addingTimeInterval(70))), "renewed lease kept")
            try ensure(try await store.acquireLease("poll:bot", owner: "x", now: t0.addingTimeInterval(50), until: t0.addingTimeInterval(80)), "lapsed lease taken")
            try await store.releaseLease("poll:bot", owner: "x", now: t0.addingTimeInterval(51))
            try ensure(try await store.acquireLease("poll:bot", owner: "y", now: t0.addingTimeInterval(51), until: t0.addingTimeInterval(80)), "released lease taken")
            // First value wins.
            let first = try await store.firstValue("origin", "1", now: t0)
            let second = try await store.firstValue("origin", "2", now: t0)
            try ensure(first == "1" && second == "1", "first value kept: \(first), \(second)")
            // A bucket of 2, one token per 10 s.
            let takes = try await [0, 0, 0, 5, 10].asyncMap { offset in
                try await store.takeToken("bucket", capacity: 2, perSecond: 0.1, now: t0.addingTimeInterval(Double(offset)))
            }
            try ensure(takes[0] == nil && takes[1] == nil, "burst allowed: \(takes)")
            try ensure(takes[2].map { abs($0 - 10) < 0.001 } == true && takes[3].map { abs($0 - 5) < 0.001 } == true, "waits: \(takes)")
            try ensure(takes[4] == nil, "refilled: \(takes)")
        },
        StoreContract(name: "batched follow-up updates, queueing and outcomes: each item stands alone, a lost lease fails only its own") { store in
            var chats: [Chat] = []
            for i in 0..<3 {
                let chat = try await newChat(store, key: "b\(i)")
                try await schedule(store, chat, at: t0)
                chats.append(chat)
            }
            let claimed = try await store.claimDueFollowUps(now: t0, owner: "a", leaseUntil: t0.addingTimeInterval(60), limit: 10)
            try ensure(claimed.count == 3, "claimed \(claimed.count)")
            let leases = Dictionary(uniqueKeysWithValues: claimed.map { ($0.chat.id, $0.lease) })
            // Chat 1's reminder is moved by someone else (a client wrote): a's lease on it is gone.
            try await store.updateFollowUp(chatID: chats[1].id) { state, _ in
                state.sendsAt = t0.addingTimeInterval(3600)
                return []
            }
            func begin(_ chat: Chat) -> FollowUpUpdate {
                FollowUpUpdate(chatID: chat.id, lease: leases[chat.id] ?? nil) { state, _ in
                    state.attempts += 1
                    return [FollowUpDecision(kind: .scheduled, reason: .employeeMessage, run: state.run, step: 1, at: t0, detail: "composing")]
                }
            }
            let refusing = FollowUpUpdate(chatID: chats[2].id, lease: leases[chats[2].id] ?? nil) { _, _ in throw TransitionRejected("no") }
            let updates = try await store.updateFollowUps(
                [begin(chats[0]), begin(chats[1]), refusing, FollowUpUpdate(chatID: "no-such-chat", lease: nil) { _, _ in [] }, begin(chats[2])])
            try ensure(updates.count == 5, "one result per item: \(updates.count)")
            func lost<T>(_ result: Result<T, any Error>) -> Bool {
                if case .failure(StoreError.leaseLost) = result { return true }
                return false
            }
            try ensure((try? updates[0].get())?.attempts == 1 && (try? updates[4].get())?.attempts == 1, "held items written: \(updates)")
            try ensure(lost(updates[1]), "the lost lease is refused: \(updates[1])")
            if case .failure(let error) = updates[2] { try ensure(error is TransitionRejected, "the refusal is the item's: \(error)") } else {
                throw ContractViolation(description: "a refusing transition succeeded")
            }
            if case .failure(StoreError.unknownChat) = updates[3] {} else { throw ContractViolation(description: "unknown chat: \(updates[3])") }
            try ensure(try await store.followUpState(chatID: chats[1].id)?.attempts == 0, "the refused item changed its state")
            try ensure(try await store.decisions(chatID: chats[0].id).contains { $0.detail == "composing" }, "decisions of the batch are logged")
            try ensure(try await store.decisions(chatID: chats[1].id).allSatisfy { $0.detail != "composing" }, "the refused item logged a decision")

            // Queueing: the held reminders are queued (with their usage), the lost one is not, a used key answers nil.
            func reminder(_ chat: Chat, text: String = "r", fenced: Bool = true) -> OutboxEnqueue {
                OutboxEnqueue(
                    NewOutboxEntry(chatID: chat.id, purpose: .reminder, idempotencyKey: "reminder:1:1", text: text, notBefore: t0, followUpRun: 1, followUpStep: 1),
                    usage: UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reminder, usage: TokenUsage(promptTokens: 3, completionTokens: 4),
                                       model: "m", at: t0),
                    lease: fenced ? leases[chat.id] ?? nil : nil
                ) { state, _ in
                    state.status = .sending
                    return []
                }
            }
            // (Queueing moved chat 0's work on, which released a's lease: the repeat is unfenced.)
            let queued = try await store.enqueue([reminder(chats[0]), reminder(chats[1]), reminder(chats[2]), reminder(chats[0], text: "again", fenced: false)])
            try ensure(queued.count == 4, "one result per item")
            guard case .success(let first?) = queued[0], case .success(_?) = queued[2] else { throw ContractViolation(description: "held reminders not queued: \(queued)") }
            try ensure(lost(queued[1]), "the lost lease is refused: \(queued[1])")
            if case .success(nil) = queued[3] {} else { throw ContractViolation(description: "a used key was queued again: \(queued[3])") }
            try ensure(try await store.outbox(chatID: chats[1].id).isEmpty, "the refused item queued a message")
            try ensure(try await store.followUpState(chatID: chats[0].id)?.status == .sending, "the queued item's transition applied")
            try ensure(try await store.usage(chatID: chats[0].id).map(\.outboxID) == [first.id], "usage linked to its entry")
            try ensure(try await store.usage(chatID: chats[1].id).isEmpty, "the refused item recorded usage")

            // Outcomes: entry 1 was finished by someone else, so a's late outcome for it is refused.
            _ = try await store.enqueue(NewOutboxEntry(chatID: chats[1].id, purpose: .reply, idempotencyKey: "x", text: "x", notBefore: t0), usage: nil, followUp: nil)
            let deliveries = try await store.claimDueOutbox(now: t0, owner: "a", leaseUntil: t0.addingTimeInterval(60), limit: 10)
            try ensure(deliveries.count == 3, "deliveries claimed: \(deliveries.count)")
            let byChat = Dictionary(uniqueKeysWithValues: deliveries.map { ($0.entry.chatID, $0) })
            guard let d0 = byChat[chats[0].id], let d1 = byChat[chats[1].id], let d2 = byChat[chats[2].id] else {
                throw ContractViolation(description: "a delivery per chat")
            }
            try await store.complete(outboxID: d1.id, .cancelled(at: t0, reason: "operator"), chatChange: nil, followUp: nil)
            let outcomes = try await store.complete([
                OutboxCompletion(outboxID: d0.id, .sent(at: t0, providerMessageIDs: ["p0", "p0b"]), lease: d0.lease) { state, _ in
                    state.status = .finished
                    return [FollowUpDecision(kind: .sent, reason: .employeeMessage, run: state.run, step: 1, at: t0)]
                },
                OutboxCompletion(outboxID: d1.id, .sent(at: t0, providerMessageIDs: ["late"]), lease: d1.lease, followUp: nil),
                OutboxCompletion(outboxID: d2.id, .retry(at: t0.addingTimeInterval(30), error: "busy"), lease: d2.lease, followUp: nil),
                OutboxCompletion(outboxID: 999_999, .dead(at: t0, error: "x"), lease: nil, followUp: nil),
            ])
            try ensure(outcomes.count == 4, "one result per item")
            if case .failure(let error) = outcomes[0] { throw ContractViolation(description: "held outcome refused: \(error)") }
            if case .failure(let error) = outcomes[2] { throw ContractViolation(description: "held outcome refused: \(error)") }
            try ensure(lost(outcomes[1]), "the lost lease is refused: \(outcomes[1])")
            if case .failure(StoreError.unknownOutboxEntry) = outcomes[3] {} else { throw ContractViolation(description: "unknown entry: \(outcomes[3])") }
            let sent = try await store.messages(chatID: chats[0].id, limit: 10).filter { $0.author == .employee }
            try ensure(sent.count == 1 && sent[0].providerMessageID == "p0" && sent[0].outboxID == d0.id && sent[0].deliveredAt == t0, "sent message: \(sent)")
            try ensure(try await store.outbox(chatID: chats[0].id).first?.status == .sent, "entry 0 sent")
            try ensure(try await store.followUpState(chatID: chats[0].id)?.status == .finished, "entry 0's transition applied")
            try ensure(try await store.outbox(chatID: chats[1].id).first?.status == .cancelled, "the refused outcome changed entry 1")
            try ensure(try await store.messages(chatID: chats[1].id, limit: 10).allSatisfy { $0.providerMessageID != "late" }, "the refused outcome left a message")
            let retried = try await store.outbox(chatID: chats[2].id).first
            try ensure(retried?.status == .pending && retried?.lastError == "busy" && retried?.nextAttemptAt == t0.addingTimeInterval(30), "entry 2: \(String(describing: retried))")
            let statuses = try await store.recordDeliveryStatuses([DeliveryStatusUpdate(channelID: "tg", providerMessageID: "p0b", state: .read, at: t0)])
            try ensure(statuses.count == 1, "every provider id of a sent message points at it")

            // What the scheduler reads before acting: chat, state and the latest messages, oldest first.
            for i in 2...4 {
                _ = try await store.recordInbound(inbound("b0-\(i)", key: "b0", at: t0.addingTimeInterval(Double(i)), text: "m\(i)"), employeeID: "alexey") { _, _ in [] }
            }
            let contexts = try await store.chatContexts(ids: [chats[0].id, chats[1].id, "no-such-chat"], historyLimit: 2)
            try ensure(contexts.count == 2, "unknown ids are left out: \(contexts.keys)")
            try ensure(contexts[chats[0].id]?.history.map(\.text) == ["m3", "m4"], "history: \(contexts[chats[0].id]?.history.map(\.text) ?? [])")
            try ensure(contexts[chats[0].id]?.state?.status == .finished && contexts[chats[0].id]?.chat.id == chats[0].id, "chat and state")
            try ensure(try await store.chatContexts(ids: [chats[1].id], historyLimit: 0)[chats[1].id]?.history.isEmpty == true, "no history asked")
        },
        StoreContract(name: "a crashed claimer's reminders, replies and deliveries are taken over once its lease ends") { store in
            for i in 0..<3 {
                let chat = try await newChat(store, key: "k\(i)")
                try await schedule(store, chat, at: t0)
                _ = try await store.updateChat(id: chat.id, { $0.replyDueAt = t0 }, followUp: nil)
                _ = try await store.enqueue(NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "r", text: "x", notBefore: t0), usage: nil, followUp: nil)
            }
            let until = t0.addingTimeInterval(120)
            let crashed = (try await store.claimDueFollowUps(now: t0, owner: "crashed", leaseUntil: until, limit: 10).count,
                           try await store.claimDueReplies(now: t0, owner: "crashed", leaseUntil: until, limit: 10).count,
                           try await store.claimDueOutbox(now: t0, owner: "crashed", leaseUntil: until, limit: 10).count)
            try ensure(crashed == (3, 3, 3), "the first claimer got \(crashed)")
            // Until the lease ends nobody else gets them, and the wake times say when it does.
            let before = until.addingTimeInterval(-1)
            try ensure(try await store.claimDueFollowUps(now: before, owner: "b", leaseUntil: before.addingTimeInterval(60), limit: 10).isEmpty, "reminders taken early")
            try ensure(try await store.claimDueReplies(now: before, owner: "b", leaseUntil: before.addingTimeInterval(60), limit: 10).isEmpty, "replies taken early")
            try ensure(try await store.claimDueOutbox(now: before, owner: "b", leaseUntil: before.addingTimeInterval(60), limit: 10).isEmpty, "deliveries taken early")
            let wake = try await store.nextWakeTimes()
            try ensure(wake.reminders == until && wake.replies == until && wake.outbox == until, "wake times: \(wake)")
            let reminders = try await store.claimDueFollowUps(now: until, owner: "b", leaseUntil: until.addingTimeInterval(60), limit: 10)
            let replies = try await store.claimDueReplies(now: until, owner: "b", leaseUntil: until.addingTimeInterval(60), limit: 10)
            let deliveries = try await store.claimDueOutbox(now: until, owner: "b", leaseUntil: until.addingTimeInterval(60), limit: 10)
            try ensure(reminders.count == 3 && replies.count == 3 && deliveries.count == 3, "taken over: \(reminders.count), \(replies.count), \(deliveries.count)")
            try ensure(deliveries.allSatisfy(\.interrupted), "a taken-over delivery is reported interrupted")
            try ensure((reminders.map(\.lease?.owner) + replies.map(\.lease.owner) + deliveries.map(\.lease?.owner)).allSatisfy { $0 == "b" }, "b holds them")
            // The new holder's writes go through.
            for delivery in deliveries {
                try await store.complete(outboxID: delivery.id, .dead(at: until, error: "interrupted"), lease: delivery.lease, chatChange: nil, followUp: nil)
            }
            for reply in replies {
                _ = try await store.updateChat(id: reply.chat.id, lease: reply.lease, { $0.replyDueAt = nil }, followUp: nil)
            }
            for reminder in reminders {
                try await store.updateFollowUp(chatID: reminder.chat.id, lease: reminder.lease) { state, _ in
                    state.status = .finished
                    return []
                }
            }
            let left = try await store.nextWakeTimes()
            try ensure(left == WakeTimes(), "nothing left: \(left)")
        },
    ]
}


extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
