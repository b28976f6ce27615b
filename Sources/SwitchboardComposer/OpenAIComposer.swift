public import AsyncHTTPClient
import Foundation
public import Logging
public import SwitchboardCore

/// Composes with any OpenAI-compatible chat-completions server: OpenAI, Ollama, llama.cpp,
/// vLLM (protocols.md §5).
///
/// One `compose` is one `POST {baseURL}/chat/completions`, retried inline as the official
/// client does (`x-should-retry`, 408/409/429/5xx, `retry-after-ms`/`Retry-After`, else
/// exponential backoff). What is still failing after `maxRetries` is thrown as a
/// `CompositionError` whose `isRetryable` and `retryAfter` tell the scheduler whether and when
/// to try again later. The API key is sent as a bearer token and appears nowhere else.
public struct OpenAIComposer: Composer {
    /// Which JSON field caps the generated tokens: OpenAI's newer models reject `max_tokens`,
    /// most local servers know only `max_tokens`.
    public struct MaxTokensField: Sendable, Hashable, CustomStringConvertible {
        /// The field's name in the request body.
        public let name: String

        private init(uncheckedName: String) { name = uncheckedName }

        /// `max_tokens`: Ollama, llama.cpp, vLLM and older OpenAI models.
        public static let maxTokens = MaxTokensField(uncheckedName: "max_tokens")
        /// `max_completion_tokens`: OpenAI's reasoning and newer models.
        public static let maxCompletionTokens = MaxTokensField(uncheckedName: "max_completion_tokens")

        /// The field called `name`; `nil` unless it is `max_tokens` or `max_completion_tokens`.
        public init?(name: String) {
            switch name {
            case "max_tokens": self = .maxTokens
            case "max_completion_tokens": self = .maxCompletionTokens
            default: return nil
            }
        }

        public var description: String { name }
    }

    /// Where the server is and how to ask it.
    public struct Configuration: Sendable {
        /// The API root including its version path, e.g. `https://api.openai.com/v1` or
        /// `http://localhost:11434/v1`; requests go to `baseURL + "/chat/completions"`.
        public var baseURL: String
        /// Sent as `Authorization: Bearer …`; `nil` sends no header (local servers without a key).
        public var apiKey: Secret?
        /// The model to ask for; single-model servers ignore it. Default: none, it must be set.
        public var model: String
        /// Sampling temperature. Default 0.3: customer messages should be steady, not creative.
        public var temperature: Double
        /// The most tokens one message may use. Default 300: a chat message, not an essay.
        public var maxTokens: Int
        /// The field that carries `maxTokens`. Default `.maxTokens`.
        public var maxTokensField: MaxTokensField
        /// How long one attempt may take, response body included. Default 30 s.
        public var timeout: Duration
        /// Retries after the first attempt for retryable failures. Default 2, as the official client.
        public var maxRetries: Int
        /// How the conversation becomes messages (history bounds). Default `PromptBuilder()`.
        public var prompt: PromptBuilder

        public init(
            baseURL: String, apiKey: Secret? = nil, model: String, temperature: Double = 0.3, maxTokens: Int = 300,
            maxTokensField: MaxTokensField = .maxTokens, timeout: Duration = .seconds(30), maxRetries: Int = 2,
            prompt: PromptBuilder = PromptBuilder()
        ) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.model = model
            self.temperature = temperature
            self.maxTokens = maxTokens
            self.maxTokensField = maxTokensField
            self.timeout = timeout
            self.maxRetries = maxRetries
            self.prompt = prompt
        }

