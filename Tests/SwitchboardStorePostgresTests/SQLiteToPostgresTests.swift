import Foundation
import SwitchboardCore
import SwitchboardStorePostgres
import SwitchboardStoreSQLite
import SwitchboardTesting
import Testing

/// `switchboard migrate --from sqlite:… --to postgres://…` in process: a SQLite store filled
/// through the Store API is copied into a new PostgreSQL database, and the PostgreSQL store
/// then answers every read as the SQLite one did, claims the pending reminder and outbox entry
/// when they fall due, deduplicates a redelivered message, and numbers new rows after the copied ones.
@Suite(.enabled(if: PostgresTestServer.isAvailable, "PostgreSQL is not installed (apt-get install postgresql)"))
struct SQLiteToPostgresTests {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    /// What the copy must carry over, filled through the Store API.
    struct Filled {
        var chat: Chat
        var other: Chat
        var reminderDue: Date
        var pendingOutboxAt: Date
    }

    static func fill(_ store: any Store) async throws -> Filled {
        let t0 = Self.t0
        func inbound(_ id: String, key: String, at: Date, text: String) -> InboundMessage {
            InboundMessage(channelID: "tg", conversationKey: key, providerMessageID: id, senderName: "Ana Ñúñez", chatTitle: "Ana Ñúñez",
                           receivedAt: at, text: text)
        }
        guard case .stored(let chat, _) = try await store.recordInbound(inbound("u1", key: "c1", at: t0, text: "Hi, is breakfast included?"),
                                                                         employeeID: "alexey", followUp: { _, _ in [] })
        else { throw ContractViolation(description: "first message not stored") }
        _ = try await store.recordInbound(inbound("u2", key: "c1", at: t0.addingTimeInterval(5), text: "and parking?"), employeeID: "alexey") { _, _ in [] }
        // A reply that went out in two parts (two provider ids), with its usage.
        let reply = NewOutboxEntry(chatID: chat.id, purpose: .reply, idempotencyKey: "reply:1", text: "Yes, both.", notBefore: t0.addingTimeInterval(10))
        let replyUsage = UsageRecord(employeeID: "alexey", chatID: chat.id, purpose: .reply, usage: TokenUsage(promptTokens: 120, completionTokens: 30),
                                     model: "gpt-4o-mini", at: t0.addingTimeInterval(10))
        _ = try await store.enqueue(reply, usage: replyUsage, followUp: nil)
        let claimed = try await store.claimDueOutbox(now: t0.addingTimeInterval(10), owner: "old", leaseUntil: t0.addingTimeInterval(70), limit: 10)
        try #require(claimed.count == 1)
        try await store.complete(
            outboxID: claimed[0].id, .sent(at: t0.addingTimeInterval(11), providerMessageIDs: ["m-900", "m-901"]), chatChange: nil, followUp: nil)
        _ = try await store.recordDeliveryStatuses([DeliveryStatusUpdate(channelID: "tg", providerMessageID: "m-901", state: .read, at: t0.addingTimeInterval(20))])
        // The chain armed by the reply: a reminder pending an hour later, with its decision.
        let reminderDue = t0.addingTimeInterval(3600)
        try await store.updateFollowUp(chatID: chat.id) { state, _ in
            state.run = 1
            state.status = .scheduled
            state.step = 1
            state.anchor = t0.addingTimeInterval(11)
            state.due = reminderDue
            state.sendsAt = reminderDue
            return [FollowUpDecision(kind: .scheduled, reason: .employeeMessage, run: 1, step: 1, at: t0.addingTimeInterval(11), due: reminderDue,
                                     sendsAt: reminderDue)]
        }
        // Another chat: an operator message waiting in the outbox, a reply owed, AI paused.
        guard case .stored(let other, _) = try await store.recordInbound(inbound("u3", key: "c2", at: t0.addingTimeInterval(30), text: "Call me"),
                                                                         employeeID: "maria", followUp: { _, _ in [] })
        else { throw ContractViolation(description: "second chat not stored") }
        let pendingOutboxAt = t0.addingTimeInterval(7200)
        _ = try await store.enqueue(
            NewOutboxEntry(chatID: other.id, purpose: .operator, idempotencyKey: "operator:1", text: "Calling at 5", author: .operator,
                           notBefore: pendingOutboxAt), usage: nil, followUp: nil)
        _ = try await store.updateChat(id: other.id, { chat in
            chat.replyDueAt = t0.addingTimeInterval(9000)
            chat.aiPausedUntil = t0.addingTimeInterval(600)
        }, followUp: nil)
        try await store.recordUsage(UsageRecord(employeeID: "maria", chatID: other.id, purpose: .reply, usage: TokenUsage(promptTokens: 7, completionTokens: 3),
                                                model: "gpt-4o-mini", at: t0.addingTimeInterval(31)))
        try await store.setCursor("telegram.tg.offset", to: "424242")
        return Filled(chat: try await store.existingChat(id: chat.id), other: try await store.existingChat(id: other.id), reminderDue: reminderDue,
                      pendingOutboxAt: pendingOutboxAt)
    }

