import ArgumentParser
import Foundation
import SwitchboardStoreSQLite

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the SQLite database to a new file while the gateway runs (VACUUM INTO); PostgreSQL: use pg_dump.")

    @OptionGroup var options: ConfigOption
    @Option(help: "The backup file to create; an existing file is never overwritten.") var to: String

    func run() async throws {
        let config = try options.load()
        if config.storage.postgres != nil {
            throw ValidationError(
                "storage.postgres is set: back it up with pg_dump --format=custom \"$DATABASE_URL\" (docs/production.md, Backup and restore)")
        }
        let started = ContinuousClock.now
        do {
            try SQLiteStore.backup(path: config.storage.sqlitePath, to: to)
        } catch let error as StoreExportError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: to)[.size]) as? Int) ?? 0
        print("backed up \(config.storage.sqlitePath) to \(to): \(size) bytes in \(String(format: "%.1f", (ContinuousClock.now - started) / .seconds(1))) s")
    }
}
