import Foundation
public import SwitchboardCore
internal import Synchronization

/// Spaces deliveries to stay under each channel's send-rate caps (`OutboundPace`).
///
/// Each delivery reserves a slot — the channel's next free moment and its conversation's — under
/// a lock, then waits for it outside the lock: concurrent workers get distinct slots in arrival
/// order, so a wave goes out at the cap, evenly, with at most `burst` at once after a quiet
/// spell (a token bucket written as the virtual time the next message may go).
public final class Pacer: Sendable {
    private struct State {
        /// Per channel: when the next message may go if the bucket were empty.
        var channels: [String: Double] = [:]
        /// Per (channel, conversation): when the next message to it may go.
        var conversations: [String: Double] = [:]
        var lastSweep: Double = 0
    }

    private let state = Mutex(State())
    /// Seconds on a monotonic real-time scale: provider caps are in real time, whatever the
    /// gateway's (possibly scaled) clock says.
    private let now: @Sendable () -> Double
    private let sleep: @Sendable (Duration) async throws -> Void

    public init(
        now: @escaping @Sendable () -> Double = { Pacer.monotonicSeconds() },
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.now = now
        self.sleep = sleep
    }

    public static func monotonicSeconds() -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private static let start = ContinuousClock.now

    /// How long the caller must wait before sending; the slot is taken on return.
    ///
    /// GCRA: `due` is the channel's theoretical arrival time; a message may go `burst - 1`
    /// intervals ahead of it, and each one given out pushes it an interval on. A slot delayed by
    /// its conversation's gap pushes `due` from that later slot, so the channel never exceeds
    /// its rate in any window (conservative: it may undershoot while one chat is busy).
    public func reserve(channelID: String, conversationKey: String, pace: OutboundPace) -> Duration {
        let t = now()
        let interval = 1 / pace.perSecond
        let tolerance = Double(pace.burst - 1) * interval
        return state.withLock { state in
            let due = state.channels[channelID] ?? t
            var slot = max(t, due - tolerance)
            let key = channelID + "\u{1}" + conversationKey
            if pace.perConversation != nil, let next = state.conversations[key] { slot = max(slot, next) }
            state.channels[channelID] = max(due, slot) + interval
            if let gap = pace.perConversation { state.conversations[key] = slot + gap.seconds }
            if t - state.lastSweep > 60 {
                // Conversations idle past their gap need no memory.
                state.conversations = state.conversations.filter { $0.value > t }
                state.lastSweep = t
            }
            return .seconds(max(0, slot - t))
        }
    }

    /// Waits for this delivery's slot. Throws `CancellationError` when the task is cancelled
    /// meanwhile (shutdown): the caller has not sent anything.
    public func admit(channelID: String, conversationKey: String, pace: OutboundPace?) async throws {
        guard let pace else { return }
        let wait = reserve(channelID: channelID, conversationKey: conversationKey, pace: pace)
        if wait > .zero { try await sleep(wait) }
    }
}
