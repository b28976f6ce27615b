import AsyncHTTPClient
import Foundation
import SwitchboardComposer
import SwitchboardCore
import SwitchboardFakes
import Testing

/// The composer against the fake server over 127.0.0.1. Waits between retries are recorded,
/// not slept.
@Suite struct OpenAIComposerTests {
    static let key = Secret("sk-test-0123456789abcdef")

    func composer(
        _ server: FakeOpenAIServer, baseURL: String? = nil, apiKey: Secret? = key, maxTokensField: OpenAIComposer.MaxTokensField = .maxTokens,
        timeout: Duration = .seconds(5), maxRetries: Int = 2, sleeper: SleepRecorder = SleepRecorder()
    ) -> OpenAIComposer {
        OpenAIComposer(
            configuration: .init(
                baseURL: baseURL ?? server.baseURL, apiKey: apiKey, model: "gpt-4o-mini", maxTokensField: maxTokensField, timeout: timeout,
                maxRetries: maxRetries),
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

    @Test func successSendsModelMessagesTemperatureTokensAndBearer() async throws {
        try await FakeOpenAIServer.run { server in
            server.respond(text: "  Yes, we deliver on Sunday!  ", promptTokens: 61, completionTokens: 21)
            let composition = try await composer(server).compose(request(.reply, history: sampleHistory))

            #expect(composition.text == "Yes, we deliver on Sunday!")
            #expect(composition.usage == TokenUsage(promptTokens: 61, completionTokens: 21))
            #expect(composition.model == "fake-model-2026")

            let sent = try #require(server.requests.first)
            #expect(server.requests.count == 1)
            #expect(sent.headers["authorization"] == "Bearer sk-test-0123456789abcdef")
            #expect(sent.headers["content-type"] == "application/json")
            #expect(sent.body["model"]?.string == "gpt-4o-mini")
            #expect(sent.body["temperature"]?.number == 0.3)
            #expect(sent.body["max_tokens"]?.int == 300)
            #expect(sent.body["max_completion_tokens"] == nil)
            #expect(sent.messages.first?.role == "system")
            #expect(sent.messages.first?.content.contains("Anna") == true)
            #expect(sent.messages.dropFirst().map(\.role) == ["user", "assistant", "user", "assistant"])
        }
    }

    @Test func trailingSlashNoKeyAndMaxCompletionTokens() async throws {
        try await FakeOpenAIServer.run { server in
            let composer = composer(server, baseURL: server.baseURL + "/", apiKey: nil, maxTokensField: .maxCompletionTokens)
            _ = try await composer.compose(request(.reminder(step: 1, instruction: "Offer help"), history: sampleHistory))
            let sent = try #require(server.requests.first)
            #expect(sent.headers["authorization"] == nil)
            #expect(sent.body["max_completion_tokens"]?.int == 300)
            #expect(sent.body["max_tokens"] == nil)
            #expect(sent.messages.last?.content.contains("Offer help") == true)
        }
    }

    @Test func missingUsageCountsZeroAndMissingModelFallsBackToConfigured() async throws {
        try await FakeOpenAIServer.run { server in
            server.respond(with: .completion("Hello", usage: false, model: ""))
            let composition = try await composer(server).compose(request(.reply))
            #expect(composition.usage == .zero)
            #expect(composition.model == "gpt-4o-mini")
        }
    }

    @Test func rateLimitWithRetryAfterMsIsRetriedAfterThatWait() async throws {
        try await FakeOpenAIServer.run { server in
            server.enqueue(.rateLimited(retryAfterMilliseconds: 250))
            let sleeper = SleepRecorder()
            let composition = try await composer(server, sleeper: sleeper).compose(request(.reply))
            #expect(composition.text == "Hello from the fake model.")
            #expect(server.requests.count == 2)
            #expect(sleeper.recorded == [.milliseconds(250)])
        }
    }

    @Test func serverErrorIsRetriedWithExponentialBackoff() async throws {
        try await FakeOpenAIServer.run { server in
            server.failNext(2, with: .serverError())
            let sleeper = SleepRecorder()
            _ = try await composer(server, sleeper: sleeper).compose(request(.reply))
            #expect(server.requests.count == 3)
            let waits = sleeper.recorded
            #expect(waits.count == 2)
            #expect(waits[0] >= .milliseconds(375) && waits[0] <= .milliseconds(500))
            #expect(waits[1] >= .milliseconds(750) && waits[1] <= .seconds(1))
        }
    }

    @Test func retriesRunOutIntoARetryableError() async throws {
        try await FakeOpenAIServer.run { server in
            server.failNext(5, with: .error(status: 503, message: "overloaded", type: "server_error", code: "server_is_overloaded", headers: ["retry-after": "2"]))
            let error = try #require(await compositionError { try await composer(server).compose(request(.reply)) })
            #expect(server.requests.count == 3)
            #expect(error.isRetryable)
            #expect(error.retryAfter == .seconds(2))
            #expect(error.message.contains("503"))
            #expect(error.message.contains("after 3 attempts"))
        }
    }

    @Test func shouldRetryFalseHeaderIsObeyed() async throws {
        try await FakeOpenAIServer.run { server in
            server.enqueue(FakeOpenAIServer.Reply(status: 500, headers: ["x-should-retry": "false"], body: "{}"))
            let error = try #require(await compositionError { try await composer(server).compose(request(.reply)) })
            #expect(server.requests.count == 1)
            #expect(!error.isRetryable)
        }
    }

    @Test func insufficientQuotaIsNeverRetried() async throws {
        try await FakeOpenAIServer.run { server in
            server.failNext(3, with: .insufficientQuota)
            let sleeper = SleepRecorder()
            let error = try #require(await compositionError { try await composer(server, sleeper: sleeper).compose(request(.reply)) })
            #expect(server.requests.count == 1)
            #expect(sleeper.recorded.isEmpty)
            #expect(!error.isRetryable)
            #expect(error.message.contains("quota"))
        }
    }

    @Test func unauthorizedIsNotRetriedAndNamesTheSettingNotTheKey() async throws {
        try await FakeOpenAIServer.run { server in
            // A proxy that echoes the key must not get it into the error.
            server.failNext(3, with: .error(status: 401, message: "bad key sk-test-0123456789abcdef", type: "invalid_request_error", code: "invalid_api_key"))
            let error = try #require(await compositionError { try await composer(server).compose(request(.reply)) })
            #expect(server.requests.count == 1)
            #expect(!error.isRetryable)
            #expect(error.message.contains("401"))
            #expect(error.message.contains("composer.api_key"))
            #expect(!error.message.contains(Self.key.value))
            #expect(!"\(error)".contains(Self.key.value))
        }
    }

    @Test func nullContentIsAnError() async throws {
        try await FakeOpenAIServer.run { server in
            server.respond(with: .completion(nil))
            let error = try #require(await compositionError { try await composer(server).compose(request(.reply)) })
            #expect(server.requests.count == 1)
            #expect(error.isRetryable)
            #expect(error.message.contains("no text"))
        }
    }

    @Test func integerErrorCodeFromLlamaCppIsParsed() async throws {
        try await FakeOpenAIServer.run { server in
            // 503 "loading model" with `code: 503` is retried…
            server.enqueue(.llamaError(status: 503, message: "Loading model"))
            let composition = try await composer(server).compose(request(.reply))
            #expect(composition.text == "Hello from the fake model.")
            #expect(server.requests.count == 2)

            // …and a 400 with `code: 400` is final, with the server's words kept.
            server.enqueue(.llamaError(status: 400, message: "the request exceeds the available context size", type: "invalid_request_error"))
            let error = try #require(await compositionError { try await composer(server).compose(request(.reply)) })
            #expect(server.requests.count == 3)
            #expect(!error.isRetryable)
            #expect(error.message.contains("400"))
            #expect(error.message.contains("exceeds the available context size"))
        }
    }

    @Test func notAChatCompletionSaysToCheckTheBaseURL() async throws {
        try await FakeOpenAIServer.run { server in
            server.respond(with: .init(body: "<html>hello</html>"))
            let error = try #require(await compositionError { try await composer(server).compose(request(.reply)) })
            #expect(!error.isRetryable)
            #expect(error.message.contains("composer.base_url"))
        }
    }

    @Test func aSlowServerTimesOut() async throws {
        try await FakeOpenAIServer.run { server in
            server.respond(with: .init(body: "{}", delay: .milliseconds(300)))
            let error = try #require(
                await compositionError { try await composer(server, timeout: .milliseconds(100), maxRetries: 0).compose(request(.reply)) })
            #expect(error.isRetryable)
            #expect(error.message.contains("composer.timeout"))
        }
    }

    @Test func anUnreachableServerIsRetryable() async throws {
        let server = FakeOpenAIServer()
        try await server.start()
        let baseURL = server.baseURL
        await server.stop()
        let sleeper = SleepRecorder()
        let error = try #require(
            await compositionError {
                // AsyncHTTPClient keeps trying to connect until the deadline, hence the short timeout.
                try await composer(server, baseURL: baseURL, timeout: .milliseconds(150), maxRetries: 1, sleeper: sleeper).compose(request(.reply))
            })
        #expect(error.isRetryable)
        #expect(error.message.contains("composer.base_url"))
        #expect(sleeper.recorded.count == 1)
    }
}
