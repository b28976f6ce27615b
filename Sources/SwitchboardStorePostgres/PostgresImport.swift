import Foundation
import PostgresNIO
public import SwitchboardCore

extension PostgresStore {
    /// The newest schema migration applied to the database; 0 for a database the gateway has
    /// never used. Reads only: nothing is migrated.
    public func schemaVersion() async throws -> Int {
        do {
            return try await client.withConnection { connection in
                let tx = Transaction(connection: connection)
                guard try await tx.row("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")?.get("present", as: Bool.self) == true else {
                    return 0
                }
                return try await tx.row("SELECT coalesce(max(version), 0)::bigint AS version FROM schema_migrations")?.get("version", as: Int.self) ?? 0
            }
        } catch {
            throw PostgresStoreError(Self.describe(error))
        }
    }

    /// The schema version this build migrates to.
    public static var currentSchemaVersion: Int { Schema.migrations.map(\.version).max() ?? 0 }

    /// Brings the schema up to date now (the gateway otherwise does it on start).
    public func migrateSchema() async throws { try await ready() }

    /// One table as `importAll` copied it.
    public struct ImportedTable: Sendable, Hashable {
        public var name: String
        /// Rows in the source's snapshot.
        public var sourceRows: Int
        /// Rows the table holds after the copy, counted in the copy's transaction.
        public var targetRows: Int
    }

    /// Copies every table of `source` into this database in one transaction: all of it, ids
    /// included, or — on any error — nothing. The schema is migrated first. The target must
    /// hold no data unless `replacing` is set, which deletes what it holds (in the same
    /// transaction, so a failed copy leaves it as it was). The copy ends by counting every
    /// table in the target and refuses to commit when a count differs from the source's.
    public func importAll(from source: any StoreExport, replacing: Bool, progress: @Sendable (String) -> Void = { _ in }) async throws -> [ImportedTable] {
        try await ready()
        let tables = try await source.tables()
        do {
            return try await client.withConnection { connection in
                let tx = Transaction(connection: connection)
                try await tx.query("BEGIN")
                do {
                    let copied = try await Self.copy(tables, from: source, into: tx, replacing: replacing, progress: progress)
                    try await tx.query("COMMIT")
                    return copied
                } catch {
                    _ = try? await tx.query("ROLLBACK")
                    throw error
                }
            }
        } catch let error as PSQLError {
            throw PostgresStoreError(Self.describe(error))
        }
    }

    /// A column of the target: how a source value must be bound to fit it.
    private struct TargetColumn {
        var name: String
        var type: String
        /// `GENERATED ALWAYS AS IDENTITY`: inserting an id needs `OVERRIDING SYSTEM VALUE`, and
        /// the sequence must be moved past the copied ids.
        var isIdentity: Bool
    }

