import Crypto
public import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A stand-in for the system behind an http channel's `outbound_url`, on 127.0.0.1: it records
/// every POST (headers, raw body, whether the signature is right) and answers 200 unless a test
/// scripted something else (a status with body and headers, a delay past the client's timeout,
/// a dropped connection).
///
/// ```swift
/// let receiver = FakeHTTPReceiver(secret: "0123456789abcdef")
/// let url = try await receiver.start()              // http://127.0.0.1:PORT/messages
/// receiver.script(.status(500), .status(429, headers: ["Retry-After": "2"]))
/// // … point the channel's `outbound_url` at `url`, exercise it …
/// await receiver.stop()
/// ```
public final class FakeHTTPReceiver: Sendable {
    /// One request as the fake received it.
    public struct Received: Sendable {
        public var path: String
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: [UInt8]
        /// Whether `X-Switchboard-Signature` is the HMAC of `"<timestamp>.<body>"` with the secret.
        public var signatureValid: Bool
        /// The status the fake answered.
        public var answered: Int
        /// When it arrived, in real time.
        public var receivedAt: Date

        public var message: Message? { try? JSONDecoder().decode(Message.self, from: Data(body)) }
    }

    /// The outbound body as the http channel documents it.
    public struct Message: Sendable, Hashable, Decodable {
        public var message_id: String
        public var chat_id: String
        public var text: String
        public var kind: String
        public var followup_step: Int?
        public var template: String?
        public var part: Int?
        public var parts: Int?

        public init(
            message_id: String, chat_id: String, text: String, kind: String, followup_step: Int? = nil, template: String? = nil, part: Int? = nil,
            parts: Int? = nil
        ) {
            self.message_id = message_id
            self.chat_id = chat_id
            self.text = text
            self.kind = kind
            self.followup_step = followup_step
            self.template = template
            self.part = part
            self.parts = parts
        }
    }

    /// A scripted answer for the next request.
    public enum Reply: Sendable, Hashable {
        case status(Int, body: String = "", headers: [String: String] = [:])
        /// Wait this long, then answer 200: for client timeouts.
        case delay(Duration)
        /// Close the connection without answering.
        case drop
    }

    private struct State {
        var requests: [Received] = []
        var scripts: [Reply] = []
        var server: LoopbackServer?
    }

    private let state = Mutex(State())
    private let secret: String

    public init(secret: String) { self.secret = secret }

    /// Starts on a free port of 127.0.0.1; returns the URL to use as `outbound_url`.
    @discardableResult
    public func start() async throws -> String {
        let router = Router(context: FakeRequestContext.self)
        router.post("**") { [self] request, context -> Response in try await self.handle(request, context: context) }
        let server = try await LoopbackServer.start(router, name: "fake http receiver")
        let port = server.port
        state.withLock { $0.server = server }
        return "http://127.0.0.1:\(port)/messages"
    }

    /// Stops the server and waits until it has closed its port.
    public func stop() async {
        let server = state.withLock { state -> LoopbackServer? in
            defer { state.server = nil }
            return state.server
        }
        await server?.stop()
    }

    /// The next requests get these answers, in order, before 200s resume.
    public func script(_ replies: Reply...) { state.withLock { $0.scripts += replies } }

    /// Every request received, in order.
    public var requests: [Received] { state.withLock { $0.requests } }

    /// The messages of the requests answered 2xx, in order.
    public var accepted: [Message] { requests.filter { (200..<300).contains($0.answered) }.compactMap(\.message) }

    /// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, the http channel's signature.
    public static func sign(secret: String, timestamp: Int64, body: some Collection<UInt8>) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Array("\(timestamp).".utf8))
        hmac.update(data: Array(body))
        return "sha256=" + hmac.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private func handle(_ request: Request, context: FakeRequestContext) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 22)
        let body = Array(buffer.readableBytesView)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
        let valid =
            headers["x-switchboard-timestamp"].flatMap(Int64.init).map {
                Self.sign(secret: secret, timestamp: $0, body: body) == headers["x-switchboard-signature"]
            } ?? false
        let reply = state.withLock { state -> Reply? in state.scripts.isEmpty ? nil : state.scripts.removeFirst() }
        var status = 200
        var answerBody = #"{"ok":true}"#
        var answerHeaders: [String: String] = [:]
        switch reply {
        case .status(let code, let text, let extra)?:
            status = code
            answerBody = text
            answerHeaders = extra
        case .delay(let duration)?:
            try await Task.sleep(for: duration)
        case .drop?:
            status = 0
        case nil:
            break
        }
        state.withLock {
            $0.requests.append(Received(path: request.uri.path, headers: headers, body: body, signatureValid: valid, answered: status, receivedAt: Date()))
        }
        if status == 0 {
            await context.dropConnection()
            return Response(status: .internalServerError)
        }
        var fields = HTTPFields()
        for (name, value) in answerHeaders {
            if let fieldName = HTTPFields.Element.Name(name) { fields.append(.init(name: fieldName, value: value)) }
        }
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: answerBody)))
    }
}
