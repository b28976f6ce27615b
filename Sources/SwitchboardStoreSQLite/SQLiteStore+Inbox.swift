import Foundation
internal import GRDB
public import SwitchboardCore

// The Chats inbox: every chat, newest activity first, filtered and searched, in keyset pages.
//
// Migration `v8-chat-inbox` gives each chat the columns the inbox sorts and filters by —
// `last_activity_at`, `last_author`, `followup_status`, `opted_out`, `dead_letters` — kept in
// step by triggers on messages, followups and outbox, so no write path has to remember them.
// Each filter has a partial index in activity order, so a page of any filter walks only the
// chats it lists. Message text is searched through a contentless FTS5 trigram index of the
// normalized text (`SearchText.normalize`), written next to each message.

extension SQLiteStore {
    static func registerInboxMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8-chat-inbox") { db in
            try db.execute(sql: """
                ALTER TABLE chats ADD COLUMN last_activity_at REAL NOT NULL DEFAULT 0;
                ALTER TABLE chats ADD COLUMN last_author TEXT;
                ALTER TABLE chats ADD COLUMN followup_status TEXT NOT NULL DEFAULT 'idle';
                ALTER TABLE chats ADD COLUMN opted_out INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE chats ADD COLUMN dead_letters INTEGER NOT NULL DEFAULT 0;
                UPDATE chats SET
                  last_activity_at = max(created_at, coalesce((SELECT max(m.at) FROM messages m WHERE m.chat_id = chats.id), 0)),
                  last_author = (SELECT m.author FROM messages m
                                 WHERE m.chat_id = chats.id AND m.author <> 'system' AND m.is_edit = 0 AND m.kind <> 'reaction'
                                 ORDER BY m.id DESC LIMIT 1),
                  followup_status = coalesce((SELECT f.status FROM followups f WHERE f.chat_id = chats.id), 'idle'),
                  opted_out = coalesce((SELECT json_extract(f.state, '$.optOut') = 'client' FROM followups f WHERE f.chat_id = chats.id), 0),
                  dead_letters = (SELECT count(*) FROM outbox o WHERE o.chat_id = chats.id AND o.status = 'dead');

                CREATE INDEX chats_activity ON chats(last_activity_at, id);
                CREATE INDEX chats_employee_activity ON chats(employee_id, last_activity_at, id);
                CREATE INDEX chats_channel_activity ON chats(channel_id, last_activity_at, id);
                CREATE INDEX chats_waiting ON chats(last_activity_at, id) WHERE last_author = 'client';
                CREATE INDEX chats_scheduled ON chats(last_activity_at, id) WHERE followup_status IN ('scheduled', 'sending');
                CREATE INDEX chats_finished ON chats(last_activity_at, id) WHERE followup_status = 'finished';
                CREATE INDEX chats_opted_out ON chats(last_activity_at, id) WHERE opted_out = 1;
                CREATE INDEX chats_unreachable ON chats(last_activity_at, id) WHERE unreachable = 1;
                CREATE INDEX chats_dead_letters ON chats(last_activity_at, id) WHERE dead_letters > 0;

                CREATE TRIGGER chats_inbox_created AFTER INSERT ON chats WHEN new.last_activity_at < new.created_at
                BEGIN
                  UPDATE chats SET last_activity_at = new.created_at WHERE id = new.id;
                END;
                CREATE TRIGGER chats_inbox_message AFTER INSERT ON messages
                BEGIN
                  UPDATE chats SET last_activity_at = max(last_activity_at, new.at),
                    last_author = CASE WHEN new.author <> 'system' AND new.is_edit = 0 AND new.kind <> 'reaction' THEN new.author ELSE last_author END
                  WHERE id = new.chat_id;
                END;
                CREATE TRIGGER chats_inbox_followup_insert AFTER INSERT ON followups
                BEGIN
                  UPDATE chats SET followup_status = new.status, opted_out = coalesce(json_extract(new.state, '$.optOut') = 'client', 0)
                  WHERE id = new.chat_id;
                END;
                CREATE TRIGGER chats_inbox_followup_update AFTER UPDATE OF status, state ON followups
                BEGIN
                  UPDATE chats SET followup_status = new.status, opted_out = coalesce(json_extract(new.state, '$.optOut') = 'client', 0)
                  WHERE id = new.chat_id;
                END;
                CREATE TRIGGER chats_inbox_dead_insert AFTER INSERT ON outbox WHEN new.status = 'dead'
                BEGIN
                  UPDATE chats SET dead_letters = dead_letters + 1 WHERE id = new.chat_id;
                END;
                CREATE TRIGGER chats_inbox_dead_update AFTER UPDATE OF status ON outbox WHEN (new.status = 'dead') <> (old.status = 'dead')
                BEGIN
                  UPDATE chats SET dead_letters = dead_letters + CASE WHEN new.status = 'dead' THEN 1 ELSE -1 END WHERE id = new.chat_id;
                END;

                -- Titles and client names, by trigram (external content: the text stays in chats).
                CREATE VIRTUAL TABLE chats_search USING fts5(search_text, content = 'chats', content_rowid = 'rowid', tokenize = 'trigram');
                INSERT INTO chats_search (chats_search) VALUES ('rebuild');
                CREATE TRIGGER chats_search_insert AFTER INSERT ON chats
                BEGIN
                  INSERT INTO chats_search (rowid, search_text) VALUES (new.rowid, new.search_text);
                END;
                CREATE TRIGGER chats_search_update AFTER UPDATE OF search_text ON chats WHEN old.search_text IS NOT new.search_text
                BEGIN
                  INSERT INTO chats_search (chats_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
                  INSERT INTO chats_search (rowid, search_text) VALUES (new.rowid, new.search_text);
                END;

                -- Message text, normalized in Swift as it is written; contentless, so the text is
                -- not stored twice. Messages are never deleted.
                CREATE VIRTUAL TABLE messages_search USING fts5(search_text, content = '', tokenize = 'trigram');
                """)
            for row in try Row.fetchAll(db, sql: "SELECT id, text FROM messages") {
                try indexMessage(db, id: row["id"], text: row["text"])
            }
        }
    }

    /// Brings the trigram indexes up to date with the transaction's writes: the messages
    /// stored since the last time, and the chats and follow-up rows whose search text (or
    /// pending state) changed, noted by triggers. Runs once per transaction, outside the units' savepoints,
    /// so a wave's hundreds of writes cost one FTS5 flush instead of one each; a search in a
    /// later transaction sees every committed write, as before.
    @Sendable static func indexForSearch(_ db: Database) throws {
        let last = try Int64.fetchOne(db, sql: "SELECT last_id FROM search_progress WHERE name = 'messages'") ?? 0
        var newest = last
        let rows = try Row.fetchCursor(db, sql: "SELECT id, text FROM messages WHERE id > ? ORDER BY id", arguments: [last])
        while let row = try rows.next() {
            newest = row["id"]
            try indexMessage(db, id: newest, text: row["text"])
        }
        if newest > last {
            try db.execute(sql: "UPDATE search_progress SET last_id = ? WHERE name = 'messages'", arguments: [newest])
        }
        let chats = try Row.fetchAll(db, sql: "SELECT row, was_indexed, indexed FROM chats_search_dirty")
        for chat in chats {
            let row: Int64 = chat["row"]
            if chat["was_indexed"] as Bool {
                // External content: the index forgets a row by being told the text it holds.
                try db.executeCached(
                    sql: "INSERT INTO chats_search (chats_search, rowid, search_text) VALUES ('delete', ?, ?)", arguments: [row, chat["indexed"] as String?])
            }
            try db.executeCached(
                sql: "INSERT INTO chats_search (rowid, search_text) SELECT rowid, search_text FROM chats WHERE rowid = ?", arguments: [row])
        }
        if !chats.isEmpty { try db.execute(sql: "DELETE FROM chats_search_dirty") }
        let followUps = try Int64.fetchAll(db, sql: "SELECT row FROM followups_search_dirty")
        for row in followUps {
            try db.executeCached(sql: "DELETE FROM followups_search WHERE rowid = ?", arguments: [row])
            try db.executeCached(
                sql: """
                    INSERT INTO followups_search (rowid, search_text)
                    SELECT rowid, search_text FROM followups WHERE rowid = ? AND status IN ('scheduled', 'sending')
                    """,
                arguments: [row])
        }
        if !followUps.isEmpty { try db.execute(sql: "DELETE FROM followups_search_dirty") }
    }

    /// Tables that only say what the trigram indexes still have to take in.
    static let searchBookkeeping: Set<String> = ["search_progress", "chats_search_dirty", "followups_search_dirty"]

    /// Adds a message's normalized text to the search index.
    static func indexMessage(_ db: Database, id: Int64, text: String) throws {
        let normalized = SearchText.normalize(text)
        guard !normalized.isEmpty else { return }
        try db.executeCached(sql: "INSERT INTO messages_search (rowid, search_text) VALUES (?, ?)", arguments: [id, normalized])
    }

    /// A search with fewer matches than this (messages, titles and the chats of employees whose
    /// name matched, each counted up to it) collects its matches and sorts them; with more, the
    /// page walks the chats in activity order and tests each.
    static let inboxDenseMatches = 1000

    /// Whether a search has fewer than `inboxDenseMatches` matches. Each count stops at the
    /// threshold, so a search matching half the messages costs no more than one matching a thousand.
    static func fewMatches(_ db: Database, phrase: String, names: [String]) throws -> Bool {
        let limit = inboxDenseMatches
        func bounded(_ sql: String, _ arguments: StatementArguments) throws -> Int {
            try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(sql) LIMIT \(limit))", arguments: arguments) ?? 0
        }
        var found = try bounded("SELECT 1 FROM messages_search WHERE messages_search MATCH ?", [phrase])
        if found < limit { found += try bounded("SELECT 1 FROM chats_search WHERE chats_search MATCH ?", [phrase]) }
        if found < limit, !names.isEmpty {
            let list = Array(repeating: "?", count: names.count).joined(separator: ",")
            found += try bounded("SELECT 1 FROM chats INDEXED BY chats_employee_activity WHERE employee_id IN (\(list))", StatementArguments(names))
        }
        return found < limit
    }

    public func chatInbox(_ query: ChatInboxQuery) async throws -> ChatInboxPage {
        let search = query.search.map(SearchText.normalize) ?? ""
        return try await db.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let employee = query.employeeID {
                conditions.append("c.employee_id = ?")
                arguments += [employee]
            }
            if let channel = query.channelID {
                conditions.append("c.channel_id = ?")
                arguments += [channel]
            }
            if let state = query.state { conditions.append(Self.inboxCondition(state)) }
            if let after = query.after {
                conditions.append("(c.last_activity_at, c.id) < (?, ?)")
                arguments += [after.lastActivityAt.timeIntervalSince1970, after.chatID]
            }
            // The index the page walks, newest first: the filter that names a partial index
            // lists only its chats; otherwise the employee's or channel's chats in activity order.
            let index: String =
                if let state = query.state { Self.inboxIndex(state) } else if query.employeeID != nil { "chats_employee_activity" } else if query.channelID != nil {
                    "chats_channel_activity"
                } else { "chats_activity" }
            var source = "chats AS c INDEXED BY \(index)"

            if !search.isEmpty {
                let names = query.employeesMatchingSearch.sorted()
                let nameList = Array(repeating: "?", count: names.count).joined(separator: ",")
                var alternatives: [String] = []
                var searchArguments: StatementArguments = []
                if !names.isEmpty {
                    alternatives.append("c.employee_id IN (\(nameList))")
                    searchArguments += StatementArguments(names)
                }
                alternatives.append("instr(c.search_text, ?) > 0")
                searchArguments += [search]
                if search.unicodeScalars.count >= 3 {
                    let phrase = "\"" + search.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                    if try Self.fewMatches(db, phrase: phrase, names: names) {
                        // Few matches: collect them and sort, whatever index the filters would walk.
                        var hits = """
                            SELECT m.chat_id FROM messages_search s CROSS JOIN messages m ON m.id = s.rowid WHERE messages_search MATCH ?
                            UNION SELECT h.id FROM chats_search t CROSS JOIN chats h ON h.rowid = t.rowid WHERE chats_search MATCH ?
                            """
                        var hitArguments: StatementArguments = [phrase, phrase]
                        if !names.isEmpty {
                            hits += "\nUNION SELECT e.id FROM chats e INDEXED BY chats_employee_activity WHERE e.employee_id IN (\(nameList))"
                            hitArguments += StatementArguments(names)
                        }
                        source = "(\(hits)) AS hit CROSS JOIN chats AS c ON c.id = hit.chat_id"
                        arguments = hitArguments + arguments
                        alternatives = []
                    } else {
                        // Many matches: walk the chats in activity order and test each — a page
                        // fills after a few hundred chats. The matching message ids are read from
                        // the trigram index once; `+m.id` keeps each chat's test a walk of its own
                        // messages (by chat) probing that set, not a walk of the whole set.
                        alternatives.append(
                            "EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND +m.id IN (SELECT rowid FROM messages_search WHERE messages_search MATCH ?))")
                        searchArguments += [phrase]
                    }
                }
                // One or two characters: the trigram indexes cannot answer, and matching every
                // message's text would read them all; titles, clients and employees only.
                if !alternatives.isEmpty {
                    conditions.append("(" + alternatives.joined(separator: " OR ") + ")")
                    arguments += searchArguments
                }
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT c.*, f.state AS followup_state,
                      (SELECT m.text FROM messages m WHERE m.chat_id = c.id ORDER BY m.id DESC LIMIT 1) AS last_text
                    FROM \(source) LEFT JOIN followups f ON f.chat_id = c.id
                    \(whereClause)
                    ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?
                    """,
                arguments: arguments + [query.limit + 1])
            var items = try rows.map { row in
                ChatInboxRow(
                    chat: Self.chat(row), lastActivityAt: Self.date(row["last_activity_at"])!,
                    lastAuthor: (row["last_author"] as String?).flatMap(Author.init(rawValue:)), lastMessage: row["last_text"],
                    followUp: try (row["followup_state"] as String?).map(Self.decodeState) ?? FollowUpState(), deadLetters: row["dead_letters"])
            }
            var next: ChatInboxCursor?
            if items.count > query.limit {
                items.removeLast()
                next = items.last?.cursor
            }
            return ChatInboxPage(items: items, next: next)
        }
    }

    /// The SQL condition for one state; each is exactly the `WHERE` of its partial index.
    static func inboxCondition(_ state: ChatInboxState) -> String {
        switch state {
        case .waiting: "c.last_author = 'client'"
        case .scheduled: "c.followup_status IN ('scheduled', 'sending')"
        case .finished: "c.followup_status = 'finished'"
        case .optedOut: "c.opted_out = 1"
        case .unreachable: "c.unreachable = 1"
        case .deadLetter: "c.dead_letters > 0"
        }
    }

    static func inboxIndex(_ state: ChatInboxState) -> String {
        switch state {
        case .waiting: "chats_waiting"
        case .scheduled: "chats_scheduled"
        case .finished: "chats_finished"
        case .optedOut: "chats_opted_out"
        case .unreachable: "chats_unreachable"
        case .deadLetter: "chats_dead_letters"
        }
    }
}
