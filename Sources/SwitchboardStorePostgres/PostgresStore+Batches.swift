import Foundation
import PostgresNIO
public import SwitchboardCore

// The scheduler's batch calls: one transaction for the whole batch, and set-based statements —
// one multi-row statement per step of the batch (lock the chats, read and lock their follow-up
// rows, write the changed states, log the decisions, insert the queued entries or the sent
// messages) rather than a few statements per item. Rows are locked in id order, so batches of
// several processes wait for each other rather than deadlock.
//
// An item refused on the domain's terms (a lost lease, an unknown chat or entry, a transition
// that threw) is refused before anything is written for it, in Swift, so no savepoint is
// needed; a database error ends the whole transaction and is thrown to the caller. A batch that
// names a chat twice is carried out in segments, each naming a chat once, one after the other
// in the same transaction — as the items would have been one by one.
extension PostgresStore {
    public func updateFollowUps(_ batch: [FollowUpUpdate]) async throws -> [Result<FollowUpState, any Error>] {
        guard !batch.isEmpty else { return [] }
        return try await write { tx in
            var results: [Result<FollowUpState, any Error>] = []
            for segment in Self.segments(batch.map(\.chatID)) {
                let items = Array(batch[segment])
                let chats = try await Self.lockChats(tx, ids: items.map(\.chatID))
                let rows = try await Self.lockFollowUps(tx, chatIDs: items.map(\.chatID))
                var changes: [PendingTransition?] = []
                var outcome: [Result<FollowUpState, any Error>] = []
                for item in items {
                    do {
                        guard let chat = chats[item.chatID] else { throw StoreError.unknownChat(item.chatID) }
                        try Self.ensureHeld(item.lease, chat: chat, followUp: rows[item.chatID])
                        let change = try PendingTransition(chat: chat.chat, row: rows[item.chatID], item.transition)
                        changes.append(change)
                        outcome.append(.success(change.state))
                    } catch {
                        changes.append(nil)
                        outcome.append(.failure(error))
                    }
                }
                try await Self.writeTransitions(tx, changes.compactMap { $0 })
                results += outcome
            }
            return results
        }
    }

    public func enqueue(_ batch: [OutboxEnqueue]) async throws -> [Result<OutboxEntry?, any Error>] {
        guard !batch.isEmpty else { return [] }
        return try await write { tx in
            var results: [Result<OutboxEntry?, any Error>] = []
            for segment in Self.segments(batch.map(\.entry.chatID)) {
                results += try await Self.enqueue(tx, Array(batch[segment]))
            }
            return results
        }
    }

