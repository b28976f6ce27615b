import Foundation
public import SwitchboardCore
internal import Synchronization

/// Group commit for inbound messages: what concurrent requests hand in while a transaction is
/// being committed goes into the next one, so a burst costs one disk sync per batch instead of
/// one per message.
///
/// There is no timer: the wait is the commit in flight. A lone message is written at once; under
/// load each commit carries everything that arrived during the previous one, up to
/// `maxMessages`. Each caller returns when the transaction holding its messages has committed,
/// and a failed transaction fails exactly the callers whose messages were in it.
public final class InboundBatcher: Sendable {
    private struct Request {
        var records: [InboundRecord]
        var continuation: CheckedContinuation<[InboundResult], any Error>
    }

    private struct State {
        var pending: [Request] = []
        var writing = false
    }

    private let state = Mutex(State())
    /// Writes one batch in one transaction (`Store.recordInbound(_:)`).
    private let write: @Sendable ([InboundRecord]) async throws -> [InboundResult]
    public let maxMessages: Int

    public init(maxMessages: Int = 500, write: @escaping @Sendable ([InboundRecord]) async throws -> [InboundResult]) {
        self.write = write
        self.maxMessages = max(1, maxMessages)
    }

    /// Requests waiting for the next transaction (for tests and diagnostics).
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Stores `records` in the next transaction; returns their results once it has committed.
    public func submit(_ records: [InboundRecord]) async throws -> [InboundResult] {
        guard !records.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let startWriter = state.withLock { state -> Bool in
                state.pending.append(Request(records: records, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            // Unstructured on purpose: the writer serves every caller, not the one that woke it,
            // and must finish a commit even if that caller's request is cancelled.
            if startWriter { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while let batch = nextBatch() {
            do {
                let results = try await write(batch.flatMap(\.records))
                var offset = 0
                for request in batch {
                    request.continuation.resume(returning: Array(results[offset..<offset + request.records.count]))
                    offset += request.records.count
                }
            } catch {
                for request in batch { request.continuation.resume(throwing: error) }
            }
        }
    }

    /// Whole requests, oldest first, up to `maxMessages` (a single larger request goes alone);
    /// `nil` — and the writer stops — when nothing is waiting.
    private func nextBatch() -> [Request]? {
        state.withLock { state in
            guard !state.pending.isEmpty else {
                state.writing = false
                return nil
            }
            var count = 0
            var taken = 0
            for request in state.pending {
                if taken > 0 && count + request.records.count > maxMessages { break }
                count += request.records.count
                taken += 1
            }
            let batch = Array(state.pending.prefix(taken))
            state.pending.removeFirst(taken)
            return batch
        }
    }
}