    private static func copy(
        _ tables: [ExportedTable], from source: any StoreExport, into tx: Transaction, replacing: Bool, progress: @Sendable (String) -> Void
    ) async throws -> [ImportedTable] {
        // A large copy outlasts any statement_timeout the connection was opened with.
        try await tx.query("SET LOCAL statement_timeout = 0")
        let target = try await targetTables(tx)
        for table in tables {
            guard let columns = target[table.name] else {
                throw PostgresStoreError(
                    "the target has no table '\(table.name)', which the source holds: is this switchboard older than the one that wrote the source?")
            }
            let missing = table.columns.filter { name in !columns.contains { $0.name == name } }
            guard missing.isEmpty else {
                throw PostgresStoreError(
                    "the target's table '\(table.name)' has no column \(missing.joined(separator: ", ")), which the source holds: is this switchboard older than the one that wrote the source?"
                )
            }
        }
        let order = try await insertionOrder(tx, Set(target.keys))
        // Writers on the target would mix their rows into the copy: wait for them, keep them out.
        try await tx.query(PostgresQuery(unsafeSQL: "LOCK TABLE \(order.map(quoted).joined(separator: ", ")) IN EXCLUSIVE MODE"))
        var occupied: [String] = []
        for name in order {
            let count = try await tx.row(PostgresQuery(unsafeSQL: "SELECT count(*)::bigint AS n FROM \(quoted(name))"))?.get("n", as: Int.self) ?? 0
            if count > 0 { occupied.append("\(name) (\(count))") }
        }
        if !occupied.isEmpty {
            guard replacing else {
                throw PostgresStoreError(
                    "the target database already holds data — \(occupied.joined(separator: ", ")) rows. Copy into an empty database, or pass --replace to delete what it holds (in the same transaction as the copy)"
                )
            }
            progress("deleting what the target held: \(occupied.joined(separator: ", "))")
            try await tx.query(PostgresQuery(unsafeSQL: "TRUNCATE \(order.map(quoted).joined(separator: ", ")) RESTART IDENTITY"))
        }
        var copied: [ImportedTable] = []
        let byName = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })
        for name in order {
            guard let table = byName[name], let columns = target[name] else { continue }
            let bound = table.columns.map { column in columns.first { $0.name == column }! }
            try await copyRows(of: table, columns: bound, from: source, into: tx, progress: progress)
            for identity in columns where identity.isIdentity {
                // The next id the gateway takes must come after every copied one.
                try await tx.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT setval(pg_get_serial_sequence('\(name)', '\(identity.name)'),
                                          coalesce(max(\(quoted(identity.name))), 0) + 1, false) FROM \(quoted(name))
                            """))
            }
            let count = try await tx.row(PostgresQuery(unsafeSQL: "SELECT count(*)::bigint AS n FROM \(quoted(name))"))?.get("n", as: Int.self) ?? 0
            guard count == table.rowCount else {
                throw PostgresStoreError("table '\(name)': \(table.rowCount) rows in the source but \(count) in the target after the copy; nothing was committed")
            }
            copied.append(ImportedTable(name: name, sourceRows: table.rowCount, targetRows: count))
        }
        return copied
    }

    private static func copyRows(
        of table: ExportedTable, columns: [TargetColumn], from source: any StoreExport, into tx: Transaction, progress: @Sendable (String) -> Void
    ) async throws {
        let override = columns.contains(where: \.isIdentity) ? " OVERRIDING SYSTEM VALUE" : ""
        let head = "INSERT INTO \(quoted(table.name)) (\(columns.map { quoted($0.name) }.joined(separator: ", ")))\(override) VALUES "
        // PostgreSQL takes at most 65,535 parameters a statement.
        let rowsPerInsert = max(1, min(1000, 30_000 / max(1, columns.count)))
        var after: [ColumnValue]?
        var done = 0
        while true {
            let page = try await source.rows(of: table, after: after, limit: rowsPerInsert * 4)
            guard let last = page.last else { break }
            var start = 0
            while start < page.count {
                let chunk = page[start..<min(page.count, start + rowsPerInsert)]
                var binds = PostgresBindings(capacity: chunk.count * columns.count)
                var tuples: [String] = []
                tuples.reserveCapacity(chunk.count)
                for row in chunk {
                    var placeholders: [String] = []
                    for (value, column) in zip(row, columns) {
                        try bind(value, as: column, table: table.name, into: &binds)
                        placeholders.append("$\(binds.count)")
                    }
                    tuples.append("(" + placeholders.joined(separator: ", ") + ")")
                }
                try await tx.query(PostgresQuery(unsafeSQL: head + tuples.joined(separator: ", "), binds: binds))
                start += chunk.count
            }
            done += page.count
            after = table.key(of: last)
            if page.count < rowsPerInsert * 4 { break }
            if done % 100_000 < rowsPerInsert * 4 { progress("\(table.name): \(done) of \(table.rowCount) rows") }
        }
        progress("\(table.name): \(done) rows copied")
    }

    /// `value` as the target column's type takes it. SQLite keeps booleans as 0/1 and lets any
    /// column hold any type; each conversion here is exact or refused.
    private static func bind(_ value: ColumnValue, as column: TargetColumn, table: String, into binds: inout PostgresBindings) throws {
        func refuse() -> PostgresStoreError {
            PostgresStoreError("\(table).\(column.name): cannot store \(value) in a column of type \(column.type)")
        }
        if case .null = value {
            binds.appendNull()
            return
        }
        switch (column.type, value) {
        case ("boolean", .integer(let number)): binds.append(number != 0)
        case ("double precision", .real(let number)), ("real", .real(let number)): binds.append(number)
        case ("double precision", .integer(let number)), ("real", .integer(let number)): binds.append(Double(number))
        case ("bigint", .integer(let number)): binds.append(number)
        case ("integer", .integer(let number)), ("smallint", .integer(let number)):
            guard let small = Int32(exactly: number) else { throw refuse() }
            binds.append(small)
        case ("bigint", .real(let number)):
            guard let whole = Int64(exactly: number) else { throw refuse() }
            binds.append(whole)
        case ("integer", .real(let number)):
            guard let whole = Int32(exactly: number) else { throw refuse() }
            binds.append(whole)
        case ("text", .text(let text)): binds.append(text)
        case ("text", .integer(let number)): binds.append(String(number))
        case ("text", .real(let number)): binds.append(String(number))
        case ("bytea", .blob(let bytes)): try binds.append(Data(bytes))
        default: throw refuse()
        }
    }

    /// The target schema's tables and columns (the migration records aside).
    private static func targetTables(_ tx: Transaction) async throws -> [String: [TargetColumn]] {
        var tables: [String: [TargetColumn]] = [:]
        for row in try await tx.rows(
            """
            SELECT c.relname::text AS table_name, a.attname::text AS column_name, format_type(a.atttypid, NULL) AS data_type,
                   a.attidentity::text AS identity
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
              AND c.relname <> 'schema_migrations'
            ORDER BY c.relname, a.attnum
            """)
        {
            let table: String = try row.get("table_name")
            let identity: String = try row.get("identity")
            tables[table, default: []].append(
                TargetColumn(name: try row.get("column_name"), type: try row.get("data_type"), isIdentity: identity == "a" || identity == "d"))
        }
        return tables
    }

    /// `tables` ordered so that every table comes after the tables its foreign keys point at.
    private static func insertionOrder(_ tx: Transaction, _ tables: Set<String>) async throws -> [String] {
        var parents: [String: Set<String>] = [:]
        for row in try await tx.rows(
            """
            SELECT child.relname::text AS child, parent.relname::text AS parent
            FROM pg_constraint k JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid
            WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace
            """)
        {
            let child: String = try row.get("child")
            let parent: String = try row.get("parent")
            if child != parent { parents[child, default: []].insert(parent) }
        }
        var order: [String] = []
        var placed: Set<String> = []
        var remaining = tables.sorted()
        while !remaining.isEmpty {
            let ready = remaining.filter { parents[$0, default: []].subtracting(placed).intersection(tables).isEmpty }
            guard !ready.isEmpty else { throw PostgresStoreError("the target's foreign keys form a cycle among \(remaining.joined(separator: ", "))") }
            order += ready
            placed.formUnion(ready)
            remaining.removeAll { placed.contains($0) }
        }
        return order
    }

    private static func quoted(_ identifier: String) -> String { "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
