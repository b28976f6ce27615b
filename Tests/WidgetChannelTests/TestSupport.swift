import AsyncHTTPClient
import Foundation
import Logging
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization
@testable import WidgetChannel

/// Stores what the widget receives the way the gateway's `Conversation` does (deduplicated by
/// provider id), without the reply machinery.
final class StoreIntake: InboundIntake {
    let store: any Store
    private let failures = Mutex(0)

    init(store: any Store) { self.store = store }

    func failNext(_ count: Int) { failures.withLock { $0 += count } }

    func receive(_ messages: [InboundMessage]) async throws {
        if failures.withLock({ f -> Bool in
            if f > 0 { f -= 1; return true }
            return false
        }) { throw StoreError.unknownChat("simulated outage") }
        for message in messages {
            _ = try await store.recordInbound(message, employeeID: "alexey") { _, _ in [] }
        }
    }

    func receiveStatuses(_ updates: [DeliveryStatusUpdate]) async throws { _ = try await store.recordDeliveryStatuses(updates) }
}

/// A socket that records what the channel sends, and the inbound stream that plays the browser.
final class FakeSocket: ChannelSocket {
    private let state = Mutex<(frames: [[String: any Sendable]], texts: [String], close: (code: Int, reason: String)?)>(([], [], nil))
    let inbound: AsyncStream<SocketMessage>
    private let continuation: AsyncStream<SocketMessage>.Continuation
    let controlFrames: AsyncStream<Void>
    private let controlContinuation: AsyncStream<Void>.Continuation

    init() {
        (inbound, continuation) = AsyncStream.makeStream(of: SocketMessage.self)
        (controlFrames, controlContinuation) = AsyncStream.makeStream(of: Void.self)
    }

    func send(_ text: String) async throws {
        struct Closed: Error {}
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        let sendable = object.mapValues { Self.sendable($0) }
        let closed = state.withLock { state -> Bool in
            guard state.close == nil else { return true }
            state.frames.append(sendable)
            state.texts.append(text)
            return false
        }
        if closed { throw Closed() }
    }

    private static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let v as String: v
        case let v as NSNumber: v.int64Value
        case let v as [String: Any]: v.mapValues { sendable($0) }
        case is NSNull: Optional<String>.none as any Sendable
        default: "\(value)"
        }
    }

    func close(code: Int, reason: String) async {
        state.withLock { if $0.close == nil { $0.close = (code, reason) } }
        // The browser answers the close frame and its side ends.
        continuation.finish()
        controlContinuation.finish()
    }

    /// The browser sends a frame.
    func receive(_ text: String) { continuation.yield(.text(text)) }
    func receive(json: String) { receive(json) }
    func receiveBinary(_ count: Int) { continuation.yield(.binary(byteCount: count)) }
    /// The browser sends a WebSocket ping (or pong) frame, which the host answers itself.
    func receiveControlFrame() { controlContinuation.yield() }
    /// The browser goes away.
    func disconnect() { continuation.finish() }

    var frames: [[String: any Sendable]] { state.withLock { $0.frames } }
    var texts: [String] { state.withLock { $0.texts } }
    var closeCode: Int? { state.withLock { $0.close?.code } }
    func frames(ofType type: String) -> [[String: any Sendable]] { frames.filter { $0["type"] as? String == type } }
    var messageSeqs: [Int64] { frames(ofType: "message").compactMap { $0["seq"] as? Int64 } }
    var messageTexts: [String] { frames(ofType: "message").compactMap { $0["text"] as? String } }
}

/// A widget channel over an in-memory store, with helpers that play the browser and the
/// scheduler.
final class WidgetTestbed: Sendable {
    let store: SQLiteStore
    let intake: StoreIntake
    let channel: WidgetChannel
    let clock: ManualClock
    let realNow: RealNow

    final class RealNow: Sendable {
        private let value = Mutex(Date(timeIntervalSince1970: 1_795_000_000))
        var now: Date { value.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { value.withLock { $0 += seconds } }
    }

    init(_ configuration: WidgetChannel.Configuration = WidgetChannel.Configuration(allowedOrigins: ["https://riverside.example"])) throws {
        store = try SQLiteStore()
        intake = StoreIntake(store: store)
        clock = ManualClock("2026-11-23T06:00:00Z")
        let realNow = RealNow()
        self.realNow = realNow
        let environment = ChannelEnvironment(
            channelID: "web", employeeID: "alexey", httpClient: HTTPClient.shared,
            logger: Logger(label: "widget-tests", factory: { _ in SwiftLogNoOpLogHandler() }), clock: clock, intake: intake, cursors: store,
            employeeName: "Alexey", history: StoreConversationHistory(store))
        channel = try WidgetChannel(configuration: configuration, environment: environment, realNow: { realNow.now })
    }

    /// A new visitor's token, from the session endpoint.
    func newToken(origin: String? = nil) async throws -> String {
        let response = await channel.handleBrowserRequest(session(body: "{}", origin: origin))
        guard response.status == 200, let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let token = json["visitor_token"] as? String
        else { throw TestFailure("session answered \(response.status): \(String(decoding: response.body, as: UTF8.self))") }
        return token
    }

    func session(body: String, origin: String? = "https://riverside.example", host: String = "gw.example.com", from address: String? = nil) -> BrowserRequest {
        var headers = ["Host": host]
        if let origin { headers["Origin"] = origin }
        return BrowserRequest(method: "POST", path: "session", headers: headers, body: Array(body.utf8), clientAddress: address)
    }

    /// Opens a socket (served until it closes) and, with a token, authenticates it.
    func connect(token: String?, lastSeq: Int64? = nil) -> (FakeSocket, Task<Void, Never>) {
        let socket = FakeSocket()
        let channel = self.channel
        let task = Task { await channel.serveSocket(socket, inbound: socket.inbound, handshake: BrowserRequest(method: "GET", path: "ws")) }
        if let token {
            let last = lastSeq.map(String.init) ?? "null"
            socket.receive(#"{"type":"auth","visitor_token":"\#(token)","last_seq":\#(last)}"#)
        }
        return (socket, task)
    }

    func chat(visitorID: String) async throws -> Chat? { try await store.chat(channelID: "web", conversationKey: visitorID) }

    /// What the scheduler does for one of the employee's messages: queue, send through the
    /// channel, record the outcome.
    @discardableResult
    func employeeSays(_ text: String, visitorID: String, step: Int? = nil) async throws -> DeliveryReceipt {
        guard let chat = try await chat(visitorID: visitorID) else { throw TestFailure("no chat for \(visitorID)") }
        let key = "test:\(UUID().uuidString)"
        let entry = try await store.enqueue(
            NewOutboxEntry(chatID: chat.id, purpose: step == nil ? .reply : .reminder, idempotencyKey: key, text: text, notBefore: clock.now(),
                           followUpRun: step == nil ? nil : 1, followUpStep: step),
            usage: nil, followUp: nil)
        _ = try await store.claimDueOutbox(now: clock.now(), owner: "test", leaseUntil: clock.now().addingTimeInterval(60), limit: 10)
        let receipt = try await channel.send(OutboundMessage(chatID: chat.id, channelID: "web", conversationKey: visitorID, text: text))
        try await store.complete(
            outboxID: entry!.id, .sent(at: clock.now(), providerMessageIDs: receipt.providerMessageIDs, delivered: receipt.delivered),
            chatChange: nil, followUp: nil)
        return receipt
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func visitorID(of token: String) -> String { String(token.split(separator: ".")[1]) }
