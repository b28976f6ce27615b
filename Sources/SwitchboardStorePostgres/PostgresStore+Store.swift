public import Foundation
import PostgresNIO
public import SwitchboardCore

extension PostgresStore {
    // MARK: - Chats and messages

    public func recordInbound(_ batch: [InboundRecord]) async throws -> [InboundResult] {
        guard !batch.isEmpty else { return [] }
        // Every process locks the chats of a batch in one order (by conversation), so two
        // processes' batches touching the same chats wait for each other instead of deadlocking
        // (which PostgreSQL detects only after deadlock_timeout, a second). A conversation's
        // messages keep their order.
        let order = batch.indices.sorted { a, b in
            let (x, y) = (batch[a].message, batch[b].message)
            return (x.channelID, x.conversationKey, a) < (y.channelID, y.conversationKey, b)
        }
        return try await write { tx in
            var results = [InboundResult?](repeating: nil, count: batch.count)
            for index in order { results[index] = try await Self.recordInbound(tx, batch[index]) }
            return results.map { $0! }
        }
    }

    /// One client message inside the batch's transaction, in a savepoint of its own: the message
    /// row is inserted or ignored by the unique index, and an ignored one rolls the savepoint
    /// back (the chat untouched). Two processes storing the same message both get this far;
    /// the second insert waits for the first to commit and then does nothing.
    private static func recordInbound(_ tx: Transaction, _ record: InboundRecord) async throws -> InboundResult {
        let message = record.message
        try await tx.query("SAVEPOINT inbound")
        var chat = try await lockOrCreateChat(tx, record)
        if message.event == .unreachable {
            chat.unreachable = true
        } else if message.isNewTurn {
            chat.recordClientTurn(at: message.receivedAt)
            // A client who writes again can be reached again.
            chat.unreachable = false
        }
        let answer = record.chatChange?(&chat)
        try await saveChat(tx, chat)
        let author: Author = message.event == nil ? .client : .system
        guard
            let row = try await tx.row(
                """
                INSERT INTO messages (chat_id, channel_id, provider_message_id, author, kind, text, at, is_edit, search_text)
                VALUES (\(chat.id), \(message.channelID), \(message.providerMessageID), \(author.rawValue), \(message.kind.rawValue),
                        \(message.text), \(message.receivedAt.seconds), \(message.isEdit), \(SearchText.normalize(message.text)))
                ON CONFLICT DO NOTHING
                RETURNING id
                """)
        else {
            try await tx.query("ROLLBACK TO SAVEPOINT inbound")
            try await tx.query("RELEASE SAVEPOINT inbound")
            return .duplicate
        }
        let stored = StoredMessage(id: try row.get("id"), chatID: chat.id, author: author, kind: message.kind, text: message.text,
                                   at: message.receivedAt, providerMessageID: message.providerMessageID, isEdit: message.isEdit)
        if let answer { try await insertOutbox(tx, answer) }
        try await transition(tx, chat: chat, record.followUp)
        try await tx.query("RELEASE SAVEPOINT inbound")
        return .stored(chat, stored)
    }

