import GRDB
import Synchronization

/// Lets the store's concurrent write transactions share commits. SQLite has one writer and a
/// durable commit costs a disk sync; with one transaction per call, a wave of reminders or a
/// webhook burst is bounded by syncs per second, not by work. Here every call is a unit: the
/// units that arrive while a commit is in flight are run by the next one, each inside a
/// savepoint of one transaction, and each caller is answered only once that transaction is on
/// disk. A unit that throws rolls back its own savepoint and gets its own error; the others are
/// unaffected. If the commit itself fails, every unit of that transaction gets the error — none
/// of them was stored.
final class GroupCommit: Sendable {
    private let writer: any DatabaseWriter
    /// Units per transaction: bounds how long one commit holds the write lock.
    private let maxUnits: Int
    /// Runs after the units, in their transaction, outside every savepoint (the search index:
    /// FTS5 writes out its pending entries at each savepoint's end, which per unit cost more
    /// than the unit itself).
    private let beforeCommit: @Sendable (Database) throws -> Void

    private struct Queue {
        var pending: [Unit] = []
        /// A drain task is running; it takes the pending units when its commit is done.
        var draining = false
    }
    private let queue = Mutex(Queue())

    /// One caller's transaction: runs inside the shared one, then hears how the commit went.
    private struct Unit: Sendable {
        /// Runs the caller's work in a savepoint; keeps the result or the error for `finish`.
        let run: @Sendable (Database) -> Void
        /// Called once the transaction committed (`nil`) or failed (the error).
        let finish: @Sendable ((any Error)?) -> Void
    }

    init(writer: any DatabaseWriter, maxUnits: Int = 256, beforeCommit: @escaping @Sendable (Database) throws -> Void = { _ in }) {
        self.writer = writer
        self.maxUnits = maxUnits
        self.beforeCommit = beforeCommit
    }

    /// Units waiting for the next transaction (tests hold a commit open to fill it).
    var waiting: Int { queue.withLock { $0.pending.count } }

    /// Runs `body` in a transaction shared with concurrent callers; returns after the commit.
    /// Not cancellable once queued, like a write already sent to the disk: a caller that is
    /// cancelled still gets the outcome.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = Mutex<Result<T, any Error>?>(nil)
            let unit = Unit(
                run: { db in
                    let result = Result<T, any Error>(catching: {
                        var value: T?
                        try db.inSavepoint {
                            value = try body(db)
                            return .commit
                        }
                        return value!  // set: `inSavepoint` ran the closure without throwing
                    })
                    outcome.withLock { $0 = result }
                },
                finish: { commitError in
                    if let commitError {
                        continuation.resume(throwing: commitError)
                    } else {
                        continuation.resume(with: outcome.withLock { $0 } ?? .failure(GroupCommitError.unitNotRun))
                    }
                })
            let startDrain = queue.withLock { queue in
                queue.pending.append(unit)
                defer { queue.draining = true }
                return !queue.draining
            }
            if startDrain { Task { await self.drain() } }
        }
    }

    /// Commits pending units, a transaction at a time, until none is left.
    private func drain() async {
        while true {
            let batch = queue.withLock { queue -> [Unit] in
                let count = min(queue.pending.count, maxUnits)
                if count == 0 {
                    queue.draining = false
                    return []
                }
                defer { queue.pending.removeFirst(count) }
                return Array(queue.pending.prefix(count))
            }
            if batch.isEmpty { return }
            do {
                try await writer.write { db in
                    for unit in batch {
                        unit.run(db)
                        // An I/O error or a full disk can end the whole transaction, not just
                        // the unit's savepoint: then nothing of this batch is stored.
                        guard db.isInsideTransaction else { throw GroupCommitError.transactionAborted }
                    }
                    try beforeCommit(db)
                }
                for unit in batch { unit.finish(nil) }
            } catch {
                for unit in batch { unit.finish(error) }
            }
        }
    }
}

enum GroupCommitError: Error, CustomStringConvertible {
    case unitNotRun
    case transactionAborted

    var description: String {
        switch self {
        case .unitNotRun: "the write was not run (internal error)"
        case .transactionAborted: "SQLite aborted the transaction (disk full or I/O error); nothing of it was stored"
        }
    }
}
