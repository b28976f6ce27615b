import ArgumentParser
import Foundation
import Logging
import SwitchboardConfig
import SwitchboardServer
import SwitchboardStorePostgres
import SwitchboardStoreSQLite

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the configured store's schema; with --from, copy a SQLite database into PostgreSQL.",
        discussion: """
            Without options: brings the schema of config.yaml's storage (SQLite or PostgreSQL) up to date and prints its \
            version before and after. Gateways do the same on start; run this before starting them after an upgrade.

            With --from sqlite:PATH: copies every table of that SQLite database — chats, messages, decisions, follow-up \
            states with their pending reminders, the outbox, token usage, cursors, delivery statuses — into the PostgreSQL \
            database --to names (default: config.yaml's storage.postgres), in one transaction, and compares every table's \
            row count before committing. Stop the gateways writing either database first. The target must hold no data \
            unless --replace is given.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "Copy from this SQLite database: sqlite:PATH (e.g. sqlite:data/switchboard.sqlite).") var from: String?
    @Option(help: "Copy into this PostgreSQL database: postgres://user:pass@host:5432/db (default: storage.postgres).") var to: String?
    @Flag(help: "Delete what the target database holds before copying (in the copy's transaction).") var replace = false

    func validate() throws {
        if to != nil && from == nil { throw ValidationError("--to needs --from: the SQLite database to copy") }
        if replace && from == nil { throw ValidationError("--replace applies to a copy (--from) only") }
    }

    func run() async throws {
        if let from, to != nil, !FileManager.default.fileExists(atPath: options.config) {
            // A copy between two named databases needs no config (pool and timeout: defaults).
            return try await copy(from: from, storage: GatewayConfig.Storage(sqlitePath: ""), configPath: nil)
        }
        let config = try options.load()
        if let from {
            try await copy(from: from, storage: config.storage, configPath: options.config)
        } else if let url = config.storage.postgres {
            try await withPostgres(url, config.storage) { store in
                let before = try await store.schemaVersion()
                print("storage: PostgreSQL \(url.host):\(url.port)/\(url.database)")
                print("schema before: \(describe(before))")
                try await store.migrateSchema()
                print("schema after:  \(describe(try await store.schemaVersion()))")
            }
        } else {
            let path = config.storage.sqlitePath
            let before = try SQLiteStore.appliedMigrations(path: path)
            print("storage: SQLite \(path)\(FileManager.default.fileExists(atPath: path) ? "" : " (created now)")")
            print("schema before: \(describe(before))")
            _ = try SQLiteStore(path: path, durability: config.storage.durableCommits ? .full : .normal)
            print("schema after:  \(describe(try SQLiteStore.appliedMigrations(path: path)))")
        }
    }

    private func copy(from: String, storage: GatewayConfig.Storage, configPath: String?) async throws {
        guard from.hasPrefix("sqlite:") else {
            throw ValidationError("--from must be sqlite:PATH, the SQLite database to copy (e.g. sqlite:data/switchboard.sqlite)")
        }
        let path = String(from.dropFirst("sqlite:".count))
        // Opening a missing file would create an empty database and copy nothing.
        guard !path.isEmpty, FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("--from: no SQLite database at '\(path)'")
        }
        let url: PostgresURL
        if let to {
            do { url = try PostgresURL.parse(to) } catch { throw ValidationError("--to: \(error.description)") }
        } else if let configured = storage.postgres {
            url = configured
        } else {
            throw ValidationError("no target: pass --to postgres://… or set storage.postgres in \(configPath ?? options.config)")
        }
        // The source is brought to this build's schema first, as `serve` would on start.
        let source = try SQLiteStore(path: path)
        let snapshot = try source.export()
        print("copying SQLite \(path) into PostgreSQL \(url.host):\(url.port)/\(url.database)")
        try await withPostgres(url, storage) { store in
            let tables = try await store.importAll(from: snapshot, replacing: replace) { line in print("  \(line)") }
            printTable(
                header: ["Table", "SQLite rows", "PostgreSQL rows"],
                rows: tables.map { [$0.name, "\($0.sourceRows)", "\($0.targetRows)"] })
            print("done: \(tables.reduce(0) { $0 + $1.targetRows }) rows in \(tables.count) tables, every count equal; committed")
        }
    }

    /// Runs `body` with a PostgreSQL store whose pool runs meanwhile; nothing migrates unasked.
    private func withPostgres(_ url: PostgresURL, _ storage: GatewayConfig.Storage, _ body: (PostgresStore) async throws -> Void) async throws {
        var configuration = Gateway.postgresConfiguration(url, storage)
        configuration.migratesOnStart = false
        // The command prints what it did; the pool's own chatter (a lease asked for a moment
        // before the pool's task runs) is noise here.
        var logger = Logger(label: "switchboard.migrate")
        logger.logLevel = .error
        let store = PostgresStore(configuration: configuration, logger: logger)
        let pool = Task { await store.run() }
        defer { pool.cancel() }
        do {
            try await body(store)
        } catch let error as PostgresStoreError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func describe(_ version: Int) -> String {
        let current = PostgresStore.currentSchemaVersion
        if version == 0 { return "version 0 (no schema yet)" }
        return "version \(version) of \(current)" + (version == current ? " (current)" : version > current ? " (newer than this build)" : "")
    }

    private func describe(_ applied: [String]) -> String {
        let known = SQLiteStore.knownMigrations
        guard let last = applied.last else { return "no migrations applied (new database)" }
        return "\(applied.count) of \(known.count) migrations, last \(last)" + (applied == known ? " (current)" : "")
    }
}
