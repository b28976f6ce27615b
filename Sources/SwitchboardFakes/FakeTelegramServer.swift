public import Foundation
import Hummingbird
import Synchronization

/// A stand-in for the Telegram Bot API on 127.0.0.1, for tests and offline demos.
///
/// It serves `POST|GET /bot<token>/<method>` for `sendMessage`, `getUpdates`, `setWebhook`,
/// `deleteWebhook`, `answerCallbackQuery` and `getMe`, answering in the Bot API's envelope
/// (`ok`, `result` / `error_code`, `description`, `parameters`). It records every call, lets a
/// test queue updates for `getUpdates` (honouring `offset`: lower ids are confirmed and
/// dropped, as on the real server), and replays scripted failures such as flood control. With a
/// ``FaultPlan`` it also fails a seeded share of calls at random — 429 with `retry_after`, 500,
/// a hang past the client's timeout, a dropped connection — and counts what it injected.
///
/// ```swift
/// let telegram = FakeTelegramServer()
/// let apiBase = try await telegram.start()          // http://127.0.0.1:PORT
/// telegram.script("sendMessage", .tooManyRequests(retryAfter: 3))
/// // … point the channel's `api_base` at `apiBase`, exercise it …
/// await telegram.stop()
/// ```
public final class FakeTelegramServer: Sendable {
    /// The token the fake accepts unless told otherwise; shaped like a real one.
    public static let defaultToken = "7012345678:AAF-fakeTokenForTests_0123456789abc"

    /// One request as the fake received it.
    public struct Call: Sendable, Hashable {
        /// The Bot API method, as it appeared in the path.
        public var method: String
        /// The token in the path, so a test can check which bot called.
        public var token: String
        /// The parameters from the JSON body, form body or query string.
        public var parameters: [String: Value]
        /// When the request arrived, in real time: lets a test check a client waited `retry_after`.
        public var receivedAt = Date()
        /// The fault the ``FaultPlan`` answered this call with, if any.
        public var fault: FaultPlan.Kind?
    }

