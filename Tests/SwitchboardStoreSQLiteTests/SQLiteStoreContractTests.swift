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
