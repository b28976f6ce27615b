import Foundation
public import Logging
public import ServiceLifecycle
public import SwitchboardCore
import Synchronization

/// The long-running service that carries out plans: it delivers the outbox (retrying,
/// dead-lettering), composes the answers clients are owed, and fires due reminders (checking
/// every gate, composing, queueing). Pending work lives in the store; each kind of work has its
/// own bounded pool of workers, so a slow model never holds up a delivery, and each pool sleeps
/// until its next due moment or until `nudge()`.
public final class Scheduler: Service, Sendable {
    /// Tunables, with the defaults a production gateway uses.
    public struct Configuration: Sendable {
        /// Identifies this process's leases.
        public var owner: String
        /// How long a claim lasts in real time before another process may take it over.
        public var lease: Duration = .seconds(120)
        public var batchSize = 50
        /// Reminders and deliveries under way are carried through the store together: at most
        /// this many items per store call and stage (gates, queueing, reading chats, recording
        /// outcomes), and at most this many reminders claimed at once while their compositions
        /// are quick (`InFlightLimit`; deliveries never run ahead of `deliveryWorkers`). 1 gives
        /// every item store calls of its own — the shape before batching, kept for measuring it.
        public var pipelineBatch = 256
        /// Messages of history a composer sees.
        public var historyLimit = 20
        public var maxDeliveryAttempts = 8
        /// Compositions started for one reply or one (run, step) of a chain, crashes included.
        public var maxCompositionAttempts = 5
        /// Deliveries under way at once.
        public var deliveryWorkers = 8
        /// Replies being composed at once; reminders have a pool of the same size.
        public var compositionWorkers = 4
        /// The longest a pool sleeps without looking, in real time: picks up work another
        /// process wrote to a shared database.
        public var idleCheck: Duration = .seconds(15)
        /// The longest a record of what a provider accepted may take once shutdown has begun.
        public var recordTimeout: Duration = .seconds(10)
        /// How often, in real time, work for a chat whose channel is not running is looked at
        /// again (reminders due, messages queued): it waits in the store meanwhile.
        public var channelRetry: Duration = .seconds(60)
        /// What AI replies may spend per employee per day; `nil`: unlimited.
        public var replyBudget: ReplyBudget?
        /// Told when a late result was refused because this process's lease had been taken
        /// over (metrics); the scheduler logs a warning either way.
        public var onLeaseLost: (@Sendable (Lease) -> Void)?

        public init(owner: String = Configuration.defaultOwner()) { self.owner = owner }

        public static func defaultOwner() -> String {
            "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        }

        /// The longest wait between two attempts of one message (a provider's `retry_after` aside).
        public var maxRetryWait: Duration = .seconds(600)

        /// Real-time wait before retry number `attempt` (1-based): 2 s doubling, at most `maxRetryWait`.
        public func backoff(attempt: Int) -> Duration {
            min(maxRetryWait, .seconds(2 << min(max(attempt - 1, 0), 16)))
        }
    }

    /// A daily cap on what an employee's AI replies to clients may spend, and what a client gets
    /// instead once it is spent (`conversation.daily_token_budget` and `budget_reply`).
    public struct ReplyBudget: Sendable, Hashable {
        /// Tokens (prompt and completion) of `purpose: reply` compositions per employee per local
        /// day, in the employee's time zone.
        public var dailyTokens: Int
        /// Sent as the answer, not composed: it costs nothing.
        public var fallbackText: String

        public init(dailyTokens: Int, fallbackText: String) {
            self.dailyTokens = dailyTokens
            self.fallbackText = fallbackText
        }
    }

    /// The kinds of work, each with its own pool.
    enum Work: String, Sendable, CaseIterable {
        case deliveries, replies, reminders
    }

