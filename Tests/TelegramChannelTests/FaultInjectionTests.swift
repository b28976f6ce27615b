import Foundation
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing
import TelegramChannel

/// The fake Bot API's fault plan, seen through the real sender: every injected fault is one
/// the gateway retries, and a faulted call never counts as sent.
@Suite("Telegram sending under injected faults")
struct FaultInjectionTests {
    private func outbound(_ text: String) -> OutboundMessage {
        OutboundMessage(chatID: "chat-1", channelID: testChannelID, conversationKey: "123456789", text: text)
    }

    /// `requestTimeout` in seconds: 1 (the shortest the channel accepts) where a hang must time
    /// out, generous elsewhere so a slow machine does not turn a 429 into a timeout.
    private func withFake(_ plan: FaultPlan, requestTimeout: Int = 10, _ body: (FakeTelegramServer, TelegramChannel) async throws -> Void)
        async throws
    {
        let telegram = FakeTelegramServer()
        let apiBase = try await telegram.start()
        telegram.injectFaults(plan)
        let channel = makeChannel(apiBase: apiBase, token: FakeTelegramServer.defaultToken, requestTimeout: requestTimeout)
        do {
            try await body(telegram, channel)
        } catch {
            await telegram.stop()
            throw error
        }
        await telegram.stop()
    }

    private func deliveryError(_ channel: TelegramChannel, _ text: String) async -> DeliveryError? {
        do {
            _ = try await channel.send(outbound(text))
            return nil
        } catch {
            return error as? DeliveryError
        }
    }

    static let faults: [FaultPlan.Fault] = [.tooManyRequests(retryAfter: 7), .serverError, .hang(.seconds(3)), .dropConnection]

    /// What the sender's error says for each fault: proof the fault happened as intended.
    static func evidence(of fault: FaultPlan.Fault) -> String {
        switch fault {
        case .tooManyRequests: "Too Many Requests: retry after 7"
        case .serverError: "500"
        case .hang: "deadlineExceeded"
        case .dropConnection: "remoteConnectionClosed"
        }
    }

    @Test(arguments: faults)
    func eachInjectedFaultIsRetryableAndNothingIsSent(fault: FaultPlan.Fault) async throws {
        let requestTimeout = if case .hang = fault { 1 } else { 10 }
        try await withFake(.always(fault), requestTimeout: requestTimeout) { telegram, channel in
            let error = try #require(await deliveryError(channel, "Hello"))
            #expect(error.kind == .retryable, "\(error)")
            #expect(error.message.contains(Self.evidence(of: fault)), "\(error)")
            if case .tooManyRequests = fault {
                #expect(error.retryAfter == .seconds(7), "parameters.retry_after reaches the scheduler")
            } else {
                #expect(error.retryAfter == nil)
            }
            #expect(telegram.injectedFaults == [fault.kind: 1])
            #expect(telegram.calls("sendMessage").count == 1)
            #expect(telegram.sentMessages.isEmpty, "a faulted call sends nothing")
        }
    }

    /// The same seed fails the same calls in the same way; retrying each text until it goes
    /// through sends each exactly once.
    @Test func aSeededPlanIsRepeatableAndEveryTextArrivesOnce() async throws {
        let plan = FaultPlan(rate: 0.4, faults: [.tooManyRequests(retryAfter: 1), .serverError, .dropConnection], seed: 2026)
        func run() async throws -> (outcomes: [String], injected: [FaultPlan.Kind: Int]) {
            var outcomes: [String] = []
            var injected: [FaultPlan.Kind: Int] = [:]
            try await withFake(plan) { telegram, channel in
                for n in 1...12 {
                    var attempts = 0
                    while true {
                        attempts += 1
                        guard attempts <= 20 else { throw DeliveryError(.permanent, "message \(n) never went through") }
                        guard let error = await deliveryError(channel, "message \(n)") else {
                            outcomes.append("sent")
                            break
                        }
                        #expect(error.kind == .retryable, "\(error)")
                        outcomes.append(error.retryAfter == nil ? "failed" : "retry after \(error.retryAfter!)")
                    }
                }
                #expect(telegram.sentMessages.map(\.text) == (1...12).map { "message \($0)" }, "each text once, in order")
                let faults = telegram.injectedFaults.values.reduce(0, +)
                #expect(faults == telegram.calls("sendMessage").count - 12, "every call not sent was an injected fault")
                #expect(faults > 0)
                injected = telegram.injectedFaults
            }
            return (outcomes, injected)
        }
        let first = try await run()
        let second = try await run()
        #expect(first.outcomes == second.outcomes)
        #expect(first.injected == second.injected)
    }
}