    private static func enqueue(_ tx: Transaction, _ items: [OutboxEnqueue]) async throws -> [Result<OutboxEntry?, any Error>] {
        let ids = items.map(\.entry.chatID)
        let chats = try await lockChats(tx, ids: ids)
        let rows = try await lockFollowUps(tx, chatIDs: ids)
        // The keys already used, in one look-up (each chat appears once in a segment).
        var used = Set<String>()
        for row in try await tx.rows(
            """
            SELECT o.chat_id FROM outbox o JOIN unnest(\(ids), \(items.map(\.entry.idempotencyKey))) AS k(chat_id, idempotency_key)
              ON o.chat_id = k.chat_id AND o.idempotency_key = k.idempotency_key
            """)
        {
            used.insert(try row.get("chat_id"))
        }
        var results: [Result<OutboxEntry?, any Error>] = []
        var changes: [PendingTransition] = []
        var queue: [(index: Int, item: OutboxEnqueue)] = []
        var changedChats: [Chat] = []
        for item in items {
            do {
                let chatID = item.entry.chatID
                guard var chat = chats[chatID] else { throw StoreError.unknownChat(chatID) }
                try ensureHeld(item.lease, chat: chat, followUp: rows[chatID])
                guard !used.contains(chatID) else {
                    results.append(.success(nil))
                    continue
                }
                if let chatChange = item.chatChange {
                    chatChange(&chat.chat)
                    changedChats.append(chat.chat)
                }
                if let followUp = item.followUp { changes.append(try PendingTransition(chat: chat.chat, row: rows[chatID], followUp)) }
                queue.append((results.count, item))
                results.append(.success(nil))
            } catch {
                results.append(.failure(error))
            }
        }
        for chat in changedChats { try await saveChat(tx, chat) }
        try await writeTransitions(tx, changes)
        guard !queue.isEmpty else { return results }
        let entries = queue.map(\.item.entry)
        var inserted: [String: Int64] = [:]
        for row in try await tx.rows(
            """
            INSERT INTO outbox (chat_id, purpose, idempotency_key, text, delivery, author, status, next_attempt_at, followup_run, followup_step, last_error)
            SELECT x.chat_id, x.purpose, x.idempotency_key, x.text, x.delivery, x.author, x.status, x.next_attempt_at, x.followup_run, x.followup_step,
                   x.last_error
            FROM jsonb_to_recordset(\(try json(try entries.enumerated().map { try OutboxRecord($1, seq: $0) }))::jsonb) AS x(
              seq int, chat_id text, purpose text, idempotency_key text, text text, delivery text, author text, status text, next_attempt_at float8,
              followup_run int, followup_step int, last_error text)
            ORDER BY x.seq
            ON CONFLICT (chat_id, idempotency_key) DO NOTHING
            RETURNING id, chat_id
            """)
        {
            inserted[try row.get("chat_id")] = try row.get("id")
        }
        var usages: [UsageRecord] = []
        for (index, item) in queue {
            guard let id = inserted[item.entry.chatID] else { continue }  // queued meanwhile: nil
            let status: OutboxStatus = item.entry.failure == nil ? .pending : .dead
            if status == .pending { tx.wakesOthers = true }
            results[index] = .success(
                OutboxEntry(id: id, entry: item.entry, status: status, attempts: 0, nextAttemptAt: item.entry.notBefore, lastError: item.entry.failure))
            if var usage = item.usage {
                usage.outboxID = id
                usages.append(usage)
            }
        }
        if !usages.isEmpty {
            try await tx.query(
                """
                INSERT INTO token_usage (employee_id, chat_id, purpose, prompt_tokens, completion_tokens, model, at, outbox_id)
                SELECT x.employee_id, x.chat_id, x.purpose, x.prompt_tokens, x.completion_tokens, x.model, x.at, x.outbox_id
                FROM jsonb_to_recordset(\(try json(usages.enumerated().map { UsageRow($1, seq: $0) }))::jsonb) AS x(
                  seq int, employee_id text, chat_id text, purpose text, prompt_tokens int, completion_tokens int, model text, at float8, outbox_id bigint)
                ORDER BY x.seq
                """)
        }
        return results
    }

    public func complete(_ batch: [OutboxCompletion]) async throws -> [Result<Void, any Error>] {
        guard !batch.isEmpty else { return [] }
        return try await write { tx in
            // The chats are locked before their outbox rows, as on every other write path.
            var owners: [Int64: String] = [:]
            for row in try await tx.rows("SELECT id, chat_id FROM outbox WHERE id = ANY(\(Array(Set(batch.map(\.outboxID)))))") {
                owners[try row.get("id")] = try row.get("chat_id")
            }
            // An unknown entry has no chat: it stands for itself in the segments.
            let keys = batch.map { owners[$0.outboxID] ?? "\u{0}\($0.outboxID)" }
            var results: [Result<Void, any Error>] = []
            for segment in Self.segments(keys) {
                results += try await Self.complete(tx, Array(batch[segment]))
            }
            return results
        }
    }

