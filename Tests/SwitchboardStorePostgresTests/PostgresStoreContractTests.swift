import Foundation
import SwitchboardCore
import SwitchboardStorePostgres
import SwitchboardTesting
import Testing

/// The Store contract against a real PostgreSQL: the cluster the test process starts itself
/// (see `PostgresTestServer`), or the server `SWITCHBOARD_TEST_POSTGRES_URL` names. Each check
/// gets a database of its own.
@Suite struct PostgresStoreContractTests {
    @Test(
        .enabled(if: PostgresTestServer.isAvailable, "PostgreSQL is not installed (apt-get install postgresql) and SWITCHBOARD_TEST_POSTGRES_URL is not set"),
        arguments: StoreContract.checks)
    func contract(_ check: StoreContract) async throws {
        try await withStore { store in try await check.run(store) }
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, "PostgreSQL is not installed"))
    func processesStartingTogetherMigrateOnce() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.createDatabase()
        // Four stores (four processes' worth of pools) reach a new database at the same moment.
        let stores = (0..<4).map { _ in PostgresStore(configuration: Self.configuration(server, database)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in stores { group.addTask { await store.run() } }
            try await withThrowingTaskGroup(of: Void.self) { writers in
                for (i, store) in stores.enumerated() { writers.addTask { try await store.setCursor("process.\(i)", to: "up") } }
                try await writers.waitForAll()
            }
            for (i, store) in stores.enumerated() { #expect(try await store.cursor("process.\(i)") == "up") }
            group.cancelAll()
        }
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, "PostgreSQL is not installed"))
    func anUnreachableServerStoresNothingAndShowsNoPassword() async throws {
        // Nothing listens on port 1. The pool keeps retrying with backoff (about a minute before it
        // gives up), so a caller bounds its wait, as `/readyz` does; no write is reported done.
        let store = PostgresStore(configuration: .init(host: "127.0.0.1", port: 1, username: "nobody", password: "hunter2-secret", tls: .disable))
        #expect(!"\(store)".contains("hunter2"), "the password is never described")
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            let error = await #expect(throws: (any Error).self) {
                try await withTimeout(.seconds(5)) { try await store.setCursor("x", to: "y") }
            }
            #expect(!"\(String(describing: error))".contains("hunter2"))
            group.cancelAll()
        }
    }

    static func configuration(_ server: PostgresTestServer, _ database: String) -> PostgresStore.Configuration {
        PostgresStore.Configuration(
            host: server.host, port: server.port, username: server.user, password: server.password, database: database, tls: .disable,
            // Generous: these tests check what the store does, not its timeout, and at the start of
            // the full suite dozens of databases are created and migrated on a loaded machine.
            maximumConnections: 6, statementTimeout: .seconds(60))
    }

    func withStore(_ body: @Sendable (PostgresStore) async throws -> Void) async throws {
        let server = try await PostgresTestServer.shared()
        let store = PostgresStore(configuration: Self.configuration(server, try await server.createDatabase()))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            try await body(store)
            group.cancelAll()
        }
    }
}

struct TimedOut: Error {}

func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimedOut()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
