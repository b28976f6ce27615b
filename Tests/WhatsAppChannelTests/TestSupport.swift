import AsyncHTTPClient
import Foundation
import Logging
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Synchronization
import WhatsAppChannel

/// Records what a channel hands in; a WhatsApp channel hands in nothing itself (the host stores
/// what `handleWebhook` accepts), so it only has to exist.
final class NoIntake: InboundIntake {
    func receive(_ messages: [InboundMessage]) async throws {}
    func receiveStatuses(_ updates: [DeliveryStatusUpdate]) async throws {}
}

final class MemoryCursors: CursorStore {
    func cursor(_ name: String) async throws -> String? { nil }
    func setCursor(_ name: String, to value: String) async throws {}
}

/// One stored chat, for the template's `{client_name}`.
struct OneChatHistory: ConversationHistory {
    var chat: Chat?
    func chat(channelID: String, conversationKey: String) async throws -> Chat? { chat }
    func messages(chatID: String, limit: Int) async throws -> [StoredMessage] { [] }
    func messages(chatID: String, after afterID: Int64, limit: Int) async throws -> [StoredMessage] { [] }
    func markDelivered(chatID: String, messageIDs: [Int64], at: Date) async throws {}
}

let testChannelID = "riverside-whatsapp"
let testVerifyToken = "verify-me-0123"

func makeChannel(
    apiBase: String = "http://127.0.0.1:9/v25.0", window: WhatsAppChannel.Window = .init(), messagesPerSecond: Int = 1000,
    accessToken: String = FakeGraphAPI.defaultAccessToken, health: ComponentHealth? = nil, clientName: String? = nil,
    requestTimeout: Duration = .seconds(5)
) -> WhatsAppChannel {
    let history = OneChatHistory(
        chat: clientName.map {
            Chat(id: "c1", channelID: testChannelID, conversationKey: "16505551234", employeeID: "alexey", title: $0, clientName: $0, createdAt: Date())
        })
    let environment = ChannelEnvironment(
        channelID: testChannelID, employeeID: "alexey", httpClient: HTTPClient.shared,
        logger: Logger(label: "whatsapp-tests", factory: { _ in SwiftLogNoOpLogHandler() }), clock: ManualClock("2026-11-23T06:00:00Z"),
        intake: NoIntake(), cursors: MemoryCursors(), employeeName: "Alexey", history: history, health: health)
    return WhatsAppChannel(
        configuration: .init(
            phoneNumberID: FakeGraphAPI.defaultPhoneNumberID, accessToken: Secret(accessToken), appSecret: Secret(FakeGraphAPI.defaultAppSecret),
            verifyToken: Secret(testVerifyToken), apiBase: apiBase, window: window, messagesPerSecond: messagesPerSecond),
        environment: environment, requestTimeout: requestTimeout)
}

/// A POST as Meta sends it, signed with the fake's app secret unless told otherwise.
func signedPost(_ body: String, signature: String? = nil) -> WebhookRequest {
    let bytes = Array(body.utf8)
    let header = signature ?? "sha256=" + FakeGraphAPI.signature(of: bytes, secret: FakeGraphAPI.defaultAppSecret)
    return WebhookRequest(method: "POST", headers: ["X-Hub-Signature-256": header, "Content-Type": "application/json"], body: bytes)
}

extension WebhookResult {
    var accepted: (messages: [InboundMessage], statuses: [DeliveryStatusUpdate])? {
        if case .accept(let messages, let statuses, _) = self { return (messages, statuses) }
        return nil
    }

    var status: Int {
        switch self {
        case .accept(_, _, let response): response.status
        case .respond(let response): response.status
        }
    }
}

func outbound(_ text: String, to key: String = "16505551234", delivery: Delivery = .freeForm) -> OutboundMessage {
    OutboundMessage(chatID: "c1", channelID: testChannelID, conversationKey: key, text: text, delivery: delivery)
}
