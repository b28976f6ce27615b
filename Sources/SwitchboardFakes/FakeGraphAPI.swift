import AsyncHTTPClient
import Crypto
public import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A stand-in for the WhatsApp Cloud API (Meta Graph API) on 127.0.0.1, for tests and offline
/// demos, plus Meta's side of the webhook.
///
/// It serves `POST /<version>/<phone-number-id>/messages`, checks the bearer token, records
/// every message and answers with a fresh wamid — or, when scripted, with any Graph error code in
/// Graph's error envelope. A reply can also be "accepted, then failed": the message gets its
/// wamid and a `failed` status with the given code is queued for the webhook, the way Cloud API
/// reports 131047 asynchronously. ``postStatuses(_:)`` and ``postWebhook(_:signature:)`` post
/// signed (or deliberately mis-signed) webhook bodies to the gateway; ``verify(token:challenge:mode:)``
/// runs the GET handshake; ``Payload`` builds the JSON Meta sends, batches included.
///
/// ```swift
/// let graph = FakeGraphAPI()
/// let apiBase = try await graph.start()            // http://127.0.0.1:PORT/v25.0
/// graph.connectWebhook(url: gatewayURL + "/webhooks/wa")
/// _ = try await graph.postWebhook(FakeGraphAPI.Payload.batch(messages: [.text("Hi", from: "16505551234")]))
/// graph.script(.error(code: 130429, title: "Rate limit hit"))
/// ```
public final class FakeGraphAPI: Sendable {
    public static let defaultAccessToken = "EAAG-fake-access-token-for-tests"
    public static let defaultAppSecret = "fake-app-secret-0123456789abcdef"
    public static let defaultPhoneNumberID = "106540352242922"

    /// A `/messages` call as the fake received it, accepted or not.
    public struct Call: Sendable, Hashable {
        public var phoneNumberID: String
        public var authorization: String?
        /// `to`, `type`, and the text body or template of the request.
        public var to: String?
        public var type: String?
        public var text: String?
        public var templateName: String?
        public var templateLanguage: String?
        public var templateParameters: [String]
        /// The wamid answered, or `nil` when the call was refused.
        public var wamid: String?
        /// The Graph error code answered, if any.
        public var errorCode: Int?
        /// When it arrived, in real time: lets a test check the channel's pacing.
        public var receivedAt: Date
    }

    /// A scripted answer for the next `/messages` call.
    public enum Reply: Sendable, Hashable {
        /// Refuse with Graph's error envelope: `code`, `title`, the HTTP status, and a
        /// `Retry-After` header when given.
        case error(code: Int, title: String, httpStatus: Int = 400, retryAfter: Int? = nil)
        /// Accept with a wamid, then queue a `failed` status with this error for the webhook
        /// (post it with ``deliverQueuedStatuses()``).
        case acceptThenFail(code: Int, title: String)

        /// 131047 answered at once.
        public static let windowClosed = Reply.error(code: 131047, title: "Re-engagement message")
        public static let throughputLimit = Reply.error(code: 130429, title: "Rate limit hit")
        public static let undeliverable = Reply.error(code: 131026, title: "Message undeliverable")
        public static let tokenExpired = Reply.error(code: 190, title: "Error validating access token: Session has expired", httpStatus: 401)
    }

    /// A status for a message the business sent, as Meta posts it.
    public struct Status: Sendable, Hashable {
        public var wamid: String
        public var status: String
        public var errorCode: Int?
        public var errorTitle: String?
        public var recipient: String

        public init(wamid: String, status: String, errorCode: Int? = nil, errorTitle: String? = nil, recipient: String = "16505551234") {
            self.wamid = wamid
            self.status = status
            self.errorCode = errorCode
            self.errorTitle = errorTitle
            self.recipient = recipient
        }
    }

    private struct State {
        var accessToken: String
        var calls: [Call] = []
        var scripts: [Reply] = []
        var queuedStatuses: [Status] = []
        var nextID = 1
        var webhookURL: String?
        var server: LoopbackServer?
    }