    @Test func everyRowArrivesAndThePendingWorkStillFallsDue() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-copy-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let sqlite = try SQLiteStore(path: folder.appendingPathComponent("switchboard.sqlite").path)
        let filled = try await Self.fill(sqlite)
        let sourceCounts = try await sqlite.rowCounts()

        try await withPostgres { postgres in
            let copied = try await postgres.importAll(from: try sqlite.export(), replacing: false)
            // Every table that holds data in SQLite arrived, row for row (the full-text search
            // indexes, their shadow tables and what is still to index are the target's own).
            let copiedCounts = Dictionary(uniqueKeysWithValues: copied.map { ($0.name, $0.targetRows) })
            let searchIndexes = ["followups_search", "chats_search", "messages_search", "search_progress"]
            for (table, count) in sourceCounts where !searchIndexes.contains(where: { table.hasPrefix($0) }) {
                #expect(copiedCounts[table] == count, "\(table): \(count) in SQLite, \(copiedCounts[table].map(String.init) ?? "none") copied")
            }
            #expect(copied.allSatisfy { $0.sourceRows == $0.targetRows })
            #expect(copiedCounts["messages"] == 4 && copiedCounts["outbound_ids"] == 2 && copiedCounts["decisions"] == 1)

            // Reads through the PostgreSQL store match the SQLite store's, field for field.
            for chat in [filled.chat, filled.other] {
                #expect(try await postgres.chat(id: chat.id) == chat)
                #expect(try await postgres.messages(chatID: chat.id, limit: 50) == (try await sqlite.messages(chatID: chat.id, limit: 50)))
                #expect(try await postgres.decisions(chatID: chat.id) == (try await sqlite.decisions(chatID: chat.id)))
                #expect(try await postgres.followUpState(chatID: chat.id) == (try await sqlite.followUpState(chatID: chat.id)))
                #expect(try await postgres.outbox(chatID: chat.id) == (try await sqlite.outbox(chatID: chat.id)))
                #expect(try await postgres.usage(chatID: chat.id) == (try await sqlite.usage(chatID: chat.id)))
            }
            let sent = try await postgres.messages(chatID: filled.chat.id, limit: 50).first { $0.author == .employee }
            #expect(sent?.deliveryState == .read, "the delivery status reported for the second part")
            #expect(try await postgres.cursor("telegram.tg.offset") == "424242")
            #expect(try await postgres.nextWakeTimes() == (try await sqlite.nextWakeTimes()))
            #expect(try await postgres.pendingFollowUps(FollowUpQuery(search: "nunez")).items.map(\.chat.id) == [filled.chat.id], "the search finds the copied chat")
            let dailyUsage = try await postgres.tokenUsage(employeeID: "alexey", purpose: nil, from: Self.t0, to: Self.t0.addingTimeInterval(86400))
            #expect(dailyUsage.totalTokens == 150)

            // The pending reminder falls due at its time, not before, and the pending outbox entry with it.
            let early = try await postgres.claimDueFollowUps(
                now: filled.reminderDue.addingTimeInterval(-1), owner: "new", leaseUntil: filled.reminderDue.addingTimeInterval(60), limit: 10)
            #expect(early.isEmpty)
            let due = try await postgres.claimDueFollowUps(now: filled.reminderDue, owner: "new", leaseUntil: filled.reminderDue.addingTimeInterval(60), limit: 10)
            #expect(due.map(\.chat.id) == [filled.chat.id] && due.first?.state.step == 1)
            let outbox = try await postgres.claimDueOutbox(now: filled.pendingOutboxAt, owner: "new", leaseUntil: filled.pendingOutboxAt.addingTimeInterval(60), limit: 10)
            #expect(outbox.map(\.entry.text) == ["Calling at 5"], "the operator's message is still to be sent, once")
            #expect(try await postgres.claimDueReplies(now: Self.t0.addingTimeInterval(9000), owner: "new", leaseUntil: Self.t0.addingTimeInterval(9060), limit: 10)
                .map(\.chat.id) == [filled.other.id])