    private static func complete(_ tx: Transaction, _ items: [OutboxCompletion]) async throws -> [Result<Void, any Error>] {
        var entries: [Int64: (entry: OutboxEntry, leaseOwner: String?, leaseToken: Int64)] = [:]
        let ids = items.map(\.outboxID)
        let owners = try await tx.rows("SELECT chat_id FROM outbox WHERE id = ANY(\(ids))").map { try $0.get("chat_id", as: String.self) }
        let chats = try await lockChats(tx, ids: owners)
        let rows = try await lockFollowUps(tx, chatIDs: owners)
        for row in try await tx.rows("SELECT * FROM outbox WHERE id = ANY(\(ids)) ORDER BY id FOR UPDATE") {
            entries[try row.get("id")] = (try outboxEntry(row), try row.get("lease_owner"), try row.get("lease_token"))
        }
        var results: [Result<Void, any Error>] = []
        var changes: [PendingTransition] = []
        var changedChats: [Chat] = []
        var outcomes: [OutcomeRecord] = []
        var sent: [(outbox: OutboxEntry, chat: Chat, at: Date, ids: [String], delivered: Bool)] = []
        for item in items {
            do {
                guard let row = entries[item.outboxID] else { throw StoreError.unknownOutboxEntry(item.outboxID) }
                if let lease = item.lease, lease.work != .outbox || row.leaseOwner != lease.owner || row.leaseToken != lease.token {
                    throw StoreError.leaseLost(lease, id: String(item.outboxID))
                }
                let chatID = row.entry.entry.chatID
                guard var chat = chats[chatID] else { throw StoreError.unknownChat(chatID) }
                if let chatChange = item.chatChange {
                    chatChange(&chat.chat)
                    changedChats.append(chat.chat)
                }
                if let followUp = item.followUp { changes.append(try PendingTransition(chat: chat.chat, row: rows[chatID], followUp)) }
                outcomes.append(OutcomeRecord(id: item.outboxID, item.outcome))
                if case .sent(let at, let providerIDs, let delivered) = item.outcome {
                    sent.append((row.entry, chat.chat, at, providerIDs, delivered))
                }
                results.append(.success(()))
            } catch {
                results.append(.failure(error))
            }
        }
        for chat in changedChats { try await saveChat(tx, chat) }
        try await writeTransitions(tx, changes)
        if !outcomes.isEmpty {
            try await tx.query(
                """
                UPDATE outbox o SET status = x.status, sent_at = coalesce(x.sent_at, o.sent_at),
                  next_attempt_at = coalesce(x.next_attempt_at, o.next_attempt_at), last_error = x.last_error,
                  attempts = CASE WHEN x.give_back THEN greatest(o.attempts - 1, 0) ELSE o.attempts END,
                  lease_owner = NULL, lease_until = NULL
                FROM jsonb_to_recordset(\(try json(outcomes))::jsonb) AS x(
                  id bigint, status text, sent_at float8, next_attempt_at float8, last_error text, give_back boolean)
                WHERE o.id = x.id
                """)
        }
        guard !sent.isEmpty else { return results }
        let messages = sent.enumerated().map { seq, item in
            MessageRecord(
                seq: seq, chat_id: item.chat.id, channel_id: item.chat.channelID, provider_message_id: item.ids.first, author: item.outbox.entry.author.rawValue,
                text: item.outbox.entry.text, search_text: SearchText.normalize(item.outbox.entry.text), at: item.at.seconds,
                followup_step: item.outbox.entry.followUpStep, outbox_id: item.outbox.id, delivered_at: item.delivered ? item.at.seconds : nil)
        }
        var messageIDs: [Int64: Int64] = [:]
        for row in try await tx.rows(
            """
            INSERT INTO messages (chat_id, channel_id, provider_message_id, author, kind, text, at, followup_step, outbox_id, search_text, delivered_at)
            SELECT x.chat_id, x.channel_id, x.provider_message_id, x.author, 'text', x.text, x.at, x.followup_step, x.outbox_id, x.search_text, x.delivered_at
            FROM jsonb_to_recordset(\(try json(messages))::jsonb) AS x(
              seq int, chat_id text, channel_id text, provider_message_id text, author text, text text, search_text text, at float8, followup_step int,
              outbox_id bigint, delivered_at float8)
            ORDER BY x.seq
            RETURNING id, outbox_id
            """)
        {
            messageIDs[try row.get("outbox_id")] = try row.get("id")
        }
        let outbound = sent.flatMap { item in
            item.ids.compactMap { id in messageIDs[item.outbox.id].map { OutboundIDRecord(channel_id: item.chat.channelID, provider_message_id: id, message_id: $0) } }
        }
        if !outbound.isEmpty {
            try await tx.query(
                """
                INSERT INTO outbound_ids (channel_id, provider_message_id, message_id)
                SELECT x.channel_id, x.provider_message_id, x.message_id
                FROM jsonb_to_recordset(\(try json(outbound))::jsonb) AS x(channel_id text, provider_message_id text, message_id bigint)
                ON CONFLICT DO NOTHING
                """)
        }
        return results
    }