    private let state: Mutex<State>
    public let appSecret: String
    public let phoneNumberID: String
    private let client = HTTPClient(eventLoopGroupProvider: .singleton)

    public init(accessToken: String = FakeGraphAPI.defaultAccessToken, appSecret: String = FakeGraphAPI.defaultAppSecret,
                phoneNumberID: String = FakeGraphAPI.defaultPhoneNumberID) {
        state = Mutex(State(accessToken: accessToken))
        self.appSecret = appSecret
        self.phoneNumberID = phoneNumberID
    }

    /// The fake was used before it was set up (no webhook to post to).
    public struct NotConnected: Error, CustomStringConvertible {
        public var description: String
    }

    // MARK: - Life cycle

    /// Starts serving; returns the `api_base` to configure (`http://127.0.0.1:PORT/v25.0`).
    @discardableResult
    public func start() async throws -> String {
        let router = Router(context: FakeRequestContext.self)
        router.post("{version}/{phone}/messages") { [self] request, context -> Response in
            try await self.handle(request, phone: context.parameters.get("phone") ?? "")
        }
        let server = try await LoopbackServer.start(router, name: "fake Graph API")
        let port = server.port
        state.withLock { $0.server = server }
        return "http://127.0.0.1:\(port)/v25.0"
    }

    public func stop() async {
        let server = state.withLock { state -> LoopbackServer? in
            defer { state.server = nil }
            return state.server
        }
        await server?.stop()
        try? await client.shutdown()
    }

    // MARK: - What tests set up

    public func script(_ replies: Reply...) { state.withLock { $0.scripts += replies } }

    public func setAccessToken(_ token: String) { state.withLock { $0.accessToken = token } }

    /// Where ``postWebhook(_:signature:)`` and the status helpers post: the gateway's `/webhooks/<id>`.
    public func connectWebhook(url: String) { state.withLock { $0.webhookURL = url } }

    // MARK: - What tests inspect

    public var calls: [Call] { state.withLock { $0.calls } }

    /// Messages accepted, in order.
    public var sent: [Call] { calls.filter { $0.wamid != nil } }

    public var sentTexts: [String] { sent.compactMap(\.text) }

    public var queuedStatuses: [Status] { state.withLock { $0.queuedStatuses } }

    // MARK: - Meta's side of the webhook

    /// How a webhook POST is signed.
    public enum Signature: Sendable {
        /// `sha256=<hex HMAC-SHA256(app secret, body)>`, as Meta signs.
        case valid
        case missing
        /// Signed with another secret.
        case wrongSecret
        /// This header value, verbatim.
        case header(String)
    }

    /// POSTs `body` to the gateway's webhook as Meta would.
    public func postWebhook(_ body: String, signature: Signature = .valid) async throws -> (status: Int, body: String) {
        try await postWebhook(Array(body.utf8), signature: signature)
    }

    public func postWebhook(_ body: [UInt8], signature: Signature = .valid) async throws -> (status: Int, body: String) {
        guard let url = state.withLock({ $0.webhookURL }) else { throw NotConnected(description: "call connectWebhook(url:) first") }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        switch signature {
        case .valid: request.headers.add(name: "X-Hub-Signature-256", value: "sha256=" + Self.signature(of: body, secret: appSecret))
        case .missing: break
        case .wrongSecret: request.headers.add(name: "X-Hub-Signature-256", value: "sha256=" + Self.signature(of: body, secret: appSecret + "x"))
        case .header(let value): request.headers.add(name: "X-Hub-Signature-256", value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        let answer = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: answer))
    }

