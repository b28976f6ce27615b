import Foundation
internal import GRDB
public import SwitchboardCore

extension SQLiteStore {
    /// The schema migrations the file at `path` has had, oldest first, read without migrating
    /// or creating anything; empty when the file does not exist or was never migrated.
    public static func appliedMigrations(path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        return try queue.read { db in try migrator.appliedMigrations(db) }
    }

    /// Writes a consistent copy of the database at `path` to `destination` (`VACUUM INTO`), while
    /// gateways go on using it: a complete database file with no `-wal` beside it. Reads only.
    public static func backup(path: String, to destination: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreExportError("no SQLite database at \(path)") }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw StoreExportError("\(destination) exists: a backup never overwrites a file; name a new one")
        }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: path, configuration: config)
        // Outside a transaction: VACUUM cannot run inside one.
        try queue.inDatabase { db in try db.execute(sql: "VACUUM INTO ?", arguments: [destination]) }
    }

    /// Every migration this build knows, oldest first: the newest is the current schema.
    public static var knownMigrations: [String] { migrator.migrations }

    /// The store's tables as one consistent snapshot, for copying them into another store. The
    /// snapshot holds a read transaction open until it is released: writers go on, and the
    /// copy sees none of their changes.
    public func export() throws -> any StoreExport {
        if let pool = db as? DatabasePool { return SQLiteExport(reader: try pool.makeSnapshot()) }
        return SQLiteExport(reader: db)
    }
}

struct SQLiteExport: StoreExport {
    let reader: any DatabaseReader

    func tables() async throws -> [ExportedTable] {
        try await reader.read { db in
            // Plain tables only: the trigram search is a virtual table whose shadow tables (and
            // bookkeeping) the target builds itself, and GRDB's migration records describe this
            // file alone.
            let names = try String.fetchAll(
                db, sql: "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' ORDER BY name"
            ).filter { !$0.hasPrefix("sqlite_") && $0 != "grdb_migrations" && !SQLiteStore.searchBookkeeping.contains($0) }
            return try names.map { name in
                let columns = try Row.fetchAll(db, sql: "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", arguments: [name])
                let keys = columns.filter { ($0["pk"] as Int) > 0 }.sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }.map { $0["name"] as String }
                guard !keys.isEmpty else { throw StoreExportError("table \(name) has no primary key to page it by") }
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(name.quotedDatabaseIdentifier)") ?? 0
                return ExportedTable(name: name, columns: columns.map { $0["name"] }, keyColumns: keys, rowCount: count)
            }
        }
    }

    func rows(of table: ExportedTable, after: [ColumnValue]?, limit: Int) async throws -> [[ColumnValue]] {
        try await reader.read { db in
            let columns = table.columns.map(\.quotedDatabaseIdentifier).joined(separator: ", ")
            let keys = "(" + table.keyColumns.map(\.quotedDatabaseIdentifier).joined(separator: ", ") + ")"
            var sql = "SELECT \(columns) FROM \(table.name.quotedDatabaseIdentifier)"
            var arguments: [DatabaseValue] = []
            if let after {
                sql += " WHERE \(keys) > (\(Array(repeating: "?", count: after.count).joined(separator: ", ")))"
                arguments = after.map(Self.databaseValue)
            }
            sql += " ORDER BY \(table.keyColumns.map(\.quotedDatabaseIdentifier).joined(separator: ", ")) LIMIT \(limit)"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                row.databaseValues.map(Self.columnValue)
            }
        }
    }

    static func columnValue(_ value: DatabaseValue) -> ColumnValue {
        switch value.storage {
        case .null: .null
        case .int64(let number): .integer(number)
        case .double(let number): .real(number)
        case .string(let text): .text(text)
        case .blob(let data): .blob(Array(data))
        }
    }

    static func databaseValue(_ value: ColumnValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let number): number.databaseValue
        case .real(let number): number.databaseValue
        case .text(let text): text.databaseValue
        case .blob(let bytes): Data(bytes).databaseValue
        }
    }
}

/// Why a store's tables cannot be exported.
public struct StoreExportError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
