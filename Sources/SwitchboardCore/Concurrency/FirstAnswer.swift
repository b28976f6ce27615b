internal import Synchronization

/// The first of several racing outcomes (work against its deadline), handed to the one caller
/// waiting for it; later ones are dropped. Unlike a task group, the caller is answered without
/// waiting for the losers: a store call stuck on an unreachable database is left behind.
public final class FirstAnswer<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    public init() {}

    /// Waits for the first result given through the function `start` receives.
    public func wait(_ start: (@escaping @Sendable (Result<T, any Error>) -> Void) -> Void) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            self.continuation.withLock { $0 = continuation }
            start { result in self.continuation.withLock { $0.take() }?.resume(with: result) }
        }
    }
}