    /// The message's chat, locked; created on first contact. When another process creates the
    /// same conversation's chat at the same moment, the insert waits for it and does nothing,
    /// and its chat is taken.
    private static func lockOrCreateChat(_ tx: Transaction, _ record: InboundRecord) async throws -> Chat {
        let message = record.message
        if var chat = try await lockChat(tx, channelID: message.channelID, key: message.conversationKey) {
            if let title = message.chatTitle, !title.isEmpty { chat.title = title }
            if let name = message.senderName, !name.isEmpty { chat.clientName = name }
            return chat
        }
        let id = newChatID()
        let title = message.chatTitle ?? message.senderName ?? "Client \(id.prefix(6))"
        let chat = Chat(id: id, channelID: message.channelID, conversationKey: message.conversationKey, employeeID: record.employeeID,
                        title: title, clientName: message.senderName, createdAt: message.receivedAt)
        let inserted = try await tx.row(
            """
            INSERT INTO chats (id, channel_id, conversation_key, employee_id, title, client_name, search_text, created_at)
            VALUES (\(chat.id), \(chat.channelID), \(chat.conversationKey), \(chat.employeeID), \(chat.title), \(chat.clientName),
                    \(SearchText.index(title: chat.title, clientName: chat.clientName)), \(chat.createdAt.seconds))
            ON CONFLICT (channel_id, conversation_key) DO NOTHING
            RETURNING id
            """)
        if inserted != nil { return chat }
        guard var existing = try await lockChat(tx, channelID: message.channelID, key: message.conversationKey) else {
            throw PostgresStoreError("the chat for \(message.channelID)/\(message.conversationKey) vanished while it was being created")
        }
        if let title = message.chatTitle, !title.isEmpty { existing.title = title }
        if let name = message.senderName, !name.isEmpty { existing.clientName = name }
        return existing
    }

    public func appendMessage(_ message: NewMessage, followUp: FollowUpTransition?) async throws -> StoredMessage {
        try await write { tx in
            guard let chat = try await Self.fetchChat(tx, id: message.chatID) else { throw StoreError.unknownChat(message.chatID) }
            let stored = try await Self.insertMessage(
                tx, chat: chat, author: message.author, kind: message.kind, text: message.text, at: message.at, providerMessageID: nil, step: nil)
            if let followUp { try await Self.transition(tx, chat: chat, followUp) }
            return stored
        }
    }

    public func updateChat(id: String, lease: Lease?, _ change: @escaping @Sendable (inout Chat) -> Void, followUp: FollowUpTransition?) async throws -> Chat {
        try await write { tx in
            guard var chat = try await Self.fetchChat(tx, id: id) else { throw StoreError.unknownChat(id) }
            try await Self.ensureHeld(tx, lease, chatID: id)
            change(&chat)
            try await Self.saveChat(tx, chat)
            if let followUp { try await Self.transition(tx, chat: chat, followUp) }
            return chat
        }
    }

    public func chat(id: String) async throws -> Chat? {
        try await read { tx in try await Self.fetchChat(tx, id: id, lock: false) }
    }

    public func chat(channelID: String, conversationKey: String) async throws -> Chat? {
        try await read { tx in
            try await tx.row("SELECT * FROM chats WHERE channel_id = \(channelID) AND conversation_key = \(conversationKey)").map(Self.chat)
        }
    }

    public func messages(chatID: String, limit: Int) async throws -> [StoredMessage] {
        try await read { tx in
            try await tx.rows("SELECT * FROM messages WHERE chat_id = \(chatID) ORDER BY id DESC LIMIT \(limit)").reversed().map(Self.message)
        }
    }

    public func messages(chatID: String, after afterID: Int64, limit: Int) async throws -> [StoredMessage] {
        try await read { tx in
            try await tx.rows("SELECT * FROM messages WHERE chat_id = \(chatID) AND id > \(afterID) ORDER BY id LIMIT \(limit)").map(Self.message)
        }
    }

    public func markDelivered(chatID: String, messageIDs: [Int64], at: Date) async throws {
        guard !messageIDs.isEmpty else { return }
        try await write { tx in
            try await tx.query(
                "UPDATE messages SET delivered_at = \(at.seconds) WHERE chat_id = \(chatID) AND delivered_at IS NULL AND id = ANY(\(messageIDs))")
        }
    }

