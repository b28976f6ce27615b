import Foundation
import SwitchboardCore
import SwitchboardScheduler
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
import Testing

/// Group commit: what arrives while a commit is in flight shares the next transaction, and a
/// failed transaction fails exactly the requests in it.
@Suite struct InboundBatcherTests {
    /// A writer that holds each transaction until the test releases it, and can fail one.
    final class GatedWriter: Sendable {
        let store: SQLiteStore
        private let state = Mutex<(batches: [[String]], gates: [CheckedContinuation<Void, Never>], failing: Set<Int>)>(([], [], []))

        init(store: SQLiteStore) { self.store = store }

        var batches: [[String]] { state.withLock { $0.batches } }
        var waiting: Int { state.withLock { $0.gates.count } }
        func fail(batch number: Int) { state.withLock { _ = $0.failing.insert(number) } }

        func releaseOne() {
            let gate = state.withLock { $0.gates.isEmpty ? nil : $0.gates.removeFirst() }
            gate?.resume()
        }

        func write(_ records: [InboundRecord]) async throws -> [InboundResult] {
            let number = state.withLock { state -> Int in
                state.batches.append(records.map(\.message.text))
                return state.batches.count
            }
            await withCheckedContinuation { continuation in state.withLock { $0.gates.append(continuation) } }
            if state.withLock({ $0.failing.contains(number) }) { throw StoreError.unknownChat("simulated commit failure") }
            return try await store.recordInbound(records)
        }
    }

    static func record(_ text: String, id: String) -> InboundRecord {
        InboundRecord(
            message: InboundMessage(channelID: "tg", conversationKey: "c-\(id)", providerMessageID: id, senderName: "Ana", receivedAt: Date(timeIntervalSince1970: 0), text: text),
            employeeID: "alexey", followUp: { _, _ in [] })
    }

    @Test func requestsArrivingDuringACommitShareTheNextAndAFailedCommitFailsExactlyItsRequests() async throws {
        let store = try SQLiteStore()
        let writer = GatedWriter(store: store)
        let batcher = InboundBatcher(maxMessages: 10) { try await writer.write($0) }

        let first = Task { try await batcher.submit([Self.record("a", id: "1")]) }
        try await eventually("the first commit is in flight") { writer.waiting == 1 }
        let second = Task { try await batcher.submit([Self.record("b", id: "2")]) }
        let third = Task { try await batcher.submit([Self.record("c", id: "3"), Self.record("d", id: "4")]) }
        try await eventually("both queued behind the commit in flight") { batcher.pendingCount == 2 }
        writer.releaseOne()
        try await eventually("the second commit is in flight") { writer.waiting == 1 && writer.batches.count == 2 }
        #expect(writer.batches == [["a"], ["b", "c", "d"]], "one transaction for everything that waited")
        writer.fail(batch: 2)
        writer.releaseOne()

        #expect(try await first.value.count == 1)
        await #expect(throws: StoreError.self) { try await second.value }
        await #expect(throws: StoreError.self) { try await third.value }
        for id in ["2", "3", "4"] {
            #expect(try await store.chat(channelID: "tg", conversationKey: "c-\(id)") == nil, "nothing of the failed batch is stored")
        }
        #expect(try await store.chat(channelID: "tg", conversationKey: "c-1") != nil)

        // The writer carries on after a failure.
        let fourth = Task { try await batcher.submit([Self.record("e", id: "5"), Self.record("a again", id: "1")]) }
        try await eventually("the next commit") { writer.waiting == 1 }
        writer.releaseOne()
        let results = try await fourth.value
        #expect(results.count == 2 && results[1] == .duplicate, "a redelivery inside a batch is a duplicate: \(results)")
    }

    @Test func aBatchNeverExceedsTheLimitUnlessOneRequestDoes() async throws {
        let store = try SQLiteStore()
        let writer = GatedWriter(store: store)
        let batcher = InboundBatcher(maxMessages: 3) { try await writer.write($0) }
        let first = Task { try await batcher.submit([Self.record("a", id: "1")]) }
        try await eventually("in flight") { writer.waiting == 1 }
        let big = Task { try await batcher.submit((2...6).map { Self.record("m\($0)", id: "\($0)") }) }
        try await eventually("the big request queued") { batcher.pendingCount == 1 }
        let small = (7...9).map { n in Task { try await batcher.submit([Self.record("s\(n)", id: "\(n)")]) } }
        try await eventually("all queued") { batcher.pendingCount == 4 }
        while writer.batches.count < 3 || writer.waiting > 0 {
            writer.releaseOne()
            try await Task.sleep(for: .milliseconds(5))
        }
        _ = try await first.value
        _ = try await big.value
        for task in small { _ = try await task.value }
        #expect(writer.batches.map(\.count) == [1, 5, 3], "\(writer.batches)")
    }

    /// Within one batch, the same provider id twice is stored once.
    @Test func duplicatesWithinOneBatchAreStoredOnce() async throws {
        let store = try SQLiteStore()
        let results = try await store.recordInbound([Self.record("x", id: "1"), Self.record("x", id: "1"), Self.record("y", id: "2")])
        #expect(results.map { $0 == .duplicate } == [false, true, false])
        let chat = try #require(try await store.chat(channelID: "tg", conversationKey: "c-1"))
        #expect(try await store.messages(chatID: chat.id, limit: 10).count == 1)
    }
}