    /// The GET handshake Meta runs when the callback URL is saved.
    public func verify(token: String, challenge: String, mode: String = "subscribe") async throws -> (status: Int, body: String, contentType: String?) {
        guard let url = state.withLock({ $0.webhookURL }) else { throw NotConnected(description: "call connectWebhook(url:) first") }
        var components = URLComponents(string: url)
        components?.queryItems = [
            URLQueryItem(name: "hub.mode", value: mode), URLQueryItem(name: "hub.challenge", value: challenge),
            URLQueryItem(name: "hub.verify_token", value: token),
        ]
        let request = HTTPClientRequest(url: components?.string ?? url)
        let response = try await client.execute(request, timeout: .seconds(10))
        let answer = try await response.body.collect(upTo: 1 << 16)
        return (Int(response.status.code), String(buffer: answer), response.headers.first(name: "Content-Type"))
    }

    /// Posts these statuses, signed, in one batch.
    @discardableResult
    public func postStatuses(_ statuses: [Status]) async throws -> Int {
        try await postWebhook(Payload.batch(phoneNumberID: phoneNumberID, statuses: statuses)).status
    }

    /// Posts the statuses that ``Reply/acceptThenFail(code:title:)`` queued, then forgets them.
    @discardableResult
    public func deliverQueuedStatuses() async throws -> Int {
        let statuses = state.withLock { state -> [Status] in
            defer { state.queuedStatuses = [] }
            return state.queuedStatuses
        }
        return try await postStatuses(statuses)
    }

