import Foundation
import Logging
import SwitchboardCore
import SwitchboardScheduler
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
import Testing

/// Random interleavings of everything that can happen to one chat — messages from both sides,
/// config reloads, per-chat switches, provider and composer faults, crashes with restarts — run
/// against the real SQLite store, the real scheduler and conversation, and a manual clock.
/// After every event the chain's invariants must hold; a failure prints the seed that replays it.
@Suite struct ChainPropertyTests {
    /// `SWITCHBOARD_PROPERTY_CASES` raises or lowers the count (CI runs the default).
    static let cases = ProcessInfo.processInfo.environment["SWITCHBOARD_PROPERTY_CASES"].flatMap(Int.init) ?? 2000
    static let eventsPerCase = ProcessInfo.processInfo.environment["SWITCHBOARD_PROPERTY_EVENTS"].flatMap(Int.init) ?? 30

    @Test func everyReminderEndsExactlyOnceWhateverHappens() async throws {
        let base = UInt64(ProcessInfo.processInfo.environment["SWITCHBOARD_PROPERTY_SEED"].flatMap(UInt64.init) ?? 20261130)
        for index in 0..<Self.cases {
            let seed = base &+ UInt64(index)
            let world = try ChaosWorld(seed: seed)
            do {
                try await world.play(events: Self.eventsPerCase)
            } catch {
                Issue.record("seed \(seed) (SWITCHBOARD_PROPERTY_SEED=\(seed) SWITCHBOARD_PROPERTY_CASES=1 replays it): \(error)\n\(world.history.joined(separator: "\n"))")
                return
            }
            world.release()
        }
    }
}

struct InvariantBroken: Error, CustomStringConvertible {
    var description: String
}

/// What the next call to the composer or the provider does.
enum Fault: Sendable, Equatable {
    case none
    /// Throws a retryable error (429 with a wait, 5xx, time-out).
    case retryable(Duration?)
    /// Throws an error only an admin can fix (composer) or "blocked" (provider).
    case permanent
    /// The process dies while the call is under way: it never returns.
    case crash
}

/// A composer and a provider in one, scripted by the test, recording what really happened.
final class ChaosParts: Composer, ChannelSender, Sendable {
    struct State {
        var composerFault: Fault = .none
        var senderFault: Fault = .none
        /// Reminder compositions per (run, step), as the store said the run was when composing.
        var compositions: [String: Int] = [:]
        /// Texts the provider accepted.
        var accepted: [String] = []
        var hung: [CheckedContinuation<Void, Never>] = []
        var counter = 0
        /// Told when a call hangs (the process "crashed").
        var onHang: AsyncStream<Void>.Continuation?
    }

    let capabilities = ChannelCapabilities.plain
    let state = Mutex(State())
    let store: any Store
    let chatID: Mutex<String?> = Mutex(nil)

    init(store: any Store) { self.store = store }

    private func hang() async {
        await withCheckedContinuation { continuation in
            let observer = state.withLock { s in
                s.hung.append(continuation)
                return s.onHang
            }
            observer?.yield()
        }
    }

    func compose(_ request: CompositionRequest) async throws -> Composition {
        if case .reminder(let step, _) = request.purpose, let chatID = chatID.withLock({ $0 }) {
            let run = try await store.followUpState(chatID: chatID)?.run ?? -1
            state.withLock { $0.compositions["\(run):\(step)", default: 0] += 1 }
        }
        let (fault, n) = state.withLock { s -> (Fault, Int) in
            let fault = s.composerFault
            s.composerFault = .none
            s.counter += 1
            return (fault, s.counter)
        }
        switch fault {
        case .none: break
        case .retryable(let wait): throw CompositionError("overloaded", isRetryable: true, retryAfter: wait)
        case .permanent: throw CompositionError("invalid api key", isRetryable: false)
        case .crash: await hang(); throw CancellationError()
        }
        let text: String
        switch request.purpose {
        case .reply: text = "reply #\(n)"
        case .reminder(let step, _): text = "reminder \(step) #\(n)"
        case .autoReply: text = "auto #\(n)"
        }
        return Composition(text: text, usage: TokenUsage(promptTokens: 10, completionTokens: 5), model: "chaos")
    }

