import Foundation
import Logging
import SwitchboardCore
import Synchronization

/// A token bucket: up to `capacity` at once, refilled at `perSecond`. A value with no clock of
/// its own — the caller passes the time — so it is tested without sleeping.
struct TokenBucket: Sendable, Hashable {
    let capacity: Double
    let perSecond: Double
    private(set) var tokens: Double
    private(set) var updatedAt: ContinuousClock.Instant

    init(capacity: Int, perMinute: Int, now: ContinuousClock.Instant) {
        self.capacity = Double(capacity)
        self.perSecond = Double(perMinute) / 60
        self.tokens = Double(capacity)
        self.updatedAt = now
    }

    init(capacity: Int, perSecond: Double, now: ContinuousClock.Instant) {
        self.capacity = Double(capacity)
        self.perSecond = perSecond
        self.tokens = Double(capacity)
        self.updatedAt = now
    }

    /// Takes one token, or says how long until one is available.
    mutating func take(now: ContinuousClock.Instant) -> Duration? {
        refill(now: now)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        let seconds = (1 - tokens) / perSecond
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }

    /// Full again: remembering it changes nothing, so a limiter may forget it.
    func isFull(now: ContinuousClock.Instant) -> Bool {
        var copy = self
        copy.refill(now: now)
        return copy.tokens >= capacity
    }

    private mutating func refill(now: ContinuousClock.Instant) {
        guard now > updatedAt else { return }
        let elapsed = (now - updatedAt).seconds
        tokens = min(capacity, tokens + elapsed * perSecond)
        updatedAt = now
    }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// Token buckets by key (a visitor, an IP address). Buckets that have refilled are forgotten,
/// so memory follows the number of keys active in the last minute or so, not all keys ever.
final class KeyedRateLimiter: Sendable {
    private struct State {
        var buckets: [String: TokenBucket] = [:]
        var operations = 0
    }

    private let capacity: Int
    private let perSecond: Double
    private let state = Mutex(State())

    init(capacity: Int, perSecond: Double) {
        self.capacity = capacity
        self.perSecond = perSecond
    }

    /// `nil` when allowed; otherwise how long to wait.
    func take(_ key: String, now: ContinuousClock.Instant = .now) -> Duration? {
        state.withLock { state in
            state.operations += 1
            if state.operations % 1024 == 0 {
                state.buckets = state.buckets.filter { !$0.value.isFull(now: now) }
            }
            var bucket = state.buckets[key] ?? TokenBucket(capacity: capacity, perSecond: perSecond, now: now)
            let wait = bucket.take(now: now)
            state.buckets[key] = bucket
            return wait
        }
    }

    var trackedKeys: Int { state.withLock { $0.buckets.count } }
}

/// Token buckets by key that every gateway process sharing the store counts alike, where the
/// host offers shared state: a visitor's tabs, or one address's new chats, may reach different
/// processes behind a load balancer. Without shared state — or while the store cannot be
/// reached — the process's own buckets count (still a limit, per process).
struct SharedRateLimiter: Sendable {
    let local: KeyedRateLimiter
    let shared: (any SharedStateStore)?
    /// Names this limiter's buckets in the shared state.
    let name: String
    let capacity: Int
    let perSecond: Double
    let logger: Logger

    init(name: String, capacity: Int, perSecond: Double, shared: (any SharedStateStore)?, logger: Logger) {
        self.name = name
        self.capacity = capacity
        self.perSecond = perSecond
        self.shared = shared
        self.logger = logger
        local = KeyedRateLimiter(capacity: capacity, perSecond: perSecond)
    }

    /// `nil` when allowed; otherwise how long to wait.
    func take(_ key: String, now: Date = Date()) async -> Duration? {
        if let shared {
            do {
                return try await shared.takeToken("\(name):\(key)", capacity: capacity, perSecond: perSecond, now: now)
                    .map { .milliseconds(Int64(($0 * 1000).rounded(.up))) }
            } catch {
                logger.warning("shared rate limit unavailable; counting in this process", metadata: ["error": "\(error)"])
            }
        }
        return local.take(key)
    }
}
