public import Foundation
import Hummingbird
// Hummingbird's own dependency; its `Application` is a ServiceLifecycle `Service`.
import ServiceLifecycle
import Synchronization

/// An OpenAI-compatible chat-completions server on 127.0.0.1, for tests.
///
/// It serves `POST /v1/chat/completions`, records every request it receives (headers and the
/// decoded JSON body) and answers with a scripted reply: queued replies first, in order, then
/// the default reply. Start it with `start()` and stop it with `stop()`, or scope it with
/// `FakeOpenAIServer.run { server in … }`. With a ``FaultPlan`` it also fails a seeded share of
/// requests at random — 429 with `Retry-After`, 500, a hang past the client's timeout, a dropped
/// connection — and counts what it injected.
///
/// ```swift
/// try await FakeOpenAIServer.run { server in
///     server.enqueue(.rateLimited(retryAfterMilliseconds: 10))
///     let composer = OpenAIComposer(
///         configuration: .init(baseURL: server.baseURL, model: "gpt-4o-mini"), httpClient: .shared, logger: logger)
///     _ = try await composer.compose(request)
///     #expect(server.requests.count == 2)
/// }
/// ```
public final class FakeOpenAIServer: Sendable {
    /// A JSON value as the server received it, for assertions: `request.body["messages"]?[0]?["role"]?.string`.
    public enum JSON: Sendable, Hashable, Decodable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([JSON])
        case object([String: JSON])

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([JSON].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: JSON].self))
            }
        }

        public subscript(key: String) -> JSON? {
            if case .object(let object) = self { return object[key] }
            return nil
        }

        public subscript(index: Int) -> JSON? {
            if case .array(let array) = self, array.indices.contains(index) { return array[index] }
            return nil
        }

        public var string: String? {
            if case .string(let value) = self { return value }
            return nil
        }

        public var number: Double? {
            if case .number(let value) = self { return value }
            return nil
        }

        public var int: Int? { number.flatMap { $0 == $0.rounded() ? Int(exactly: $0) : nil } }

        public var array: [JSON]? {
            if case .array(let value) = self { return value }
            return nil
        }

        public var object: [String: JSON]? {
            if case .object(let value) = self { return value }
            return nil
        }

        public var isNull: Bool { self == .null }
    }

    /// One request the server received.
    public struct RecordedRequest: Sendable {
        /// Header names lowercased; the first value of a repeated header.
        public var headers: [String: String]
        /// The body as sent.
        public var rawBody: Data
        /// The body decoded as JSON; `.null` when it was not JSON.
        public var body: JSON

        /// `role` and `content` of each entry of `messages`.
        public var messages: [(role: String, content: String)] {
            (body["messages"]?.array ?? []).map { ($0["role"]?.string ?? "", $0["content"]?.string ?? "") }
        }
    }

    /// What the server answers to one request.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
        /// Waits this long before answering (to exercise client timeouts).
        public var delay: Duration

        public init(status: Int = 200, headers: [String: String] = [:], body: String, delay: Duration = .zero) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
        }

        /// A successful chat completion. `text: nil` sends `"content": null`; `usage: nil` leaves
        /// `usage` out, as some local servers do.
        public static func completion(
            _ text: String?, promptTokens: Int = 42, completionTokens: Int = 9, usage: Bool = true, model: String = "fake-model-2026"
        ) -> Reply {
            var object: [String: Any] = [
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_763_634_200, "model": model,
                "choices": [
                    [
                        "index": 0, "message": ["role": "assistant", "content": text.map { $0 as Any } ?? NSNull()],
                        "finish_reason": text == nil ? "tool_calls" : "stop",
                    ]
                ],
            ]
            if usage {
                object["usage"] = ["prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens]
            }
            return Reply(body: json(object))
        }

        /// An OpenAI-style error envelope with a string `code`.
        public static func error(status: Int, message: String, type: String, code: String?, headers: [String: String] = [:]) -> Reply {
            Reply(
                status: status, headers: headers,
                body: json(["error": ["message": message, "type": type, "param": NSNull(), "code": code.map { $0 as Any } ?? NSNull()]]))
        }

        /// 429 `rate_limit_exceeded`, optionally with `retry-after-ms`.
        public static func rateLimited(retryAfterMilliseconds: Int? = nil) -> Reply {
            error(
                status: 429, message: "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1.",
                type: "requests", code: "rate_limit_exceeded",
                headers: retryAfterMilliseconds.map { ["retry-after-ms": String($0)] } ?? [:])
        }

        /// 429 `insufficient_quota`: credits exhausted, never worth retrying.
        public static let insufficientQuota = error(
            status: 429, message: "You exceeded your current quota, please check your plan and billing details.",
            type: "insufficient_quota", code: "insufficient_quota")

        /// 500 (or another 5xx) server error.
        public static func serverError(status: Int = 500) -> Reply {
            error(status: status, message: "The server had an error while processing your request.", type: "server_error", code: nil)
        }

        /// 401 with the message OpenAI sends for a wrong key.
        public static let unauthorized = error(
            status: 401, message: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            type: "invalid_request_error", code: "invalid_api_key")

        /// An error as llama.cpp's server sends it: `code` is an integer.
        public static func llamaError(status: Int, message: String, type: String = "unavailable_error") -> Reply {
            Reply(status: status, body: json(["error": ["code": status, "message": message, "type": type]]))
        }

        private static func json(_ object: [String: Any]) -> String {
            // The objects above are built from JSON-compatible literals only.
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The path the server answers on.
    public static let completionsPath = "/v1/chat/completions"

    private struct State {
        var requests: [RecordedRequest] = []
        var queue: [Reply] = []
        var defaultReply: Reply = .completion("Hello from the fake model.")
        var faults = FaultInjector(.none)
        var completions = 0
        var port: Int?
        var running: (group: ServiceGroup, task: Task<Void, any Error>)?
    }

    private let state = Mutex(State())

    public init() {}

    /// Every request received so far, oldest first.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// `http://127.0.0.1:<port>/v1`, the value for `composer.base_url`; empty before `start()`.
    public var baseURL: String { state.withLock { $0.port.map { "http://127.0.0.1:\($0)/v1" } ?? "" } }

    /// Answer every request not covered by a queued reply with `reply`.
    public func respond(with reply: Reply) { state.withLock { $0.defaultReply = reply } }

    /// Answer with `text` and this usage from now on.
    public func respond(text: String?, promptTokens: Int = 42, completionTokens: Int = 9) {
        respond(with: .completion(text, promptTokens: promptTokens, completionTokens: completionTokens))
    }

    /// Answer the next requests with `replies`, in order, before the default reply.
    public func enqueue(_ replies: Reply...) { state.withLock { $0.queue += replies } }

    /// Answer the next `count` requests with `reply`.
    public func failNext(_ count: Int = 1, with reply: Reply) {
        state.withLock { $0.queue += Array(repeating: reply, count: count) }
    }

    /// From now on a share of the requests fail as `plan` says; queued replies still come first.
    /// A faulted request is recorded in ``requests`` but not answered with a completion. Pass
    /// ``FaultPlan/none`` to stop.
    public func injectFaults(_ plan: FaultPlan) { state.withLock { $0.faults = FaultInjector(plan) } }

    /// How many faults of each kind the ``FaultPlan`` injected so far.
    public var injectedFaults: [FaultPlan.Kind: Int] { state.withLock { $0.faults.counts } }

    /// How many requests were answered with a 2xx reply (a completion, unless a test scripted
    /// another body): the compositions a client could have used.
    public var successfulReplies: Int { state.withLock { $0.completions } }

    /// Forgets recorded requests and queued replies.
    public func reset() {
        state.withLock {
            $0.requests = []
            $0.queue = []
        }
    }

    /// Starts listening on 127.0.0.1 on a free port; returns the base URL (with `/v1`). Call once.
    @discardableResult
    public func start() async throws -> URL {
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let router = Router(context: FakeRequestContext.self)
        router.post(RouterPath(stringLiteral: Self.completionsPath)) { [self] request, context -> Response in
            try await self.handle(request, context: context)
        }
        var app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "fake-openai"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            })
        // Startup lines at info would drown test output.
        app.logger.logLevel = .warning
        // Run under our own service group so `stop()` can shut down gracefully: cancelling
        // the application instead makes Hummingbird log errors for every open connection.
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: app.logger))
        let task = Task {
            defer { portContinuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw StartError(message: "the fake OpenAI server did not start on 127.0.0.1: is the loopback interface up?")
        }
        state.withLock {
            $0.port = port
            $0.running = (group, task)
        }
        guard let url = URL(string: "http://127.0.0.1:\(port)/v1") else {
            throw StartError(message: "could not form the fake server's URL for port \(port)")
        }
        return url
    }

    /// Stops the server and waits until it has closed its port.
    public func stop() async {
        let running = state.withLock { state -> (group: ServiceGroup, task: Task<Void, any Error>)? in
            defer { state.running = nil }
            return state.running
        }
        guard let running else { return }
        await running.group.triggerGracefulShutdown()
        _ = await running.task.result
    }

    /// Runs `body` with a started server and stops it afterwards, also when `body` throws.
    public static func run<T: Sendable>(_ body: (FakeOpenAIServer) async throws -> T) async throws -> T {
        let server = FakeOpenAIServer()
        try await server.start()
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    // MARK: - Handling

    private func handle(_ request: Request, context: FakeRequestContext) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 16 << 20)
        let raw = Data(buffer.readableBytesView)
        var headers: [String: String] = [:]
        for field in request.headers where headers[field.name.canonicalName] == nil {
            headers[field.name.canonicalName] = field.value
        }
        let body = (try? JSONDecoder().decode(JSON.self, from: raw)) ?? .null
        let (planned, fault) = state.withLock { state -> (Reply, FaultPlan.Fault?) in
            state.requests.append(RecordedRequest(headers: headers, rawBody: raw, body: body))
            if !state.queue.isEmpty { return (state.queue.removeFirst(), nil) }
            return (state.defaultReply, state.faults.next())
        }
        var reply = planned
        switch fault {
        case .tooManyRequests(let seconds)?:
            reply = .error(
                status: 429, message: "Rate limit reached for requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in \(seconds)s.",
                type: "requests", code: "rate_limit_exceeded", headers: ["retry-after": String(seconds)])
        case .serverError?:
            reply = .serverError()
        case .hang(let duration)?:
            reply = .serverError()
            reply.delay = duration
        case .dropConnection?:
            await context.dropConnection()
            return Response(status: .internalServerError)
        case nil:
            break
        }
        if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
        if (200..<300).contains(reply.status) { state.withLock { $0.completions += 1 } }
        var fields = HTTPFields()
        fields.append(.init(name: .contentType, value: "application/json"))
        for (name, value) in reply.headers.sorted(by: { $0.key < $1.key }) {
            // `HTTPField` itself is not re-exported by Hummingbird; reach it through `HTTPFields`.
            if let fieldName = HTTPFields.Element.Name(name) { fields.append(.init(name: fieldName, value: value)) }
        }
        return Response(status: .init(code: reply.status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }
}

extension FakeOpenAIServer {
    /// The fake could not be started.
    public struct StartError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
