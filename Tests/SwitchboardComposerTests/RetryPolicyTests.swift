import Foundation
import Testing

@testable import SwitchboardComposer

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy()

    @Test(arguments: [
        (408, nil, nil, true), (409, nil, nil, true), (429, "rate_limit_exceeded", nil, true), (500, nil, nil, true),
        (503, "503", nil, true), (400, nil, nil, false), (401, "invalid_api_key", nil, false), (403, nil, nil, false),
        (404, nil, nil, false), (429, "insufficient_quota", nil, false), (429, "insufficient_quota", "true", false),
        (500, nil, "false", false), (422, nil, "true", true), (401, nil, "true", false), (418, nil, nil, false),
    ] as [(Int, String?, String?, Bool)])
    func whetherToRetry(status: Int, code: String?, header: String?, expected: Bool) {
        #expect(policy.shouldRetry(status: status, errorCode: code, shouldRetryHeader: header) == expected)
    }

    @Test func retryAfterMillisecondsWinsOverRetryAfter() {
        #expect(policy.requestedDelay(retryAfterMilliseconds: "120", retryAfter: "7", now: t0) == .milliseconds(120))
        #expect(policy.requestedDelay(retryAfterMilliseconds: nil, retryAfter: "7", now: t0) == .seconds(7))
        #expect(policy.requestedDelay(retryAfterMilliseconds: nil, retryAfter: "1.5", now: t0) == .milliseconds(1500))
        #expect(policy.requestedDelay(retryAfterMilliseconds: "soon", retryAfter: nil, now: t0) == nil)
        #expect(policy.requestedDelay(retryAfterMilliseconds: nil, retryAfter: nil, now: t0) == nil)
    }

    @Test func retryAfterAsHTTPDate() throws {
        let now = try #require(RetryPolicy.httpDate("Wed, 21 Oct 2015 07:28:00 GMT"))
        #expect(policy.requestedDelay(retryAfterMilliseconds: nil, retryAfter: "Wed, 21 Oct 2015 07:28:30 GMT", now: now) == .seconds(30))
        // A date in the past means "now".
        #expect(policy.requestedDelay(retryAfterMilliseconds: nil, retryAfter: "Wed, 21 Oct 2015 07:27:00 GMT", now: now) == .zero)
    }

    @Test func headerDelayIsHonouredOnlyUpToSixtySeconds() {
        #expect(policy.delay(beforeRetry: 0, requested: .seconds(3), jitter: 0.9) == .seconds(3))
        #expect(policy.delay(beforeRetry: 0, requested: .seconds(60), jitter: 0) == .seconds(60))
        // Beyond 60 s the exponential fallback applies.
        #expect(policy.delay(beforeRetry: 0, requested: .seconds(61), jitter: 0) == .milliseconds(500))
    }

    @Test func exponentialFallbackDoublesIsCappedAndJittered() {
        #expect(policy.delay(beforeRetry: 0, requested: nil, jitter: 0) == .milliseconds(500))
        #expect(policy.delay(beforeRetry: 1, requested: nil, jitter: 0) == .seconds(1))
        #expect(policy.delay(beforeRetry: 3, requested: nil, jitter: 0) == .seconds(4))
        #expect(policy.delay(beforeRetry: 4, requested: nil, jitter: 0) == .seconds(8))
        #expect(policy.delay(beforeRetry: 20, requested: nil, jitter: 0) == .seconds(8))
        // Up to 25 % shorter with jitter.
        #expect(policy.delay(beforeRetry: 4, requested: nil, jitter: 1) == .seconds(6))
        #expect(policy.delay(beforeRetry: 0, requested: nil, jitter: 0.5) == .milliseconds(437.5))
    }
}
