import Foundation
import GRDB
import SwitchboardCore

// Row mapping and the shared steps of the store's transactions.
extension SQLiteStore {
    static func newChatID() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16).description
    }

    static func date(_ value: Double?) -> Date? { value.map { Date(timeIntervalSince1970: $0) } }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decodeState(_ json: String) throws -> FollowUpState {
        try FollowUpStateCodec.shared.decode(json)
    }

    static func chat(_ row: Row) -> Chat {
        Chat(
            id: row["id"], channelID: row["channel_id"], conversationKey: row["conversation_key"], employeeID: row["employee_id"],
            title: row["title"], clientName: row["client_name"], createdAt: date(row["created_at"])!,
            lastClientMessageAt: date(row["last_client_message_at"]), unreachable: row["unreachable"],
            aiPausedUntil: date(row["ai_paused_until"]), replyDueAt: date(row["reply_due_at"]), replyAttempts: row["reply_attempts"])
    }

    static func message(_ row: Row) -> StoredMessage {
        StoredMessage(
            id: row["id"], chatID: row["chat_id"], author: Author(rawValue: row["author"]) ?? .system,
            kind: MessageKind(rawValue: row["kind"]) ?? .unsupported, text: row["text"], at: date(row["at"])!,
            providerMessageID: row["provider_message_id"], isEdit: row["is_edit"], followUpStep: row["followup_step"], outboxID: row["outbox_id"],
            deliveredAt: date(row["delivered_at"]), deliveryState: (row["delivery_state"] as String?).flatMap(DeliveryState.init(rawValue:)),
            deliveryError: row["delivery_error"])
    }

    static func outboxEntry(_ row: Row) throws -> OutboxEntry {
        let entry = NewOutboxEntry(
            chatID: row["chat_id"], purpose: OutboxPurpose(rawValue: row["purpose"]) ?? .reply, idempotencyKey: row["idempotency_key"],
            text: row["text"], delivery: try JSONDecoder().decode(Delivery.self, from: Data((row["delivery"] as String).utf8)),
            author: Author(rawValue: row["author"]) ?? .employee, notBefore: date(row["next_attempt_at"])!,
            followUpRun: row["followup_run"], followUpStep: row["followup_step"])
        return OutboxEntry(
            id: row["id"], entry: entry, status: OutboxStatus(rawValue: row["status"]) ?? .pending, attempts: row["attempts"],
            nextAttemptAt: date(row["next_attempt_at"])!, lastError: row["last_error"], sentAt: date(row["sent_at"]))
    }

    static func fetchChat(_ db: Database, id: String) throws -> Chat? {
        try db.cachedRow(sql: "SELECT * FROM chats WHERE id = ?", arguments: [id]).map(chat)
    }

    static func fetchChat(_ db: Database, channelID: String, key: String) throws -> Chat? {
        try db.cachedRow(sql: "SELECT * FROM chats WHERE channel_id = ? AND conversation_key = ?", arguments: [channelID, key]).map(chat)
    }

    static func saveChat(_ db: Database, _ chat: Chat) throws {
        let searchText = SearchText.index(title: chat.title, clientName: chat.clientName)
        try db.executeCached(
            sql: """
                INSERT INTO chats (id, channel_id, conversation_key, employee_id, title, client_name, search_text, created_at,
                                   last_client_message_at, unreachable, ai_paused_until, reply_due_at, reply_attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                  employee_id = excluded.employee_id, title = excluded.title, client_name = excluded.client_name,
                  search_text = excluded.search_text, last_client_message_at = excluded.last_client_message_at,
                  unreachable = excluded.unreachable, ai_paused_until = excluded.ai_paused_until,
                  reply_due_at = excluded.reply_due_at, reply_attempts = excluded.reply_attempts,
                  -- A changed debt is a new piece of work: whoever leased the old one lets go.
                  reply_lease_owner = CASE WHEN chats.reply_due_at IS excluded.reply_due_at THEN chats.reply_lease_owner END,
                  reply_lease_until = CASE WHEN chats.reply_due_at IS excluded.reply_due_at THEN chats.reply_lease_until END
                """,
            arguments: [
                chat.id, chat.channelID, chat.conversationKey, chat.employeeID, chat.title, chat.clientName,
                searchText, chat.createdAt.timeIntervalSince1970,
                chat.lastClientMessageAt?.timeIntervalSince1970, chat.unreachable, chat.aiPausedUntil?.timeIntervalSince1970,
                chat.replyDueAt?.timeIntervalSince1970, chat.replyAttempts,
            ])
        // The Follow-ups list searches its own copy of the text (see migration v4).
        try db.executeCached(
            sql: "UPDATE followups SET search_text = ?1 WHERE chat_id = ?2 AND search_text <> ?1",
            arguments: [searchText, chat.id])
    }

    static func insertMessage(
        _ db: Database, chat: Chat, author: Author, kind: MessageKind, text: String, at: Date, providerMessageID: String?, step: Int?,
        outboxID: Int64? = nil
    ) throws -> StoredMessage {
        try db.executeCached(
            sql: """
                INSERT INTO messages (chat_id, channel_id, provider_message_id, author, kind, text, at, followup_step, outbox_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [chat.id, chat.channelID, providerMessageID, author.rawValue, kind.rawValue, text, at.timeIntervalSince1970, step, outboxID])
        let id = db.lastInsertedRowID
        return StoredMessage(id: id, chatID: chat.id, author: author, kind: kind, text: text, at: at,
                             providerMessageID: providerMessageID, followUpStep: step, outboxID: outboxID)
    }

    /// Inserts an outbox entry; `nil` when the chat has one under the same idempotency key
    /// (with `ignoringDuplicate`; otherwise that is checked first and also answers `nil`).
    @discardableResult
    static func insertOutbox(_ db: Database, _ entry: NewOutboxEntry, ignoringDuplicate: Bool) throws -> OutboxEntry? {
        let status: OutboxStatus = entry.failure == nil ? .pending : .dead
        try db.executeCached(
            sql: """
                INSERT INTO outbox (chat_id, purpose, idempotency_key, text, delivery, author, status, next_attempt_at, followup_run,
                                    followup_step, last_error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (chat_id, idempotency_key) DO NOTHING
                """,
            arguments: [entry.chatID, entry.purpose.rawValue, entry.idempotencyKey, entry.text, try encode(entry.delivery),
                        entry.author.rawValue, status.rawValue, entry.notBefore.timeIntervalSince1970, entry.followUpRun, entry.followUpStep,
                        entry.failure])
        guard db.changesCount > 0 else { return nil }
        return OutboxEntry(id: db.lastInsertedRowID, entry: entry, status: status, attempts: 0, nextAttemptAt: entry.notBefore,
                           lastError: entry.failure)
    }

    static func insertUsage(_ db: Database, _ usage: UsageRecord) throws {
        try db.executeCached(
            sql: """
                INSERT INTO token_usage (employee_id, chat_id, purpose, prompt_tokens, completion_tokens, model, at, outbox_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [usage.employeeID, usage.chatID, usage.purpose.rawValue, usage.usage.promptTokens, usage.usage.completionTokens,
                        usage.model, usage.at.timeIntervalSince1970, usage.outboxID])
    }

    /// Throws `StoreError.leaseLost` unless `lease` (when given) still holds the chat's owed
    /// reply or due reminder: nobody claimed it since, and it was not changed into other work.
    static func ensureHeld(_ db: Database, _ lease: Lease?, chatID: String) throws {
        guard let lease else { return }
        let sql: String
        switch lease.work {
        case .reminder: sql = "SELECT 1 FROM followups WHERE chat_id = ? AND lease_owner = ? AND lease_token = ?"
        case .reply: sql = "SELECT 1 FROM chats WHERE id = ? AND reply_lease_owner = ? AND reply_lease_token = ?"
        case .outbox: throw StoreError.leaseLost(lease, id: chatID)  // an outbox lease fences `complete` only
        }
        guard try db.cachedRow(sql: sql, arguments: [chatID, lease.owner, lease.token]) != nil else { throw StoreError.leaseLost(lease, id: chatID) }
    }

    static func fetchState(_ db: Database, chatID: String) throws -> FollowUpState? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM followups WHERE chat_id = ?"), arguments: [chatID]).map(decodeState)
    }

    /// Applies a transition to a chat's follow-up state and logs its decisions. A changed state
    /// drops any lease on it: whoever held it was acting on the old state.
    @discardableResult
    func transition(_ db: Database, chat: Chat, _ transition: FollowUpTransition) throws -> FollowUpState {
        let before = try Self.fetchState(db, chatID: chat.id)
        var state = before ?? FollowUpState()
        let decisions = try transition(&state, chat)
        if state != before {
            // The lease is on one piece of work — this (run, step) going out at this time. When
            // that is what it was (the holder counted a composition), the holder keeps it.
            let sameWork = before.map { $0.status == state.status && $0.run == state.run && $0.step == state.step && $0.sendsAt == state.sendsAt } ?? false
            let json = try FollowUpStateCodec.shared.encode(state)
            if before == nil {
                try db.executeCached(
                    sql: """
                        INSERT INTO followups (chat_id, employee_id, status, sends_at, state, lease_owner, lease_until, search_text)
                        VALUES (?, ?, ?, ?, ?, NULL, NULL, ?)
                        """,
                    arguments: [chat.id, chat.employeeID, state.status.rawValue, state.sendsAt?.timeIntervalSince1970, json,
                                SearchText.index(title: chat.title, clientName: chat.clientName)])
            } else {
                // The row's search text follows the chat already (`saveChat`): not folded again here.
                try db.executeCached(
                    sql: """
                        UPDATE followups SET employee_id = ?, status = ?, sends_at = ?, state = ?,
                          lease_owner = CASE WHEN ? THEN lease_owner END, lease_until = CASE WHEN ? THEN lease_until END
                        WHERE chat_id = ?
                        """,
                    arguments: [chat.employeeID, state.status.rawValue, state.sendsAt?.timeIntervalSince1970, json, sameWork, sameWork, chat.id])
            }
            // A reminder queued under (run, step) that the chain has left — the client replied,
            // the chat was switched off — must not go out: its entry is cancelled in the same
            // transaction, unless a delivery is already under way (that one completes as sent or not).
            // `+status`: found through the chat's entries. Left to itself SQLite walked every
            // pending entry of the outbox instead (about a millisecond each during a wave).
            if let before, before.status == .sending, let step = before.step,
                !(state.status == .sending && state.run == before.run && state.step == step)
            {
                try db.executeCached(
                    sql: """
                        UPDATE outbox SET status = 'cancelled', last_error = ?
                        WHERE chat_id = ? AND purpose = 'reminder' AND followup_run = ? AND followup_step = ? AND +status = 'pending'
                        """,
                    arguments: ["the chain stopped before delivery (\((state.lastReason ?? .chainChanged).rawValue))", chat.id, before.run, step])
            }
        }
        for d in decisions {
            try db.executeCached(
                sql: "INSERT INTO decisions (chat_id, at, kind, reason, run, step, due, sends_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [chat.id, d.at.timeIntervalSince1970, d.kind.rawValue, d.reason.rawValue, d.run, d.step,
                            d.due?.timeIntervalSince1970, d.sendsAt?.timeIntervalSince1970, d.detail])
        }
        if !decisions.isEmpty, let decisionObserver {
            // Told once the write is durable: a rolled-back transaction decided nothing.
            let chatID = chat.id
            db.afterNextTransaction { _ in decisionObserver(chatID, decisions) }
        }
        return state
    }
}

extension Database {
    /// Runs a statement compiled once per connection. The hot paths — every inbound message,
    /// every state change — run the same few statements; compiling them each time cost more
    /// than executing them.
    func executeCached(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func cachedRow(sql: String, arguments: StatementArguments) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