    let store: any Store
    let composer: any Composer
    let senders: ChannelSenders
    let roster: LiveRoster
    let clock: any WallClock
    let logger: Logger
    let configuration: Configuration
    /// Told when the composer fails in a way only an admin can fix, and when it works again.
    let composerHealth: ComponentHealth?
    /// Spaces deliveries under each channel's send-rate caps (`ChannelCapabilities.pace`).
    let pacer: Pacer
    /// Starts as `configuration.replyBudget`; a reloaded config replaces it.
    private let replyBudgetBox: Mutex<ReplyBudget?>
    private let wakes: [Work: WakeSignal] = Dictionary(uniqueKeysWithValues: Work.allCases.map { ($0, WakeSignal()) })
    /// Deliveries claimed whose send has not finished (see `capacity`).
    private let unsentDeliveries = Mutex(0)

    // The batched pipeline: each stage's store calls, shared by the items under way.
    let gates: BatchCall<FollowUpUpdate, FollowUpState>
    let queueing: BatchCall<OutboxEnqueue, OutboxEntry?>
    let recording: BatchCall<OutboxCompletion, Void>
    /// A reminder's history for its composer.
    let histories: BatchCall<String, [StoredMessage]>
    /// A delivery's chat and follow-up state.
    let contexts: BatchCall<String, ChatContext>
    /// Reminders being composed at once, and deliveries being sent at once (their pacing wait included).
    let compositionSlots: Slots
    let sendSlots: Slots
    let reminderLimit: InFlightLimit

    public init(
        store: any Store, composer: any Composer, senders: ChannelSenders, roster: LiveRoster, clock: any WallClock,
        logger: Logger, configuration: Configuration = Configuration(), composerHealth: ComponentHealth? = nil, pacer: Pacer = Pacer()
    ) {
        self.pacer = pacer
        self.store = store
        self.composer = composer
        self.senders = senders
        self.roster = roster
        self.clock = clock
        self.logger = logger
        self.configuration = configuration
        self.composerHealth = composerHealth
        self.replyBudgetBox = Mutex(configuration.replyBudget)
        let batch = configuration.pipelineBatch
        gates = BatchCall(maxItems: batch) { try await store.updateFollowUps($0) }
        queueing = BatchCall(maxItems: batch) { try await store.enqueue($0) }
        recording = BatchCall(maxItems: batch) { try await store.complete($0) }
        let historyLimit = configuration.historyLimit
        histories = BatchCall(maxItems: batch) { ids in
            let found = try await store.chatContexts(ids: ids, historyLimit: historyLimit)
            return ids.map { id -> Result<[StoredMessage], any Error> in
                guard let context = found[id] else { return .failure(StoreError.unknownChat(id)) }
                return .success(context.history)
            }
        }
        contexts = BatchCall(maxItems: batch) { ids in
            let found = try await store.chatContexts(ids: ids, historyLimit: 0)
            return ids.map { id -> Result<ChatContext, any Error> in
                guard let context = found[id] else { return .failure(StoreError.unknownChat(id)) }
                return .success(context)
            }
        }
        compositionSlots = Slots(configuration.compositionWorkers)
        sendSlots = Slots(configuration.deliveryWorkers)
        reminderLimit = InFlightLimit(slots: configuration.compositionWorkers, batch: batch, lease: configuration.lease)
    }

    /// The reply budget in force: the configured one, or the last `updateReplyBudget`.
    public var replyBudget: ReplyBudget? { replyBudgetBox.withLock { $0 } }

    /// Applies a reloaded `conversation.daily_token_budget` / `budget_reply` to the next reply.
    public func updateReplyBudget(_ budget: ReplyBudget?) { replyBudgetBox.withLock { $0 = budget } }

    /// Tells the scheduler that new work may be due (a reminder was armed, a message queued).
    public func nudge() {
        for wake in wakes.values { wake.signal() }
    }

    /// Wakes one pool: the work one item produced for another (a queued reminder to deliver).
    func nudge(_ work: Work) { wakes[work]?.signal() }

