import Foundation
import SwitchboardCore
import Synchronization

/// Carries concurrent items of one pipeline stage through the store together: what the
/// scheduler's tasks hand in while a store call is under way goes into the next one (up to
/// `maxItems`), so a wave of reminders costs one transaction per batch and stage, not one per
/// reminder. There is no timer — the wait is the call in flight: a lone item goes at once.
/// Each caller gets its own item's result (a lost lease fails that item only); a failed call
/// fails exactly the callers whose items were in it.
final class BatchCall<Input: Sendable, Output: Sendable>: Sendable {
    private struct Waiting {
        var input: Input
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var pending: [Waiting] = []
        var calling = false
    }

    private let state = Mutex(State())
    private let call: @Sendable ([Input]) async throws -> [Result<Output, any Error>]
    let maxItems: Int

    init(maxItems: Int, _ call: @escaping @Sendable ([Input]) async throws -> [Result<Output, any Error>]) {
        self.call = call
        self.maxItems = max(1, maxItems)
    }

    /// Runs `input` in the next store call; returns (or throws) its own result.
    func submit(_ input: Input) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startCaller = state.withLock { state -> Bool in
                state.pending.append(Waiting(input: input, continuation: continuation))
                guard !state.calling else { return false }
                state.calling = true
                return true
            }
            // Unstructured on purpose: it serves every caller, not the one that started it, and
            // finishes its call even if that caller is cancelled (like a write sent to the disk).
            if startCaller { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while let batch = next() {
            do {
                let results = try await call(batch.map(\.input))
                guard results.count == batch.count else { throw BatchCallMismatch(expected: batch.count, got: results.count) }
                for (waiting, result) in zip(batch, results) { waiting.continuation.resume(with: result) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }

    /// The oldest `maxItems` waiting; `nil` — and the caller stops — when none is.
    private func next() -> [Waiting]? {
        state.withLock { state in
            guard !state.pending.isEmpty else {
                state.calling = false
                return nil
            }
            let batch = Array(state.pending.prefix(maxItems))
            state.pending.removeFirst(batch.count)
            return batch
        }
    }
}

/// A store answered a batch with a different number of results (a broken `Store`).
struct BatchCallMismatch: Error, CustomStringConvertible {
    var expected: Int
    var got: Int
    var description: String { "the store answered \(got) results for a batch of \(expected)" }
}

/// At most `count` holders at once (compositions, sends); the others wait in arrival order.
final class Slots: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(free: max(1, count))) }

    /// Runs `body` holding a slot.
    func with<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}

/// How many claimed reminders may be under way at once (deliveries never run ahead of their
/// workers: see `Scheduler.capacity`). Claiming a large batch pays when each item's slow step,
/// its composition, is quick; with a slow model, items would wait for a slot long enough to
/// outlive their lease. So
/// the limit follows the step's recent duration: as many items as the slots get through in a
/// quarter of the lease, never fewer than the slots and never more than `batch`.
final class InFlightLimit: Sendable {
    private let slots: Int
    private let batch: Int
    private let budget: Double
    /// Seconds the step took recently (an exponential moving average); `nil` before the first.
    private let average = Mutex<Double?>(nil)

    init(slots: Int, batch: Int, lease: Duration) {
        self.slots = max(1, slots)
        self.batch = max(1, batch)
        budget = lease.seconds / 4
    }

    var current: Int {
        guard batch > slots, let average = average.withLock({ $0 }) else { return slots }
        let perSlot = budget / max(average, 0.000_1)
        return Int(min(Double(batch), max(Double(slots), Double(slots) * perSlot)))
    }

    func record(_ duration: Duration) {
        let seconds = duration.seconds
        average.withLock { $0 = $0.map { $0 * 0.8 + seconds * 0.2 } ?? seconds }
    }

    /// Runs `body` and records how long it took.
    func timing<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        defer { record(ContinuousClock.now - start) }
        return try await body()
    }
}
