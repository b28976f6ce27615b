import Foundation
import SwitchboardCore
import SwitchboardStoreSQLite
import SwitchboardTesting
import Testing

@Suite struct SQLiteStoreContractTests {
    @Test(arguments: StoreContract.checks)
    func contract(_ check: StoreContract) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try await check.run(try SQLiteStore(path: dir.appendingPathComponent("test.sqlite").path))
    }

    @Test(arguments: StoreContract.checks)
    func contractInMemory(_ check: StoreContract) async throws {
        try await check.run(try SQLiteStore())
    }
}

@Suite struct SQLiteMigrationTests {
    /// Several processes started together on one new file: each opens and migrates it. (Threads
    /// here: every store has connections of its own, as another process would.)
    @Test func storesOpenedTogetherOnANewFileAllStart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("shared.sqlite").path
        for round in 0..<5 {
            let roundPath = path + ".\(round)"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<6 {
                    group.addTask {
                        let store = try SQLiteStore(path: roundPath)
                        try await store.setCursor("process.\(i)", to: "up")
                    }
                }
                try await group.waitForAll()
            }
            let store = try SQLiteStore(path: roundPath)
            for i in 0..<6 { #expect(try await store.cursor("process.\(i)") == "up") }
        }
    }
}
