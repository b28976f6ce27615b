import AsyncHTTPClient
import Foundation
import HTTPChannel
import Logging
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Synchronization

/// Records what a channel hands in.
final class RecordingIntake: InboundIntake {
    private let state = Mutex<(messages: [InboundMessage], statuses: [DeliveryStatusUpdate])>(([], []))

    var messages: [InboundMessage] { state.withLock { $0.messages } }
    var statuses: [DeliveryStatusUpdate] { state.withLock { $0.statuses } }

    func receive(_ messages: [InboundMessage]) async throws { state.withLock { $0.messages += messages } }
    func receiveStatuses(_ updates: [DeliveryStatusUpdate]) async throws { state.withLock { $0.statuses += updates } }
}

struct NoCursors: CursorStore {
    func cursor(_ name: String) async throws -> String? { nil }
    func setCursor(_ name: String, to value: String) async throws {}
}

/// Real time as a test sets it.
final class TestTime: Sendable {
    private let value: Mutex<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_795_000_000)) { value = Mutex(start) }
    var now: Date { value.withLock { $0 } }
    func advance(seconds: TimeInterval) { value.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.now } }
}

let testSecret = "http-test-secret-0123456789"
let testChannelID = "crm"

func makeChannel(
    outboundURL: String = "http://127.0.0.1:9/messages", secret: String = testSecret, maxText: Int? = nil, window: HTTPChannel.Window? = nil,
    offlineDelivery: Bool = false, requestTimeout: Int = 5, time: TestTime = TestTime(), clock: any WallClock = ManualClock("2026-11-23T06:00:00Z")
) -> HTTPChannel {
    HTTPChannel(
        configuration: .init(
            secret: Secret(secret), outboundURL: outboundURL, maxText: maxText, window: window, offlineDelivery: offlineDelivery,
            requestTimeout: requestTimeout),
        environment: ChannelEnvironment(
            channelID: testChannelID, employeeID: "alexey", httpClient: HTTPClient.shared,
            logger: Logger(label: "http-tests", factory: { _ in SwiftLogNoOpLogHandler() }), clock: clock, intake: RecordingIntake(),
            cursors: NoCursors()),
        realNow: time.function)
}

/// A request signed as a sender would sign it.
func signedRequest(
    _ body: String, path: String = "", secret: String = testSecret, timestamp: Int64, signature: String? = nil
) -> WebhookRequest {
    let bytes = Array(body.utf8)
    return WebhookRequest(
        method: "POST", path: path,
        headers: [
            "Content-Type": "application/json", "X-Switchboard-Timestamp": String(timestamp),
            "X-Switchboard-Signature": signature ?? FakeHTTPReceiver.sign(secret: secret, timestamp: timestamp, body: bytes),
        ],
        body: bytes)
}

extension TestTime {
    var unix: Int64 { Int64(now.timeIntervalSince1970) }
}

extension WebhookResult {
    /// Status and body text, whatever the outcome.
    var answer: (status: Int, text: String) {
        switch self {
        case .accept(_, _, let response): (response.status, String(decoding: response.body, as: UTF8.self))
        case .respond(let response): (response.status, String(decoding: response.body, as: UTF8.self))
        }
    }

    var messages: [InboundMessage] {
        if case .accept(let messages, _, _) = self { return messages }
        return []
    }

    var statuses: [DeliveryStatusUpdate] {
        if case .accept(_, let statuses, _) = self { return statuses }
        return []
    }

    var accepted: Bool {
        if case .accept = self { return true }
        return false
    }
}
