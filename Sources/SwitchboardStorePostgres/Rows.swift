import Foundation
import PostgresNIO
import SwitchboardCore

// Row mapping and the shared steps of the store's transactions: the same steps as the SQLite
// store's, with the rows another process may write locked before they are read.

extension PostgresRandomAccessRow {
    func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T { try self[column].decode(T.self) }
    func date(_ column: String) throws -> Date? { try get(column, as: Double?.self).map { Date(timeIntervalSince1970: $0) } }
    func requiredDate(_ column: String) throws -> Date { Date(timeIntervalSince1970: try get(column, as: Double.self)) }
}

extension Date {
    var seconds: Double { timeIntervalSince1970 }
}

/// The `$n` placeholders and values of a statement put together piece by piece.
struct SQLBuilder {
    var binds = PostgresBindings()

    mutating func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}

extension PostgresStore {
    static func newChatID() -> String {
        UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16).description
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decodeState(_ json: String) throws -> FollowUpState {
        try FollowUpStateCodec.shared.decode(json)
    }

    static func chat(_ row: PostgresRandomAccessRow) throws -> Chat {
        Chat(
            id: try row.get("id"), channelID: try row.get("channel_id"), conversationKey: try row.get("conversation_key"),
            employeeID: try row.get("employee_id"), title: try row.get("title"), clientName: try row.get("client_name"),
            createdAt: try row.requiredDate("created_at"), lastClientMessageAt: try row.date("last_client_message_at"),
            unreachable: try row.get("unreachable"), aiPausedUntil: try row.date("ai_paused_until"), replyDueAt: try row.date("reply_due_at"),
            replyAttempts: try row.get("reply_attempts"))
    }

    static func message(_ row: PostgresRandomAccessRow) throws -> StoredMessage {
        StoredMessage(
            id: try row.get("id"), chatID: try row.get("chat_id"), author: Author(rawValue: try row.get("author")) ?? .system,
            kind: MessageKind(rawValue: try row.get("kind")) ?? .unsupported, text: try row.get("text"), at: try row.requiredDate("at"),
            providerMessageID: try row.get("provider_message_id"), isEdit: try row.get("is_edit"), followUpStep: try row.get("followup_step"),
            outboxID: try row.get("outbox_id"), deliveredAt: try row.date("delivered_at"),
            deliveryState: try row.get("delivery_state", as: String?.self).flatMap(DeliveryState.init(rawValue:)),
            deliveryError: try row.get("delivery_error"))
    }

    static func outboxEntry(_ row: PostgresRandomAccessRow) throws -> OutboxEntry {
        let entry = NewOutboxEntry(
            chatID: try row.get("chat_id"), purpose: OutboxPurpose(rawValue: try row.get("purpose")) ?? .reply,
            idempotencyKey: try row.get("idempotency_key"), text: try row.get("text"),
            delivery: try JSONDecoder().decode(Delivery.self, from: Data(try row.get("delivery", as: String.self).utf8)),
            author: Author(rawValue: try row.get("author")) ?? .employee, notBefore: try row.requiredDate("next_attempt_at"),
            followUpRun: try row.get("followup_run"), followUpStep: try row.get("followup_step"))
        return OutboxEntry(
            id: try row.get("id"), entry: entry, status: OutboxStatus(rawValue: try row.get("status")) ?? .pending, attempts: try row.get("attempts"),
            nextAttemptAt: try row.requiredDate("next_attempt_at"), lastError: try row.get("last_error"), sentAt: try row.date("sent_at"))
    }

    static func usage(_ row: PostgresRandomAccessRow) throws -> UsageRecord {
        UsageRecord(
            employeeID: try row.get("employee_id"), chatID: try row.get("chat_id"), purpose: UsagePurpose(rawValue: try row.get("purpose")) ?? .reply,
            usage: TokenUsage(promptTokens: try row.get("prompt_tokens"), completionTokens: try row.get("completion_tokens")),
            model: try row.get("model"), at: try row.requiredDate("at"), outboxID: try row.get("outbox_id"))
    }

    /// A chat, locked for the rest of the transaction when `lock` (every write path locks the
    /// chat first, so writers of one chat take turns and lock rows in one order).
    static func fetchChat(_ tx: Transaction, id: String, lock: Bool = true) async throws -> Chat? {
        try await tx.row("SELECT * FROM chats WHERE id = \(id) \(unescaped: lock ? "FOR UPDATE" : "")").map(chat)
    }

