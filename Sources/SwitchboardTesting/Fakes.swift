public import Foundation
public import SwitchboardCore
import Synchronization

/// A composer that writes predictable text and counts tokens, and can be told to fail.
public final class RecordingComposer: Composer {
    private let state = Mutex<(requests: [CompositionRequest], failures: [CompositionError])>(([], []))

    public init() {}

    public var requests: [CompositionRequest] { state.withLock { $0.requests } }

    /// The next `count` calls throw `error`.
    public func failNext(_ count: Int = 1, with error: CompositionError = CompositionError("model overloaded", isRetryable: true)) {
        state.withLock { $0.failures += Array(repeating: error, count: count) }
    }

    public func compose(_ request: CompositionRequest) async throws -> Composition {
        let failure = state.withLock { s -> CompositionError? in
            s.requests.append(request)
            return s.failures.isEmpty ? nil : s.failures.removeFirst()
        }
        if let failure { throw failure }
        let text: String
        switch request.purpose {
        case .reply: text = "Reply from \(request.employee.name)"
        case .reminder(let step, _): text = "Reminder \(step) from \(request.employee.name)"
        case .autoReply: text = "We are closed"
        }
        return Composition(text: text, usage: TokenUsage(promptTokens: 100, completionTokens: 20), model: "recording")
    }
}

/// A channel sender that records what it was asked to send and replays scripted failures.
public final class RecordingSender: ChannelSender {
    public struct Sent: Sendable, Hashable {
        public var message: OutboundMessage
        public var at: Date
    }

    public let capabilities: ChannelCapabilities
    private let clock: any WallClock
    private let state = Mutex<(sent: [Sent], failures: [DeliveryError], attempts: Int)>(([], [], 0))

    public init(capabilities: ChannelCapabilities = .plain, clock: any WallClock) {
        self.capabilities = capabilities
        self.clock = clock
    }

    public var sent: [Sent] { state.withLock { $0.sent } }
    public var attempts: Int { state.withLock { $0.attempts } }

    public func failNext(with errors: DeliveryError...) { state.withLock { $0.failures += errors } }

    public func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        let now = clock.now()
        let failure = state.withLock { s -> DeliveryError? in
            s.attempts += 1
            if !s.failures.isEmpty { return s.failures.removeFirst() }
            s.sent.append(Sent(message: message, at: now))
            return nil
        }
        if let failure { throw failure }
        return DeliveryReceipt(providerMessageIDs: ["m\(sent.count)"])
    }
}

/// Shared state kept in memory: two channel instances given one play two gateway processes
/// sharing a store.
public final class MemorySharedState: SharedStateStore {
    private let values = Mutex<[String: SharedValue]>([:])

    public init() {}

    public func updateShared<T: Sendable>(_ name: String, now: Date, _ change: @escaping @Sendable (inout SharedValue?) throws -> T) async throws -> T {
        try values.withLock { values in
            var value = values[name].flatMap { live($0, now: now) }
            let result = try change(&value)
            values[name] = value
            return result
        }
    }

    public func shared(_ name: String, now: Date) async throws -> SharedValue? {
        values.withLock { $0[name] }.flatMap { live($0, now: now) }
    }

    private func live(_ value: SharedValue, now: Date) -> SharedValue? {
        if let expires = value.expires, expires <= now { return nil }
        return value
    }
}
