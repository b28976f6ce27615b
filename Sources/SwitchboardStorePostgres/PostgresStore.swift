import Foundation
public import Logging
import PostgresNIO
public import ServiceLifecycle
public import SwitchboardCore
import Synchronization

/// The `Store` on PostgreSQL, for several gateway processes sharing one database.
///
/// Every method is one transaction. Rows that more than one process may write are locked
/// before they are read (`SELECT … FOR UPDATE`, the chat first), so a `FollowUpTransition`
/// runs in Swift on the current state and its result is written back in the same transaction.
/// Claims take due rows with `FOR UPDATE SKIP LOCKED`: two processes never lease the same row.
/// Inbound dedupe is the unique index (`INSERT … ON CONFLICT DO NOTHING`), not a prior look-up.
///
/// The store is a `Service`: its `run()` runs the connection pool and must be running before
/// (and stop after) everything that uses the store. The schema is brought up to date on first
/// use — `run()` starts that at once — under an advisory lock, so processes starting together
/// do not race; a failed attempt (database down) is retried by the next call.
public final class PostgresStore: Store, Service, CustomStringConvertible {
    /// Where the database is and how to reach it.
    public struct Configuration: Sendable, CustomStringConvertible {
        /// TLS to the server, as libpq's `sslmode` says it.
        public enum TLSMode: String, Sendable, CaseIterable {
            /// Plain TCP.
            case disable
            /// TLS if the server offers it, plain otherwise; the certificate is not checked
            /// (libpq's default, `prefer`). Fine on loopback or a private network.
            case prefer
            /// TLS or no connection; the certificate is not checked (libpq's `require`).
            case require
            /// TLS with the certificate checked against the system's trusted roots.
            case verifyCA = "verify-ca"
            /// As `verifyCA`, and the certificate must name the host.
            case verifyFull = "verify-full"
        }

        public var host: String
        public var port: Int
        public var username: String
        /// Never described: see `description`.
        public var password: String?
        public var database: String?
        public var tls: TLSMode
        /// Connections this process keeps at most. Default 20.
        public var maximumConnections: Int
        /// The longest any statement may run — the server cancels it then — and the longest a
        /// store call waits for a connection (so a webhook arriving while the database is down
        /// is refused after this, not held). `nil`: no limit. Schema migrations and `importAll`
        /// are not limited. Default 10 s.
        public var statementTimeout: Duration?
        /// Whether `run()` brings the schema up to date at once; otherwise the first call does.
        /// `switchboard migrate` reads the version before it migrates.
        public var migratesOnStart = true

        public init(
            host: String, port: Int = 5432, username: String, password: String? = nil, database: String? = nil, tls: TLSMode = .prefer,
            maximumConnections: Int = 20, statementTimeout: Duration? = .seconds(10)
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
            self.maximumConnections = maximumConnections
            self.statementTimeout = statementTimeout
        }

        /// The address without the password, for logs and errors.
        public var description: String {
            "postgres://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database ?? "") (sslmode \(tls.rawValue))"
        }
    }

    let client: PostgresClient
    let logger: Logger
    let configuration: Configuration
    /// Sees every follow-up decision once its transaction has committed (metrics).
    let decisionObserver: DecisionObserver?
    /// Names this store's own NOTIFYs, which its listener ignores (its scheduler was nudged).
    let instanceID = UUID().uuidString
    static let wakeChannel = "switchboard_work"
    /// The migration under way or done; `nil` before the first use and after a failed attempt.
    private let migration = Mutex<Task<Void, any Error>?>(nil)