    public func chatContexts(ids: [String], historyLimit: Int) async throws -> [String: ChatContext] {
        guard !ids.isEmpty else { return [:] }
        let ids = Array(Set(ids))
        return try await read { tx in
            var contexts: [String: ChatContext] = [:]
            for row in try await tx.rows(
                "SELECT c.*, f.state AS followup_state FROM chats c LEFT JOIN followups f ON f.chat_id = c.id WHERE c.id = ANY(\(ids))")
            {
                let chat = try Self.chat(row)
                let state = try row.get("followup_state", as: String?.self).map(Self.decodeState)
                contexts[chat.id] = ChatContext(chat: chat, state: state, history: [])
            }
            guard historyLimit > 0, !contexts.isEmpty else { return contexts }
            for row in try await tx.rows(
                """
                SELECT * FROM (
                  SELECT m.*, row_number() OVER (PARTITION BY m.chat_id ORDER BY m.id DESC) AS recent
                  FROM messages m WHERE m.chat_id = ANY(\(ids))) latest
                WHERE recent <= \(historyLimit) ORDER BY chat_id, id
                """)
            {
                let message = try Self.message(row)
                contexts[message.chatID]?.history.append(message)
            }
            return contexts
        }
    }

    // MARK: - Steps

    /// Index ranges of `keys`, in order, in which no key appears twice.
    static func segments(_ keys: [String]) -> [Range<Int>] {
        var segments: [Range<Int>] = []
        var start = 0
        var seen = Set<String>()
        for (index, key) in keys.enumerated() where !seen.insert(key).inserted {
            segments.append(start..<index)
            start = index
            seen = [key]
        }
        segments.append(start..<keys.count)
        return segments
    }

    /// A chat locked for the batch, with its reply lease (for fencing an answer's writes).
    struct LockedChat {
        var chat: Chat
        var replyLeaseOwner: String?
        var replyLeaseToken: Int64
    }

    /// Locks the chats in one statement, in id order.
    static func lockChats(_ tx: Transaction, ids: [String]) async throws -> [String: LockedChat] {
        var chats: [String: LockedChat] = [:]
        for row in try await tx.rows("SELECT * FROM chats WHERE id = ANY(\(Array(Set(ids)))) ORDER BY id FOR UPDATE") {
            let chat = try Self.chat(row)
            chats[chat.id] = LockedChat(chat: chat, replyLeaseOwner: try row.get("reply_lease_owner"), replyLeaseToken: try row.get("reply_lease_token"))
        }
        return chats
    }

    /// A chat's follow-up row as the batch found it.
    struct FollowUpRow {
        var state: FollowUpState
        var leaseOwner: String?
        var leaseToken: Int64
    }

    /// Reads and locks the chats' follow-up rows in one statement (no claim takes them before the commit).
    static func lockFollowUps(_ tx: Transaction, chatIDs: [String]) async throws -> [String: FollowUpRow] {
        var rows: [String: FollowUpRow] = [:]
        for row in try await tx.rows(
            "SELECT chat_id, state, lease_owner, lease_token FROM followups WHERE chat_id = ANY(\(Array(Set(chatIDs)))) ORDER BY chat_id FOR UPDATE")
        {
            rows[try row.get("chat_id")] = FollowUpRow(state: try decodeState(try row.get("state")), leaseOwner: try row.get("lease_owner"),
                                                       leaseToken: try row.get("lease_token"))
        }
        return rows
    }

    /// `ensureHeld` against the rows the segment locked and read.
    static func ensureHeld(_ lease: Lease?, chat: LockedChat, followUp: FollowUpRow?) throws {
        guard let lease else { return }
        let held: Bool
        switch lease.work {
        case .reminder: held = followUp.map { $0.leaseOwner == lease.owner && $0.leaseToken == lease.token } ?? false
        case .reply: held = chat.replyLeaseOwner == lease.owner && chat.replyLeaseToken == lease.token
        case .outbox: held = false  // an outbox lease fences `complete` only
        }
        guard held else { throw StoreError.leaseLost(lease, id: chat.chat.id) }
    }

    /// A transition applied in Swift, waiting to be written with the rest of its batch.
    struct PendingTransition {
        var chat: Chat
        var before: FollowUpState?
        var state: FollowUpState
        var decisions: [FollowUpDecision]

        /// Runs `transition` on the row's state; throws (and nothing is written) when it does.
        init(chat: Chat, row: FollowUpRow?, _ transition: FollowUpTransition) throws {
            self.chat = chat
            before = row?.state
            var state = row?.state ?? FollowUpState()
            decisions = try transition(&state, chat)
            self.state = state
        }

        var changed: Bool { state != before }

