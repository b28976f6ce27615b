public import Foundation
public import SwitchboardCore
import Synchronization

/// A clock that moves only when a test says so. Sleepers wake when `advance` passes their deadline.
public final class ManualClock: WallClock {
    private struct Sleeper {
        let deadline: Date
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Date
        var sleepers: [UUID: Sleeper] = [:]
    }

    private let state: Mutex<State>

    public init(_ start: Date) { state = Mutex(State(now: start)) }

    /// Starts at an ISO 8601 instant such as `2026-11-23T09:00:00Z`.
    public convenience init(_ iso: String) { self.init(parseISO(iso)) }

    public func now() -> Date { state.withLock { $0.now } }

    /// How many tasks are sleeping on this clock — lets a test wait until a service is idle.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func advance(to instant: Date) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = max(state.now, instant)
            let due = state.sleepers.filter { $0.value.deadline <= state.now }
            for key in due.keys { state.sleepers[key] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    public func advance(by duration: Duration) { advance(to: now().addingTimeInterval(duration.seconds)) }

    public func sleep(until deadline: Date) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // A task cancelled before it got here has already run `onCancel`, which found no
                // sleeper to wake: check again under the lock, or it would sleep until the next
                // `advance` — for ever, when that was a scheduler's wake-up race at shutdown.
                let resumeNow = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}

/// Parses `2026-11-23T09:00:00Z` (or with an offset); traps on a malformed literal — tests only.
public func parseISO(_ text: String) -> Date {
    guard let date = ISO8601DateFormatter().date(from: text) else { preconditionFailure("bad ISO 8601 literal \(text)") }
    return date
}

/// Formats an instant as `2026-11-23T09:00:00Z`.
public func formatISO(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
