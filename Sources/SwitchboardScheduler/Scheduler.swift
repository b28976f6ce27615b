import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardCore

/// The long-running service that carries out plans: it fires due reminders (checking every
/// gate, composing, queueing) and delivers the outbox (retrying, dead-lettering). Pending work
/// lives in the store; the service sleeps until the earliest due moment or until `nudge()`.
public final class Scheduler: Service, Sendable {
    /// Tunables, with the defaults a production gateway uses.
    public struct Configuration: Sendable {
        /// Identifies this process's leases.
        public var owner: String
        /// How long a claim lasts in real time before another process may take it over.
        public var lease: Duration = .seconds(120)
        public var batchSize = 50
        /// Messages of history a composer sees.
        public var historyLimit = 20
        public var maxDeliveryAttempts = 8
        public var maxCompositionAttempts = 5
        /// The longest the service sleeps without looking, in real time: picks up work another
        /// process wrote to a shared database.
        public var idleCheck: Duration = .seconds(15)

        public init(owner: String = Configuration.defaultOwner()) { self.owner = owner }

        public static func defaultOwner() -> String {
            "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        }

        /// Real-time wait before retry number `attempt` (1-based): 2 s doubling, at most 10 minutes.
        public func backoff(attempt: Int) -> Duration {
            .seconds(min(600, 2 << min(max(attempt - 1, 0), 16)))
        }
    }

    let store: any Store
    let composer: any Composer
    let senders: ChannelSenders
    let roster: LiveRoster
    let clock: any WallClock
    let logger: Logger
    let configuration: Configuration
    private let wake = WakeSignal()

    public init(
        store: any Store, composer: any Composer, senders: ChannelSenders, roster: LiveRoster, clock: any WallClock,
        logger: Logger, configuration: Configuration = Configuration()
    ) {
        self.store = store
        self.composer = composer
        self.senders = senders
        self.roster = roster
        self.clock = clock
        self.logger = logger
        self.configuration = configuration
    }

    /// Tells the scheduler that new work may be due (a reminder was armed, a message queued).
    public func nudge() { wake.signal() }

    /// Runs until cancelled or until graceful shutdown; on graceful shutdown the pass under way
    /// finishes — a message being sent is sent and recorded — and no new pass starts.
    public func run() async throws {
        logger.info("scheduler started", metadata: ["scheduler.owner": "\(configuration.owner)"])
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await self.runDue()
                    try await self.sleepUntilNextWork()
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.error("scheduler pass failed; retrying", metadata: ["error": "\(error)"])
                    try? await self.clock.sleep(until: self.clock.now(plusReal: .seconds(1)))
                }
            }
        } onGracefulShutdown: {
            self.wake.signal()
        }
        logger.info("scheduler stopped")
    }

    /// Carries out everything due now — outbox deliveries, owed replies, reminders — until
    /// nothing is left.
    /// Returns how many items it handled. Tests call this directly with a manual clock.
    @discardableResult
    public func runDue() async throws -> Int {
        var handled = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = clock.now()
            let leaseUntil = clock.now(plusReal: configuration.lease)
            let entries = try await store.claimDueOutbox(now: now, owner: configuration.owner, leaseUntil: leaseUntil, limit: configuration.batchSize)
            for entry in entries { await deliver(entry) }
            let replies = try await store.claimDueReplies(now: now, owner: configuration.owner, leaseUntil: leaseUntil, limit: configuration.batchSize)
            for chat in replies { await reply(to: chat) }
            let due = try await store.claimDueFollowUps(now: now, owner: configuration.owner, leaseUntil: leaseUntil, limit: configuration.batchSize)
            for item in due { await fire(item) }
            if entries.isEmpty && replies.isEmpty && due.isEmpty { break }
            handled += entries.count + replies.count + due.count
        }
        return handled
    }

    private func sleepUntilNextWork() async throws {
        let latest = clock.now(plusReal: configuration.idleCheck)
        let next = min(try await store.nextWakeTime() ?? latest, latest)
        if next <= clock.now() { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.clock.sleep(until: next) }
            group.addTask { await self.wake.wait() }
            await group.next()
            group.cancelAll()
        }
        try Task.checkCancellation()
    }
}