        /// `baseURL + "/chat/completions"`, whether or not `baseURL` ends with a slash.
        public var completionsURL: String {
            var base = baseURL.trimmingCharacters(in: .whitespaces)
            while base.hasSuffix("/") { base.removeLast() }
            return base + "/chat/completions"
        }
    }

    /// The most response bytes read; a chat completion capped at a few hundred tokens is far smaller.
    static let maxResponseBytes = 4 << 20

    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let logger: Logger
    private let sleep: @Sendable (Duration) async throws -> Void
    private let policy = RetryPolicy()

    /// - Parameters:
    ///   - httpClient: shared with the rest of the gateway; not shut down by the composer.
    ///   - sleep: waits between retries; tests pass one that returns at once.
    public init(
        configuration: Configuration, httpClient: HTTPClient, logger: Logger,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        var logger = logger
        logger[metadataKey: "composer.model"] = .string(configuration.model)
        self.logger = logger
        self.sleep = sleep
    }

    public func compose(_ request: CompositionRequest) async throws -> Composition {
        let body = ChatCompletionRequest(
            model: configuration.model, messages: configuration.prompt.messages(for: request),
            temperature: configuration.temperature, maxTokens: configuration.maxTokens,
            maxTokensField: configuration.maxTokensField.name)
        let bytes: Data
        do {
            bytes = try JSONEncoder().encode(body)
        } catch {
            throw CompositionError("could not encode the request (\(error)); this is a bug, please report it", isRetryable: false)
        }

        var retry = 0
        while true {
            let failure: Failure
            do {
                return try await attempt(bytes)
            } catch let error as Failure {
                failure = error
            }
            guard failure.retryable, failure.retryInline, retry < max(0, configuration.maxRetries) else {
                logger.warning(
                    "composition failed",
                    metadata: ["composer.attempts": "\(retry + 1)", "error.label": "\(failure.label)"])
                throw failure.compositionError(attempts: retry + 1)
            }
            let wait = policy.delay(beforeRetry: retry, requested: failure.requestedDelay, jitter: Double.random(in: 0..<1))
            logger.info(
                "composer call failed, retrying",
                metadata: [
                    "composer.attempt": "\(retry + 1)", "error.label": "\(failure.label)",
                    "retry.after_ms": "\(wait.wholeMilliseconds)",
                ])
            try await sleep(wait)
            retry += 1
        }
    }

    // MARK: - One attempt

    /// Sends the request once. Throws `Failure` for anything but a usable completion.
    private func attempt(_ body: Data) async throws -> Composition {
        var request = HTTPClientRequest(url: configuration.completionsURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let apiKey = configuration.apiKey {
            request.headers.add(name: "Authorization", value: "Bearer \(apiKey.value)")
        }
        request.body = .bytes(body)

        let status: Int
        let headers: [String: String]
        let data: Data
        do {
            // One deadline for head and body, so a server that stalls mid-body still times out.
            let response = try await httpClient.execute(request, timeout: .milliseconds(configuration.timeout.wholeMilliseconds), logger: logger)
            status = Int(response.status.code)
            headers = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
            let buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
            data = Data(buffer.readableBytesView)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw transportFailure(error)
        }

        var requestLogger = logger
        if let requestID = headers["x-request-id"] { requestLogger[metadataKey: "composer.request_id"] = .string(requestID) }
        requestLogger.debug("composer answered", metadata: ["http.status": "\(status)"])

        guard (200..<300).contains(status) else {
            throw httpFailure(status: status, headers: headers, body: data)
        }
        let completion: ChatCompletionResponse
        do {
            completion = try JSONDecoder().decode(ChatCompletionResponse.self, from: data)
        } catch {
            throw Failure(
                label: "invalid_response", retryable: false,
                message: "the answer from \(configuration.completionsURL) is not a chat completion: "
                    + "check that composer.base_url points at an OpenAI-compatible API including its version path, e.g. http://localhost:11434/v1")
        }
        guard let choice = completion.choices.first else {
            throw Failure(label: "empty_choices", retryInline: false, retryable: true, message: "the model returned no choices; it will be asked again later")
        }
        let text = Self.cleaned(choice.content ?? "")
        guard !text.isEmpty else {
            // Models sometimes refuse or call tools; another attempt later may well succeed.
            let reason = choice.finishReason.map { " (finish_reason: \($0))" } ?? ""
            throw Failure(
                label: "empty_content", retryInline: false, retryable: true,
                message: "the model returned no text\(reason); it will be asked again later — if this persists, check the persona and composer.model")
        }
        if choice.finishReason == "length" {
            requestLogger.info("composed message was cut off by the token cap; consider raising composer.max_tokens")
        }
        let usage = TokenUsage(
            promptTokens: completion.usage?.promptTokens ?? 0, completionTokens: completion.usage?.completionTokens ?? 0)
        let model = completion.model.flatMap { $0.isEmpty ? nil : $0 } ?? configuration.model
        return Composition(text: text, usage: usage, model: model)
    }

    /// Drops surrounding whitespace and the `<think>…</think>` preamble some local reasoning
    /// models put into `content`, which must never reach a client.
    static func cleaned(_ content: String) -> String {
        var text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("<think>"), let end = text.range(of: "</think>") {
            text = String(text[end.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return text
    }

    // MARK: - Failures

    /// Why one attempt failed, before deciding whether to retry.
    struct Failure: Error {
        /// A fixed short label for logs and metrics.
        var label: String
        /// Worth trying again right away; false where only a later attempt may help.
        var retryInline = true
        /// Worth trying again: decides `CompositionError.isRetryable`.
        var retryable: Bool
        var message: String
        var requestedDelay: Duration? = nil
        /// What the server said, already bounded and masked; appended after the advice.
        var detail = ""

        func compositionError(attempts: Int) -> CompositionError {
            let tries = attempts > 1 ? " (after \(attempts) attempts)" : ""
            return CompositionError(message + tries + detail, isRetryable: retryable, retryAfter: retryable ? requestedDelay : nil)
        }
    }

    private func transportFailure(_ error: any Error) -> Failure {
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout {
            return Failure(
                label: "timeout", retryable: true,
                message: "the composer did not answer within \(Self.describe(configuration.timeout)): "
                    + "raise composer.timeout or use a smaller model, and check composer.base_url (\(configuration.baseURL)) and that the server is up")
        }
        return Failure(
            label: "unreachable", retryable: true,
            message: "could not reach the composer at \(configuration.completionsURL) (\(error)): "
                + "check composer.base_url and that the server is running")
    }

    private func httpFailure(status: Int, headers: [String: String], body: Data) -> Failure {
        let envelope = ErrorEnvelope.decode(body)
        let code = envelope?.code
        let said = serverSaid(envelope?.message)
        let retryable = policy.shouldRetry(status: status, errorCode: code, shouldRetryHeader: headers["x-should-retry"])
        let requested = policy.requestedDelay(
            retryAfterMilliseconds: headers["retry-after-ms"], retryAfter: headers["retry-after"], now: Date())

        let label: String
        let message: String
        if code == "insufficient_quota" {
            label = "insufficient_quota"
            message = "the account has no quota left (429 insufficient_quota): add credits or raise the spending limit at the provider; not retried"
        } else {
            switch status {
            case 400:
                label = "bad_request"
                message = "the server rejected the request (400): if it mentions max_tokens, set composer.max_tokens_field to max_completion_tokens; if the context is too long, shorten the persona"
            case 401:
                label = "unauthorized"
                message = "the API key was refused (401): check composer.api_key"
            case 403:
                label = "forbidden"
                message = "access was denied (403): check that composer.api_key may use composer.model from this country or region"
            case 404:
                label = "not_found"
                message = "the model or endpoint was not found (404): check composer.model (\(configuration.model)) and that composer.base_url ends with the version path, e.g. /v1"
            case 429:
                label = "rate_limited"
                message = "the composer is rate limited (429): lower the load or raise the provider's limits"
            case 500...:
                label = "server_error"
                message = "the composer server failed (\(status)): check the server; a local model may still be loading"
            default:
                label = "http_\(status)"
                message = "the composer answered \(status): check composer.base_url and the server's logs"
            }
        }
        return Failure(label: label, retryable: retryable, message: message, requestedDelay: requested, detail: said)
    }

    /// The server's own words, bounded and with the API key masked in case a proxy echoes it.
    private func serverSaid(_ text: String?) -> String {
        guard var text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return "" }
        if let key = configuration.apiKey?.value, !key.isEmpty {
            text = text.replacingOccurrences(of: key, with: "***")
        }
        if text.count > 300 { text = String(text.prefix(300)) + "…" }
        return "; the server said: \"\(text)\""
    }

    private static func describe(_ duration: Duration) -> String {
        let ms = duration.wholeMilliseconds
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