    func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        let fault = state.withLock { s -> Fault in
            let fault = s.senderFault
            s.senderFault = .none
            return fault
        }
        switch fault {
        case .none: break
        case .retryable(let wait): throw DeliveryError(.retryable, "429 Too Many Requests", retryAfter: wait)
        case .permanent: throw DeliveryError(.unreachable, "403 Forbidden: bot was blocked by the user")
        case .crash:
            // Half the crashes happen after the provider took the message.
            state.withLock { s in
                s.counter += 1
                if s.counter % 2 == 0 { s.accepted.append(message.text) }
            }
            await hang()
            throw CancellationError()
        }
        state.withLock { $0.accepted.append(message.text) }
        return DeliveryReceipt(providerMessageIDs: ["p-\(message.text)"])
    }

    /// Lets the hung calls of "crashed" processes go, once their case is over.
    func release() {
        let hung = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            defer { s.hung = [] }
            return s.hung
        }
        for continuation in hung { continuation.resume() }
    }
}

/// One chat, one store, and the gateway parts around it, driven by a seeded script.
final class ChaosWorld: @unchecked Sendable {
    // @unchecked: used from the test's own task only; the parts it hands out are Sendable.
    static let maxCompositions = 3
    static let hours = WorkingHours(
        timeZone: TimeZone(identifier: "Europe/Berlin")!,
        week: [.mon: [WorkingInterval("09:00-13:00")!, WorkingInterval("14:00-18:00")!], .tue: [WorkingInterval("09:00-18:00")!],
               .wed: [WorkingInterval("09:00-18:00")!], .thu: [WorkingInterval("09:00-18:00")!], .fri: [WorkingInterval("09:00-17:00")!]])
    static let chains = [
        FollowUpChain(enabled: true, steps: [
            FollowUpStep(delay: .seconds(4 * 3600), instruction: "Remind"),
            FollowUpStep(delay: .seconds(24 * 3600), instruction: "Ask if still relevant", oncePerChat: true),
            FollowUpStep(delay: .seconds(48 * 3600), instruction: "Say goodbye"),
        ]),
        FollowUpChain(enabled: true, steps: [
            FollowUpStep(delay: .seconds(2 * 3600), instruction: "Remind sooner"),
            FollowUpStep(delay: .seconds(30 * 60), instruction: "Nudge", oncePerChat: true),
        ]),
        FollowUpChain(enabled: false, steps: [FollowUpStep(delay: .seconds(3600), instruction: "Off")]),
    ]

    var rng: SplitMix64
    let store: SQLiteStore
    let clock = ManualClock("2026-11-23T08:00:00Z")
    let parts: ChaosParts
    let roster: LiveRoster
    let senders: ChannelSenders
    var scheduler: Scheduler
    var conversation: Conversation
    var restarts = 0
    var chatID: String?
    var history: [String] = []
    /// Work of "crashed" processes, never awaited.
    var zombies: [Task<Void, Never>] = []

    init(seed: UInt64) throws {
        rng = SplitMix64(seed: seed)
        store = try SQLiteStore()
        parts = ChaosParts(store: store)
        roster = LiveRoster(Self.roster(chain: Self.chains[0], persona: "Concierge"))
        senders = ChannelSenders(["tg": parts])
        let scheduler = Self.scheduler(store, parts, senders, roster, clock, owner: "p0")
        self.scheduler = scheduler
        conversation = Self.conversation(store, roster, senders, clock, scheduler)
    }

    static func roster(chain: FollowUpChain, persona: String) -> Roster {
        Roster(employees: [Employee(id: "anna", name: "Anna", persona: persona, workingHours: hours, followUp: chain)], channelOwners: ["tg": "anna"])
    }

    static func scheduler(_ store: any Store, _ parts: ChaosParts, _ senders: ChannelSenders, _ roster: LiveRoster, _ clock: ManualClock, owner: String) -> Scheduler {
        var configuration = Scheduler.Configuration(owner: owner)
        configuration.maxCompositionAttempts = maxCompositions
        configuration.maxDeliveryAttempts = 4
        configuration.lease = .seconds(60)
        var logger = Logger(label: "chaos")
        logger.logLevel = .critical
        return Scheduler(store: store, composer: parts, senders: senders, roster: roster, clock: clock, logger: logger, configuration: configuration)
    }

