import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardConfig

/// `storage:` — SQLite by default, or a PostgreSQL URL; never both; never a password in print.
@Suite struct StorageConfigTests {
    static let employees = "employees:\n  - id: alexey\n"

    static func parse(_ storage: String, environment: [String: String] = [:]) throws(ConfigError) -> GatewayConfig {
        try ConfigLoader(channelValidators: [:], environment: environment).parse(
            config: storage + "\n" + employees, file: "config.yaml", channels: [], baseDirectory: "/srv/sb")
    }

    static func problems(_ storage: String) -> [String] {
        do {
            _ = try parse(storage)
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func aPostgresURLFromTheEnvironment() throws {
        let config = try Self.parse(
            "storage: { postgres: \"${DATABASE_URL}\" }", environment: ["DATABASE_URL": "postgres://sb:p%40ss@db.internal:6432/switchboard?sslmode=require"])
        let url = try #require(config.storage.postgres)
        #expect(url == PostgresURL(host: "db.internal", port: 6432, user: "sb", password: Secret("p@ss"), database: "switchboard", sslMode: .require))
    }

    @Test func defaultsArePort5432AndPrefer() throws {
        let url = try PostgresURL.parse("postgresql://sb@127.0.0.1/switchboard")
        #expect(url.port == 5432 && url.sslMode == .prefer && url.password == nil)
        #expect(try Self.parse("storage: { sqlite: data/x.sqlite }").storage.postgres == nil, "SQLite stays the default")
    }

    @Test(arguments: [
        ("storage: { sqlite: data/x.sqlite, postgres: \"postgres://sb:pw@h/db\" }", "'sqlite' and 'postgres' are alternatives"),
        ("storage: { postgres: \"mysql://sb:pw@h/db\" }", "must be a URL such as postgres://"),
        ("storage: { postgres: \"postgres://sb:pw@h/\" }", "names no database"),
        ("storage: { postgres: \"postgres://h/db\" }", "names no user"),
        ("storage: { postgres: \"postgres://sb:pw@h/db?sslmode=maybe\" }", "'sslmode' must be one of disable, allow, prefer, require, verify-ca, verify-full"),
        ("storage: { postgres: \"postgres://sb:pw@h/db?pool=3\" }", "takes only the sslmode parameter"),
        ("storage: { postgres: \"postgres://sb:pw@h/db\", pool_size: 0 }", "'pool_size' must be a whole number from 1 to 1000"),
        ("storage: { postgres: \"postgres://sb:pw@h/db\", statement_timeout: 500 }", "'statement_timeout' must be a duration from 1s to 1h"),
        ("storage: { postgres: \"postgres://sb:pw@h/db\", statement_timeout: 2h }", "'statement_timeout' must be a duration from 1s to 1h"),
        ("storage: { sqlite: data/x.sqlite, pool_size: 5 }", "'pool_size' applies to storage.postgres only"),
        ("storage: { statement_timeout: 5s }", "'statement_timeout' applies to storage.postgres only"),
    ])
    func aBadStorageSaysWhatToWrite(storage: String, expected: String) {
        let problems = Self.problems(storage)
        #expect(problems.count == 1 && problems[0].contains(expected), "\(problems)")
        #expect(problems.allSatisfy { $0.contains("config.yaml:1:") }, "positioned: \(problems)")
        #expect(!problems.joined().contains(":pw@"), "the URL is never quoted: \(problems)")
    }

    @Test func poolSizeAndStatementTimeoutDefaultAndAreRead() throws {
        let defaults = try Self.parse("storage: { postgres: \"postgres://sb@h/db\" }").storage
        #expect(defaults.poolSize == 20 && defaults.statementTimeout == .seconds(10))
        let tuned = try Self.parse("storage: { postgres: \"postgres://sb@h/db\", pool_size: 8, statement_timeout: 30s }").storage
        #expect(tuned.poolSize == 8 && tuned.statementTimeout == .seconds(30))
    }

    @Test func thePasswordIsNeverPrinted() throws {
        let config = try Self.parse("storage: { postgres: \"postgres://sb:hunter2-db-password@h:5432/db\" }")
        var dumped = ""
        dump(config, to: &dumped)
        for text in [String(describing: config), String(reflecting: config), "\(config.storage)", "\(config.storage.postgres!)", dumped] {
            #expect(!text.contains("hunter2"), "leaks the password: \(text)")
        }
        #expect("\(config.storage)".contains("h") && "\(config.storage)".contains("***"))
    }
}
