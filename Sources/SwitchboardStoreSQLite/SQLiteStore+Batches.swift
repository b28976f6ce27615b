import Foundation
internal import GRDB
public import SwitchboardCore

// The scheduler's batch calls: one group-commit unit for the whole batch, each item in a
// savepoint of its own, so an item that fails (a lost lease) rolls back alone.
extension SQLiteStore {
    public func updateFollowUps(_ batch: [FollowUpUpdate]) async throws -> [Result<FollowUpState, any Error>] {
        guard !batch.isEmpty else { return [] }
        return try await writes.write { db in batch.map { item in Self.alone(db) { try self.updateFollowUp(db, item) } } }
    }

    public func enqueue(_ batch: [OutboxEnqueue]) async throws -> [Result<OutboxEntry?, any Error>] {
        guard !batch.isEmpty else { return [] }
        return try await writes.write { db in batch.map { item in Self.alone(db) { try self.enqueue(db, item) } } }
    }

    public func complete(_ batch: [OutboxCompletion]) async throws -> [Result<Void, any Error>] {
        guard !batch.isEmpty else { return [] }
        return try await writes.write { db in batch.map { item in Self.alone(db) { try self.complete(db, item) } } }
    }

    public func chatContexts(ids: [String], historyLimit: Int) async throws -> [String: ChatContext] {
        guard !ids.isEmpty else { return [:] }
        return try await db.read { db in
            var contexts: [String: ChatContext] = [:]
            for id in Set(ids) {
                guard let chat = try Self.fetchChat(db, id: id) else { continue }
                let history = historyLimit > 0
                    ? try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM messages WHERE chat_id = ? ORDER BY id DESC LIMIT ?"), arguments: [id, historyLimit])
                        .reversed().map(Self.message)
                    : []
                contexts[id] = ChatContext(chat: chat, state: try Self.fetchState(db, chatID: id), history: history)
            }
            return contexts
        }
    }

    /// One `updateFollowUp` inside the caller's transaction.
    func updateFollowUp(_ db: Database, _ item: FollowUpUpdate) throws -> FollowUpState {
        guard let chat = try Self.fetchChat(db, id: item.chatID) else { throw StoreError.unknownChat(item.chatID) }
        try Self.ensureHeld(db, item.lease, chatID: item.chatID)
        return try transition(db, chat: chat, item.transition)
    }

    /// Runs one item of a batch in a savepoint: its failure rolls back its own writes only.
    /// A failure that ends the whole transaction (I/O, disk full) is not the item's: it is
    /// rethrown by the group commit, which fails every caller of the transaction.
    private static func alone<T>(_ db: Database, _ body: () throws -> T) -> Result<T, any Error> {
        Result {
            var value: T?
            try db.inSavepoint {
                value = try body()
                return .commit
            }
            return value!  // set: the savepoint committed, so `body` returned
        }
    }
}
