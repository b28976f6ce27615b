import Foundation
import SwitchboardConfig
import SwitchboardCore
import SwitchboardStoreSQLite
import SwitchboardTesting
import Testing

/// `switchboard migrate` and `switchboard backup` as an operator runs them.
@Suite struct MigrateCLITests {
    /// A SQLite store as a gateway leaves it: Ana wrote, Alexey answered, a reminder is pending.
    static func armedStore(_ config: String) async throws -> String {
        let loaded = try ConfigLoader(channelValidators: [:], environment: [:]).load(configPath: config)
        let employee = try #require(loaded.employees.first)
        let store = try SQLiteStore(path: loaded.storage.sqlitePath)
        let repliedAt = parseISO("2026-11-23T06:30:00Z")
        let message = InboundMessage(
            channelID: "tg", conversationKey: "4242", providerMessageID: "1", senderName: "Ana K", chatTitle: "Ana K",
            receivedAt: repliedAt.addingTimeInterval(-120), text: "Is breakfast included?")
        guard case .stored(let chat, _) = try await store.recordInbound(message, employeeID: employee.id, followUp: { _, _ in [] }) else {
            throw ContractViolation(description: "the chat was not stored")
        }
        let planner = FollowUpPlanner(employee: employee)
        _ = try await store.appendMessage(NewMessage(chatID: chat.id, author: .employee, text: "Yes, it is.", at: repliedAt)) { state, _ in
            planner.apply(.employeeMessage(at: repliedAt), to: &state, facts: .init())
        }
        return loaded.storage.sqlitePath
    }

    @Test func migrateCreatesTheSQLiteSchemaAndSaysSoThenFindsItCurrent() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", CLITests.alexey)
        let first = try await CLI.run(["migrate", "--config", config])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("schema before: no migrations applied (new database)"), "\(first)")
        let known = SQLiteStore.knownMigrations
        #expect(first.stdout.contains("schema after:  \(known.count) of \(known.count) migrations, last \(known.last!) (current)"), "\(first)")
        let again = try await CLI.run(["migrate", "--config", config])
        #expect(again.status == 0 && again.stdout.contains("schema before: \(known.count) of \(known.count) migrations"), "\(again)")
    }

    @Test func backupWritesAWorkingCopyAndNeverOverwrites() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", CLITests.alexey)
        _ = try await Self.armedStore(config)
        let target = folder.url.appendingPathComponent("backup.sqlite").path
        let result = try await CLI.run(["backup", "--config", config, "--to", target])
        #expect(result.status == 0 && result.stdout.contains("backed up"), "\(result)")
        let copy = try SQLiteStore(path: target)
        #expect(try await copy.pendingFollowUps(FollowUpQuery()).items.map(\.chat.title) == ["Ana K"], "the copy holds the pending reminder")
        let again = try await CLI.run(["backup", "--config", config, "--to", target])
        #expect(again.status != 0 && again.stderr.contains("never overwrites"), "\(again)")
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, "PostgreSQL is not installed (apt-get install postgresql)"))
    func migrateFromSQLiteToPostgresPrintsEveryTablesCountsAndRefusesASecondCopy() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", CLITests.alexey)
        let sqlite = try await Self.armedStore(config)
        let server = try await PostgresTestServer.shared()
        let url = server.url(database: try await server.createDatabase())

        let copy = try await CLI.run(["migrate", "--config", config, "--from", "sqlite:\(sqlite)", "--to", url])
        #expect(copy.status == 0, "\(copy)")
        for line in ["chats", "messages", "followups", "decisions"] {
            #expect(copy.stdout.split(separator: "\n").contains { $0.hasPrefix(line + " ") }, "no row for \(line): \(copy)")
        }
        #expect(copy.stdout.contains("every count equal; committed"), "\(copy)")
        let messagesRow = copy.stdout.split(separator: "\n").first { $0.hasPrefix("messages ") }.map { $0.split(separator: " ").map(String.init) }
        #expect(messagesRow == ["messages", "2", "2"], "\(copy)")

        // The copied database, configured, lists the pending reminder.
        let pgConfig = try folder.write("pg/config.yaml", "storage: { postgres: \"\(url)\" }\n" + CLITests.alexey)
        let listed = try await CLI.run(["followups", "--config", pgConfig, "--json"])
        #expect(listed.status == 0 && listed.stdout.contains("\"sends_at\":\"2026-11-23T10:30:00Z\""), "\(listed)")
        let schema = try await CLI.run(["migrate", "--config", pgConfig])
        #expect(schema.status == 0 && schema.stdout.contains("(current)"), "\(schema)")

        let second = try await CLI.run(["migrate", "--config", config, "--from", "sqlite:\(sqlite)", "--to", url])
        #expect(second.status == 1 && second.stderr.contains("already holds data") && second.stderr.contains("--replace"), "\(second)")
        #expect(!second.stderr.contains("password"), "\(second)")
        let missing = try await CLI.run(["migrate", "--config", config, "--from", "sqlite:/nonexistent/x.sqlite", "--to", url])
        #expect(missing.status != 0 && missing.stderr.contains("no SQLite database"), "\(missing)")
    }
}