    public init(configuration: Configuration, logger: Logger = Logger(label: "switchboard.postgres"), decisionObserver: DecisionObserver? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.decisionObserver = decisionObserver
        var config = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username, password: configuration.password,
            database: configuration.database, tls: Self.tls(configuration.tls))
        config.options.maximumConnections = configuration.maximumConnections
        config.options.connectTimeout = .seconds(5)
        if let timeout = configuration.statementTimeout {
            // Sent with the connection's startup message: every statement of every connection
            // is limited without a `SET` round trip per transaction.
            config.options.additionalStartupParameters = [("statement_timeout", "\(Self.milliseconds(timeout))")]
        }
        client = PostgresClient(configuration: config, backgroundLogger: logger)
    }

    public var description: String { "PostgresStore(\(configuration))" }

    static func milliseconds(_ duration: Duration) -> Int64 {
        max(1, duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    private static func tls(_ mode: Configuration.TLSMode) -> PostgresClient.Configuration.TLS {
        var unchecked = TLSConfiguration.makeClientConfiguration()
        unchecked.certificateVerification = .none
        switch mode {
        case .disable: return .disable
        case .prefer: return .prefer(unchecked)
        case .require: return .require(unchecked)
        case .verifyCA:
            var config = TLSConfiguration.makeClientConfiguration()
            config.certificateVerification = .noHostnameVerification
            return .require(config)
        case .verifyFull: return .require(.makeClientConfiguration())
        }
    }

    /// Runs the connection pool until cancelled or told to shut down gracefully.
    public func run() async {
        // Migrate now rather than on the first webhook; a failure is logged and retried on first
        // use, and `/readyz` reports the store meanwhile. Not a child task: a migration waiting
        // for an unreachable server must not hold up shutdown — it fails when the pool stops.
        let warmUp = Task {
            guard self.configuration.migratesOnStart else { return }
            do { try await self.ready() } catch { self.logger.error("postgres: schema not ready: \(error)") }
        }
        await client.run()
        warmUp.cancel()
    }

    // MARK: - Transactions

    /// Brings the schema up to date once per process (again after a failed attempt).
    func ready() async throws {
        let task = migration.withLock { current in
            if let current { return current }
            let task = Task { try await self.migrate() }
            current = task
            return task
        }
        do {
            // A caller that gives up (a request timing out while the server is unreachable)
            // stops the attempt rather than waiting out the pool's reconnect backoff; the
            // next call tries again.
            try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
        } catch {
            migration.withLock { current in if current == task { current = nil } }
            throw PostgresStoreError(
                "\(Self.describe(error)) — check that the server is up and that storage.postgres names it, with a user allowed to create tables")
        }
    }

    private func migrate() async throws {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: self.logger)
            do {
                // Building an index on a large table may take longer than any statement should.
                try await connection.query("SET LOCAL statement_timeout = 0", logger: self.logger)
                try await connection.query("SELECT pg_advisory_xact_lock(\(Schema.migrationLockKey))", logger: self.logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                    """, logger: self.logger)
                var applied: Set<Int> = []
                for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: self.logger).decode(Int.self) {
                    applied.insert(version)
                }
                for migration in Schema.migrations where !applied.contains(migration.version) {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                    }
                    try await connection.query(
                        "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: self.logger)
                    self.logger.notice("postgres: applied migration \(migration.version) (\(migration.name))")
                }
                try await connection.query("COMMIT", logger: self.logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: self.logger)
                throw error
            }
        }
    }

    /// Runs `body` in one transaction, retried from the start when PostgreSQL aborted it for a
    /// deadlock or a serialization failure (processes writing the same chats in another order).
    /// Follow-up transitions are pure, so running them again is safe; decisions are reported
    /// to the observer only once the transaction has committed.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T {
        try await withDeadline { gate in try await self.writeNow(body, gate: gate) }
    }

    private func writeNow<T: Sendable>(_ body: (Transaction) async throws -> T, gate: DeadlineGate) async throws -> T {
        try await ready()
        var attempt = 0
        while true {
            attempt += 1
            do {
                let (value, decisions) = try await client.withConnection { connection in
                    guard gate.enter() else { throw CancellationError() }
                    let transaction = Transaction(connection: connection)
                    try await connection.query("BEGIN", logger: self.logger)
                    do {
                        let value = try await body(transaction)
                        // Delivered at commit, to every listening process.
                        if transaction.wakesOthers {
                            try await connection.query("SELECT pg_notify(\(Self.wakeChannel), \(self.instanceID))", logger: self.logger)
                        }
                        try await connection.query("COMMIT", logger: self.logger)
                        return (value, transaction.decisions)
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: self.logger)
                        throw error
                    }
                }
                for (chatID, batch) in decisions { decisionObserver?(chatID, batch) }
                return value
            } catch let error as PSQLError where attempt < 5 && Self.isRetryable(error) {
                logger.debug("postgres: transaction retried", metadata: ["error": "\(Self.describe(error))"])
                continue
            } catch let error as PSQLError {
                throw PostgresStoreError(Self.describe(error))
            }
        }
    }

    /// Reads, each statement on its own (no BEGIN/COMMIT round trips).
    func read<T: Sendable>(_ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T {
        try await withDeadline { gate in
            try await self.ready()
            do {
                return try await self.client.withConnection { connection in
                    guard gate.enter() else { throw CancellationError() }
                    return try await body(Transaction(connection: connection))
                }
            } catch let error as PSQLError {
                throw PostgresStoreError(Self.describe(error))
            }
        }
    }

    /// Runs `operation`, giving up after `statementTimeout` while it waits for a connection: a
    /// caller (a webhook waiting to be acknowledged) is answered with an error while the
    /// database is down or every connection is busy, rather than held until the pool gives up
    /// reconnecting (a minute). An operation that has its connection is not cut off at that
    /// point — its statements are bounded by the server's own statement_timeout, and its outcome
    /// is the answer: a webhook is refused only when it was not stored.
    ///
    /// One backstop beyond that: a connection that breaks mid-transaction can leave a query that
    /// PostgresNIO never fails (seen across a database restart). After three statement timeouts
    /// the caller gets an error saying the outcome is unknown, and the stuck work is left behind
    /// cancelled — a held inbound writer or scheduler would otherwise stall the whole process.
    /// Callers cope with an unknown outcome already: a refused webhook is retried by the
    /// provider and deduplicated, and an unrecorded send is found again when its lease expires.
    private func withDeadline<T: Sendable>(_ operation: @escaping @Sendable (DeadlineGate) async throws -> T) async throws -> T {
        let gate = DeadlineGate()
        guard let timeout = configuration.statementTimeout else { return try await operation(gate) }
        // Unstructured, so that a caller can be answered while the work is still stuck.
        let work = Task { try await operation(gate) }
        let answer = FirstAnswer<T>()
        return try await withTaskCancellationHandler {
            try await answer.wait { give in
                let timer = Task {
                    do { try await Task.sleep(for: timeout) } catch { return }
                    if gate.abandon() {
                        // Still waiting for a connection (or the schema): cancelling ends that at once.
                        work.cancel()
                        give(.failure(PostgresStoreError("no answer within \(timeout) (storage.statement_timeout): the database is down, unreachable or overloaded")))
                        return
                    }
                    do { try await Task.sleep(for: timeout * 2) } catch { return }
                    work.cancel()
                    give(.failure(PostgresStoreError(
                        "the database stopped answering mid-transaction (no reply within 3 × storage.statement_timeout); whether the write happened is unknown, and it is safe to retry")))
                }
                Task {
                    let result = await work.result
                    timer.cancel()
                    give(result)
                }
            }
        } onCancel: {
            work.cancel()
        }
    }

    static func isRetryable(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"  // serialization_failure, deadlock_detected
    }

    /// PostgresNIO describes its errors generically (to keep queries out of logs); the server's
    /// message and code are what tell an operator what to fix.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let info = error.serverInfo, let message = info[.message] {
                return "\(message) (SQLSTATE \(info[.sqlState] ?? "?"))"
            }
            return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
        return "\(error)"
    }
}

/// Whether an operation under a deadline has begun work on its connection: once it has, the
/// deadline no longer cancels it; once the deadline gave up, it never begins.
final class DeadlineGate: Sendable {
    private enum State { case waiting, running, abandoned }
    private let state = Mutex(State.waiting)

    /// With a connection in hand: `false` when the caller has given up, and the work must not start.
    func enter() -> Bool {
        state.withLock { state in
            if state == .abandoned { return false }
            state = .running
            return true
        }
    }

    /// At the deadline: `true` when the work had not begun (it now never will).
    func abandon() -> Bool {
        state.withLock { state in
            guard state == .waiting else { return false }
            state = .abandoned
            return true
        }
    }
}


/// A transaction in progress: its connection and the follow-up decisions it wrote. Confined to
/// the task running the transaction.
final class Transaction {
    let connection: PostgresConnection
    var decisions: [(chatID: String, decisions: [FollowUpDecision])] = []
    /// Set by a write that armed or moved a reminder or queued a message: other processes'
    /// schedulers may need to wake earlier than they planned.
    var wakesOthers = false
    let logger = Logger(label: "switchboard.postgres")

    init(connection: PostgresConnection) { self.connection = connection }

    @discardableResult
    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await connection.query(query, logger: logger)
    }

    /// The rows of `query`, read in full.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await connection.query(query, logger: logger) { rows.append(row.makeRandomAccess()) }
        return rows
    }

    func row(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? { try await rows(query).first }
}

/// What PostgreSQL refused, in its own words (postgres-nio's errors describe themselves
/// generically, to keep queries out of logs), or why the database could not be reached.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ problem: String) { description = "PostgreSQL: \(problem)" }
}
