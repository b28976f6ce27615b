import Foundation
import Logging
import ServiceLifecycle
import SwitchboardCore
import SwitchboardScheduler
import Synchronization

/// The gateway's clock when `time_scale` is set: real time running `scale` times faster from
/// an origin that every process sharing the store agrees on, so a reminder one process plans
/// for "in 4 hours" falls due at the same moment for all of them.
///
/// The origin starts as this process's start and is replaced by the one in the store
/// (`adopt`) before the scheduler runs. It is kept alive while any process runs and lapses
/// `keepAlive` after the last one stopped: a demo started again later starts its simulated
/// time afresh, as a single process always did.
final class SharedOriginClock: WallClock {
    let scale: Double
    /// Real start, in seconds since 1970; simulated time equals real time at this moment.
    private let origin: Mutex<Double>

    static let name = "clock:origin"
    static let keepAlive: TimeInterval = 300

    init(scale: Double) {
        precondition(scale > 0, "time scale must be positive")
        self.scale = scale
        origin = Mutex(Date().timeIntervalSince1970)
    }

    var rate: Double { scale }

    func now() -> Date {
        let origin = self.origin.withLock { $0 }
        return Date(timeIntervalSince1970: origin + (Date().timeIntervalSince1970 - origin) * scale)
    }

    func sleep(until deadline: Date) async throws {
        while true {
            // Re-read each round: adopting another origin moves every deadline.
            let remaining = deadline.timeIntervalSince(now()) / scale
            if remaining <= 0 { return }
            try await Task.sleep(nanoseconds: UInt64(min(remaining, 60) * 1_000_000_000) + 1_000_000)
        }
    }

    /// Takes the origin in the store, or puts this one there if there is none, and keeps it
    /// from lapsing. Returns the origin in force.
    @discardableResult
    func adopt(from shared: any SharedStateStore) async throws -> Date {
        let mine = origin.withLock { $0 }
        let now = Date()
        let expires = now.addingTimeInterval(Self.keepAlive)
        let agreed = try await shared.updateShared(Self.name, now: now) { value -> Double in
            let seconds = value.flatMap { Double($0.value) } ?? mine
            value = SharedValue(String(seconds), expires: expires)
            return seconds
        }
        origin.withLock { $0 = agreed }
        return Date(timeIntervalSince1970: agreed)
    }
}

/// Runs the scheduler once the shared clock's origin is agreed, and keeps the origin alive
/// while it runs. A store that cannot be reached at start delays the scheduler (it could not
/// work anyway); webhooks are served meanwhile.
struct ClockAgreement: Service {
    let clock: SharedOriginClock
    let shared: any SharedStateStore
    let scheduler: Scheduler
    let logger: Logger

    func run() async throws {
        var attempt = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let origin = try await clock.adopt(from: shared)
                logger.info("scaled time agreed", metadata: ["clock.origin": "\(origin)", "clock.scale": "\(clock.scale)"])
                break
            } catch {
                attempt += 1
                if attempt == 1 { logger.warning("cannot agree on the scaled clock's origin yet; retrying", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(SharedOriginClock.keepAlive / 5))
                    if Task.isCancelled { return }
                    do { try await clock.adopt(from: shared) } catch { logger.debug("renewing the clock origin failed", metadata: ["error": "\(error)"]) }
                }
            }
            try await scheduler.run()
            group.cancelAll()
        }
    }
}
