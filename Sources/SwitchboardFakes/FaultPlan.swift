import SwitchboardTesting

/// Faults a fake provider injects into a share of the requests it receives.
///
/// Whether the n-th request fails, and how, comes from a generator seeded with `seed`, so the
/// same plan gives the same sequence of answers: a failing run can be replayed. Every fault
/// leaves the request unprocessed (nothing is sent, nothing is composed), so a client that
/// retries it causes no duplicate — a test can still demand that each message arrives once.
///
/// ```swift
/// telegram.injectFaults(.init(rate: 0.3, faults: FaultPlan.Fault.all(retryAfter: 1, hang: .seconds(3)), seed: 7))
/// openAI.injectFaults(.init(rate: 0.3, faults: [.tooManyRequests(retryAfter: 1), .serverError], seed: 7))
/// // … run the conversation …
/// #expect(telegram.injectedFaults[.tooManyRequests, default: 0] > 0)
/// ```
public struct FaultPlan: Sendable, Hashable {
    /// One way to fail.
    public enum Fault: Sendable, Hashable {
        /// 429 asking the client to wait this many seconds: Telegram's `parameters.retry_after`,
        /// OpenAI's `Retry-After` header.
        case tooManyRequests(retryAfter: Int)
        /// 500 with the provider's error body.
        case serverError
        /// Holds the request this long, then answers 500. Make it longer than the client's
        /// timeout so the client gives up first; it is bounded so a test's teardown never waits
        /// for ever.
        case hang(Duration)
        /// Closes the connection without answering.
        case dropConnection

        /// The fault without its parameters, for counting.
        public var kind: Kind {
            switch self {
            case .tooManyRequests: .tooManyRequests
            case .serverError: .serverError
            case .hang: .hang
            case .dropConnection: .dropConnection
            }
        }

        /// One fault of every kind.
        public static func all(retryAfter: Int = 1, hang: Duration = .seconds(3)) -> [Fault] {
            [.tooManyRequests(retryAfter: retryAfter), .serverError, .hang(hang), .dropConnection]
        }
    }

    /// What is counted per injected fault.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case tooManyRequests = "too_many_requests"
        case serverError = "server_error"
        case hang
        case dropConnection = "drop_connection"
    }

    /// The share of requests that fail, 0…1.
    public var rate: Double
    /// The faults to choose from, each equally likely.
    public var faults: [Fault]
    /// Seeds the generator that decides which requests fail and how.
    public var seed: UInt64

    public init(rate: Double, faults: [Fault], seed: UInt64 = 1) {
        self.rate = min(max(rate, 0), 1)
        self.faults = faults
        self.seed = seed
    }

    /// Injects nothing.
    public static let none = FaultPlan(rate: 0, faults: [])

    /// Every request fails with `fault`: for a test about one kind of fault.
    public static func always(_ fault: Fault) -> FaultPlan { FaultPlan(rate: 1, faults: [fault]) }
}

/// Draws faults from a plan and counts them. A value type: the fakes keep it inside their lock.
struct FaultInjector: Sendable {
    private(set) var plan: FaultPlan
    private var generator: SplitMix64
    private(set) var counts: [FaultPlan.Kind: Int] = [:]

    init(_ plan: FaultPlan) {
        self.plan = plan
        generator = SplitMix64(seed: plan.seed)
    }

    /// The fault for the next request, or `nil` to answer normally. Always draws twice, so the
    /// decision for request n does not depend on the decisions before it.
    mutating func next() -> FaultPlan.Fault? {
        let roll = generator.nextUnit()
        let pick = generator.next()
        guard !plan.faults.isEmpty, roll < plan.rate else { return nil }
        let fault = plan.faults[Int(pick % UInt64(plan.faults.count))]
        counts[fault.kind, default: 0] += 1
        return fault
    }
}