    public func recordDeliveryStatuses(_ updates: [DeliveryStatusUpdate]) async throws -> [DeliveryStatusEffect] {
        guard !updates.isEmpty else { return [] }
        return try await write { tx in
            var effects: [DeliveryStatusEffect] = []
            for update in updates {
                guard
                    let row = try await tx.row(
                        """
                        SELECT m.* FROM outbound_ids o JOIN messages m ON m.id = o.message_id
                        WHERE o.channel_id = \(update.channelID) AND o.provider_message_id = \(update.providerMessageID)
                        FOR UPDATE OF m
                        """)
                else { continue }
                var message = try Self.message(row)
                guard update.state.supersedes(message.deliveryState) else { continue }
                message.deliveryState = update.state
                message.deliveryError = update.state == .failed ? update.error : nil
                if update.state == .delivered || update.state == .read, message.deliveredAt == nil { message.deliveredAt = update.at }
                try await tx.query(
                    """
                    UPDATE messages SET delivery_state = \(update.state.rawValue), delivery_error = \(message.deliveryError),
                      delivered_at = \(message.deliveredAt?.seconds) WHERE id = \(message.id)
                    """)
                var outbox: OutboxEntry?
                if let id = message.outboxID { outbox = try await tx.row("SELECT * FROM outbox WHERE id = \(id)").map(Self.outboxEntry) }
                effects.append(DeliveryStatusEffect(update: update, message: message, outbox: outbox))
            }
            return effects
        }
    }

    // MARK: - Follow-ups

    public func followUpState(chatID: String) async throws -> FollowUpState? {
        try await read { tx in
            try await tx.row("SELECT state FROM followups WHERE chat_id = \(chatID)").map { try Self.decodeState(try $0.get("state")) }
        }
    }

    public func updateFollowUp(chatID: String, lease: Lease?, _ transition: @escaping FollowUpTransition) async throws -> FollowUpState {
        try await write { tx in
            guard let chat = try await Self.fetchChat(tx, id: chatID) else { throw StoreError.unknownChat(chatID) }
            try await Self.ensureHeld(tx, lease, chatID: chatID)
            return try await Self.transition(tx, chat: chat, transition)
        }
    }

    public func updatePendingFollowUps(employeeID: String, _ transition: @escaping FollowUpTransition) async throws -> Int {
        try await write { tx in
            // In id order, so two processes doing this lock the chats in the same order.
            let ids = try await tx.rows(
                "SELECT chat_id FROM followups WHERE employee_id = \(employeeID) AND status IN ('scheduled', 'sending') ORDER BY chat_id"
            ).map { try $0.get("chat_id", as: String.self) }
            for id in ids {
                guard let chat = try await Self.fetchChat(tx, id: id) else { continue }
                try await Self.transition(tx, chat: chat, transition)
            }
            return ids.count
        }
    }

