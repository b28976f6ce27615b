public import Foundation
internal import GRDB
public import SwitchboardCore

/// The `Store` on an embedded SQLite file (GRDB, WAL journal): one writer, concurrent readers,
/// durable on commit. Several processes may share the file; leases make each reminder fire once.
public final class SQLiteStore: Store {
    private let db: any DatabaseWriter
    /// Sees every follow-up decision as it is written (metrics); called inside the transaction.
    let decisionObserver: DecisionObserver?

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String, decisionObserver: DecisionObserver? = nil) throws {
        self.decisionObserver = decisionObserver
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = Configuration()
        config.busyMode = .timeout(10)
        db = try DatabasePool(path: path, configuration: config)
        try SQLiteStore.migrator.migrate(db)
    }

    /// A private in-memory database, for tests and `simulate`.
    public init(decisionObserver: DecisionObserver? = nil) throws {
        self.decisionObserver = decisionObserver
        db = try DatabaseQueue()
        try SQLiteStore.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE chats (
                  id TEXT PRIMARY KEY,
                  channel_id TEXT NOT NULL,
                  conversation_key TEXT NOT NULL,
                  employee_id TEXT NOT NULL,
                  title TEXT NOT NULL,
                  client_name TEXT,
                  search_text TEXT NOT NULL,
                  created_at REAL NOT NULL,
                  last_client_message_at REAL,
                  unreachable INTEGER NOT NULL DEFAULT 0,
                  ai_paused_until REAL,
                  reply_due_at REAL,
                  reply_lease_owner TEXT,
                  reply_lease_until REAL,
                  UNIQUE (channel_id, conversation_key));
                CREATE TABLE messages (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  chat_id TEXT NOT NULL REFERENCES chats(id),
                  channel_id TEXT NOT NULL,
                  provider_message_id TEXT,
                  author TEXT NOT NULL,
                  kind TEXT NOT NULL,
                  text TEXT NOT NULL,
                  at REAL NOT NULL,
                  is_edit INTEGER NOT NULL DEFAULT 0,
                  followup_step INTEGER);
                -- Deduplicates what providers deliver to us; ids of what we sent live in another
                -- number space (Telegram: message_id vs update_id) and are not constrained.
                CREATE UNIQUE INDEX messages_inbound_id ON messages(channel_id, provider_message_id)
                  WHERE provider_message_id IS NOT NULL AND author IN ('client', 'system');
                CREATE INDEX messages_chat ON messages(chat_id, id);
                CREATE INDEX chats_reply_due ON chats(reply_due_at) WHERE reply_due_at IS NOT NULL;
                CREATE TABLE followups (
                  chat_id TEXT PRIMARY KEY REFERENCES chats(id),
                  employee_id TEXT NOT NULL,
                  status TEXT NOT NULL,
                  sends_at REAL,
                  state TEXT NOT NULL,
                  lease_owner TEXT,
                  lease_until REAL);
                CREATE INDEX followups_due ON followups(status, sends_at);
                CREATE INDEX followups_employee ON followups(employee_id, status, sends_at);
                CREATE TABLE decisions (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  chat_id TEXT NOT NULL REFERENCES chats(id),
                  at REAL NOT NULL,
                  kind TEXT NOT NULL,
                  reason TEXT NOT NULL,
                  run INTEGER NOT NULL,
                  step INTEGER,
                  due REAL,
                  sends_at REAL,
                  detail TEXT);
                CREATE INDEX decisions_chat ON decisions(chat_id, id);
                CREATE TABLE outbox (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  chat_id TEXT NOT NULL REFERENCES chats(id),
                  purpose TEXT NOT NULL,
                  idempotency_key TEXT NOT NULL,
                  text TEXT NOT NULL,
                  delivery TEXT NOT NULL,
                  author TEXT NOT NULL,
                  status TEXT NOT NULL,
                  attempts INTEGER NOT NULL DEFAULT 0,
                  next_attempt_at REAL NOT NULL,
                  lease_owner TEXT,
                  lease_until REAL,
                  last_error TEXT,
                  sent_at REAL,
                  followup_run INTEGER,
                  followup_step INTEGER,
                  UNIQUE (chat_id, idempotency_key));
                CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
                CREATE TABLE token_usage (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  employee_id TEXT NOT NULL,
                  chat_id TEXT NOT NULL,
                  purpose TEXT NOT NULL,
                  prompt_tokens INTEGER NOT NULL,
                  completion_tokens INTEGER NOT NULL,
                  model TEXT NOT NULL,
                  at REAL NOT NULL);
                CREATE INDEX token_usage_employee ON token_usage(employee_id, at);
                CREATE INDEX token_usage_chat ON token_usage(chat_id);
                CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                """)
        }
        migrator.registerMigration("v2-usage-links-and-search") { db in
            // What a composed message cost is shown next to it: both point at the outbox entry.
            try db.execute(sql: """
                ALTER TABLE token_usage ADD COLUMN outbox_id INTEGER;
                ALTER TABLE messages ADD COLUMN outbox_id INTEGER;
                """)
            // Search now also ignores accents and width: re-index under the new normalization.
            let rows = try Row.fetchAll(db, sql: "SELECT id, title, client_name FROM chats")
            for row in rows {
                try db.execute(
                    sql: "UPDATE chats SET search_text = ? WHERE id = ?",
                    arguments: [SearchText.index(title: row["title"], clientName: row["client_name"]), row["id"] as String])
            }
        }
        return migrator
    }

    // MARK: - Chats and messages

    public func recordInbound(
        _ message: InboundMessage, employeeID: String, followUp: FollowUpTransition, chatChange: (@Sendable (inout Chat) -> Void)?
    ) async throws -> InboundResult {
        try await db.write { db in
            if let id = message.providerMessageID,
                try Int.fetchOne(
                    db, sql: "SELECT 1 FROM messages WHERE channel_id = ? AND provider_message_id = ? AND author IN ('client', 'system')",
                    arguments: [message.channelID, id]) != nil
            {
                return .duplicate
            }
            var chat: Chat
            if let existing = try Self.fetchChat(db, channelID: message.channelID, key: message.conversationKey) {
                chat = existing
                if let title = message.chatTitle, !title.isEmpty { chat.title = title }
                if let name = message.senderName, !name.isEmpty { chat.clientName = name }
            } else {
                let id = Self.newChatID()
                let title = message.chatTitle ?? message.senderName ?? "Client \(id.prefix(6))"
                chat = Chat(id: id, channelID: message.channelID, conversationKey: message.conversationKey, employeeID: employeeID,
                            title: title, clientName: message.senderName, createdAt: message.receivedAt)
            }
            if message.event == .unreachable {
                chat.unreachable = true
            } else if !message.isEdit {
                chat.lastClientMessageAt = max(chat.lastClientMessageAt ?? message.receivedAt, message.receivedAt)
                // A client who writes again can be reached again.
                chat.unreachable = false
            }
            chatChange?(&chat)
            try Self.saveChat(db, chat)
            try db.execute(
                sql: """
                    INSERT INTO messages (chat_id, channel_id, provider_message_id, author, kind, text, at, is_edit)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [chat.id, message.channelID, message.providerMessageID,
                            message.event == nil ? Author.client.rawValue : Author.system.rawValue,
                            message.kind.rawValue, message.text, message.receivedAt.timeIntervalSince1970, message.isEdit])
            let stored = StoredMessage(id: db.lastInsertedRowID, chatID: chat.id, author: message.event == nil ? .client : .system,
                                       kind: message.kind, text: message.text, at: message.receivedAt,
                                       providerMessageID: message.providerMessageID, isEdit: message.isEdit)
            try self.transition(db, chat: chat, followUp)
            return .stored(chat, stored)
        }
    }

    public func appendMessage(_ message: NewMessage, followUp: FollowUpTransition?) async throws -> StoredMessage {
        try await db.write { db in
            guard let chat = try Self.fetchChat(db, id: message.chatID) else { throw StoreError.unknownChat(message.chatID) }
            let stored = try Self.insertMessage(db, chat: chat, author: message.author, kind: message.kind, text: message.text, at: message.at, providerMessageID: nil, step: nil)
            if let followUp { try self.transition(db, chat: chat, followUp) }
            return stored
        }
    }

    public func updateChat(id: String, _ change: @Sendable (inout Chat) -> Void, followUp: FollowUpTransition?) async throws -> Chat {
        try await db.write { db in
            guard var chat = try Self.fetchChat(db, id: id) else { throw StoreError.unknownChat(id) }
            change(&chat)
            try Self.saveChat(db, chat)
            if let followUp { try self.transition(db, chat: chat, followUp) }
            return chat
        }
    }

    public func chat(id: String) async throws -> Chat? {
        try await db.read { db in try Self.fetchChat(db, id: id) }
    }

    public func chat(channelID: String, conversationKey: String) async throws -> Chat? {
        try await db.read { db in try Self.fetchChat(db, channelID: channelID, key: conversationKey) }
    }

    public func messages(chatID: String, limit: Int) async throws -> [StoredMessage] {
        try await db.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM messages WHERE chat_id = ? ORDER BY id DESC LIMIT ?", arguments: [chatID, limit])
            return rows.reversed().map(Self.message)
        }
    }

    // MARK: - Follow-ups

    public func followUpState(chatID: String) async throws -> FollowUpState? {
        try await db.read { db in try Self.fetchState(db, chatID: chatID) }
    }

    public func updateFollowUp(chatID: String, _ transition: FollowUpTransition) async throws -> FollowUpState {
        try await db.write { db in
            guard let chat = try Self.fetchChat(db, id: chatID) else { throw StoreError.unknownChat(chatID) }
            return try self.transition(db, chat: chat, transition)
        }
    }

    public func updatePendingFollowUps(employeeID: String, _ transition: FollowUpTransition) async throws -> Int {
        try await db.write { db in
            let ids = try String.fetchAll(
                db, sql: "SELECT chat_id FROM followups WHERE employee_id = ? AND status IN ('scheduled', 'sending')", arguments: [employeeID])
            for id in ids {
                guard let chat = try Self.fetchChat(db, id: id) else { continue }
                try self.transition(db, chat: chat, transition)
            }
            return ids.count
        }
    }

    public func claimDueFollowUps(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [DueFollowUp] {
        try await db.write { db in
            let t = now.timeIntervalSince1970
            let ids = try String.fetchAll(
                db,
                sql: """
                    SELECT chat_id FROM followups
                    WHERE status = 'scheduled' AND sends_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                    ORDER BY sends_at LIMIT ?
                    """,
                arguments: [t, t, limit])
            var claimed: [DueFollowUp] = []
            for id in ids {
                try db.execute(sql: "UPDATE followups SET lease_owner = ?, lease_until = ? WHERE chat_id = ?",
                               arguments: [owner, leaseUntil.timeIntervalSince1970, id])
                if let chat = try Self.fetchChat(db, id: id), let state = try Self.fetchState(db, chatID: id) {
                    claimed.append(DueFollowUp(chat: chat, state: state))
                }
            }
            return claimed
        }
    }

    public func decisions(chatID: String) async throws -> [FollowUpDecision] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM decisions WHERE chat_id = ? ORDER BY id", arguments: [chatID]).map { row in
                FollowUpDecision(
                    kind: FollowUpDecision.Kind(rawValue: row["kind"]) ?? .scheduled,
                    reason: ReasonCode(rawValue: row["reason"]) ?? .employeeMessage,
                    run: row["run"], step: row["step"], at: Self.date(row["at"])!, due: Self.date(row["due"]),
                    sendsAt: Self.date(row["sends_at"]), detail: row["detail"])
            }
        }
    }

    public func pendingFollowUps(_ query: FollowUpQuery) async throws -> FollowUpPage {
        try await db.read { db in
            var conditions = ["f.status IN ('scheduled', 'sending')"]
            var arguments: StatementArguments = []
            if let employee = query.employeeID {
                conditions.append("f.employee_id = ?")
                arguments += [employee]
            }
            if let search = query.search.map(SearchText.normalize), !search.isEmpty {
                var alternatives = ["instr(c.search_text, ?) > 0"]
                arguments += [search]
                if !query.employeesMatchingSearch.isEmpty {
                    alternatives.append("f.employee_id IN (\(Array(repeating: "?", count: query.employeesMatchingSearch.count).joined(separator: ",")))")
                    arguments += StatementArguments(query.employeesMatchingSearch.sorted())
                }
                conditions.append("(" + alternatives.joined(separator: " OR ") + ")")
            }
            let whereClause = conditions.joined(separator: " AND ")
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM followups f JOIN chats c ON c.id = f.chat_id WHERE \(whereClause)", arguments: arguments) ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT c.*, f.state AS followup_state FROM followups f JOIN chats c ON c.id = f.chat_id WHERE \(whereClause) ORDER BY f.sends_at, c.id LIMIT ?",
                arguments: arguments + [query.limit])
            let items = try rows.map { row in
                PendingFollowUp(chat: Self.chat(row), state: try Self.decodeState(row["followup_state"]))
            }
            return FollowUpPage(items: items, total: total)
        }
    }

    // MARK: - Outbox

    public func enqueue(
        _ entry: NewOutboxEntry, usage: UsageRecord?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws -> OutboxEntry? {
        try await db.write { db in
            guard var chat = try Self.fetchChat(db, id: entry.chatID) else { throw StoreError.unknownChat(entry.chatID) }
            if try Int.fetchOne(db, sql: "SELECT 1 FROM outbox WHERE chat_id = ? AND idempotency_key = ?", arguments: [entry.chatID, entry.idempotencyKey]) != nil {
                return nil
            }
            if let chatChange {
                chatChange(&chat)
                try Self.saveChat(db, chat)
            }
            if let followUp { try self.transition(db, chat: chat, followUp) }
            try db.execute(
                sql: """
                    INSERT INTO outbox (chat_id, purpose, idempotency_key, text, delivery, author, status, next_attempt_at, followup_run, followup_step)
                    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
                    """,
                arguments: [entry.chatID, entry.purpose.rawValue, entry.idempotencyKey, entry.text, try Self.encode(entry.delivery),
                            entry.author.rawValue, entry.notBefore.timeIntervalSince1970, entry.followUpRun, entry.followUpStep])
            let id = db.lastInsertedRowID
            if var usage {
                usage.outboxID = id
                try Self.insertUsage(db, usage)
            }
            return OutboxEntry(id: id, entry: entry, status: .pending, attempts: 0, nextAttemptAt: entry.notBefore)
        }
    }

    public func claimDueOutbox(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [OutboxEntry] {
        try await db.write { db in
            let t = now.timeIntervalSince1970
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM outbox
                    WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?)
                    ORDER BY next_attempt_at, id LIMIT ?
                    """,
                arguments: [t, t, limit])
            var result: [OutboxEntry] = []
            for row in rows {
                var entry = try Self.outboxEntry(row)
                entry.interrupted = entry.status == .sending
                try db.execute(
                    sql: "UPDATE outbox SET status = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                    arguments: [owner, leaseUntil.timeIntervalSince1970, entry.id])
                entry.status = .sending
                entry.attempts += 1
                result.append(entry)
            }
            return result
        }
    }

    public func claimDueReplies(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [Chat] {
        try await db.write { db in
            let t = now.timeIntervalSince1970
            let ids = try String.fetchAll(
                db,
                sql: """
                    SELECT id FROM chats
                    WHERE reply_due_at IS NOT NULL AND reply_due_at <= ? AND (reply_lease_until IS NULL OR reply_lease_until <= ?)
                    ORDER BY reply_due_at LIMIT ?
                    """,
                arguments: [t, t, limit])
            for id in ids {
                try db.execute(sql: "UPDATE chats SET reply_lease_owner = ?, reply_lease_until = ? WHERE id = ?",
                               arguments: [owner, leaseUntil.timeIntervalSince1970, id])
            }
            return try ids.compactMap { try Self.fetchChat(db, id: $0) }
        }
    }

    public func complete(outboxID: Int64, _ outcome: OutboxOutcome, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?) async throws {
        try await db.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [outboxID]) else {
                throw StoreError.unknownOutboxEntry(outboxID)
            }
            let entry = try Self.outboxEntry(row)
            guard var chat = try Self.fetchChat(db, id: entry.entry.chatID) else { throw StoreError.unknownChat(entry.entry.chatID) }
            switch outcome {
            case .sent(let at, let ids):
                try db.execute(sql: "UPDATE outbox SET status = 'sent', sent_at = ?, lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = ?",
                               arguments: [at.timeIntervalSince1970, outboxID])
                _ = try Self.insertMessage(db, chat: chat, author: entry.entry.author, kind: .text, text: entry.entry.text, at: at,
                                           providerMessageID: ids.first, step: entry.entry.followUpStep, outboxID: outboxID)
            case .retry(let at, let error):
                try db.execute(sql: "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                               arguments: [at.timeIntervalSince1970, error, outboxID])
            case .dead(_, let error):
                try db.execute(sql: "UPDATE outbox SET status = 'dead', last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                               arguments: [error, outboxID])
            case .cancelled(_, let reason):
                try db.execute(sql: "UPDATE outbox SET status = 'cancelled', last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                               arguments: [reason, outboxID])
            }
            if let chatChange {
                chatChange(&chat)
                try Self.saveChat(db, chat)
            }
            if let followUp { try self.transition(db, chat: chat, followUp) }
        }
    }

    public func outbox(chatID: String) async throws -> [OutboxEntry] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE chat_id = ? ORDER BY id", arguments: [chatID]).map(Self.outboxEntry)
        }
    }

    public func nextWakeTime() async throws -> Date? {
        try await db.read { db in
            let candidates = [
                try Double.fetchOne(db, sql: "SELECT min(max(sends_at, coalesce(lease_until, 0))) FROM followups WHERE status = 'scheduled'"),
                try Double.fetchOne(db, sql: "SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'"),
                try Double.fetchOne(db, sql: "SELECT min(lease_until) FROM outbox WHERE status = 'sending'"),
                try Double.fetchOne(db, sql: "SELECT min(max(reply_due_at, coalesce(reply_lease_until, 0))) FROM chats WHERE reply_due_at IS NOT NULL"),
            ].compactMap { $0 }
            return candidates.min().map { Date(timeIntervalSince1970: $0) }
        }
    }

    // MARK: - Usage and cursors

    public func recordUsage(_ usage: UsageRecord) async throws {
        try await db.write { db in try Self.insertUsage(db, usage) }
    }

    public func tokenUsage(employeeID: String, purpose: UsagePurpose?, from: Date, to: Date) async throws -> TokenUsage {
        try await db.read { db in
            var sql = "SELECT coalesce(sum(prompt_tokens), 0) AS p, coalesce(sum(completion_tokens), 0) AS c FROM token_usage WHERE employee_id = ? AND at >= ? AND at < ?"
            var arguments: StatementArguments = [employeeID, from.timeIntervalSince1970, to.timeIntervalSince1970]
            if let purpose {
                sql += " AND purpose = ?"
                arguments += [purpose.rawValue]
            }
            let row = try Row.fetchOne(db, sql: sql, arguments: arguments)
            return TokenUsage(promptTokens: row?["p"] ?? 0, completionTokens: row?["c"] ?? 0)
        }
    }

    public func tokenUsageByDay(employeeID: String, from: Date, to: Date, timeZone: TimeZone) async throws -> [DailyTokenUsage] {
        // SQLite knows no time zones, so sum per quarter hour — every zone's offset is a whole
        // number of quarter hours — and fold the quarters into the employee's local days here.
        let quarters = try await db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(at / 900 AS INTEGER) AS quarter, sum(prompt_tokens) AS p, sum(completion_tokens) AS c
                    FROM token_usage WHERE employee_id = ? AND at >= ? AND at < ? GROUP BY quarter
                    """,
                arguments: [employeeID, from.timeIntervalSince1970, to.timeIntervalSince1970]
            ).map { row -> (Int64, Int, Int) in (row["quarter"], row["p"], row["c"]) }
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
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM token_usage WHERE chat_id = ? ORDER BY id", arguments: [chatID]).map { row in
                UsageRecord(employeeID: row["employee_id"], chatID: row["chat_id"], purpose: UsagePurpose(rawValue: row["purpose"]) ?? .reply,
                            usage: TokenUsage(promptTokens: row["prompt_tokens"], completionTokens: row["completion_tokens"]),
                            model: row["model"], at: Self.date(row["at"])!, outboxID: row["outbox_id"])
            }
        }
    }

    public func cursor(_ name: String) async throws -> String? {
        try await db.read { db in try String.fetchOne(db, sql: "SELECT value FROM cursors WHERE name = ?", arguments: [name]) }
    }

    public func setCursor(_ name: String, to value: String) async throws {
        try await db.write { db in
            try db.execute(sql: "INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", arguments: [name, value])
        }
    }
}