    /// A JSON value from a request's parameters.
    public enum Value: Sendable, Hashable, Decodable, CustomStringConvertible {
        case null
        case bool(Bool)
        case int(Int64)
        case double(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int64.self) {
                self = .int(value)
            } else if let value = try? container.decode(Double.self) {
                self = .double(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([Value].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: Value].self))
            }
        }

        /// An integer, also from a string (form and query parameters are strings).
        public var int: Int64? {
            switch self {
            case .int(let value): value
            case .string(let text): Int64(text)
            default: nil
            }
        }

        public var string: String? {
            if case .string(let text) = self { return text }
            return nil
        }

        public var bool: Bool? {
            switch self {
            case .bool(let value): value
            case .string(let text): text == "true" ? true : text == "false" ? false : nil
            default: nil
            }
        }

        /// The elements of an array, also from a JSON-encoded string (as in form parameters).
        public var array: [Value]? {
            switch self {
            case .array(let values): values
            case .string(let text): try? JSONDecoder().decode([Value].self, from: Data(text.utf8))
            default: nil
            }
        }

        public var description: String {
            switch self {
            case .null: "null"
            case .bool(let value): "\(value)"
            case .int(let value): "\(value)"
            case .double(let value): "\(value)"
            case .string(let value): "\"\(value)\""
            case .array(let values): "[\(values.map(\.description).joined(separator: ", "))]"
            case .object(let members): "{\(members.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
            }
        }
    }

    /// A scripted answer for the next call of a method.
    public enum Reply: Sendable, Hashable {
        /// Fail with this status (equal to `error_code`), description and optional `retry_after`.
        case error(status: Int, description: String, retryAfter: Int? = nil)
        /// Wait this long, then answer as usual: for client timeouts.
        case delay(Duration)

        /// `429 Too Many Requests: retry after N` with `parameters.retry_after`.
        public static func tooManyRequests(retryAfter seconds: Int) -> Reply {
            .error(status: 429, description: "Too Many Requests: retry after \(seconds)", retryAfter: seconds)
        }
        /// `500 Internal Server Error`.
        public static let serverError = Reply.error(status: 500, description: "Internal Server Error")
        /// `403 Forbidden: bot was blocked by the user`.
        public static let blocked = Reply.error(status: 403, description: "Forbidden: bot was blocked by the user")
        /// `400 Bad Request: chat not found`.
        public static let chatNotFound = Reply.error(status: 400, description: "Bad Request: chat not found")
        /// `401 Unauthorized`.
        public static let unauthorized = Reply.error(status: 401, description: "Unauthorized")
    }

    /// A message the bot sent, as `sendMessage` received it.
    public struct SentMessage: Sendable, Hashable {
        public var chatID: Value
        public var text: String
        /// The `message_id` the fake answered with.
        public var messageID: Int64
    }

    private struct State {
        var token: String
        var calls: [Call] = []
        /// Queued updates by id, each as the JSON object text served in `getUpdates`.
        var updates: [(id: Int64, json: String)] = []
        var nextUpdateID: Int64 = 815_230_001
        var nextMessageID: Int64 = 1000
        var scripts: [String: [Reply]] = [:]
        var faults = FaultInjector(.none)
        var faultMethods: Set<String> = []
        /// `limitRate(perSecond:)`: accepted `sendMessage` times (monotonic seconds) in the last second.
        var rateLimit: Int?
        var recentSends: [Double] = []
        var rateLimited = 0
        var sent: [SentMessage] = []
        var webhookURL: String?
        var webhookSecret: String?
        var server: LoopbackServer?
    }

    private let state: Mutex<State>

    public init(token: String = FakeTelegramServer.defaultToken) {
        state = Mutex(State(token: token))
    }

    // MARK: - Life cycle

    /// Starts listening on 127.0.0.1 on a free port; returns the base URL (`http://127.0.0.1:PORT`)
    /// to use as the channel's `api_base`.
    @discardableResult
    public func start() async throws -> String {
        let router = Router(context: FakeRequestContext.self)
        for method in [HTTPRequest.Method.post, .get] {
            router.on("bot{token}/{method}", method: method) { [self] request, context -> Response in
                let token = context.parameters.get("token") ?? ""
                let name = context.parameters.get("method") ?? ""
                return try await self.handle(request, context: context, token: token, method: name)
            }
        }
        let server = try await LoopbackServer.start(router, name: "fake Telegram Bot API")
        let port = server.port
        state.withLock { $0.server = server }
        return "http://127.0.0.1:\(port)"
    }

    /// Stops the server and waits until it has closed its port.
    public func stop() async {
        let server = state.withLock { state -> LoopbackServer? in
            defer { state.server = nil }
            return state.server
        }
        await server?.stop()
    }

    /// `http://127.0.0.1:PORT` once started.
    public var baseURL: String? { state.withLock { $0.server.map { "http://127.0.0.1:\($0.port)" } } }

    // MARK: - What tests set up

    /// Replaces the token the fake accepts (others get `401 Unauthorized`).
    public func setToken(_ token: String) { state.withLock { $0.token = token } }

    /// Sets (or with `nil` removes) the registered webhook, as if `setWebhook` had been called
    /// earlier; while one is set, `getUpdates` answers 409 as Telegram does.
    public func setWebhookURL(_ url: String?, secret: String? = nil) {
        state.withLock {
            $0.webhookURL = url
            $0.webhookSecret = url == nil ? nil : secret
        }
    }

    /// Queues an Update (a JSON object with `update_id`) for `getUpdates`.
    public func enqueueUpdate(json: String) throws {
        struct Header: Decodable { var update_id: Int64 }
        let id = try JSONDecoder().decode(Header.self, from: Data(json.utf8)).update_id
        state.withLock { state in
            state.updates.append((id, json))
            state.updates.sort { $0.id < $1.id }
            state.nextUpdateID = max(state.nextUpdateID, id + 1)
        }
    }

    /// Queues a private text message from a made-up client; returns its `update_id`.
    @discardableResult
    public func enqueueTextMessage(
        _ text: String, chatID: Int64 = 123_456_789, firstName: String = "Ana", lastName: String? = "K", username: String? = "ana_k",
        date: Date = Date(timeIntervalSince1970: 1_763_633_100)
    ) -> Int64 {
        state.withLock { state in
            let id = state.nextUpdateID
            state.nextUpdateID += 1
            state.nextMessageID += 1
            var user: [String: Any] = ["id": chatID, "is_bot": false, "first_name": firstName]
            var chat: [String: Any] = ["id": chatID, "type": "private", "first_name": firstName]
            if let lastName {
                user["last_name"] = lastName
                chat["last_name"] = lastName
            }
            if let username {
                user["username"] = username
                chat["username"] = username
            }
            let update: [String: Any] = [
                "update_id": id,
                "message": [
                    "message_id": state.nextMessageID, "from": user, "chat": chat, "date": Int64(date.timeIntervalSince1970), "text": text,
                ],
            ]
            state.updates.append((id, Self.json(update)))
            return id
        }
    }

    /// The next calls of `method` get these answers, in order, before normal service resumes.
    public func script(_ method: String, _ replies: Reply...) {
        state.withLock { $0.scripts[method.lowercased(), default: []] += replies }
    }

    /// From now on a share of the calls of `methods` fail as `plan` says; scripted replies
    /// still come first. A faulted call is recorded in ``calls`` but never processed: a faulted
    /// `sendMessage` sends nothing. Pass ``FaultPlan/none`` to stop.
    public func injectFaults(_ plan: FaultPlan, methods: Set<String> = ["sendMessage"]) {
        state.withLock {
            $0.faults = FaultInjector(plan)
            $0.faultMethods = Set(methods.map { $0.lowercased() })
        }
    }

    // MARK: - What tests inspect

    /// How many faults of each kind the ``FaultPlan`` injected so far.
    public var injectedFaults: [FaultPlan.Kind: Int] { state.withLock { $0.faults.counts } }

    /// Every call received, in order.
    public var calls: [Call] { state.withLock { $0.calls } }

    /// The calls of one method (case-insensitive, like Telegram).
    /// Answers `sendMessage` with 429 (`retry_after: 1`) once `perSecond` were accepted in the
    /// last second, as Telegram does above its broadcast limit.
    public func limitRate(perSecond: Int) { state.withLock { $0.rateLimit = perSecond } }

    /// `sendMessage` calls refused by `limitRate(perSecond:)`.
    public var rateLimitedCount: Int { state.withLock { $0.rateLimited } }

    private static let clockStart = ContinuousClock.now

    private static func monotonicSeconds() -> Double {
        let elapsed = ContinuousClock.now - clockStart
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    public func calls(_ method: String) -> [Call] {
        calls.filter { $0.method.lowercased() == method.lowercased() }
    }

    /// The messages `sendMessage` accepted, in order: scripted and injected failures are not
    /// here, so each text a client retried appears once per successful send.
    public var sentMessages: [SentMessage] { state.withLock { $0.sent } }

    /// Ids of updates still queued (not yet confirmed by an `offset`).
    public var pendingUpdateIDs: [Int64] { state.withLock { $0.updates.map(\.id) } }

    /// The URL from the last `setWebhook`, `nil` after `deleteWebhook`.
    public var webhookURL: String? { state.withLock { $0.webhookURL } }

    /// The `secret_token` from the last `setWebhook`.
    public var webhookSecret: String? { state.withLock { $0.webhookSecret } }

    // MARK: - Serving

    private func handle(_ request: Request, context: FakeRequestContext, token: String, method: String) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        let parameters = Self.parameters(query: request.uri.query, contentType: request.headers[.contentType], body: Data(body.readableBytesView))
        var call = Call(method: method, token: token, parameters: parameters)
        let (accepted, scripted, fault) = state.withLock { state -> (Bool, Reply?, FaultPlan.Fault?) in
            guard token == state.token else {
                state.calls.append(call)
                return (false, nil, nil)
            }
            let key = method.lowercased()
            if key == "sendmessage", let limit = state.rateLimit {
                // Telegram's broadcast limit: more than `limit` in any second is refused.
                let now = Self.monotonicSeconds()
                state.recentSends.removeAll { $0 <= now - 1 }
                if state.recentSends.count >= limit {
                    state.rateLimited += 1
                    state.calls.append(call)
                    return (true, .error(status: 429, description: "Too Many Requests: retry after 1", retryAfter: 1), nil)
                }
                state.recentSends.append(now)
            }
            guard var queue = state.scripts[key], !queue.isEmpty else {
                let fault = state.faultMethods.contains(key) ? state.faults.next() : nil
                call.fault = fault?.kind
                state.calls.append(call)
                return (true, nil, fault)
            }
            state.calls.append(call)
            let reply = queue.removeFirst()
            state.scripts[key] = queue
            return (true, reply, nil)
        }
        guard accepted else { return Self.failure(status: 401, description: "Unauthorized") }
        switch scripted {
        case .error(let status, let description, let retryAfter)?:
            return Self.failure(status: status, description: description, retryAfter: retryAfter)
        case .delay(let duration)?:
            try await Task.sleep(for: duration)
        case nil:
            break
        }
        switch fault {
        case .tooManyRequests(let seconds)?:
            return Self.failure(status: 429, description: "Too Many Requests: retry after \(seconds)", retryAfter: seconds)
        case .serverError?:
            return Self.failure(status: 500, description: "Internal Server Error")
        case .hang(let duration)?:
            try await Task.sleep(for: duration)
            return Self.failure(status: 500, description: "Internal Server Error")
        case .dropConnection?:
            await context.dropConnection()
            return Self.failure(status: 500, description: "Internal Server Error")
        case nil:
            break
        }

        switch method.lowercased() {
        case "sendmessage": return sendMessage(parameters)
        case "getupdates": return try await getUpdates(parameters)
        case "setwebhook":
            let url = parameters["url"]?.string ?? ""
            state.withLock {
                $0.webhookURL = url.isEmpty ? nil : url
                $0.webhookSecret = url.isEmpty ? nil : parameters["secret_token"]?.string
            }
            return Self.success("true", description: url.isEmpty ? "Webhook was deleted" : "Webhook was set")
        case "deletewebhook":
            state.withLock { state in
                state.webhookURL = nil
                state.webhookSecret = nil
                if parameters["drop_pending_updates"]?.bool == true { state.updates = [] }
            }
            return Self.success("true", description: "Webhook was deleted")
        case "answercallbackquery":
            return Self.success("true")
        case "getme":
            return Self.success(#"{"id":7012345678,"is_bot":true,"first_name":"ShopBot","username":"shop_support_bot"}"#)
        default:
            return Self.failure(status: 404, description: "Not Found")
        }
    }

    private func sendMessage(_ parameters: [String: Value]) -> Response {
        guard let chatID = parameters["chat_id"], chatID != .null else {
            return Self.failure(status: 400, description: "Bad Request: chat_id is empty")
        }
        let text = parameters["text"]?.string ?? ""
        if text.isEmpty { return Self.failure(status: 400, description: "Bad Request: message text is empty") }
        if text.utf16.count > 4096 { return Self.failure(status: 400, description: "Bad Request: message is too long") }
        let messageID = state.withLock { state in
            state.nextMessageID += 1
            state.sent.append(SentMessage(chatID: chatID, text: text, messageID: state.nextMessageID))
            return state.nextMessageID
        }
        let chat: Any = chatID.int.map { $0 as Any } ?? (chatID.string ?? "")
        let message: [String: Any] = [
            "message_id": messageID,
            "from": ["id": 7_012_345_678, "is_bot": true, "first_name": "ShopBot", "username": "shop_support_bot"],
            "chat": ["id": chat, "type": "private"],
            "date": Int64(Date().timeIntervalSince1970),
            "text": text,
        ]
        return Self.success(Self.json(message))
    }

    private func getUpdates(_ parameters: [String: Value]) async throws -> Response {
        let conflict = state.withLock { $0.webhookURL != nil }
        if conflict {
            return Self.failure(
                status: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
        }
        let offset = parameters["offset"]?.int ?? 0
        let limit = Int(max(1, min(100, parameters["limit"]?.int ?? 100)))
        let timeout = Double(max(0, min(50, parameters["timeout"]?.int ?? 0)))
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let batch = state.withLock { state -> [String] in
                // As on the real server: an offset confirms (drops) every earlier update; a
                // negative one keeps only the last -offset.
                if offset > 0 {
                    state.updates.removeAll { $0.id < offset }
                } else if offset < 0 {
                    state.updates = Array(state.updates.suffix(Int(-offset)))
                }
                return state.updates.prefix(limit).map(\.json)
            }
            if !batch.isEmpty || ContinuousClock.now >= deadline {
                return Self.success("[\(batch.joined(separator: ","))]")
            }
            // A long poll: hold the request until an update is queued or the timeout passes.
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: - Wire helpers

    private static func parameters(query: String?, contentType: String?, body: Data) -> [String: Value] {
        var parameters: [String: Value] = [:]
        for (key, value) in formPairs(query ?? "") { parameters[key] = .string(value) }
        if contentType?.lowercased().contains("json") == true || body.first == UInt8(ascii: "{") {
            if let object = try? JSONDecoder().decode([String: Value].self, from: body) {
                parameters.merge(object) { _, body in body }
            }
        } else if let text = String(data: body, encoding: .utf8) {
            for (key, value) in formPairs(text) { parameters[key] = .string(value) }
        }
        return parameters
    }

    private static func formPairs(_ text: String) -> [(String, String)] {
        text.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            guard let key = parts.first, !key.isEmpty else { return nil }
            return (key, parts.count > 1 ? parts[1] : "")
        }
    }

    private static func success(_ resultJSON: String, description: String? = nil) -> Response {
        let description = description.map { #","description":\#(json($0))"# } ?? ""
        return response(status: 200, #"{"ok":true,"result":\#(resultJSON)\#(description)}"#)
    }

    private static func failure(status: Int, description: String, retryAfter: Int? = nil) -> Response {
        let parameters = retryAfter.map { #","parameters":{"retry_after":\#($0)}"# } ?? ""
        return response(status: status, #"{"ok":false,"error_code":\#(status),"description":\#(json(description))\#(parameters)}"#)
    }

    private static func response(status: Int, _ body: String) -> Response {
        Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// JSON text for a Foundation value (a string, or a dictionary of plain values).
    private static func json(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