    /// Throws `StoreError.leaseLost` unless `lease` (when given) still holds the chat's owed
    /// reply or due reminder. The row is locked, so no claim can take it before the commit.
    static func ensureHeld(_ tx: Transaction, _ lease: Lease?, chatID: String) async throws {
        guard let lease else { return }
        let held: PostgresRandomAccessRow?
        switch lease.work {
        case .reminder:
            held = try await tx.row(
                "SELECT 1 FROM followups WHERE chat_id = \(chatID) AND lease_owner = \(lease.owner) AND lease_token = \(lease.token) FOR UPDATE")
        case .reply:
            // The chat row is locked already (every write path locks it first).
            held = try await tx.row("SELECT 1 FROM chats WHERE id = \(chatID) AND reply_lease_owner = \(lease.owner) AND reply_lease_token = \(lease.token)")
        case .outbox: held = nil  // an outbox lease fences `complete` only
        }
        guard held != nil else { throw StoreError.leaseLost(lease, id: chatID) }
    }

    static func lockChat(_ tx: Transaction, channelID: String, key: String) async throws -> Chat? {
        try await tx.row("SELECT * FROM chats WHERE channel_id = \(channelID) AND conversation_key = \(key) FOR UPDATE").map(chat)
    }

    static func saveChat(_ tx: Transaction, _ chat: Chat) async throws {
        let searchText = SearchText.index(title: chat.title, clientName: chat.clientName)
        try await tx.query(
            """
            INSERT INTO chats (id, channel_id, conversation_key, employee_id, title, client_name, search_text, created_at,
                               last_client_message_at, unreachable, ai_paused_until, reply_due_at, reply_attempts)
            VALUES (\(chat.id), \(chat.channelID), \(chat.conversationKey), \(chat.employeeID), \(chat.title), \(chat.clientName),
                    \(searchText), \(chat.createdAt.seconds), \(chat.lastClientMessageAt?.seconds), \(chat.unreachable),
                    \(chat.aiPausedUntil?.seconds), \(chat.replyDueAt?.seconds), \(chat.replyAttempts))
            ON CONFLICT (id) DO UPDATE SET
              employee_id = excluded.employee_id, title = excluded.title, client_name = excluded.client_name,
              search_text = excluded.search_text, last_client_message_at = excluded.last_client_message_at,
              unreachable = excluded.unreachable, ai_paused_until = excluded.ai_paused_until,
              reply_due_at = excluded.reply_due_at, reply_attempts = excluded.reply_attempts,
              -- A changed debt is a new piece of work: whoever leased the old one lets go.
              reply_lease_owner = CASE WHEN chats.reply_due_at IS NOT DISTINCT FROM excluded.reply_due_at THEN chats.reply_lease_owner END,
              reply_lease_until = CASE WHEN chats.reply_due_at IS NOT DISTINCT FROM excluded.reply_due_at THEN chats.reply_lease_until END
            """)
        // The Follow-ups list searches its own copy of the text.
        try await tx.query("UPDATE followups SET search_text = \(searchText) WHERE chat_id = \(chat.id) AND search_text <> \(searchText)")
    }

    static func insertMessage(
        _ tx: Transaction, chat: Chat, author: Author, kind: MessageKind, text: String, at: Date, providerMessageID: String?, step: Int?,
        outboxID: Int64? = nil
    ) async throws -> StoredMessage {
        guard
            let row = try await tx.row(
                """
                INSERT INTO messages (chat_id, channel_id, provider_message_id, author, kind, text, at, followup_step, outbox_id, search_text)
                VALUES (\(chat.id), \(chat.channelID), \(providerMessageID), \(author.rawValue), \(kind.rawValue), \(text), \(at.seconds),
                        \(step), \(outboxID), \(SearchText.normalize(text)))
                RETURNING id
                """)
        else { throw PostgresStoreError("an insert returned no id") }
        return StoredMessage(id: try row.get("id"), chatID: chat.id, author: author, kind: kind, text: text, at: at,
                             providerMessageID: providerMessageID, followUpStep: step, outboxID: outboxID)
    }

