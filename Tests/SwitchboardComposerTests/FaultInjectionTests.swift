import Foundation
import SwitchboardComposer
import SwitchboardCore
import SwitchboardFakes
import Testing

/// The fake OpenAI server's fault plan, seen through the real composer: every injected fault is
/// one the composer retries (inline, then by telling the scheduler), honouring `Retry-After`.
@Suite struct ComposerFaultInjectionTests {
    func composer(_ server: FakeOpenAIServer, timeout: Duration = .seconds(5), maxRetries: Int = 0, sleeper: SleepRecorder = SleepRecorder())
        -> OpenAIComposer
    {
        OpenAIComposer(
            configuration: .init(baseURL: server.baseURL, apiKey: Secret("sk-test-0123456789abcdef"), model: "gpt-4o-mini", timeout: timeout, maxRetries: maxRetries),
            httpClient: .shared, logger: quietLogger, sleep: sleeper.sleep)
    }

    func compositionError(_ body: () async throws -> Composition) async -> CompositionError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? CompositionError
        }
    }

    static let faults: [FaultPlan.Fault] = [.tooManyRequests(retryAfter: 3), .serverError, .hang(.seconds(2)), .dropConnection]

    /// What the composer's error says for each fault: proof the fault happened as intended.
    static func evidence(of fault: FaultPlan.Fault) -> String {
        switch fault {
        case .tooManyRequests: "rate limited (429)"
        case .serverError: "server failed (500)"
        case .hang: "composer.timeout"
        case .dropConnection: "remoteConnectionClosed"
        }
    }

    @Test(arguments: faults)
    func eachInjectedFaultIsRetryable(fault: FaultPlan.Fault) async throws {
        try await FakeOpenAIServer.run { server in
            server.injectFaults(.always(fault))
            // A short client timeout only where the fault is a hang: the others must fail on
            // their own, however slow the machine.
            let timeout: Duration = if case .hang = fault { .milliseconds(300) } else { .seconds(30) }
            let error = try #require(await compositionError { try await composer(server, timeout: timeout).compose(request(.reply)) })
            #expect(error.isRetryable, "\(error)")
            #expect(error.message.contains(Self.evidence(of: fault)), "\(error)")
            if case .tooManyRequests = fault {
                #expect(error.retryAfter == .seconds(3), "Retry-After reaches the scheduler")
            }
            #expect(server.injectedFaults == [fault.kind: 1])
            #expect(server.requests.count == 1)
            #expect(server.successfulReplies == 0)
        }
    }

    @Test func retryAfterFromAnInjected429IsWhatTheComposerWaits() async throws {
        try await FakeOpenAIServer.run { server in
            server.injectFaults(FaultPlan(rate: 1, faults: [.tooManyRequests(retryAfter: 2)]))
            let sleeper = SleepRecorder()
            _ = await compositionError { try await composer(server, maxRetries: 2, sleeper: sleeper).compose(request(.reply)) }
            #expect(sleeper.recorded == [.seconds(2), .seconds(2)])
            #expect(server.requests.count == 3)
        }
    }

    /// With a share of requests failing, inline retries get most compositions through, the
    /// counters add up, and the same seed gives the same run.
    @Test func aSeededPlanIsRepeatableAndTheCountersAddUp() async throws {
        let plan = FaultPlan(rate: 0.3, faults: [.tooManyRequests(retryAfter: 1), .serverError, .dropConnection], seed: 7)
        func run() async throws -> [Bool] {
            try await FakeOpenAIServer.run { server in
                server.injectFaults(plan)
                var outcomes: [Bool] = []
                for _ in 0..<15 {
                    let error = await compositionError { try await composer(server, maxRetries: 2).compose(request(.reply)) }
                    if let error { #expect(error.isRetryable, "\(error)") }
                    outcomes.append(error == nil)
                }
                let faults = server.injectedFaults.values.reduce(0, +)
                #expect(faults > 0)
                #expect(faults + server.successfulReplies == server.requests.count)
                #expect(server.successfulReplies == outcomes.filter { $0 }.count, "one completion per composition that succeeded")
                return outcomes
            }
        }
        #expect(try await run() == (try await run()))
    }
}
