import Foundation
import Logging
import SwitchboardCore
import SwitchboardScheduler
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
import Testing

/// Deliveries stay under a channel's send-rate caps, and under the configured concurrency.
@Suite struct PacingTests {
    final class FakeTime: Sendable {
        let value = Mutex(100.0)
        var now: Double { value.withLock { $0 } }
        func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
    }

    @Test func aBurstGoesOutAtTheRateAfterTheBucketsDepth() {
        let time = FakeTime()
        let pacer = Pacer(now: { time.now }, sleep: { _ in })
        let pace = OutboundPace(perSecond: 10, burst: 3)
        let waits = (0..<8).map { pacer.reserve(channelID: "tg", conversationKey: "c\($0)", pace: pace).seconds }
        let expected = [0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.5]
        #expect(zip(waits, expected).allSatisfy { abs($0 - $1) < 1e-9 }, "\(waits)")
        // Another channel has its own bucket.
        #expect(pacer.reserve(channelID: "wa", conversationKey: "c1", pace: pace) == .zero)
        // After a quiet spell the bucket is full again, and no deeper.
        time.advance(10)
        let refilled = (0..<4).map { pacer.reserve(channelID: "tg", conversationKey: "d\($0)", pace: pace).seconds }
        #expect(zip(refilled, [0, 0, 0, 0.1]).allSatisfy { abs($0 - $1) < 1e-9 }, "\(refilled)")
    }

    @Test func oneConversationWaitsItsGapWithoutOthersExceedingTheChannelRate() {
        let time = FakeTime()
        let pacer = Pacer(now: { time.now }, sleep: { _ in })
        let pace = OutboundPace(perSecond: 30, burst: 30, perConversation: .seconds(1))
        let sameChat = (0..<3).map { _ in pacer.reserve(channelID: "tg", conversationKey: "42", pace: pace).seconds }
        #expect(zip(sameChat, [0, 1, 2]).allSatisfy { abs($0 - $1) < 1e-9 }, "one a second to one chat: \(sameChat)")
        // Every slot given out, over any one-second window, stays within rate + burst.
        var slots: [Double] = []
        for index in 0..<300 {
            let key = index % 7 == 0 ? "42" : "c\(index)"
            slots.append(time.now + pacer.reserve(channelID: "tg", conversationKey: key, pace: pace).seconds)
        }
        slots.sort()
        for (index, start) in slots.enumerated() {
            let inWindow = slots[index...].prefix { $0 < start + 1 }.count
            #expect(inWindow <= 30 + 30, "\(inWindow) slots in the second from \(start)")
        }
        #expect(slots.last! - slots.first! >= Double(300 - 30) / 30 - 1e-9, "a wave takes as long as the rate says")
    }

    /// Through the scheduler, in real time: 60 replies to 60 chats with a cap of 100 a second
    /// (burst 5) take at least (60 - 5) / 100 s, no tenth of a second carries more than the cap
    /// allows, and never more than `deliveryWorkers` sends are in flight at once — nor claimed
    /// and not yet sent: a claimed delivery counts as being sent, so after a crash it would
    /// become a dead letter. (Sent ones waiting for their outcome's commit do not count: they
    /// reached the client.)
    @Test func theSchedulerPacesABurstAndBoundsItsDeliveries() async throws {
        let store = try SQLiteStore()
        let clock = ManualClock("2026-11-23T06:00:00Z")
        let sender = ConcurrencyRecordingSender(capabilities: ChannelCapabilities(pace: OutboundPace(perSecond: 100, burst: 5)))
        let roster = LiveRoster(Roster(employees: [Harness.alexey], channelOwners: ["tg": "alexey"]))
        var configuration = Scheduler.Configuration(owner: "pacing")
        configuration.deliveryWorkers = 3
        let scheduler = Scheduler(
            store: store, composer: RecordingComposer(), senders: ChannelSenders(["tg": sender]), roster: roster, clock: clock,
            logger: Logger(label: "pacing"), configuration: configuration)
        for index in 0..<60 {
            let result = try await store.recordInbound(
                InboundMessage(channelID: "tg", conversationKey: "c\(index)", providerMessageID: "m\(index)", senderName: "Ana", receivedAt: clock.now(), text: "Hi"),
                employeeID: "alexey") { _, _ in [] }
            guard case .stored(let chat, _) = result else { throw ContractViolation(description: "duplicate") }
            _ = try await store.enqueue(
                NewOutboxEntry(chatID: chat.id, purpose: .operator, idempotencyKey: "o", text: "Hello \(index)", author: .operator, notBefore: clock.now()),
                usage: nil, followUp: nil)
        }
        let service = Task { try await scheduler.run() }
        defer { service.cancel() }
        scheduler.nudge()
        var mostUnsent = 0
        try await eventually(timeout: .seconds(30), "every message sent") {
            let claimed = try await store.outboxEntries(status: .sending).map(\.entry.text)
            // Read after the claims: a send that started in between is not counted as waiting.
            let started = sender.texts
            mostUnsent = max(mostUnsent, claimed.filter { !started.contains($0) }.count)
            return sender.times.count == 60
        }
        #expect(mostUnsent <= 3, "at most deliveryWorkers claimed and not yet sent: \(mostUnsent)")
        let times = sender.times.sorted()
        #expect(times.last! - times.first! >= (60.0 - 5) / 100 - 0.01, "paced: \(times.last! - times.first!) s")
        for (index, start) in times.enumerated() {
            #expect(times[index...].prefix { $0 < start + 0.1 }.count <= 10 + 5)
        }
        #expect(sender.maxInFlight <= 3, "at most deliveryWorkers at once: \(sender.maxInFlight)")
    }
}

/// Records when each send started (monotonic seconds) and how many overlapped.
final class ConcurrencyRecordingSender: ChannelSender {
    let capabilities: ChannelCapabilities
    private let state = Mutex<(times: [Double], texts: Set<String>, inFlight: Int, maxInFlight: Int)>(([], [], 0, 0))

    init(capabilities: ChannelCapabilities) { self.capabilities = capabilities }

    var times: [Double] { state.withLock { $0.times } }
    /// The texts whose send has started.
    var texts: Set<String> { state.withLock { $0.texts } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        state.withLock { state in
            state.times.append(Pacer.monotonicSeconds())
            state.texts.insert(message.text)
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
        }
        // Long enough for sends to overlap when workers allow it.
        try? await Task.sleep(for: .milliseconds(15))
        state.withLock { $0.inFlight -= 1 }
        return DeliveryReceipt(providerMessageIDs: [UUID().uuidString])
    }
}