    /// Inserts an outbox entry; `nil` when the chat has one under the same idempotency key.
    @discardableResult
    static func insertOutbox(_ tx: Transaction, _ entry: NewOutboxEntry) async throws -> OutboxEntry? {
        let status: OutboxStatus = entry.failure == nil ? .pending : .dead
        guard
            let row = try await tx.row(
                """
                INSERT INTO outbox (chat_id, purpose, idempotency_key, text, delivery, author, status, next_attempt_at, followup_run,
                                    followup_step, last_error)
                VALUES (\(entry.chatID), \(entry.purpose.rawValue), \(entry.idempotencyKey), \(entry.text), \(try encode(entry.delivery)),
                        \(entry.author.rawValue), \(status.rawValue), \(entry.notBefore.seconds), \(entry.followUpRun), \(entry.followUpStep),
                        \(entry.failure))
                ON CONFLICT (chat_id, idempotency_key) DO NOTHING
                RETURNING id
                """)
        else { return nil }
        if status == .pending { tx.wakesOthers = true }
        return OutboxEntry(id: try row.get("id"), entry: entry, status: status, attempts: 0, nextAttemptAt: entry.notBefore, lastError: entry.failure)
    }

    static func insertUsage(_ tx: Transaction, _ usage: UsageRecord) async throws {
        try await tx.query(
            """
            INSERT INTO token_usage (employee_id, chat_id, purpose, prompt_tokens, completion_tokens, model, at, outbox_id)
            VALUES (\(usage.employeeID), \(usage.chatID), \(usage.purpose.rawValue), \(usage.usage.promptTokens), \(usage.usage.completionTokens),
                    \(usage.model), \(usage.at.seconds), \(usage.outboxID))
            """)
    }

    /// Applies a transition to a chat's follow-up state and logs its decisions: the state is
    /// read `FOR UPDATE`, changed in Swift, and written back in the caller's transaction. A
    /// changed state drops any lease on it: whoever held it was acting on the old state.
    @discardableResult
    static func transition(_ tx: Transaction, chat: Chat, _ transition: FollowUpTransition) async throws -> FollowUpState {
        let before = try await tx.row("SELECT state FROM followups WHERE chat_id = \(chat.id) FOR UPDATE").map { try decodeState(try $0.get("state")) }
        var state = before ?? FollowUpState()
        let decisions = try transition(&state, chat)
        if state != before {
            if state.status == .scheduled, state.sendsAt != before?.sendsAt || before?.status != .scheduled { tx.wakesOthers = true }
            // The lease is on one piece of work — this (run, step) going out at this time. When
            // that is what it was (the holder counted a composition), the holder keeps it.
            let sameWork = before.map { $0.status == state.status && $0.run == state.run && $0.step == state.step && $0.sendsAt == state.sendsAt } ?? false
            try await tx.query(
                """
                INSERT INTO followups (chat_id, employee_id, status, sends_at, state, lease_owner, lease_until, search_text)
                VALUES (\(chat.id), \(chat.employeeID), \(state.status.rawValue), \(state.sendsAt?.seconds), \(try FollowUpStateCodec.shared.encode(state)), NULL, NULL,
                        \(SearchText.index(title: chat.title, clientName: chat.clientName)))
                ON CONFLICT (chat_id) DO UPDATE SET employee_id = excluded.employee_id, status = excluded.status,
                  sends_at = excluded.sends_at, state = excluded.state,
                  lease_owner = CASE WHEN \(sameWork) THEN followups.lease_owner END,
                  lease_until = CASE WHEN \(sameWork) THEN followups.lease_until END,
                  search_text = excluded.search_text
                """)
            // A reminder queued under (run, step) that the chain has left must not go out: its
            // entry is cancelled in the same transaction, unless a delivery is already under way.
            if let before, before.status == .sending, let step = before.step,
                !(state.status == .sending && state.run == before.run && state.step == step)
            {
                let reason = "the chain stopped before delivery (\((state.lastReason ?? .chainChanged).rawValue))"
                try await tx.query(
                    """
                    UPDATE outbox SET status = 'cancelled', last_error = \(reason)
                    WHERE chat_id = \(chat.id) AND purpose = 'reminder' AND followup_run = \(before.run) AND followup_step = \(step)
                      AND status = 'pending'
                    """)
            }
        }
        for d in decisions {
            try await tx.query(
                """
                INSERT INTO decisions (chat_id, at, kind, reason, run, step, due, sends_at, detail)
                VALUES (\(chat.id), \(d.at.seconds), \(d.kind.rawValue), \(d.reason.rawValue), \(d.run), \(d.step), \(d.due?.seconds),
                        \(d.sendsAt?.seconds), \(d.detail))
                """)
        }
        if !decisions.isEmpty { tx.decisions.append((chat.id, decisions)) }
        return state
    }
}