    static func conversation(_ store: any Store, _ roster: LiveRoster, _ senders: ChannelSenders, _ clock: ManualClock, _ scheduler: Scheduler) -> Conversation {
        var logger = Logger(label: "chaos")
        logger.logLevel = .critical
        return Conversation(store: store, roster: roster, senders: senders, clock: clock, scheduler: scheduler, logger: logger)
    }

    func release() {
        parts.release()
    }

    // MARK: - Playing

    func play(events: Int) async throws {
        try await clientWrites("Hello")
        try await runScheduler()
        for _ in 0..<events {
            try await randomEvent()
            try await checkInvariants(final: false)
        }
        // Settle: no more faults; time runs on until every chain has played out.
        parts.state.withLock {
            $0.composerFault = .none
            $0.senderFault = .none
        }
        for _ in 0..<200 {
            guard let next = try await store.nextWakeTime() else { break }
            clock.advance(to: max(next, clock.now().addingTimeInterval(1)))
            try await runScheduler()
        }
        try await checkInvariants(final: true)
    }

    private func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

    private func randomEvent() async throws {
        switch pick(100) {
        case 0..<14:
            try await clientWrites(pick(10) == 0 ? "stop" : "Question \(pick(1000))")
        case 14..<22:
            guard let chatID else { return }
            history.append("operator writes")
            _ = try await conversation.sendOperatorMessage(chatID: chatID, text: "Operator here")
        case 22..<30:
            let chain = Self.chains[pick(Self.chains.count)]
            let persona = pick(2) == 0 ? "Concierge" : "Concierge, warmer"
            history.append("config reload: \(chain.enabled ? "\(chain.steps.count) steps" : "disabled"), persona \(persona)")
            try await conversation.replan(roster: Self.roster(chain: chain, persona: persona))
        case 30..<38:
            guard let chatID else { return }
            let enabled = pick(2) == 0
            history.append("chat follow-up \(enabled ? "on" : "off")")
            _ = try await conversation.setFollowUp(chatID: chatID, enabled: enabled)
        case 38..<50:
            let fault = randomFault()
            history.append("next send: \(fault)")
            parts.state.withLock { $0.senderFault = fault }
        case 50..<60:
            let fault = randomFault()
            history.append("next composition: \(fault)")
            parts.state.withLock { $0.composerFault = fault }
        default:
            let minutes = [1, 5, 30, 90, 4 * 60, 12 * 60, 26 * 60, 50 * 60][pick(8)]
            history.append("time +\(minutes) min")
            clock.advance(by: .seconds(Double(minutes * 60)))
        }
        try await runScheduler()
    }

    private func randomFault() -> Fault {
        switch pick(8) {
        case 0, 1: .retryable(.seconds(Double(1 + pick(120))))
        case 2, 3: .retryable(nil)
        case 4: .permanent
        case 5: .crash
        default: .none
        }
    }

    private func clientWrites(_ text: String) async throws {
        history.append("client writes \(text)")
        try await conversation.receive([
            InboundMessage(channelID: "tg", conversationKey: "42", providerMessageID: UUID().uuidString, senderName: "Ana", chatTitle: "Ana",
                           receivedAt: clock.now(), text: text)
        ])
        if chatID == nil {
            chatID = try await store.chat(channelID: "tg", conversationKey: "42")?.id
            parts.chatID.withLock { $0 = chatID }
        }
    }

