public import Foundation

/// The gateway's notion of time. Everything that plans or waits asks this, never `Date()`,
/// so tests can drive time by hand and demos can run it faster.
public protocol WallClock: Sendable {
    func now() -> Date
    /// Returns once `now() >= deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Date) async throws
    /// How many clock seconds pass per real second (1 except in scaled demos). Real-world waits
    /// such as a provider's `retry_after` are multiplied by this before being added to `now()`.
    var rate: Double { get }
}

extension WallClock {
    public var rate: Double { 1 }

    /// `now()` plus a real-world duration, in this clock's time.
    public func now(plusReal duration: Duration) -> Date {
        now().addingTimeInterval(duration.seconds * rate)
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    public var seconds: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}

/// Real time, optionally running `scale` times faster from the moment it was created:
/// with `scale: 3600` a 4-hour delay passes in 4 seconds.
public struct ScaledClock: WallClock {
    public let scale: Double
    private let realOrigin: Date
    private let simulatedOrigin: Date

    public init(scale: Double = 1, startingAt simulatedOrigin: Date? = nil) {
        precondition(scale > 0, "time scale must be positive")
        self.scale = scale
        let real = Date()
        self.realOrigin = real
        self.simulatedOrigin = simulatedOrigin ?? real
    }

    public var rate: Double { scale }

    public func now() -> Date {
        simulatedOrigin.addingTimeInterval(Date().timeIntervalSince(realOrigin) * scale)
    }

    public func sleep(until deadline: Date) async throws {
        while true {
            let remaining = deadline.timeIntervalSince(now()) / scale
            if remaining <= 0 { return }
            try await Task.sleep(nanoseconds: UInt64(min(remaining, 3600) * 1_000_000_000) + 1_000_000)
        }
    }
}
