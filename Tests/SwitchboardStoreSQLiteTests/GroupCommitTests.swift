import Dispatch
import Foundation
import GRDB
@testable import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
import Testing

/// The shared-commit writer every SQLiteStore write goes through: units that queue up while a
/// commit is in flight share the next transaction, and each caller hears its own outcome.
@Suite struct GroupCommitTests {
    struct Refused: Error, Equatable {}

    /// A database with one table and a count of commits, and a writer whose first unit holds the
    /// transaction open until `release()`, so the units queued meanwhile form one batch.
    final class Fixture: Sendable {
        let db: DatabaseQueue
        let writes: GroupCommit
        let commits = Commits()
        private let gate = DispatchSemaphore(value: 0)
        private let holding = Mutex<Task<Void, any Error>?>(nil)

        init() throws {
            db = try DatabaseQueue()
            try db.write { db in try db.execute(sql: "CREATE TABLE t (x INTEGER NOT NULL UNIQUE)") }
            db.add(transactionObserver: commits)
            writes = GroupCommit(writer: db)
        }

        /// Starts a unit that blocks the writer; returns once it is running.
        func hold() async throws {
            let running = Mutex(false)
            let gate = gate
            let writes = writes
            let task = Task { try await writes.write { _ in running.withLock { $0 = true }; gate.wait() } }
            holding.withLock { $0 = task }
            try await eventually("the holding unit runs") { running.withLock { $0 } }
        }

        func release() async throws {
            gate.signal()
            try await holding.withLock { $0 }?.value
        }

        func rows() throws -> [Int] { try db.read { db in try Int.fetchAll(db, sql: "SELECT x FROM t ORDER BY x") } }
    }

    final class Commits: TransactionObserver, @unchecked Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
        func databaseDidChange(with event: DatabaseEvent) {}
        func databaseDidCommit(_ db: Database) { count.withLock { $0 += 1 } }
        func databaseDidRollback(_ db: Database) {}
    }

    @Test func unitsQueuedDuringACommitShareTheNextOneAndAFailingUnitRollsBackAlone() async throws {
        let fixture = try Fixture()
        try await fixture.hold()
        let before = fixture.commits.value
        let inserts = (1...20).map { (x: Int) in
            Task { try await fixture.writes.write { db in try db.execute(sql: "INSERT INTO t (x) VALUES (?)", arguments: [x]) } }
        }
        let failing = Task {
            try await fixture.writes.write { db in
                try db.execute(sql: "INSERT INTO t (x) VALUES (99)")
                throw Refused()
            }
        }
        // A duplicate of a row written earlier in the same transaction: its own error only.
        let duplicate = Task { try await fixture.writes.write { db in try db.execute(sql: "INSERT INTO t (x) VALUES (20)") } }
        try await eventually("22 units wait for the writer") { fixture.writes.waiting == 22 }
        try await fixture.release()

        for insert in inserts { try await insert.value }
        await #expect(throws: Refused.self) { try await failing.value }
        await #expect(throws: DatabaseError.self) { try await duplicate.value }
        #expect(try fixture.rows() == Array(1...20))
        // The holding unit's commit and one for the 22 queued meanwhile.
        #expect(fixture.commits.value - before == 2)
    }

    @Test func aTransactionThatSQLiteAbortsFailsEveryUnitInItAndStoresNone() async throws {
        let fixture = try Fixture()
        try await fixture.hold()
        let inserts = (1...5).map { (x: Int) in
            Task { try await fixture.writes.write { db in try db.execute(sql: "INSERT INTO t (x) VALUES (?)", arguments: [x]) } }
        }
        // Stands in for an I/O error or a full disk, which end the whole transaction.
        let aborting = Task { try await fixture.writes.write { db in try db.execute(sql: "ROLLBACK") } }
        try await eventually("6 units wait for the writer") { fixture.writes.waiting == 6 }
        try await fixture.release()

        for insert in inserts { await #expect(throws: (any Error).self) { try await insert.value } }
        await #expect(throws: (any Error).self) { try await aborting.value }
        #expect(try fixture.rows() == [])
        // The writer goes on: the next write commits on its own.
        try await fixture.writes.write { db in try db.execute(sql: "INSERT INTO t (x) VALUES (7)") }
        #expect(try fixture.rows() == [7])
    }

    @Test func withoutGroupCommitEveryWriteIsATransactionOfItsOwn() async throws {
        let db = try DatabaseQueue()
        try await db.write { db in try db.execute(sql: "CREATE TABLE t (x INTEGER NOT NULL)") }
        let commits = Commits()
        db.add(transactionObserver: commits)
        let writes = GroupCommit(writer: db, maxUnits: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for x in 1...30 { group.addTask { try await writes.write { db in try db.execute(sql: "INSERT INTO t (x) VALUES (?)", arguments: [x]) } } }
            try await group.waitForAll()
        }
        #expect(commits.value == 30)
    }
}
