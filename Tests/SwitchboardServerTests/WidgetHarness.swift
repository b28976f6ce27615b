import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardCore
import SwitchboardServer
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
import Testing

/// A whole gateway on 127.0.0.1 with one widget channel (`web`) and nothing else: the offline
/// composer (or a test's), SQLite in a temporary folder, time in the test's hands.
final class WidgetGatewayHarness: Sendable {
    static let origin = "https://riverside.example"
    /// The Origin hummingbird's WebSocket client always sends for `http://127.0.0.1:<port>/…`
    /// (scheme and host, no port); the test channel allows it like a customer's site.
    static let clientOrigin = "http://127.0.0.1"

    let directory: URL
    let gateway: Gateway
    let clock: any WallClock
    let client: HTTPClient
    private let portBox = PortBox()
    private let task: Task<Void, any Error>

    static let greeting = "Hi! I'm Alexey, the Riverside's concierge. Ask me anything about your stay."

    /// - Parameters:
    ///   - widgetYAML: extra keys for `channels/widget.yaml`.
    ///   - employeeYAML: the employee's extra keys (working hours, follow-up chain), indented by four spaces.
    ///   - otherChannels: more channel files, by file name (`email.yaml`) → text.
    init(
        widgetYAML: String = "", employeeYAML: String = WidgetGatewayHarness.chain, clock: any WallClock = ManualClock("2026-11-23T06:00:00Z"),
        composer: (any Composer)? = RecordingComposer(), otherChannels: [String: String] = [:]
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-widget-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("channels"), withIntermediateDirectories: true)
        try """
            admin: { token: admin-token-for-tests-0123456789 }
            employees:
              - id: alexey
                name: Alexey
                persona: Friendly concierge of the Riverside hotel.
            \(employeeYAML)
            """.write(to: directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        try """
            type: widget
            id: web
            employee: alexey
            allowed_origins: [\(Self.origin), \(Self.clientOrigin)]
            title: Riverside Hotel
            greeting: "\(Self.greeting)"
            \(widgetYAML)
            """.write(to: directory.appendingPathComponent("channels/widget.yaml"), atomically: true, encoding: .utf8)
        for (file, text) in otherChannels {
            try text.write(to: directory.appendingPathComponent("channels/\(file)"), atomically: true, encoding: .utf8)
        }
        let config = try ConfigLoader(channelValidators: ChannelRegistry.validators, environment: [:])
            .load(configPath: directory.appendingPathComponent("config.yaml").path)
        var logger = Logger(label: "widget-gateway-test")
        logger.logLevel = .warning
        let port = self.portBox
        let options = GatewayOptions(clock: clock, composer: composer, host: "127.0.0.1", port: 0, onServerRunning: { port.set($0) }, logger: logger, channelTypes: ChannelRegistry.catalog)
        // Opening and migrating the SQLite file blocks: on a thread of its own (see GatewayHarness).
        let gateway = try await onOwnThread { try Gateway(config: config, options: options) }
        self.directory = directory
        self.clock = clock
        self.gateway = gateway
        self.client = HTTPClient(eventLoopGroupProvider: .singleton)
        let app = gateway.application()
        task = Task { try await app.run() }
        for _ in 0..<500 where portBox.get() == nil { try? await Task.sleep(nanoseconds: 10_000_000) }
        if portBox.get() == nil {
            await shutdown()
            throw ContractViolation(description: "gateway did not start")
        }
    }

    /// The seed's chain: 4 h, 24 h (once per chat), 48 h; no working hours, so times are exact.
    static let chain = """
            auto_followup:
              steps:
                - { delay: { hours: 4 },  instruction: "Remind the user that we're available and ready to help" }
                - { delay: { hours: 24 }, instruction: "Ask if the question is still relevant", once_per_chat: true }
                - { delay: { hours: 48 }, instruction: "Say a warm goodbye and let them know we're always happy to help" }
        """

    var port: Int { portBox.get() ?? 0 }
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var manualClock: ManualClock { clock as! ManualClock }