        /// The same work — this (run, step) going out at this time — keeps its holder's lease.
        var sameWork: Bool {
            before.map { $0.status == state.status && $0.run == state.run && $0.step == state.step && $0.sendsAt == state.sendsAt } ?? false
        }

        /// A reminder queued under (run, step) that the chain has left must not go out.
        var cancels: (run: Int, step: Int)? {
            guard changed, let before, before.status == .sending, let step = before.step,
                !(state.status == .sending && state.run == before.run && state.step == step)
            else { return nil }
            return (before.run, step)
        }
    }

    /// Writes a batch's transitions (one chat each) as `transition` would, set-based.
    static func writeTransitions(_ tx: Transaction, _ changes: [PendingTransition]) async throws {
        let changed = changes.filter(\.changed)
        if changed.contains(where: { $0.state.status == .scheduled && ($0.state.sendsAt != $0.before?.sendsAt || $0.before?.status != .scheduled) }) {
            tx.wakesOthers = true
        }
        let updates = try changed.filter { $0.before != nil }.map { change in
            FollowUpRecord(
                chat_id: change.chat.id, employee_id: change.chat.employeeID, status: change.state.status.rawValue, sends_at: change.state.sendsAt?.seconds,
                state: try FollowUpStateCodec.shared.encode(change.state), keep_lease: change.sameWork, search_text: nil)
        }
        if !updates.isEmpty {
            // The rows' search text follows their chats already (`saveChat`).
            try await tx.query(
                """
                UPDATE followups f SET employee_id = x.employee_id, status = x.status, sends_at = x.sends_at, state = x.state,
                  lease_owner = CASE WHEN x.keep_lease THEN f.lease_owner END, lease_until = CASE WHEN x.keep_lease THEN f.lease_until END
                FROM jsonb_to_recordset(\(try json(updates))::jsonb) AS x(
                  chat_id text, employee_id text, status text, sends_at float8, state text, keep_lease boolean)
                WHERE f.chat_id = x.chat_id
                """)
        }
        let inserts = try changed.filter { $0.before == nil }.map { change in
            FollowUpRecord(
                chat_id: change.chat.id, employee_id: change.chat.employeeID, status: change.state.status.rawValue, sends_at: change.state.sendsAt?.seconds,
                state: try FollowUpStateCodec.shared.encode(change.state), keep_lease: false,
                search_text: SearchText.index(title: change.chat.title, clientName: change.chat.clientName))
        }
        if !inserts.isEmpty {
            // The chats are locked, and every writer of a follow-up row locks its chat first.
            try await tx.query(
                """
                INSERT INTO followups (chat_id, employee_id, status, sends_at, state, search_text)
                SELECT x.chat_id, x.employee_id, x.status, x.sends_at, x.state, x.search_text
                FROM jsonb_to_recordset(\(try json(inserts))::jsonb) AS x(chat_id text, employee_id text, status text, sends_at float8, state text, search_text text)
                """)
        }
        let cancelled = changed.compactMap { change in
            change.cancels.map { run, step in
                CancelRecord(chat_id: change.chat.id, run: run, step: step,
                             reason: "the chain stopped before delivery (\((change.state.lastReason ?? .chainChanged).rawValue))")
            }
        }
        if !cancelled.isEmpty {
            try await tx.query(
                """
                UPDATE outbox o SET status = 'cancelled', last_error = x.reason
                FROM jsonb_to_recordset(\(try json(cancelled))::jsonb) AS x(chat_id text, run int, step int, reason text)
                WHERE o.chat_id = x.chat_id AND o.purpose = 'reminder' AND o.followup_run = x.run AND o.followup_step = x.step AND o.status = 'pending'
                """)
        }
        var decisions: [DecisionRecord] = []
        for change in changes where !change.decisions.isEmpty {
            for d in change.decisions {
                decisions.append(
                    DecisionRecord(seq: decisions.count, chat_id: change.chat.id, at: d.at.seconds, kind: d.kind.rawValue, reason: d.reason.rawValue,
                                   run: d.run, step: d.step, due: d.due?.seconds, sends_at: d.sendsAt?.seconds, detail: d.detail))
            }
            tx.decisions.append((change.chat.id, change.decisions))
        }
        if !decisions.isEmpty {
            try await tx.query(
                """
                INSERT INTO decisions (chat_id, at, kind, reason, run, step, due, sends_at, detail)
                SELECT x.chat_id, x.at, x.kind, x.reason, x.run, x.step, x.due, x.sends_at, x.detail
                FROM jsonb_to_recordset(\(try json(decisions))::jsonb) AS x(
                  seq int, chat_id text, at float8, kind text, reason text, run int, step int, due float8, sends_at float8, detail text)
                ORDER BY x.seq
                """)
        }
    }

