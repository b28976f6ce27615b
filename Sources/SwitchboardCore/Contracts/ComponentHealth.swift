import Synchronization

/// Whether one part of the gateway (the composer, a channel) can do its job right now, as
/// `/readyz` reports it. Set by whoever sees the part fail permanently (a refused API key, a
/// revoked bot token) and cleared by the next success.
public final class ComponentHealth: Sendable {
    private let state = Mutex<String?>(nil)

    public init() {}

    /// What is wrong, phrased as what to fix; `nil` while healthy.
    public var problem: String? { state.withLock { $0 } }
    public var isHealthy: Bool { problem == nil }

    /// Marks the part failing; `problem` must say what an admin should do and contain no secret.
    public func fail(_ problem: String) { state.withLock { $0 = problem } }

    public func recover() { state.withLock { $0 = nil } }
}