    /// Runs the scheduler as a process would; when a scripted crash hangs it, that process is
    /// abandoned and a new one — with its own lease owner — starts once the leases ran out.
    private func runScheduler() async throws {
        let (events, observer) = AsyncStream<Void>.makeStream()
        parts.state.withLock { $0.onHang = observer }
        let scheduler = self.scheduler
        let done = Mutex(false)
        let watcher = Task {
            _ = try? await scheduler.runDue()
            done.withLock { $0 = true }
            observer.yield()
        }
        // Whichever comes first: the pass ends, or a call hangs.
        for await _ in events { break }
        parts.state.withLock { $0.onHang = nil }
        if !done.withLock({ $0 }) {
            zombies.append(watcher)
            restarts += 1
            history.append("crash; restart as p\(restarts)")
            self.scheduler = Self.scheduler(store, parts, senders, roster, clock, owner: "p\(restarts)")
            conversation = Self.conversation(store, roster, senders, clock, self.scheduler)
            // The dead process's leases must run out before anyone takes its work over.
            clock.advance(by: .seconds(61))
            try await runScheduler()
        }
    }

    // MARK: - Invariants

    private func checkInvariants(final: Bool) async throws {
        guard let chatID else { return }
        let state = try await store.followUpState(chatID: chatID) ?? FollowUpState()
        let outbox = try await store.outbox(chatID: chatID)
        let decisions = try await store.decisions(chatID: chatID)
        func broken(_ what: String) -> InvariantBroken {
            InvariantBroken(description: "\(what)\nstate: \(state)\noutbox: \(outbox.map { "\($0.entry.idempotencyKey)=\($0.status)" })\ndecisions: \(decisions.map { "\($0.kind.rawValue)/\($0.reason.rawValue) r\($0.run) s\($0.step.map(String.init) ?? "-")" })")
        }

        // A pending chain always has something that will move it: a due time, or its queued reminder.
        if state.status == .scheduled, state.sendsAt == nil || state.step == nil { throw broken("scheduled without a due time") }
        if state.status == .sending {
            let live = outbox.contains {
                $0.entry.purpose == .reminder && $0.entry.followUpRun == state.run && $0.entry.followUpStep == state.step
                    && ($0.status == .pending || $0.status == .sending)
            }
            if !live { throw broken("sending without a live outbox entry") }
        }

        // Never twice: a (run, step) is queued once and accepted by the provider at most once.
        let reminders = outbox.filter { $0.entry.purpose == .reminder }
        let keys = reminders.map(\.entry.idempotencyKey)
        if Set(keys).count != keys.count { throw broken("a reminder key queued twice") }
        let accepted = parts.state.withLock { $0.accepted }
        for entry in reminders where accepted.filter({ $0 == entry.entry.text }).count > 1 {
            throw broken("reminder \(entry.entry.idempotencyKey) reached the provider twice")
        }

        // Compositions stay bounded per (run, step).
        let compositions = parts.state.withLock { $0.compositions }
        if let (key, count) = compositions.first(where: { $0.value > Self.maxCompositions }) {
            throw broken("reminder \(key) composed \(count) times")
        }

        // Every (run, step) that was scheduled ends with exactly one decision, unless it is still pending.
        let terminal: Set<FollowUpDecision.Kind> = [.sent, .skipped, .cancelled, .deadLetter]
        var ends: [String: Int] = [:]
        var scheduled: Set<String> = []
        for decision in decisions {
            guard let step = decision.step else { continue }
            let key = "\(decision.run):\(step)"
            if decision.kind == .scheduled { scheduled.insert(key) }
            if terminal.contains(decision.kind) { ends[key, default: 0] += 1 }
        }
        if let (key, count) = ends.first(where: { $0.value > 1 }) { throw broken("(run, step) \(key) ended \(count) times") }
        let pending = state.isPending ? state.step.map { "\(state.run):\($0)" } : nil
        for key in scheduled where key != pending && ends[key] == nil {
            throw broken("(run, step) \(key) was scheduled and never ended")
        }
        // A sent decision means the provider has it.
        for decision in decisions where decision.kind == .sent {
            guard let step = decision.step,
                let entry = reminders.first(where: { $0.entry.followUpRun == decision.run && $0.entry.followUpStep == step })
            else { throw broken("sent decision without its outbox entry") }
            if !accepted.contains(entry.entry.text) { throw broken("sent decision for \(entry.entry.idempotencyKey) the provider never took") }
        }
        if final {
            if state.isPending { throw broken("still pending after the chain had days to play out") }
            if outbox.contains(where: { $0.status == .pending || $0.status == .sending }) { throw broken("outbox not drained") }
        }
    }
}
