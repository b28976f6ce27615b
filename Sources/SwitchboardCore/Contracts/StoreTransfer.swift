/// What one store hands another when a deployment moves (`switchboard migrate --from sqlite:…
/// --to postgres://…`): its tables as rows of plain values, read from one consistent snapshot.
///
/// The copy is by table and column name, not through the `Store` API: every row — sent
/// messages, decisions, leases, usage, cursors — arrives as it was, ids included, with nothing
/// re-planned or re-sent.
public protocol StoreExport: Sendable {
    /// Every table holding the store's data (no indexes, search shadows or migration records).
    func tables() async throws -> [ExportedTable]
    /// Up to `limit` rows of `table` in key order, after the row whose key is `after`
    /// (from the start when `nil`). Values are in the order of the table's `columns`.
    func rows(of table: ExportedTable, after: [ColumnValue]?, limit: Int) async throws -> [[ColumnValue]]
}

/// A table of a `StoreExport`.
public struct ExportedTable: Sendable, Hashable {
    public var name: String
    public var columns: [String]
    /// The columns (of `columns`) whose values order and identify the rows: paging resumes
    /// after the last key read.
    public var keyColumns: [String]
    /// Rows in the snapshot.
    public var rowCount: Int

    public init(name: String, columns: [String], keyColumns: [String], rowCount: Int) {
        self.name = name
        self.columns = columns
        self.keyColumns = keyColumns
        self.rowCount = rowCount
    }

    /// The key of `row` (a row of this table), to resume after it.
    public func key(of row: [ColumnValue]) -> [ColumnValue] {
        keyColumns.map { column in columns.firstIndex(of: column).map { row[$0] } ?? .null }
    }
}

/// One value as SQL stores hold it.
public enum ColumnValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}