    /// Runs until cancelled or until graceful shutdown; on graceful shutdown no new work is
    /// claimed and the work under way finishes — a message being sent is sent and recorded.
    public func run() async throws {
        logger.info("scheduler started", metadata: ["scheduler.owner": "\(configuration.owner)"])
        // Another process's new work (a reminder armed for sooner than we sleep) wakes us.
        let listener = Task {
            for await _ in store.wakeups() { nudge() }
        }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for work in Work.allCases {
                    group.addTask { await self.pool(work) }
                }
            }
        } onGracefulShutdown: {
            self.nudge()
        }
        listener.cancel()
        logger.info("scheduler stopped")
    }

    /// Carries out everything due now — outbox deliveries, owed replies, reminders — one at a
    /// time, until nothing is left. Returns how many items it handled. Tests call this directly
    /// with a manual clock.
    @discardableResult
    public func runDue() async throws -> Int {
        var handled = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var round = 0
            for work in Work.allCases {
                let items = try await claim(work, limit: configuration.batchSize)
                for item in items { await perform(item) }
                round += items.count
            }
            if round == 0 { break }
            handled += round
        }
        return handled
    }

    // MARK: - Pools

    /// One claimed piece of work.
    enum Item: Sendable {
        case delivery(OutboxEntry)
        case reply(DueReply)
        case reminder(DueFollowUp)
    }

    func claim(_ work: Work, limit: Int) async throws -> [Item] {
        let now = clock.now()
        let leaseUntil = clock.now(plusReal: configuration.lease)
        let owner = configuration.owner
        switch work {
        case .deliveries:
            return try await store.claimDueOutbox(now: now, owner: owner, leaseUntil: leaseUntil, limit: limit).map(Item.delivery)
        case .replies:
            return try await store.claimDueReplies(now: now, owner: owner, leaseUntil: leaseUntil, limit: limit).map(Item.reply)
        case .reminders:
            return try await store.claimDueFollowUps(now: now, owner: owner, leaseUntil: leaseUntil, limit: limit).map(Item.reminder)
        }
    }

    /// `sendFinished` is called once, when a delivery no longer waits for or holds a send slot.
    func perform(_ item: Item, sendFinished: @Sendable () -> Void = {}) async {
        switch item {
        case .delivery(let entry): await deliver(entry, sendFinished: sendFinished)
        case .reply(let due): await reply(to: due)
        case .reminder(let due): await fire(due)
        }
    }

    private func workers(_ work: Work) -> Int {
        max(1, work == .deliveries ? configuration.deliveryWorkers : configuration.compositionWorkers)
    }

    /// Items of one kind under way at once. Replies are composed one per worker; reminders are
    /// claimed in batches as large as their composition allows (`InFlightLimit`) and take turns
    /// at the workers' slots. Deliveries are claimed no faster than the workers send them: a
    /// claimed delivery is marked as being sent, and if the process dies, another one cannot
    /// tell a message that went out from one that waited for a slot — it ends both as dead
    /// letters rather than risk a duplicate. Batching them deeper would lose reminders to a crash.
    /// What counts against this for deliveries is those not yet sent (`inFlight`): a sent one
    /// waiting for its outcome's commit has reached the client whatever happens next, so the
    /// next sends need not wait for that commit.
    private func capacity(_ work: Work) -> Int {
        switch work {
        case .deliveries: workers(.deliveries)
        case .replies: workers(.replies)
        case .reminders: reminderLimit.current
        }
    }

    /// Keeps up to `capacity(work)` items of one kind under way: claims as they finish, and
    /// otherwise waits for one to finish, a nudge, or the next due moment of this kind.
    private func pool(_ work: Work) async {
        let wake = wakes[work]!  // every kind has a signal: built from `Work.allCases`
        // Child results: `true` when an item finished, `false` when the waiter woke.
        await withTaskGroup(of: Bool.self) { group in
            var busy = 0
            var waiting = false
            let deliveries = work == .deliveries
            func inFlight() -> Int { deliveries ? unsentDeliveries.withLock { $0 } : busy }
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let capacity = capacity(work)
                let room = capacity - inFlight()
                // Claims come in batches: more once half the room is free, or when the workers'
                // slots would otherwise go idle. Deliveries have no room beyond their slots (see
                // `capacity`): they wait for a quarter of the slots, since claiming each one as
                // another finishes would cost a transaction per message.
                let claimNow = work == .deliveries
                    ? room >= max(1, capacity / 4)
                    : room > 0 && (busy < workers(work) || room >= capacity / 2)
                if claimNow {
                    do {
                        let items = try await claim(work, limit: room)
                        if deliveries { unsentDeliveries.withLock { $0 += items.count } }
                        for item in items {
                            group.addTask {
                                await self.perform(item) {
                                    // Once its send is over, a delivery frees its room for the next claim.
                                    guard deliveries else { return }
                                    self.unsentDeliveries.withLock { $0 -= 1 }
                                    wake.signal()
                                }
                                return true
                            }
                        }
                        busy += items.count
                        if inFlight() >= capacity { /* full: wait for a slot below */ } else if !waiting {
                            waiting = true
                            group.addTask {
                                await self.waitForWork(work, wake: wake)
                                return false
                            }
                        }
                    } catch {
                        // Shutting down: the loop ends at its next check, nothing failed.
                        if Task.isCancelled || error is CancellationError { continue }
                        logger.error("claiming work failed; retrying", metadata: ["scheduler.work": "\(work.rawValue)", "error": "\(error)"])
                        try? await Task.sleep(for: .seconds(1))
                        continue
                    }
                }
                if deliveries, !waiting, capacity - inFlight() < max(1, capacity / 4) {
                    // Too little room to claim: a finished send (it signals `wake`) or new work
                    // looks again, without waiting for the outcomes being recorded.
                    waiting = true
                    group.addTask {
                        await wake.wait()
                        return false
                    }
                }
                guard let finished = await group.next() else { break }
                if finished { busy -= 1 } else { waiting = false }
            }
            // Shutting down: let the items under way finish (they are not cancelled) and end the waiter.
            wake.signal()
            while await group.next() != nil {}
        }
    }

    /// Returns at a nudge, when this kind of work is next due, or after `idleCheck`.
    private func waitForWork(_ work: Work, wake: WakeSignal) async {
        let latest = clock.now(plusReal: configuration.idleCheck)
        let times: WakeTimes
        do {
            times = try await store.nextWakeTimes()
        } catch {
            // The store is unreachable (a database restarting): look again shortly, so work
            // that fell due or was stored meanwhile is not left until `idleCheck`.
            try? await Task.sleep(for: .seconds(1))
            return
        }
        let due: Date?
        switch work {
        case .deliveries: due = times.outbox
        case .replies: due = times.replies
        case .reminders: due = times.reminders
        }
        let next = min(due ?? latest, latest)
        if next <= clock.now() {
            // Due already but not claimable by us a moment ago (another process's claim just
            // expiring): look again shortly rather than spin.
            try? await Task.sleep(for: .milliseconds(20))
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.clock.sleep(until: next) }
            group.addTask { await wake.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Reports a late result the store refused because another claimer holds the work now:
    /// the new holder's decision stands, and this process's result is dropped, visibly.
    func leaseLost(_ lease: Lease, id: String, what: String, logger: Logger) {
        logger.warning(
            "lease lost: \(what) not recorded; another process took the work over",
            metadata: ["lease.work": "\(lease.work.rawValue)", "lease.id": "\(id)", "lease.owner": "\(lease.owner)", "lease.token": "\(lease.token)"])
        configuration.onLeaseLost?(lease)
    }

    /// Runs a store write that records what already happened outside (a provider accepted a
    /// message) so that cancellation of the caller — a stopping gateway — cannot drop it; the
    /// write gets `recordTimeout` before it is given up with an error.
    func recordShielded(_ write: @escaping @Sendable () async throws -> Void) async throws {
        let timeout = configuration.recordTimeout
        // An unstructured task does not inherit the caller's cancellation.
        try await Task {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await write()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return false
                }
                let finished = try await group.next() ?? false
                group.cancelAll()
                if !finished { throw RecordTimedOut() }
            }
        }.value
    }
}

/// A record of something that already happened outside did not reach the store in time.
struct RecordTimedOut: Error, CustomStringConvertible {
    var description: String { "the store did not record the outcome in time" }
}