    /// The rows of a multi-row statement, as one JSON parameter (`jsonb_to_recordset`): one
    /// bind whatever the batch's size, and absent values read as NULL.
    static func json<T: Encodable>(_ rows: [T]) throws -> String {
        String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
    }
}

// The rows of the multi-row statements, named as their columns.

private struct FollowUpRecord: Encodable {
    var chat_id: String
    var employee_id: String
    var status: String
    var sends_at: Double?
    var state: String
    var keep_lease: Bool
    var search_text: String?
}

private struct DecisionRecord: Encodable {
    var seq: Int
    var chat_id: String
    var at: Double
    var kind: String
    var reason: String
    var run: Int
    var step: Int?
    var due: Double?
    var sends_at: Double?
    var detail: String?
}

private struct CancelRecord: Encodable {
    var chat_id: String
    var run: Int
    var step: Int
    var reason: String
}

private struct OutboxRecord: Encodable {
    var seq: Int
    var chat_id: String
    var purpose: String
    var idempotency_key: String
    var text: String
    var delivery: String
    var author: String
    var status: String
    var next_attempt_at: Double
    var followup_run: Int?
    var followup_step: Int?
    var last_error: String?

    init(_ entry: NewOutboxEntry, seq: Int) throws {
        self.seq = seq
        chat_id = entry.chatID
        purpose = entry.purpose.rawValue
        idempotency_key = entry.idempotencyKey
        text = entry.text
        delivery = try PostgresStore.encode(entry.delivery)
        author = entry.author.rawValue
        status = (entry.failure == nil ? OutboxStatus.pending : .dead).rawValue
        next_attempt_at = entry.notBefore.seconds
        followup_run = entry.followUpRun
        followup_step = entry.followUpStep
        last_error = entry.failure
    }
}

private struct UsageRow: Encodable {
    var seq: Int
    var employee_id: String
    var chat_id: String
    var purpose: String
    var prompt_tokens: Int
    var completion_tokens: Int
    var model: String
    var at: Double
    var outbox_id: Int64?

    init(_ usage: UsageRecord, seq: Int) {
        self.seq = seq
        employee_id = usage.employeeID
        chat_id = usage.chatID
        purpose = usage.purpose.rawValue
        prompt_tokens = usage.usage.promptTokens
        completion_tokens = usage.usage.completionTokens
        model = usage.model
        at = usage.at.seconds
        outbox_id = usage.outboxID
    }
}

/// An outcome as the outbox row takes it.
private struct OutcomeRecord: Encodable {
    var id: Int64
    var status: String
    var sent_at: Double?
    var next_attempt_at: Double?
    var last_error: String?
    /// Postponed: the claim that counted an attempt is given back.
    var give_back: Bool

    init(id: Int64, _ outcome: OutboxOutcome) {
        self.id = id
        give_back = false
        switch outcome {
        case .sent(let at, _, _):
            status = OutboxStatus.sent.rawValue
            sent_at = at.seconds
        case .retry(let at, let error):
            status = OutboxStatus.pending.rawValue
            next_attempt_at = at.seconds
            last_error = error
        case .postponed(let at, let reason):
            status = OutboxStatus.pending.rawValue
            next_attempt_at = at.seconds
            last_error = reason
            give_back = true
        case .dead(_, let error):
            status = OutboxStatus.dead.rawValue
            last_error = error
        case .cancelled(_, let reason):
            status = OutboxStatus.cancelled.rawValue
            last_error = reason
        }
    }
}

private struct MessageRecord: Encodable {
    var seq: Int
    var chat_id: String
    var channel_id: String
    var provider_message_id: String?
    var author: String
    var text: String
    var search_text: String
    var at: Double
    var followup_step: Int?
    var outbox_id: Int64
    var delivered_at: Double?
}

private struct OutboundIDRecord: Encodable {
    var channel_id: String
    var provider_message_id: String
    var message_id: Int64
}