    public func claimDueFollowUps(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [DueFollowUp] {
        try await write { tx in
            let t = now.seconds
            // SKIP LOCKED: rows another claimer (or a transition) holds are passed over, and a
            // row whose lease was taken meanwhile is re-checked against the condition.
            let leased = try await tx.rows(
                """
                WITH due AS (
                  SELECT chat_id FROM followups
                  WHERE status = 'scheduled' AND sends_at <= \(t) AND (lease_until IS NULL OR lease_until <= \(t))
                  ORDER BY sends_at LIMIT \(limit)
                  FOR UPDATE SKIP LOCKED)
                UPDATE followups f SET lease_owner = \(owner), lease_until = \(leaseUntil.seconds), lease_token = f.lease_token + 1
                FROM due WHERE f.chat_id = due.chat_id
                RETURNING f.chat_id, f.sends_at, f.state, f.lease_token
                """)
            guard !leased.isEmpty else { return [] }
            let ids = try leased.map { try $0.get("chat_id", as: String.self) }
            var chats: [String: Chat] = [:]
            for row in try await tx.rows("SELECT * FROM chats WHERE id = ANY(\(ids))") {
                let chat = try Self.chat(row)
                chats[chat.id] = chat
            }
            return try leased.compactMap { row -> (Double, DueFollowUp)? in
                guard let chat = chats[try row.get("chat_id")] else { return nil }
                let lease = Lease(work: .reminder, owner: owner, token: try row.get("lease_token"))
                return (try row.get("sends_at", as: Double?.self) ?? 0, DueFollowUp(chat: chat, state: try Self.decodeState(try row.get("state")), lease: lease))
            }.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    public func decisions(chatID: String) async throws -> [FollowUpDecision] {
        try await read { tx in
            try await tx.rows("SELECT * FROM decisions WHERE chat_id = \(chatID) ORDER BY id").map { row in
                FollowUpDecision(
                    kind: FollowUpDecision.Kind(rawValue: try row.get("kind")) ?? .scheduled,
                    reason: ReasonCode(rawValue: try row.get("reason")) ?? .employeeMessage,
                    run: try row.get("run"), step: try row.get("step"), at: try row.requiredDate("at"), due: try row.date("due"),
                    sendsAt: try row.date("sends_at"), detail: try row.get("detail"))
            }
        }
    }

    /// Pending reminders matching the query, soonest first. The search is a substring match on
    /// the normalized text (`LIKE '%…%'`), which the pg_trgm index answers where the extension
    /// exists (migration 2); otherwise PostgreSQL scans the pending rows.
    public func pendingFollowUps(_ query: FollowUpQuery) async throws -> FollowUpPage {
        let search = query.search.map(SearchText.normalize) ?? ""
        var sql = SQLBuilder()
        var conditions = ["f.status IN ('scheduled', 'sending')"]
        if let employee = query.employeeID { conditions.append("f.employee_id = \(sql.bind(employee))") }
        if !search.isEmpty {
            let pattern = "%" + search.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            var alternatives = ["f.search_text LIKE \(sql.bind(pattern))"]
            if !query.employeesMatchingSearch.isEmpty {
                alternatives.append("f.employee_id = ANY(\(sql.bind(query.employeesMatchingSearch.sorted())))")
            }
            conditions.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        let condition = conditions.joined(separator: " AND ")
        let countQuery = sql.query("SELECT count(*) AS n FROM followups f WHERE \(condition)")
        let limit = sql.bind(query.limit)
        let pageQuery = sql.query(
            """
            SELECT c.*, f.state AS followup_state FROM followups f JOIN chats c ON c.id = f.chat_id
            WHERE \(condition) ORDER BY f.sends_at NULLS FIRST, f.chat_id LIMIT \(limit)
            """)
        return try await read { tx in
            let items = try await tx.rows(pageQuery).map { row in
                PendingFollowUp(chat: try Self.chat(row), state: try Self.decodeState(try row.get("followup_state")))
            }
            // A short page is the whole answer.
            guard items.count >= query.limit else { return FollowUpPage(items: items, total: items.count) }
            let total = try await tx.row(countQuery)?.get("n", as: Int.self) ?? 0
            return FollowUpPage(items: items, total: total)
        }
    }

    // MARK: - Outbox

    public func enqueue(
        _ entry: NewOutboxEntry, usage: UsageRecord?, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws -> OutboxEntry? {
        try await write { tx in
            guard var chat = try await Self.fetchChat(tx, id: entry.chatID) else { throw StoreError.unknownChat(entry.chatID) }
            try await Self.ensureHeld(tx, lease, chatID: entry.chatID)
            if try await tx.row("SELECT 1 FROM outbox WHERE chat_id = \(entry.chatID) AND idempotency_key = \(entry.idempotencyKey)") != nil {
                return nil
            }
            if let chatChange {
                chatChange(&chat)
                try await Self.saveChat(tx, chat)
            }
            if let followUp { try await Self.transition(tx, chat: chat, followUp) }
            guard let queued = try await Self.insertOutbox(tx, entry) else { return nil }
            if var usage {
                usage.outboxID = queued.id
                try await Self.insertUsage(tx, usage)
            }
            return queued
        }
    }

    public func claimDueOutbox(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [OutboxEntry] {
        try await write { tx in
            let t = now.seconds
            let rows = try await tx.rows(
                """
                WITH due AS (
                  SELECT id, status AS previous_status FROM outbox
                  WHERE (status = 'pending' AND next_attempt_at <= \(t)) OR (status = 'sending' AND lease_until <= \(t))
                  ORDER BY next_attempt_at, id LIMIT \(limit)
                  FOR UPDATE SKIP LOCKED)
                UPDATE outbox o SET status = 'sending', lease_owner = \(owner), lease_until = \(leaseUntil.seconds), attempts = o.attempts + 1,
                  lease_token = o.lease_token + 1
                FROM due WHERE o.id = due.id
                RETURNING o.*, due.previous_status
                """)
            return try rows.map { row in
                var entry = try Self.outboxEntry(row)
                entry.interrupted = try row.get("previous_status", as: String.self) == OutboxStatus.sending.rawValue
                entry.lease = Lease(work: .outbox, owner: owner, token: try row.get("lease_token"))
                return entry
            }.sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
        }
    }

    public func claimDueReplies(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [DueReply] {
        try await write { tx in
            let t = now.seconds
            let rows = try await tx.rows(
                """
                WITH due AS (
                  SELECT id FROM chats
                  WHERE reply_due_at IS NOT NULL AND reply_due_at <= \(t) AND (reply_lease_until IS NULL OR reply_lease_until <= \(t))
                  ORDER BY reply_due_at LIMIT \(limit)
                  FOR UPDATE SKIP LOCKED)
                UPDATE chats c SET reply_lease_owner = \(owner), reply_lease_until = \(leaseUntil.seconds), reply_lease_token = c.reply_lease_token + 1
                FROM due WHERE c.id = due.id
                RETURNING c.*
                """)
            return try rows.map { row in DueReply(chat: try Self.chat(row), lease: Lease(work: .reply, owner: owner, token: try row.get("reply_lease_token"))) }
                .sorted { ($0.chat.replyDueAt ?? .distantPast) < ($1.chat.replyDueAt ?? .distantPast) }
        }
    }

    public func complete(
        outboxID: Int64, _ outcome: OutboxOutcome, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws {
        try await write { tx in
            // The chat is locked before its outbox row, as on every other write path.
            guard let chatID = try await tx.row("SELECT chat_id FROM outbox WHERE id = \(outboxID)")?.get("chat_id", as: String.self) else {
                throw StoreError.unknownOutboxEntry(outboxID)
            }
            guard var chat = try await Self.fetchChat(tx, id: chatID) else { throw StoreError.unknownChat(chatID) }
            guard let row = try await tx.row("SELECT * FROM outbox WHERE id = \(outboxID) FOR UPDATE") else { throw StoreError.unknownOutboxEntry(outboxID) }
            if let lease,
                try lease.work != .outbox || row.get("lease_owner", as: String?.self) != lease.owner || row.get("lease_token", as: Int64.self) != lease.token
            {
                throw StoreError.leaseLost(lease, id: String(outboxID))
            }
            let entry = try Self.outboxEntry(row)
            switch outcome {
            case .sent(let at, let ids, let delivered):
                try await tx.query(
                    "UPDATE outbox SET status = 'sent', sent_at = \(at.seconds), lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = \(outboxID)")
                let sent = try await Self.insertMessage(
                    tx, chat: chat, author: entry.entry.author, kind: .text, text: entry.entry.text, at: at, providerMessageID: ids.first,
                    step: entry.entry.followUpStep, outboxID: outboxID)
                for id in ids {
                    try await tx.query(
                        """
                        INSERT INTO outbound_ids (channel_id, provider_message_id, message_id) VALUES (\(chat.channelID), \(id), \(sent.id))
                        ON CONFLICT DO NOTHING
                        """)
                }
                if delivered { try await tx.query("UPDATE messages SET delivered_at = \(at.seconds) WHERE id = \(sent.id)") }
            case .retry(let at, let error):
                try await tx.query(
                    """
                    UPDATE outbox SET status = 'pending', next_attempt_at = \(at.seconds), last_error = \(error), lease_owner = NULL, lease_until = NULL
                    WHERE id = \(outboxID)
                    """)
            case .postponed(let at, let reason):
                try await tx.query(
                    """
                    UPDATE outbox SET status = 'pending', next_attempt_at = \(at.seconds), last_error = \(reason), attempts = greatest(attempts - 1, 0),
                      lease_owner = NULL, lease_until = NULL WHERE id = \(outboxID)
                    """)
            case .dead(_, let error):
                try await tx.query("UPDATE outbox SET status = 'dead', last_error = \(error), lease_owner = NULL, lease_until = NULL WHERE id = \(outboxID)")
            case .cancelled(_, let reason):
                try await tx.query(
                    "UPDATE outbox SET status = 'cancelled', last_error = \(reason), lease_owner = NULL, lease_until = NULL WHERE id = \(outboxID)")
            }
            if let chatChange {
                chatChange(&chat)
                try await Self.saveChat(tx, chat)
            }
            if let followUp { try await Self.transition(tx, chat: chat, followUp) }
        }
    }

    public func outbox(chatID: String) async throws -> [OutboxEntry] {
        try await read { tx in try await tx.rows("SELECT * FROM outbox WHERE chat_id = \(chatID) ORDER BY id").map(Self.outboxEntry) }
    }

    public func nextWakeTimes() async throws -> WakeTimes {
        try await read { tx in
            guard
                let row = try await tx.row(
                    """
                    SELECT
                      (SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending') AS outbox_due,
                      (SELECT min(lease_until) FROM outbox WHERE status = 'sending') AS outbox_lease,
                      -- A lease is dropped whenever reply_due_at changes, so a leased chat's lease ends after its due time.
                      (SELECT reply_due_at FROM chats WHERE reply_due_at IS NOT NULL AND reply_lease_until IS NULL ORDER BY reply_due_at LIMIT 1) AS reply_due,
                      (SELECT min(reply_lease_until) FROM chats WHERE reply_lease_until IS NOT NULL AND reply_due_at IS NOT NULL) AS reply_lease,
                      (SELECT sends_at FROM followups WHERE status = 'scheduled' AND lease_until IS NULL ORDER BY sends_at LIMIT 1) AS reminder_due,
                      -- A claimed reminder is due already; it needs attention again when its lease runs out.
                      (SELECT min(lease_until) FROM followups WHERE lease_until IS NOT NULL AND status = 'scheduled') AS reminder_lease
                    """)
            else { return WakeTimes() }
            func earliest(_ columns: String...) throws -> Date? {
                try columns.compactMap { try row.get($0, as: Double?.self) }.min().map { Date(timeIntervalSince1970: $0) }
            }
            return WakeTimes(
                outbox: try earliest("outbox_due", "outbox_lease"), replies: try earliest("reply_due", "reply_lease"), reminders: try earliest("reminder_due", "reminder_lease"))
        }
    }

    /// LISTENs on a connection of its own; every process's store NOTIFYs when a transaction
    /// armed or moved a reminder or queued a message (`Transaction.wakesOthers`). The
    /// connection is re-established after a failure, with a wakeup then, since signals sent
    /// meanwhile were missed.
    public func wakeups() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let listener = Task {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: Self.wakeChannel) { notifications in
                            continuation.yield()
                            for try await notification in notifications where notification.payload != self.instanceID {
                                continuation.yield()
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.debug("postgres: listening for other processes' work failed; retrying", metadata: ["error": "\(Self.describe(error))"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        continuation.onTermination = { _ in listener.cancel() }
        return stream
    }

    // MARK: - Usage and cursors

    public func recordUsage(_ usage: UsageRecord) async throws {
        try await write { tx in try await Self.insertUsage(tx, usage) }
    }

    public func tokenUsage(employeeID: String, purpose: UsagePurpose?, from: Date, to: Date) async throws -> TokenUsage {
        try await read { tx in
            let row = try await tx.row(
                """
                SELECT coalesce(sum(prompt_tokens), 0)::bigint AS p, coalesce(sum(completion_tokens), 0)::bigint AS c FROM token_usage
                WHERE employee_id = \(employeeID) AND at >= \(from.seconds) AND at < \(to.seconds)
                  AND (\(purpose?.rawValue)::text IS NULL OR purpose = \(purpose?.rawValue))
                """)
            return TokenUsage(promptTokens: try row?.get("p", as: Int.self) ?? 0, completionTokens: try row?.get("c", as: Int.self) ?? 0)
        }
    }

    public func tokenUsageByDay(employeeID: String, purpose: UsagePurpose?, from: Date, to: Date, timeZone: TimeZone) async throws -> [DailyTokenUsage] {
        // Summed per quarter hour — every zone's offset is a whole number of quarter hours — and
        // folded into the employee's local days here, as the SQLite store does.
        let quarters = try await read { tx in
            try await tx.rows(
                """
                SELECT floor(at / 900)::bigint AS quarter, sum(prompt_tokens)::bigint AS p, sum(completion_tokens)::bigint AS c
                FROM token_usage WHERE employee_id = \(employeeID) AND at >= \(from.seconds) AND at < \(to.seconds)
                  AND (\(purpose?.rawValue)::text IS NULL OR purpose = \(purpose?.rawValue)) GROUP BY quarter
                """
            ).map { row -> (Int64, Int, Int) in (try row.get("quarter"), try row.get("p"), try row.get("c")) }
        }
        var days: [LocalDate: TokenUsage] = [:]
        for (quarter, prompt, completion) in quarters {
            let instant = Date(timeIntervalSince1970: Double(quarter) * 900)
            let local = instant.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: instant))
            let day = LocalDate(dayNumber: Int((local / 86400).rounded(.down)))
            days[day, default: .zero].promptTokens += prompt
            days[day, default: .zero].completionTokens += completion
        }
        return days.map { DailyTokenUsage(date: $0.key, usage: $0.value) }.sorted { $0.date < $1.date }
    }

    public func usage(chatID: String) async throws -> [UsageRecord] {
        try await read { tx in try await tx.rows("SELECT * FROM token_usage WHERE chat_id = \(chatID) ORDER BY id").map(Self.usage) }
    }

    public func cursor(_ name: String) async throws -> String? {
        try await read { tx in try await tx.row("SELECT value FROM cursors WHERE name = \(name)")?.get("value", as: String.self) }
    }

    public func setCursor(_ name: String, to value: String) async throws {
        try await write { tx in
            try await tx.query("INSERT INTO cursors (name, value) VALUES (\(name), \(value)) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        }
    }

    // MARK: - Shared state

    public func updateShared<T: Sendable>(_ name: String, now: Date, _ change: @escaping @Sendable (inout SharedValue?) throws -> T) async throws -> T {
        try await write { tx in
            let t = now.seconds
            // A lapsed placeholder row makes sure there is a row to lock: two processes changing
            // a name nobody set yet take turns instead of both inserting.
            try await tx.query("INSERT INTO shared_state (name, value, expires_at) VALUES (\(name), '', 0) ON CONFLICT (name) DO NOTHING")
            var value = try await tx.row("SELECT value, expires_at FROM shared_state WHERE name = \(name) FOR UPDATE").flatMap { row -> SharedValue? in
                let expires = try row.date("expires_at")
                guard expires.map({ $0.seconds > t }) ?? true else { return nil }
                return SharedValue(try row.get("value"), expires: expires)
            }
            let result = try change(&value)
            if let value {
                try await tx.query("UPDATE shared_state SET value = \(value.value), expires_at = \(value.expires?.seconds) WHERE name = \(name)")
            } else {
                try await tx.query("DELETE FROM shared_state WHERE name = \(name)")
            }
            // Lapsed values are swept now and then (they read as absent meanwhile).
            if Int.random(in: 0..<256) == 0 { try await tx.query("DELETE FROM shared_state WHERE expires_at <= \(t)") }
            return result
        }
    }

    public func shared(_ name: String, now: Date) async throws -> SharedValue? {
        try await read { tx in
            try await tx.row(
                "SELECT value, expires_at FROM shared_state WHERE name = \(name) AND (expires_at IS NULL OR expires_at > \(now.seconds))"
            ).map { SharedValue(try $0.get("value"), expires: try $0.date("expires_at")) }
        }
    }
}

extension PostgresStore {
    /// The Chats inbox (migration 3): newest activity first, keyset pages. The search is a
    /// substring match on the normalized texts of the chat and its messages, which pg_trgm's
    /// indexes answer where the extension exists.
    public func chatInbox(_ query: ChatInboxQuery) async throws -> ChatInboxPage {
        let search = query.search.map(SearchText.normalize) ?? ""
        var sql = SQLBuilder()
        var conditions: [String] = []
        if let employee = query.employeeID { conditions.append("c.employee_id = \(sql.bind(employee))") }
        if let channel = query.channelID { conditions.append("c.channel_id = \(sql.bind(channel))") }
        if let state = query.state {
            switch state {
            case .waiting: conditions.append("c.last_author = 'client'")
            case .scheduled: conditions.append("c.followup_status IN ('scheduled', 'sending')")
            case .finished: conditions.append("c.followup_status = 'finished'")
            case .optedOut: conditions.append("c.opted_out")
            case .unreachable: conditions.append("c.unreachable")
            case .deadLetter: conditions.append("c.dead_letters > 0")
            }
        }
        if let after = query.after {
            conditions.append("(c.last_activity_at, c.id) < (\(sql.bind(after.lastActivityAt.seconds)), \(sql.bind(after.chatID)))")
        }
        if !search.isEmpty {
            let pattern = "%" + search.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            let bound = sql.bind(pattern)
            var alternatives = ["c.search_text LIKE \(bound)"]
            // As in SQLite, message text is searched from three characters on.
            if search.unicodeScalars.count >= 3 {
                alternatives.append("c.id IN (SELECT m.chat_id FROM messages m WHERE m.search_text LIKE \(bound))")
            }
            if !query.employeesMatchingSearch.isEmpty {
                alternatives.append("c.employee_id = ANY(\(sql.bind(query.employeesMatchingSearch.sorted())))")
            }
            conditions.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = sql.bind(query.limit + 1)
        let pageQuery = sql.query(
            """
            SELECT c.*, f.state AS followup_state,
              (SELECT m.text FROM messages m WHERE m.chat_id = c.id ORDER BY m.id DESC LIMIT 1) AS last_text
            FROM chats c LEFT JOIN followups f ON f.chat_id = c.id
            \(whereClause)
            ORDER BY c.last_activity_at DESC, c.id DESC LIMIT \(limit)
            """)
        return try await read { tx in
            var items = try await tx.rows(pageQuery).map { row in
                ChatInboxRow(
                    chat: try Self.chat(row), lastActivityAt: try row.requiredDate("last_activity_at"),
                    lastAuthor: try row.get("last_author", as: String?.self).flatMap(Author.init(rawValue:)), lastMessage: try row.get("last_text"),
                    followUp: try row.get("followup_state", as: String?.self).map(Self.decodeState) ?? FollowUpState(),
                    deadLetters: try row.get("dead_letters", as: Int.self))
            }
            var next: ChatInboxCursor?
            if items.count > query.limit {
                items.removeLast()
                next = items.last?.cursor
            }
            return ChatInboxPage(items: items, next: next)
        }
    }
}
