/// Waits until `condition` holds, polling about every 10 ms, and throws ``EventuallyTimedOut``
/// if it still does not hold after `timeout` of real time.
///
/// Use it to wait for the event that proves the system moved on (a message handled, a decision
/// recorded, a request seen by a fake) — never to wait out a fixed delay. The timeout is generous
/// because CI machines are slow; a passing test returns as soon as the condition holds.
///
/// ```swift
/// try await eventually("the reply") { telegram.sentMessages.count == 1 }
/// ```
public func eventually(
    timeout: Duration = .seconds(10), _ what: String = "condition", _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try await !condition() {
        guard clock.now < deadline else { throw EventuallyTimedOut(what: what, timeout: timeout) }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Thrown by ``eventually(timeout:_:_:)`` when its condition did not hold in time.
public struct EventuallyTimedOut: Error, CustomStringConvertible {
    /// What the test was waiting for, as its author described it.
    public let what: String
    /// How long it waited.
    public let timeout: Duration

    public var description: String { "timed out after \(timeout) waiting for \(what)" }
}