            // A provider redelivering a copied message is deduplicated; a new one is numbered after the copied rows.
            let redelivered = InboundMessage(channelID: "tg", conversationKey: "c1", providerMessageID: "u1", senderName: "Ana Ñúñez", chatTitle: nil,
                                             receivedAt: Self.t0.addingTimeInterval(100), text: "Hi, is breakfast included?")
            #expect(try await postgres.recordInbound(redelivered, employeeID: "alexey") { _, _ in [] } == .duplicate)
            var fresh = redelivered
            fresh.providerMessageID = "u4"
            guard case .stored(_, let message) = try await postgres.recordInbound(fresh, employeeID: "alexey", followUp: { _, _ in [] }) else {
                Issue.record("a new message was not stored")
                return
            }
            let copiedIDs = try await sqlite.messages(chatID: filled.chat.id, limit: 50).map(\.id) + (try await sqlite.messages(chatID: filled.other.id, limit: 50).map(\.id))
            #expect(message.id > copiedIDs.max()!, "new ids come after the copied ones")

            // A second copy into the now non-empty database is refused and changes nothing; --replace starts over.
            let refusal = await #expect(throws: PostgresStoreError.self) { try await postgres.importAll(from: try sqlite.export(), replacing: false) }
            #expect(refusal?.description.contains("already holds data") == true, "\(String(describing: refusal))")
            #expect(try await postgres.messages(chatID: filled.chat.id, limit: 50).count == 4, "the refused copy left the new message")
            let replaced = try await postgres.importAll(from: try sqlite.export(), replacing: true)
            #expect(replaced.first { $0.name == "messages" }?.targetRows == 4)
            #expect(try await postgres.messages(chatID: filled.chat.id, limit: 50) == (try await sqlite.messages(chatID: filled.chat.id, limit: 50)))
        }
    }

    @Test func theSchemaVersionIsReadWithoutMigratingAndThenBroughtUpToDate() async throws {
        let server = try await PostgresTestServer.shared()
        var configuration = PostgresStoreContractTests.configuration(server, try await server.createDatabase())
        configuration.migratesOnStart = false
        let store = PostgresStore(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            #expect(try await store.schemaVersion() == 0)
            try await store.migrateSchema()
            #expect(try await store.schemaVersion() == PostgresStore.currentSchemaVersion)
            group.cancelAll()
        }
    }

    func withPostgres(_ body: @Sendable (PostgresStore) async throws -> Void) async throws {
        let server = try await PostgresTestServer.shared()
        let store = PostgresStore(configuration: PostgresStoreContractTests.configuration(server, try await server.createDatabase()))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            try await body(store)
            group.cancelAll()
        }
    }
}
