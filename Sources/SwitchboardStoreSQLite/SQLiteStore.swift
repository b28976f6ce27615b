public import Foundation
internal import GRDB
public import SwitchboardCore

/// The `Store` on an embedded SQLite file (GRDB, WAL journal): one writer, concurrent readers,
/// durable on commit. Several processes may share the file; leases make each reminder fire once.
public final class SQLiteStore: Store {
    let db: any DatabaseWriter
    /// Every write goes through here: concurrent transactions share a commit.
    let writes: GroupCommit
    /// Sees every follow-up decision as it is written (metrics); called inside the transaction.
    let decisionObserver: DecisionObserver?

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// How hard a commit waits for the disk.
    public enum Durability: String, Sendable, CaseIterable {
        /// Every commit is on disk before it returns (`synchronous=FULL`): an acknowledged
        /// webhook survives a power cut. The default.
        case full
        /// Commits survive a crash of the process, not of the machine (`synchronous=NORMAL`);
        /// several times faster on slow disks.
        case normal
    }

    /// `groupCommit: false` gives every write a transaction of its own; it exists to measure what
    /// sharing commits gains (`storage.group_commit`, the drain and ingest benchmarks).
    public init(path: String, durability: Durability = .full, groupCommit: Bool = true, decisionObserver: DecisionObserver? = nil) throws {
        self.decisionObserver = decisionObserver
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = Configuration()
        config.busyMode = .timeout(10)
        let synchronous = durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // The writer only: a shared commit carries hundreds of writes, each in a savepoint.
            // Its savepoints' undo pages and its dirty pages stay in memory (32 MiB at most)
            // instead of going to temp files and spilling into the WAL mid-transaction — half
            // the bytes written per reminder in the drain benchmark. Readers keep the defaults,
            // so a large scan does not grow the process.
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
                try db.execute(sql: "PRAGMA cache_size = -32768")
            }
        }
        // Processes started together on one file would each see the schema missing and create
        // it ("table chats already exists"), or trip over each other switching the file to WAL.
        // GRDB runs each migration in a transaction of its own, so the check-then-apply is made
        // atomic across processes by an exclusive lock on the folder for the open and migrate.
        db = try Self.whileLocked(directory: directory) {
            let pool = try DatabasePool(path: path, configuration: config)
            try SQLiteStore.migrator.migrate(pool)
            try pool.write(Self.indexForSearch)
            return pool
        }
        writes = GroupCommit(writer: db, maxUnits: groupCommit ? 256 : 1, beforeCommit: Self.indexForSearch)
    }

    /// Runs `body` holding an exclusive `flock` on `directory` (any process opening a store there
    /// waits its turn). Where the file system has no such locks, `body` runs unguarded.
    private static func whileLocked<T>(directory: String, _ body: () throws -> T) throws -> T {
        let fd = open(directory, O_RDONLY)
        guard fd >= 0 else { return try body() }
        defer { close(fd) }
        var locked = flock(fd, LOCK_EX)
        while locked != 0 && errno == EINTR { locked = flock(fd, LOCK_EX) }
        defer { if locked == 0 { flock(fd, LOCK_UN) } }
        return try body()
    }

    /// A private in-memory database, for tests and `simulate`.
    public init(decisionObserver: DecisionObserver? = nil) throws {
        self.decisionObserver = decisionObserver
        db = try DatabaseQueue()
        try SQLiteStore.migrator.migrate(db)
        writes = GroupCommit(writer: db, beforeCommit: Self.indexForSearch)
    }

    /// Closes the database's connections (the file stays as it is). A stopped gateway calls it
    /// so that its file handles do not outlive it, whoever still holds the store; any later
    /// read or write fails. Throws (and stays open) while a statement is still running.
    ///
    /// GRDB's close blocks until every reader is handed back, and an async read hands its reader
    /// back on the cooperative pool. Blocking a pool thread here (two of them on two cores) could
    /// therefore wait for itself, so the close runs on a thread of its own.
    public func closeConnections() async throws {
        let db = self.db
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            Thread.detachNewThread { continuation.resume(with: Result { try db.close() }) }
        }
    }

    /// How many rows each table holds: for tests and benchmarks that check what a run wrote
    /// (the fuzz suite asserts requests without credentials write none).
    public func rowCounts() async throws -> [String: Int] {
        try await db.read { db in
            let tables = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'")
            var counts: [String: Int] = [:]
            for table in tables { counts[table] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table.quotedDatabaseIdentifier)") ?? 0 }
            return counts
        }
    }

    /// The outbox entries in one status, read in one snapshot: for tests that check which
    /// deliveries are claimed at one moment.
    public func outboxEntries(status: OutboxStatus) async throws -> [OutboxEntry] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE status = ? ORDER BY id", arguments: [status.rawValue]).map(Self.outboxEntry)
        }
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
                CREATE INDEX followups_leased ON followups(lease_until) WHERE lease_until IS NOT NULL;
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
        migrator.registerMigration("v3-message-delivery") { db in
            // When a message reached its recipient, which for a widget visitor who was offline
            // is later than when it was sent (replayed on reconnect).
            try db.execute(sql: "ALTER TABLE messages ADD COLUMN delivered_at REAL")
            // Every channel before this one delivered on send.
            try db.execute(sql: "UPDATE messages SET delivered_at = at WHERE author IN ('employee', 'operator')")
        }
        migrator.registerMigration("v4-followups-search") { db in
            // The Follow-ups list searches and pages the pending reminders without touching the
            // chats table: each followups row carries its chat's search text, and partial
            // covering indexes hold only pending rows — in send order, per employee, and text
            // first for counting matches.
            try db.execute(sql: """
                ALTER TABLE followups ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
                CREATE INDEX followups_pending ON followups(sends_at, chat_id, employee_id, search_text)
                  WHERE status IN ('scheduled', 'sending');
                CREATE INDEX followups_pending_employee ON followups(employee_id, sends_at, chat_id, search_text)
                  WHERE status IN ('scheduled', 'sending');
                CREATE INDEX followups_pending_search ON followups(search_text, employee_id)
                  WHERE status IN ('scheduled', 'sending');
                """)
            // The search text no longer repeats a client name that the title already contains.
            for row in try Row.fetchAll(db, sql: "SELECT id, title, client_name FROM chats") {
                let text = SearchText.index(title: row["title"], clientName: row["client_name"])
                let id: String = row["id"]
                try db.execute(sql: "UPDATE chats SET search_text = ? WHERE id = ?", arguments: [text, id])
                try db.execute(sql: "UPDATE followups SET search_text = ? WHERE chat_id = ?", arguments: [text, id])
            }
        }
        migrator.registerMigration("v5-followups-trigram-search") { db in
            // A trigram index over the pending rows' search text makes a search cost what it
            // finds, not the number of pending reminders: substring matching for queries of
            // three characters or more. Triggers keep it to exactly the pending rows.
            try db.execute(sql: """
                CREATE VIRTUAL TABLE followups_search USING fts5(search_text, tokenize = 'trigram');
                INSERT INTO followups_search (rowid, search_text)
                  SELECT rowid, search_text FROM followups WHERE status IN ('scheduled', 'sending');
                CREATE TRIGGER followups_search_insert AFTER INSERT ON followups
                  WHEN new.status IN ('scheduled', 'sending')
                BEGIN
                  INSERT INTO followups_search (rowid, search_text) VALUES (new.rowid, new.search_text);
                END;
                CREATE TRIGGER followups_search_update AFTER UPDATE OF status, search_text ON followups
                  WHEN old.status IS NOT new.status OR old.search_text IS NOT new.search_text
                BEGIN
                  DELETE FROM followups_search WHERE rowid = old.rowid AND old.status IN ('scheduled', 'sending');
                  INSERT INTO followups_search (rowid, search_text)
                    SELECT new.rowid, new.search_text WHERE new.status IN ('scheduled', 'sending');
                END;
                CREATE TRIGGER followups_search_delete AFTER DELETE ON followups
                  WHEN old.status IN ('scheduled', 'sending')
                BEGIN
                  DELETE FROM followups_search WHERE rowid = old.rowid;
                END;
                """)
        }
        migrator.registerMigration("v6-reply-attempts") { db in
            // Compositions started for the answer a chat is owed: a composer that keeps failing
            // ends the answer as a visible failure instead of retrying for ever.
            try db.execute(sql: "ALTER TABLE chats ADD COLUMN reply_attempts INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v7-delivery-states") { db in
            // Providers report delivered/read/failed per message id, and a long text split into
            // parts has one id per part: every id of a sent message points back at it.
            try db.execute(
                sql: """
                    ALTER TABLE messages ADD COLUMN delivery_state TEXT;
                    ALTER TABLE messages ADD COLUMN delivery_error TEXT;
                    CREATE TABLE outbound_ids (
                      channel_id TEXT NOT NULL,
                      provider_message_id TEXT NOT NULL,
                      message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                      PRIMARY KEY (channel_id, provider_message_id)
                    ) WITHOUT ROWID;
                    INSERT OR IGNORE INTO outbound_ids (channel_id, provider_message_id, message_id)
                      SELECT channel_id, provider_message_id, id FROM messages
                      WHERE provider_message_id IS NOT NULL AND author NOT IN ('client', 'system');
                    """)
        }
        registerInboxMigration(&migrator)
        migrator.registerMigration("v9-lease-tokens-and-shared-state") { db in
            // Every claim of a row counts up its token: a write fenced by a lease names the token
            // it was handed, so a holder whose lease was taken over cannot overwrite the new
            // holder's work. Small values every process must agree on (admin sessions, rate
            // limits, the polling lease, a scaled clock's origin) live next to the work.
            try db.execute(
                sql: """
                    ALTER TABLE outbox ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE followups ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE chats ADD COLUMN reply_lease_token INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE shared_state (name TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL);
                    CREATE INDEX shared_state_expiry ON shared_state(expires_at) WHERE expires_at IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v10-quieter-inbox-trigger") { db in
            // A reminder moves its chain scheduled → sending → scheduled (or finished). Each of
            // those rewrote the chat's row with its partial indexes, though none of the inbox's
            // filters changed (the trigram index's trigger is made as quiet in v11). The trigger
            // now fires only when what it maintains changes: the inbox files `sending` under
            // `scheduled` (its filter never told them apart).
            try db.execute(
                sql: """
                    DROP TRIGGER chats_inbox_followup_insert;
                    CREATE TRIGGER chats_inbox_followup_insert AFTER INSERT ON followups
                    BEGIN
                      UPDATE chats SET followup_status = \(Self.inboxStatus("new")),
                        opted_out = coalesce(json_extract(new.state, '$.optOut') = 'client', 0)
                      WHERE id = new.chat_id;
                    END;
                    DROP TRIGGER chats_inbox_followup_update;
                    CREATE TRIGGER chats_inbox_followup_update AFTER UPDATE OF status, state ON followups
                      WHEN \(Self.inboxStatus("old")) IS NOT \(Self.inboxStatus("new"))
                        OR coalesce(json_extract(old.state, '$.optOut') = 'client', 0) IS NOT coalesce(json_extract(new.state, '$.optOut') = 'client', 0)
                    BEGIN
                      UPDATE chats SET followup_status = \(Self.inboxStatus("new")),
                        opted_out = coalesce(json_extract(new.state, '$.optOut') = 'client', 0)
                      WHERE id = new.chat_id;
                    END;
                    UPDATE chats SET followup_status = 'scheduled' WHERE followup_status = 'sending';
                    """)
        }
        migrator.registerMigration("v11-search-indexed-at-commit-and-reply-leases") { db in
            // The trigram indexes are written once per transaction, after its units' savepoints
            // (`indexForSearch`): writes note what changed, and the commit indexes it — a
            // follow-up row only when it joins or leaves the pending set or its text changes,
            // not at every scheduled ↔ sending. The answers being composed are found by their
            // lease (`nextWakeTimes`).
            try db.execute(
                sql: """
                    CREATE INDEX chats_reply_leased ON chats(reply_lease_until) WHERE reply_lease_until IS NOT NULL;
                    CREATE TABLE search_progress (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
                    INSERT INTO search_progress (name, last_id) SELECT 'messages', coalesce(max(id), 0) FROM messages;
                    CREATE TABLE followups_search_dirty (row INTEGER PRIMARY KEY);
                    -- A chat whose title or client name changed, with what the index holds for it.
                    CREATE TABLE chats_search_dirty (row INTEGER PRIMARY KEY, was_indexed INTEGER NOT NULL, indexed TEXT);
                    DROP TRIGGER chats_search_insert;
                    CREATE TRIGGER chats_search_insert AFTER INSERT ON chats
                    BEGIN
                      INSERT OR IGNORE INTO chats_search_dirty (row, was_indexed, indexed) VALUES (new.rowid, 0, NULL);
                    END;
                    DROP TRIGGER chats_search_update;
                    CREATE TRIGGER chats_search_update AFTER UPDATE OF search_text ON chats WHEN old.search_text IS NOT new.search_text
                    BEGIN
                      INSERT OR IGNORE INTO chats_search_dirty (row, was_indexed, indexed) VALUES (old.rowid, 1, old.search_text);
                    END;
                    DROP TRIGGER followups_search_insert;
                    CREATE TRIGGER followups_search_insert AFTER INSERT ON followups WHEN new.status IN ('scheduled', 'sending')
                    BEGIN
                      INSERT OR IGNORE INTO followups_search_dirty (row) VALUES (new.rowid);
                    END;
                    DROP TRIGGER followups_search_update;
                    CREATE TRIGGER followups_search_update AFTER UPDATE OF status, search_text ON followups
                      WHEN (old.status IN ('scheduled', 'sending')) IS NOT (new.status IN ('scheduled', 'sending'))
                        OR (new.status IN ('scheduled', 'sending') AND old.search_text IS NOT new.search_text)
                    BEGIN
                      INSERT OR IGNORE INTO followups_search_dirty (row) VALUES (new.rowid);
                    END;
                    DROP TRIGGER followups_search_delete;
                    CREATE TRIGGER followups_search_delete AFTER DELETE ON followups WHEN old.status IN ('scheduled', 'sending')
                    BEGIN
                      INSERT OR IGNORE INTO followups_search_dirty (row) VALUES (old.rowid);
                    END;
                    """)
        }
        return migrator
    }

    /// A follow-up row's status as the inbox files it (`row`: `old` or `new` in a trigger).
    private static func inboxStatus(_ row: String) -> String {
        "(CASE WHEN \(row).status = 'sending' THEN 'scheduled' ELSE \(row).status END)"
    }

    // MARK: - Chats and messages

    public func recordInbound(_ batch: [InboundRecord]) async throws -> [InboundResult] {
        guard !batch.isEmpty else { return [] }
        return try await writes.write { db in try batch.map { try self.recordInbound(db, $0) } }
    }

    /// One client message inside the batch's transaction. Dedupe is the unique index: the row
    /// is inserted or ignored, and an ignored one rolls its savepoint back (the chat untouched).
    private func recordInbound(_ db: Database, _ record: InboundRecord) throws -> InboundResult {
        let message = record.message
        var result = InboundResult.duplicate
        try db.inSavepoint {
            var chat: Chat
            if let existing = try Self.fetchChat(db, channelID: message.channelID, key: message.conversationKey) {
                chat = existing
                if let title = message.chatTitle, !title.isEmpty { chat.title = title }
                if let name = message.senderName, !name.isEmpty { chat.clientName = name }
            } else {
                let id = Self.newChatID()
                let title = message.chatTitle ?? message.senderName ?? "Client \(id.prefix(6))"
                chat = Chat(id: id, channelID: message.channelID, conversationKey: message.conversationKey, employeeID: record.employeeID,
                            title: title, clientName: message.senderName, createdAt: message.receivedAt)
            }
            if message.event == .unreachable {
                chat.unreachable = true
            } else if message.isNewTurn {
                chat.recordClientTurn(at: message.receivedAt)
                // A client who writes again can be reached again.
                chat.unreachable = false
            }
            let answer = record.chatChange?(&chat)
            try Self.saveChat(db, chat)
            let author: Author = message.event == nil ? .client : .system
            try db.executeCached(
                sql: """
                    INSERT INTO messages (chat_id, channel_id, provider_message_id, author, kind, text, at, is_edit)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """,
                arguments: [chat.id, message.channelID, message.providerMessageID, author.rawValue,
                            message.kind.rawValue, message.text, message.receivedAt.timeIntervalSince1970, message.isEdit])
            guard db.changesCount > 0 else { return .rollback }
            let messageID = db.lastInsertedRowID
            let stored = StoredMessage(id: messageID, chatID: chat.id, author: author, kind: message.kind, text: message.text,
                                       at: message.receivedAt, providerMessageID: message.providerMessageID, isEdit: message.isEdit)
            if let answer { try Self.insertOutbox(db, answer, ignoringDuplicate: true) }
            try self.transition(db, chat: chat, record.followUp)
            result = .stored(chat, stored)
            return .commit
        }
        return result
    }

    public func appendMessage(_ message: NewMessage, followUp: FollowUpTransition?) async throws -> StoredMessage {
        try await writes.write { db in
            guard let chat = try Self.fetchChat(db, id: message.chatID) else { throw StoreError.unknownChat(message.chatID) }
            let stored = try Self.insertMessage(db, chat: chat, author: message.author, kind: message.kind, text: message.text, at: message.at, providerMessageID: nil, step: nil)
            if let followUp { try self.transition(db, chat: chat, followUp) }
            return stored
        }
    }

    public func updateChat(id: String, lease: Lease?, _ change: @escaping @Sendable (inout Chat) -> Void, followUp: FollowUpTransition?) async throws -> Chat {
        try await writes.write { db in
            guard var chat = try Self.fetchChat(db, id: id) else { throw StoreError.unknownChat(id) }
            try Self.ensureHeld(db, lease, chatID: id)
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

    public func messages(chatID: String, after afterID: Int64, limit: Int) async throws -> [StoredMessage] {
        try await db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM messages WHERE chat_id = ? AND id > ? ORDER BY id LIMIT ?", arguments: [chatID, afterID, limit]
            ).map(Self.message)
        }
    }

    public func markDelivered(chatID: String, messageIDs: [Int64], at: Date) async throws {
        guard !messageIDs.isEmpty else { return }
        try await writes.write { db in
            // Bounded batches keep the statement under SQLite's variable limit.
            for batch in stride(from: 0, to: messageIDs.count, by: 500).map({ messageIDs[$0..<min($0 + 500, messageIDs.count)] }) {
                let marks = Array(repeating: "?", count: batch.count).joined(separator: ",")
                try db.execute(
                    sql: "UPDATE messages SET delivered_at = ? WHERE chat_id = ? AND delivered_at IS NULL AND id IN (\(marks))",
                    arguments: StatementArguments([at.timeIntervalSince1970, chatID] as [any DatabaseValueConvertible]) + StatementArguments(Array(batch)))
            }
        }
    }

    public func recordDeliveryStatuses(_ updates: [DeliveryStatusUpdate]) async throws -> [DeliveryStatusEffect] {
        guard !updates.isEmpty else { return [] }
        return try await writes.write { db in
            var effects: [DeliveryStatusEffect] = []
            for update in updates {
                guard
                    let row = try Row.fetchOne(
                        db,
                        sql: """
                            SELECT m.* FROM outbound_ids o JOIN messages m ON m.id = o.message_id
                            WHERE o.channel_id = ? AND o.provider_message_id = ?
                            """,
                        arguments: [update.channelID, update.providerMessageID])
                else { continue }
                var message = Self.message(row)
                guard update.state.supersedes(message.deliveryState) else { continue }
                message.deliveryState = update.state
                message.deliveryError = update.state == .failed ? update.error : nil
                if update.state == .delivered || update.state == .read, message.deliveredAt == nil { message.deliveredAt = update.at }
                try db.execute(
                    sql: "UPDATE messages SET delivery_state = ?, delivery_error = ?, delivered_at = ? WHERE id = ?",
                    arguments: [update.state.rawValue, message.deliveryError, message.deliveredAt?.timeIntervalSince1970, message.id])
                let outbox = try message.outboxID.flatMap { id in
                    try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [id]).map(Self.outboxEntry)
                }
                effects.append(DeliveryStatusEffect(update: update, message: message, outbox: outbox))
            }
            return effects
        }
    }

    // MARK: - Follow-ups

    public func followUpState(chatID: String) async throws -> FollowUpState? {
        try await db.read { db in try Self.fetchState(db, chatID: chatID) }
    }

    public func updateFollowUp(chatID: String, lease: Lease?, _ transition: @escaping FollowUpTransition) async throws -> FollowUpState {
        try await writes.write { db in try self.updateFollowUp(db, FollowUpUpdate(chatID: chatID, lease: lease, transition)) }
    }

    public func updatePendingFollowUps(employeeID: String, _ transition: @escaping FollowUpTransition) async throws -> Int {
        try await writes.write { db in
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
        try await writes.write { db in
            let t = now.timeIntervalSince1970
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT chat_id, lease_token FROM followups
                    WHERE status = 'scheduled' AND sends_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                    ORDER BY sends_at LIMIT ?
                    """,
                arguments: [t, t, limit])
            var claimed: [DueFollowUp] = []
            for row in rows {
                let id: String = row["chat_id"]
                let token = (row["lease_token"] as Int64) + 1
                try db.execute(sql: "UPDATE followups SET lease_owner = ?, lease_until = ?, lease_token = ? WHERE chat_id = ?",
                               arguments: [owner, leaseUntil.timeIntervalSince1970, token, id])
                if let chat = try Self.fetchChat(db, id: id), let state = try Self.fetchState(db, chatID: id) {
                    claimed.append(DueFollowUp(chat: chat, state: state, lease: Lease(work: .reminder, owner: owner, token: token)))
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
        let search = query.search.map(SearchText.normalize) ?? ""
        // The trigram index answers substring searches of three characters or more across all
        // employees. Within one employee, walking that employee's pending reminders in the
        // covering index is cheaper than checking every text match's employee.
        if query.employeeID == nil, search.unicodeScalars.count >= 3 { return try await pendingFollowUps(query, trigramSearch: search) }
        return try await db.read { db in
            let (condition, arguments) = Self.pendingCondition(query, search: search)
            let ordered = query.employeeID == nil ? "followups_pending" : "followups_pending_employee"
            let items = try Self.pendingPage(db, from: "followups AS f INDEXED BY \(ordered)", where: condition, arguments, limit: query.limit)
            // A short page is the whole answer; otherwise count the matches in one index scan.
            guard items.count >= query.limit else { return FollowUpPage(items: items, total: items.count) }
            let counted: String
            switch (query.employeeID, search.isEmpty) {
            case (nil, true): counted = "followups AS f"
            case (nil, false): counted = "followups AS f INDEXED BY followups_pending_search"
            case (_, _): counted = "followups AS f INDEXED BY followups_pending_employee"
            }
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(counted) WHERE \(condition)", arguments: arguments) ?? 0
            return FollowUpPage(items: items, total: total)
        }
    }

    /// A search the trigram index can answer: count the matches through it, then page either in
    /// send order (many matches: the first page is found early) or from the matches themselves
    /// (few matches: no need to walk the pending reminders at all).
    private func pendingFollowUps(_ query: FollowUpQuery, trigramSearch search: String) async throws -> FollowUpPage {
        try await db.read { db in
            let phrase = "\"" + search.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            let names = query.employeesMatchingSearch.sorted()
            let total: Int
            if names.isEmpty {
                total = try Int.fetchOne(db, sql: "SELECT count(*) FROM followups_search WHERE followups_search MATCH ?", arguments: [phrase]) ?? 0
            } else {
                // Text matches, plus chats of employees whose name matched, each counted once.
                let list = Array(repeating: "?", count: names.count).joined(separator: ",")
                total = try Int.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT count(*) FROM followups_search WHERE followups_search MATCH ?)
                          + (SELECT count(*) FROM followups AS f INDEXED BY followups_pending_employee
                             WHERE f.employee_id IN (\(list)) AND f.status IN ('scheduled', 'sending'))
                          - (SELECT count(*) FROM followups_search AS s CROSS JOIN followups AS f ON f.rowid = s.rowid
                             WHERE followups_search MATCH ? AND f.employee_id IN (\(list)))
                        """,
                    arguments: StatementArguments([phrase] + names + [phrase] + names)) ?? 0
            }
            guard total > 0 else { return FollowUpPage(items: [], total: 0) }
            let items: [PendingFollowUp]
            if total <= Self.sparseMatches && names.isEmpty {
                items = try Self.pendingPage(
                    db, from: "followups_search AS s CROSS JOIN followups AS f ON f.rowid = s.rowid", where: "followups_search MATCH ?", [phrase],
                    limit: query.limit)
            } else {
                let (condition, arguments) = Self.pendingCondition(query, search: search)
                items = try Self.pendingPage(db, from: "followups AS f INDEXED BY followups_pending", where: condition, arguments, limit: query.limit)
            }
            return FollowUpPage(items: items, total: total)
        }
    }

    /// Up to this many matches are paged from the matches rather than in send order.
    static let sparseMatches = 2000

    /// The SQL condition for pending reminders matching `query`, on `followups AS f`.
    private static func pendingCondition(_ query: FollowUpQuery, search: String) -> (String, StatementArguments) {
        var conditions = ["f.status IN ('scheduled', 'sending')"]
        var arguments: StatementArguments = []
        if let employee = query.employeeID {
            conditions.append("f.employee_id = ?")
            arguments += [employee]
        }
        if !search.isEmpty {
            var alternatives: [String] = []
            if !query.employeesMatchingSearch.isEmpty {
                alternatives.append("f.employee_id IN (\(Array(repeating: "?", count: query.employeesMatchingSearch.count).joined(separator: ",")))")
                arguments += StatementArguments(query.employeesMatchingSearch.sorted())
            }
            alternatives.append("instr(f.search_text, ?) > 0")
            arguments += [search]
            conditions.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        return (conditions.joined(separator: " AND "), arguments)
    }

    /// The first `limit` pending reminders of `source` (which names the followups table `f`)
    /// matching `condition`, soonest first, with their chats.
    private static func pendingPage(_ db: Database, from source: String, where condition: String, _ arguments: StatementArguments, limit: Int) throws
        -> [PendingFollowUp]
    {
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT c.*, f.state AS followup_state FROM \(source) JOIN chats c ON c.id = f.chat_id WHERE \(condition) ORDER BY f.sends_at, f.chat_id LIMIT ?",
            arguments: arguments + [limit])
        return try rows.map { row in
            PendingFollowUp(chat: Self.chat(row), state: try Self.decodeState(row["followup_state"]))
        }
    }

    // MARK: - Outbox

    public func enqueue(
        _ entry: NewOutboxEntry, usage: UsageRecord?, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws -> OutboxEntry? {
        try await writes.write { db in
            try self.enqueue(db, OutboxEnqueue(entry, usage: usage, lease: lease, chatChange: chatChange, followUp: followUp))
        }
    }

    /// One `enqueue` inside the caller's transaction.
    func enqueue(_ db: Database, _ item: OutboxEnqueue) throws -> OutboxEntry? {
        let entry = item.entry
        guard var chat = try Self.fetchChat(db, id: entry.chatID) else { throw StoreError.unknownChat(entry.chatID) }
        try Self.ensureHeld(db, item.lease, chatID: entry.chatID)
        if try db.cachedRow(sql: "SELECT 1 FROM outbox WHERE chat_id = ? AND idempotency_key = ?", arguments: [entry.chatID, entry.idempotencyKey]) != nil {
            return nil
        }
        if let chatChange = item.chatChange {
            chatChange(&chat)
            try Self.saveChat(db, chat)
        }
        if let followUp = item.followUp { try self.transition(db, chat: chat, followUp) }
        guard let queued = try Self.insertOutbox(db, entry, ignoringDuplicate: false) else { return nil }
        if var usage = item.usage {
            usage.outboxID = queued.id
            try Self.insertUsage(db, usage)
        }
        return queued
    }

    public func claimDueOutbox(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [OutboxEntry] {
        try await writes.write { db in
            let t = now.timeIntervalSince1970
            // Two index walks rather than one OR: with an OR, SQLite collects every due row and
            // sorts them, so each claim during a wave of thousands queued costs the whole queue.
            // Entries whose deliverer's lease ran out (few) come first; they are the oldest.
            var rows = try Row.fetchAll(
                db, sql: "SELECT * FROM outbox WHERE status = 'sending' AND lease_until <= ? ORDER BY next_attempt_at, id LIMIT ?",
                arguments: [t, limit])
            if rows.count < limit {
                rows += try Row.fetchAll(
                    db, sql: "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                    arguments: [t, limit - rows.count])
            }
            var result: [OutboxEntry] = []
            for row in rows {
                var entry = try Self.outboxEntry(row)
                entry.interrupted = entry.status == .sending
                let token = (row["lease_token"] as Int64) + 1
                try db.execute(
                    sql: "UPDATE outbox SET status = 'sending', lease_owner = ?, lease_until = ?, lease_token = ?, attempts = attempts + 1 WHERE id = ?",
                    arguments: [owner, leaseUntil.timeIntervalSince1970, token, entry.id])
                entry.lease = Lease(work: .outbox, owner: owner, token: token)
                entry.status = .sending
                entry.attempts += 1
                result.append(entry)
            }
            return result
        }
    }

    public func claimDueReplies(now: Date, owner: String, leaseUntil: Date, limit: Int) async throws -> [DueReply] {
        try await writes.write { db in
            let t = now.timeIntervalSince1970
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, reply_lease_token FROM chats
                    WHERE reply_due_at IS NOT NULL AND reply_due_at <= ? AND (reply_lease_until IS NULL OR reply_lease_until <= ?)
                    ORDER BY reply_due_at LIMIT ?
                    """,
                arguments: [t, t, limit])
            return try rows.compactMap { row -> DueReply? in
                let id: String = row["id"]
                let token = (row["reply_lease_token"] as Int64) + 1
                try db.execute(sql: "UPDATE chats SET reply_lease_owner = ?, reply_lease_until = ?, reply_lease_token = ? WHERE id = ?",
                               arguments: [owner, leaseUntil.timeIntervalSince1970, token, id])
                return try Self.fetchChat(db, id: id).map { DueReply(chat: $0, lease: Lease(work: .reply, owner: owner, token: token)) }
            }
        }
    }

    public func complete(
        outboxID: Int64, _ outcome: OutboxOutcome, lease: Lease?, chatChange: (@Sendable (inout Chat) -> Void)?, followUp: FollowUpTransition?
    ) async throws {
        try await writes.write { db in
            try self.complete(db, OutboxCompletion(outboxID: outboxID, outcome, lease: lease, chatChange: chatChange, followUp: followUp))
        }
    }

    /// One `complete` inside the caller's transaction.
    func complete(_ db: Database, _ item: OutboxCompletion) throws {
        let outboxID = item.outboxID
        guard let row = try db.cachedRow(sql: "SELECT * FROM outbox WHERE id = ?", arguments: [outboxID]) else {
            throw StoreError.unknownOutboxEntry(outboxID)
        }
        if let lease = item.lease, lease.work != .outbox || (row["lease_owner"] as String?) != lease.owner || (row["lease_token"] as Int64) != lease.token {
            throw StoreError.leaseLost(lease, id: String(outboxID))
        }
        let entry = try Self.outboxEntry(row)
        guard var chat = try Self.fetchChat(db, id: entry.entry.chatID) else { throw StoreError.unknownChat(entry.entry.chatID) }
        switch item.outcome {
        case .sent(let at, let ids, let delivered):
            try db.executeCached(sql: "UPDATE outbox SET status = 'sent', sent_at = ?, lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = ?",
                                 arguments: [at.timeIntervalSince1970, outboxID])
            let sent = try Self.insertMessage(db, chat: chat, author: entry.entry.author, kind: .text, text: entry.entry.text, at: at,
                                              providerMessageID: ids.first, step: entry.entry.followUpStep, outboxID: outboxID)
            for id in ids {
                try db.executeCached(
                    sql: "INSERT OR IGNORE INTO outbound_ids (channel_id, provider_message_id, message_id) VALUES (?, ?, ?)",
                    arguments: [chat.channelID, id, sent.id])
            }
            if delivered {
                try db.executeCached(sql: "UPDATE messages SET delivered_at = ? WHERE id = ?", arguments: [at.timeIntervalSince1970, sent.id])
            }
        case .retry(let at, let error):
            try db.executeCached(sql: "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                                 arguments: [at.timeIntervalSince1970, error, outboxID])
        case .postponed(let at, let reason):
            try db.executeCached(
                sql: """
                    UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, attempts = max(attempts - 1, 0),
                      lease_owner = NULL, lease_until = NULL WHERE id = ?
                    """,
                arguments: [at.timeIntervalSince1970, reason, outboxID])
        case .dead(_, let error):
            try db.executeCached(sql: "UPDATE outbox SET status = 'dead', last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                                 arguments: [error, outboxID])
        case .cancelled(_, let reason):
            try db.executeCached(sql: "UPDATE outbox SET status = 'cancelled', last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?",
                                 arguments: [reason, outboxID])
        }
        if let chatChange = item.chatChange {
            chatChange(&chat)
            try Self.saveChat(db, chat)
        }
        if let followUp = item.followUp { try self.transition(db, chat: chat, followUp) }
    }

    public func outbox(chatID: String) async throws -> [OutboxEntry] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE chat_id = ? ORDER BY id", arguments: [chatID]).map(Self.outboxEntry)
        }
    }

    public func nextWakeTimes() async throws -> WakeTimes {
        try await db.read { db in
            func earliest(_ values: Double?...) -> Date? { values.compactMap { $0 }.min().map { Date(timeIntervalSince1970: $0) } }
            return WakeTimes(
                outbox: earliest(
                    try Double.fetchOne(db, sql: "SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'"),
                    try Double.fetchOne(db, sql: "SELECT min(lease_until) FROM outbox WHERE status = 'sending'")),
                replies: earliest(
                    // As for reminders: an index walk that stops early, and the few leased rows
                    // (a lease is dropped whenever `reply_due_at` changes, so a leased row's
                    // lease ends after its due time). One expression over every owed answer
                    // read them all: a millisecond per wake with 20,000 answers owed.
                    try Double.fetchOne(
                        db, sql: "SELECT reply_due_at FROM chats WHERE reply_due_at IS NOT NULL AND reply_lease_until IS NULL ORDER BY reply_due_at LIMIT 1"),
                    try Double.fetchOne(db, sql: "SELECT min(reply_lease_until) FROM chats WHERE reply_lease_until IS NOT NULL AND +reply_due_at IS NOT NULL")),
                reminders: earliest(
                    // Both walk an index and stop early, so waking stays cheap with a million armed chats.
                    try Double.fetchOne(
                        db, sql: "SELECT sends_at FROM followups WHERE status = 'scheduled' AND lease_until IS NULL ORDER BY sends_at LIMIT 1"),
                    // A claimed reminder is due already; it needs attention again when its lease runs out.
                    // (`+status` keeps SQLite on the small partial index of leased rows.)
                    try Double.fetchOne(db, sql: "SELECT min(lease_until) FROM followups WHERE lease_until IS NOT NULL AND +status = 'scheduled'")))
        }
    }

    /// SQLite cannot tell one process about another's writes: processes sharing a file find
    /// each other's work at their next poll.
    public func wakeups() -> AsyncStream<Void> { AsyncStream { $0.finish() } }

    // MARK: - Usage and cursors

    public func recordUsage(_ usage: UsageRecord) async throws {
        try await writes.write { db in try Self.insertUsage(db, usage) }
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

    public func tokenUsageByDay(employeeID: String, purpose: UsagePurpose?, from: Date, to: Date, timeZone: TimeZone) async throws -> [DailyTokenUsage] {
        // SQLite knows no time zones, so sum per quarter hour — every zone's offset is a whole
        // number of quarter hours — and fold the quarters into the employee's local days here.
        let quarters = try await db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT CAST(at / 900 AS INTEGER) AS quarter, sum(prompt_tokens) AS p, sum(completion_tokens) AS c
                    FROM token_usage WHERE employee_id = ? AND at >= ? AND at < ? AND (?4 IS NULL OR purpose = ?4) GROUP BY quarter
                    """,
                arguments: [employeeID, from.timeIntervalSince1970, to.timeIntervalSince1970, purpose?.rawValue]
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
        try await writes.write { db in
            try db.execute(sql: "INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", arguments: [name, value])
        }
    }

    // MARK: - Shared state

    public func updateShared<T: Sendable>(_ name: String, now: Date, _ change: @escaping @Sendable (inout SharedValue?) throws -> T) async throws -> T {
        try await db.write { db in
            let t = now.timeIntervalSince1970
            var value = try Row.fetchOne(
                db, sql: "SELECT value, expires_at FROM shared_state WHERE name = ? AND (expires_at IS NULL OR expires_at > ?)", arguments: [name, t]
            ).map { SharedValue($0["value"], expires: Self.date($0["expires_at"])) }
            let before = value
            let result = try change(&value)
            if let value, value != before {
                try db.executeCached(
                    sql: "INSERT INTO shared_state (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                    arguments: [name, value.value, value.expires?.timeIntervalSince1970])
            } else if value == nil {
                try db.executeCached(sql: "DELETE FROM shared_state WHERE name = ?", arguments: [name])
            }
            // Lapsed values are swept now and then (they read as absent meanwhile).
            if Int.random(in: 0..<256) == 0 {
                try db.execute(sql: "DELETE FROM shared_state WHERE expires_at <= ?", arguments: [t])
            }
            return result
        }
    }

    public func shared(_ name: String, now: Date) async throws -> SharedValue? {
        try await db.read { db in
            try Row.fetchOne(
                db, sql: "SELECT value, expires_at FROM shared_state WHERE name = ? AND (expires_at IS NULL OR expires_at > ?)",
                arguments: [name, now.timeIntervalSince1970]
            ).map { SharedValue($0["value"], expires: Self.date($0["expires_at"])) }
        }
    }
}