    public static func signature(of body: [UInt8], secret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Serving

    private func handle(_ request: Request, phone: String) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
        let text = (json["text"] as? [String: Any])?["body"] as? String
        let template = json["template"] as? [String: Any]
        let parameters = ((template?["components"] as? [[String: Any]])?.first?["parameters"] as? [[String: Any]])?.compactMap { $0["text"] as? String }
        let authorization = request.headers[.authorization]
        var call = Call(
            phoneNumberID: phone, authorization: authorization, to: json["to"] as? String, type: json["type"] as? String, text: text,
            templateName: template?["name"] as? String, templateLanguage: (template?["language"] as? [String: Any])?["code"] as? String,
            templateParameters: parameters ?? [], receivedAt: Date())
        let reply = state.withLock { state -> Response in
            defer { state.calls.append(call) }
            if authorization != "Bearer \(state.accessToken)" {
                call.errorCode = 190
                return Self.failure(code: 190, title: "Invalid OAuth access token - Cannot parse access token", httpStatus: 401, retryAfter: nil)
            }
            let wamid = "wamid.FAKE\(state.nextID)"
            if !state.scripts.isEmpty {
                switch state.scripts.removeFirst() {
                case .error(let code, let title, let httpStatus, let retryAfter):
                    call.errorCode = code
                    return Self.failure(code: code, title: title, httpStatus: httpStatus, retryAfter: retryAfter)
                case .acceptThenFail(let code, let title):
                    state.queuedStatuses.append(Status(wamid: wamid, status: "failed", errorCode: code, errorTitle: title))
                }
            }
            state.nextID += 1
            call.wamid = wamid
            let to = (json["to"] as? String).map { $0.hasPrefix("+") ? String($0.dropFirst()) : $0 } ?? ""
            return Self.response(
                status: 200, #"{"messaging_product":"whatsapp","contacts":[{"input":"+\#(to)","wa_id":"\#(to)"}],"messages":[{"id":"\#(wamid)"}]}"#)
        }
        return reply
    }

    private static func failure(code: Int, title: String, httpStatus: Int, retryAfter: Int?) -> Response {
        let body = #"{"error":{"message":"(#\#(code)) \#(title)","type":"OAuthException","code":\#(code),"error_data":{"messaging_product":"whatsapp","details":"\#(title)"},"fbtrace_id":"AbCdEfFake"}}"#
        var response = response(status: httpStatus, body)
        if let retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
        return response
    }

    private static func response(status: Int, _ body: String) -> Response {
        Response(status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

extension FakeGraphAPI {
    /// The JSON bodies Meta posts to a webhook (protocols.md §2.4), for tests to send.
    public enum Payload {
        /// One inbound message: its `messages[]` object, the sender's wa_id and profile name.
        public struct Message: Sendable, Hashable {
            public var json: String
            public var from: String
            public var name: String?

            public init(json: String, from: String, name: String?) {
                self.json = json
                self.from = from
                self.name = name
            }

            private static let counter = Mutex(0)
            /// A fresh wamid for a test message.
            public static func newID() -> String { "wamid.IN\(counter.withLock { $0 += 1; return $0 })" }

            public static func text(_ body: String, from: String = "16505551234", name: String? = "Sheena N", id: String = newID()) -> Message {
                Message(json: #"{"from":"\#(from)","id":"\#(id)","timestamp":"1763633100","type":"text","text":{"body":\#(quoted(body))}}"#, from: from, name: name)
            }

            public static func reaction(_ emoji: String, to wamid: String, from: String = "16505551234", name: String? = "Sheena N", id: String = newID()) -> Message {
                Message(json: #"{"from":"\#(from)","id":"\#(id)","timestamp":"1763633100","type":"reaction","reaction":{"message_id":"\#(wamid)","emoji":\#(quoted(emoji))}}"#,
                        from: from, name: name)
            }

            public static func image(caption: String?, from: String = "16505551234", name: String? = "Sheena N", id: String = newID()) -> Message {
                let caption = caption.map { #","caption":\#(quoted($0))"# } ?? ""
                return Message(json: #"{"from":"\#(from)","id":"\#(id)","timestamp":"1763633160","type":"image","image":{"id":"1234567890123456","mime_type":"image/jpeg","sha256":"aGFzaA=="\#(caption)}}"#,
                               from: from, name: name)
            }
        }

        /// A batch: every message under one change (with its contacts) and every status, in one
        /// entry — or spread over `entries` entries, to exercise a handler that reads only `[0]`.
        public static func batch(
            phoneNumberID: String = FakeGraphAPI.defaultPhoneNumberID, messages: [Message] = [], statuses: [Status] = [], entries: Int = 1
        ) -> String {
            let metadata = #""metadata":{"display_phone_number":"15550783881","phone_number_id":"\#(phoneNumberID)"}"#
            let count = max(1, entries)
            var changes: [[String]] = Array(repeating: [], count: count)
            for (index, message) in messages.enumerated() {
                let contact = #"{"profile":{"name":\#(quoted(message.name ?? ""))},"wa_id":"\#(message.from)"}"#
                let contacts = message.name == nil ? "" : #""contacts":[\#(contact)],"#
                changes[index % count].append(
                    #"{"field":"messages","value":{"messaging_product":"whatsapp",\#(metadata),\#(contacts)"messages":[\#(message.json)]}}"#)
            }
            if !statuses.isEmpty {
                let items = statuses.map(statusJSON).joined(separator: ",")
                changes[0].append(#"{"field":"messages","value":{"messaging_product":"whatsapp",\#(metadata),"statuses":[\#(items)]}}"#)
            }
            let entryJSON = changes.map { #"{"id":"102290129340398","changes":[\#($0.joined(separator: ","))]}"# }.joined(separator: ",")
            return #"{"object":"whatsapp_business_account","entry":[\#(entryJSON)]}"#
        }

        static func statusJSON(_ status: Status) -> String {
            var fields = [
                #""id":"\#(status.wamid)""#, #""status":"\#(status.status)""#, #""timestamp":"1763633400""#, #""recipient_id":"\#(status.recipient)""#,
            ]
            if let code = status.errorCode {
                let title = quoted(status.errorTitle ?? "error")
                fields.append(#""errors":[{"code":\#(code),"title":\#(title),"message":\#(title),"error_data":{"details":\#(title)}}]"#)
            }
            return "{" + fields.joined(separator: ",") + "}"
        }

        static func quoted(_ text: String) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: [text], options: [])) ?? Data("[\"\"]".utf8)
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        }
    }
}
