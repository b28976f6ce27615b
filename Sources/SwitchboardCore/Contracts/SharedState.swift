public import Foundation

/// A small named value, with the real (unscaled) time it lapses.
public struct SharedValue: Sendable, Hashable {
    public var value: String
    /// Gone after this moment; `nil`: kept until changed or removed.
    public var expires: Date?

    public init(_ value: String, expires: Date?) {
        self.value = value
        self.expires = expires
    }
}

/// Small named values that every gateway process sharing a store sees alike: admin sign-in
/// sessions, failed sign-ins and rate limits per client, a channel's polling lease, a scaled
/// clock's origin. Kept in the store, so a load balancer may send any request to any process.
public protocol SharedStateStore: Sendable {
    /// Reads and changes the value under `name` in one transaction, one change of a name at a
    /// time across every process. `change` sees the value (`nil` when absent or lapsed at
    /// `now`) and leaves the new one (`nil` removes it); its result is returned. It may run
    /// more than once (a retried transaction), so it must only compute.
    func updateShared<T: Sendable>(_ name: String, now: Date, _ change: @escaping @Sendable (inout SharedValue?) throws -> T) async throws -> T
    /// The value under `name`, unless absent or lapsed at `now`.
    func shared(_ name: String, now: Date) async throws -> SharedValue?
}

extension SharedStateStore {
    /// Makes `owner` the holder of the lease `name` until `until` when nobody else holds it (or
    /// `owner` does already, which extends it). Returns whether `owner` holds it now.
    public func acquireLease(_ name: String, owner: String, now: Date, until: Date) async throws -> Bool {
        try await updateShared(name, now: now) { value in
            guard value == nil || value?.value == owner else { return false }
            value = SharedValue(owner, expires: until)
            return true
        }
    }

    /// Gives the lease up if `owner` holds it, so another process need not wait for it to lapse.
    public func releaseLease(_ name: String, owner: String, now: Date) async throws {
        try await updateShared(name, now: now) { value in
            if value?.value == owner { value = nil }
        }
    }

    /// Stores `value` under `name` unless a live value is there; returns the one in force.
    public func firstValue(_ name: String, _ value: String, expires: Date? = nil, now: Date) async throws -> String {
        try await updateShared(name, now: now) { current in
            if let current { return current.value }
            current = SharedValue(value, expires: expires)
            return value
        }
    }

    /// Takes one token from the bucket `name` (up to `capacity` at once, refilled at
    /// `perSecond`); `nil` when one was there, otherwise how long until one is.
    public func takeToken(_ name: String, capacity: Int, perSecond: Double, now: Date) async throws -> TimeInterval? {
        try await updateShared(name, now: now) { value in
            var bucket = value.flatMap { TokenCount(encoded: $0.value) } ?? TokenCount(tokens: Double(capacity), at: now)
            bucket.refill(now: now, capacity: Double(capacity), perSecond: perSecond)
            guard bucket.tokens >= 1 else {
                return (1 - bucket.tokens) / perSecond
            }
            bucket.tokens -= 1
            // Once full again it is the same as no bucket at all: let it lapse then.
            let full = now.addingTimeInterval((Double(capacity) - bucket.tokens) / perSecond)
            value = SharedValue(bucket.encoded, expires: full)
            return nil
        }
    }
}

/// A token bucket's level at a moment, as kept in a shared value ("tokens@seconds").
struct TokenCount {
    var tokens: Double
    var at: Date

    init(tokens: Double, at: Date) {
        self.tokens = tokens
        self.at = at
    }

    init?(encoded: String) {
        let parts = encoded.split(separator: "@")
        guard parts.count == 2, let tokens = Double(parts[0]), let seconds = Double(parts[1]) else { return nil }
        self.init(tokens: tokens, at: Date(timeIntervalSince1970: seconds))
    }

    var encoded: String { "\(tokens)@\(at.timeIntervalSince1970)" }

    mutating func refill(now: Date, capacity: Double, perSecond: Double) {
        guard now > at else { return }
        tokens = min(capacity, tokens + now.timeIntervalSince(at) * perSecond)
        at = now
    }
}