    func shutdown() async {
        task.cancel()
        _ = await task.result
        try? await client.shutdown()
        // The test may still hold the gateway, and with it the store: close its files now, or a
        // long run exhausts descriptors (Foundation's Process breaks above 1,024).
        if let sqlite = gateway.store as? SQLiteStore {
            do { try await sqlite.closeConnections() } catch { print("HARNESS-CLOSE-FAILED \(error)") }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    func request(_ path: String, post: Bool = false, body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, [String: String], String) {
        var request = HTTPClientRequest(url: baseURL + path)
        if post { request.method = .POST }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return (Int(response.status.code), fields, text)
    }

    /// A new visitor's token from `POST /widget/web/session`, as the widget gets it.
    func newVisitorToken() async throws -> String {
        let (status, _, body) = try await request(
            "/widget/web/session", post: true, body: #"{"visitor_token": null}"#, headers: ["Origin": Self.origin, "Content-Type": "text/plain"])
        guard status == 200, let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let token = json["visitor_token"] as? String
        else { throw ContractViolation(description: "session answered \(status): \(body)") }
        return token
    }

    func chat(visitorToken: String) async throws -> Chat? {
        try await gateway.store.chat(channelID: "web", conversationKey: String(visitorToken.split(separator: ".")[1]))
    }

    /// Opens `/widget/web/ws` like a page on an allowed site and runs `body` on it; returns the
    /// server's close frame (`nil` when the test hung up first). `extraOrigin` adds a second
    /// `Origin` header to the client's own.
    @discardableResult
    func withSocket(
        extraOrigin: String? = nil, maxFrameSize: Int = 1 << 20, _ body: @escaping @Sendable (WidgetSocketProbe) async throws -> Void
    ) async throws -> WebSocketCloseFrame? {
        var configuration = WebSocketClientConfiguration(maxFrameSize: maxFrameSize)
        if let extraOrigin { configuration.additionalHeaders[.origin] = extraOrigin }
        var logger = Logger(label: "widget-socket-test")
        logger.logLevel = .warning
        return try await WebSocketClient.connect(url: "http://127.0.0.1:\(port)/widget/web/ws", configuration: configuration, logger: logger) {
            inbound, outbound, _ in
            let probe = WidgetSocketProbe(inbound: inbound, outbound: outbound)
            try await body(probe)
        }
    }
}

/// One side of a widget socket in a test: send frames, read frames in order.
final class WidgetSocketProbe {
    private var iterator: WebSocketInboundMessageStream.AsyncIterator
    private let outbound: WebSocketOutboundWriter
    /// Every frame read so far.
    private(set) var received: [[String: Any]] = []

    init(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) {
        self.iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
        self.outbound = outbound
    }

    func send(_ text: String) async throws { try await outbound.write(.text(text)) }

    /// Sends `text` as one message in fragments (a text frame and continuation frames) of at
    /// most the client's `maxFrameSize` bytes each.
    func sendFragmented(_ text: String) async throws { try await outbound.writeTextMessage(text) }

    /// Sends a WebSocket ping frame (which browsers' JavaScript cannot, but any client can).
    func ping() async throws {
        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "p"))))
    }

    func auth(_ token: String?, lastSeq: Int64? = nil) async throws {
        let tokenJSON = token.map { "\"\($0)\"" } ?? "null"
        try await send(#"{"type":"auth","visitor_token":\#(tokenJSON),"last_seq":\#(lastSeq.map(String.init) ?? "null")}"#)
    }

    /// The next frame, or `nil` once the server has closed the socket.
    func next() async throws -> [String: Any]? {
        while let message = try await iterator.next() {
            guard case .text(let text) = message else { continue }
            let frame = (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
            received.append(frame)
            return frame
        }
        return nil
    }

    /// Reads until a frame of `type` arrives; returns the frames read on the way (it included).
    @discardableResult
    func read(until type: String) async throws -> [[String: Any]] {
        var frames: [[String: Any]] = []
        while let frame = try await next() {
            frames.append(frame)
            if frame["type"] as? String == type { return frames }
        }
        throw ContractViolation(description: "socket closed before a \(type) frame; got \(frames)")
    }

    /// Reads until `condition` holds for the frames read by this call.
    @discardableResult
    func read(until condition: ([[String: Any]]) -> Bool) async throws -> [[String: Any]] {
        var frames: [[String: Any]] = []
        while let frame = try await next() {
            frames.append(frame)
            if condition(frames) { return frames }
        }
        throw ContractViolation(description: "socket closed before the condition held; got \(frames)")
    }

    /// Reads until the server closes.
    func drain() async throws -> [[String: Any]] {
        var frames: [[String: Any]] = []
        while let frame = try await next() { frames.append(frame) }
        return frames
    }
}

extension [[String: Any]] {
    func ofType(_ type: String) -> [[String: Any]] { filter { $0["type"] as? String == type } }
    var seqs: [Int64] { ofType("message").compactMap { ($0["seq"] as? NSNumber)?.int64Value } }
    var texts: [String] { ofType("message").compactMap { $0["text"] as? String } }
}

/// The close code a server sent, as a number.
func closeCode(_ frame: WebSocketCloseFrame?) -> Int? {
    guard let frame else { return nil }
    return (1000...1015).first { frame.closeCode == .init(codeNumber: $0) } ?? (4000...4999).first { frame.closeCode == .init(codeNumber: $0) }
}
