import Foundation
import Logging
public import SwitchboardChannelKit
public import SwitchboardCore

/// Registers the Telegram adapter under `type: telegram`: one line in the gateway's channel list.
public let telegramChannelType = ChannelType(name: "telegram", configuration: TelegramChannel.Configuration.self) { configuration, environment in
    TelegramChannel(configuration: configuration, environment: environment)
}

/// A Telegram bot connected to one employee.
///
/// Inbound, it takes updates from its webhook (verified by the secret-token header) or by
/// long-polling `getUpdates`, and normalizes each into one `InboundMessage`. Outbound, it sends
/// plain-text `sendMessage` calls, splitting replies longer than Telegram's 4096 characters,
/// and classifies refusals as `DeliveryError`s.
public struct TelegramChannel: Channel {
    /// Telegram's longest message text.
    public static let maxTextLength = 4096

    public let id: String
    public let configuration: Configuration
    /// Telegram's broadcast limits (protocols.md §1.6): about 30 messages a second per bot, and
    /// no more than one a second to one chat. Evenly spaced a little under the cap, with no
    /// burst: Telegram counts any one-second window, and a burst on top of the rate would be
    /// refused (bench/README.md, Pacing).
    public var capabilities: ChannelCapabilities {
        ChannelCapabilities(maxTextLength: Self.maxTextLength, pace: OutboundPace(perSecond: 29.5, burst: 1, perConversation: .seconds(1)))
    }

    let environment: ChannelEnvironment
    let api: TelegramAPI
    let normalizer: TelegramNormalizer
    let logger: Logger

    public init(configuration: Configuration, environment: ChannelEnvironment) {
        self.id = environment.channelID
        self.configuration = configuration
        self.environment = environment
        var logger = environment.logger
        logger[metadataKey: "channel.id"] = "\(environment.channelID)"
        self.logger = logger
        self.api = TelegramAPI(
            httpClient: environment.httpClient, apiBase: configuration.apiBase, token: configuration.token, logger: logger)
        self.normalizer = TelegramNormalizer(channelID: environment.channelID)
    }

    var requestTimeout: Duration { .seconds(configuration.requestTimeout) }

    // MARK: - Inbound: webhook

    /// The method and `X-Telegram-Bot-Api-Secret-Token` (against `webhook_secret`, in constant
    /// time): all a Telegram webhook can be refused for before its body is read.
    public func screenWebhook(method: String, headers: [String: String]) -> WebhookResponse? {
        guard method.uppercased() == "POST" else { return .text(405, "Telegram webhooks are POST requests") }
        let presented = headers.first { $0.key.lowercased() == "x-telegram-bot-api-secret-token" }?.value
        guard let expected = configuration.webhookSecret, let presented, constantTimeEquals(presented.utf8, expected.value.utf8) else {
            // The presented value is not logged: it may be a near-miss of the real secret.
            logger.notice("Rejected a webhook request without the right secret token")
            return .text(401, "unauthorized")
        }
        return nil
    }

    public var maxWebhookBodyBytes: Int? { configuration.maxBodyBytes }

    /// Verifies `X-Telegram-Bot-Api-Secret-Token` against `webhook_secret` before reading a
    /// byte of the body, then decodes one Update and normalizes it. Ignored update types are
    /// still accepted (200), so Telegram does not redeliver them.
    public func handleWebhook(_ request: WebhookRequest) async -> WebhookResult {
        guard request.path.isEmpty else { return .respond(.text(404, "a Telegram channel serves only /webhooks/\(id)")) }
        if let refusal = screenWebhook(method: request.method, headers: request.headers) { return .respond(refusal) }
        guard request.body.count <= configuration.maxBodyBytes else {
            return .respond(.text(413, "body larger than max_body_bytes"))
        }
        let update: Update
        do {
            update = try TelegramJSON.decoder().decode(Update.self, from: Data(request.body))
        } catch {
            logger.notice("Rejected a webhook body that is not a Telegram update", metadata: ["error": "\(Self.decodingSummary(error))"])
            return .respond(.text(400, "body is not a Telegram Update"))
        }
        let message = normalizer.normalize(update, receivedAt: environment.clock.now())
        logger.debug(
            "Webhook update", metadata: ["telegram.update_id": "\(update.updateId)", "telegram.ignored": "\(message == nil)"])
        return .accept(message.map { [$0] } ?? [], response: Self.webhookAnswer(for: update))
    }

    /// 200, and for a button press the `answerCallbackQuery` call in the response body: Telegram
    /// runs it, which stops the spinner on the client's button without another request.
    static func webhookAnswer(for update: Update) -> WebhookResponse {
        guard let query = update.callbackQuery else { return .ok }
        let call = ["method": "answerCallbackQuery", "callback_query_id": query.id]
        guard let body = try? TelegramJSON.encoder().encode(call) else { return .ok }
        return WebhookResponse(status: 200, contentType: "application/json", body: Array(body))
    }

    /// Where decoding failed, without the payload (it is a client's message).
    private static func decodingSummary(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not JSON" }
        switch error {
        case .dataCorrupted(let context): return "data corrupted at \(path(context.codingPath))"
        case .keyNotFound(let key, let context): return "missing \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "wrong type at \(path(context.codingPath))"
        @unknown default: return "undecodable"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "top level" : keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    // MARK: - Background work

    /// Polling mode: long-polls `getUpdates` until cancelled. Webhook mode: registers the
    /// webhook when a public URL is known, then returns.
    public func run() async throws {
        switch configuration.mode {
        case .webhook: await registerWebhook()
        case .polling: try await poll()
        }
    }

    /// Calls `setWebhook` for `<public_url>/webhooks/<channel-id>`. A failure is logged, not
    /// thrown: Telegram keeps the previous registration, and an operator can fix it by hand.
    func registerWebhook() async {
        guard let base = configuration.publicURL ?? environment.publicURL.map(Self.withoutTrailingSlash) else {
            logger.info("No public_url: register the webhook with setWebhook yourself (see the Telegram channel README)")
            return
        }
        let url = "\(base)/webhooks/\(id)"
        guard let secret = configuration.webhookSecret else { return }
        do {
            let _: Bool = try await api.call(
                "setWebhook", SetWebhookParameters(url: url, secretToken: secret.value, allowedUpdates: subscribedUpdateTypes),
                timeout: requestTimeout)
            logger.info("Registered the Telegram webhook", metadata: ["telegram.webhook_url": "\(url)"])
        } catch {
            logger.error(
                "Could not register the Telegram webhook; updates will not arrive until it is set",
                metadata: ["telegram.webhook_url": "\(url)", "error": "\(api.redacted(String(describing: error)))"])
        }
    }

    private static func withoutTrailingSlash(_ text: String) -> String {
        var text = Substring(text)
        while text.hasSuffix("/") { text = text.dropLast() }
        return String(text)
    }

    // MARK: - Outbound

    /// Sends the text with `sendMessage` as plain text (no `parse_mode`, so whatever the employee
    /// wrote arrives verbatim). A text over 4096 characters goes out as several messages in
    /// order; the receipt lists all their ids.
    ///
    /// If a later part fails, the error says how many parts were already delivered; repeating
    /// the whole message then repeats those parts.
    public func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        guard let chatID = ChatID(conversationKey: message.conversationKey) else {
            throw DeliveryError(.permanent, "conversation key is not a Telegram chat id")
        }
        let parts = TextSplitter.split(message.text, limit: Self.maxTextLength)
        var ids: [String] = []
        for part in parts {
            do {
                let sent = try await api.call(
                    "sendMessage", SendMessageParameters(chatId: chatID, text: part), as: SentMessage.self, timeout: requestTimeout)
                ids.append(String(sent.messageId))
            } catch let error as TelegramError {
                let failure = Self.deliveryError(error, delivered: ids.count, of: parts.count)
                logger.warning(
                    "Telegram did not take a message",
                    metadata: [
                        "chat.id": "\(message.conversationKey)", "error.label": "\(error.label)", "delivery.kind": "\(failure.kind.rawValue)",
                    ])
                throw failure
            }
        }
        logger.debug("Sent", metadata: ["chat.id": "\(message.conversationKey)", "telegram.parts": "\(parts.count)"])
        return DeliveryReceipt(providerMessageIDs: ids)
    }

    /// Classifies a refusal for the outbox (protocols §1.1's error catalogue).
    static func deliveryError(_ error: TelegramError, delivered: Int, of total: Int) -> DeliveryError {
        var message = error.message
        if delivered > 0 { message += " (after \(delivered) of \(total) parts were delivered)" }
        if error.isTransient { return DeliveryError(.retryable, message, retryAfter: error.retryAfter) }
        switch error.status {
        case 403?:
            // Blocked, deactivated, kicked, or never started: nothing will get through.
            return DeliveryError(.unreachable, message)
        case 400? where error.migrateToChatID != nil:
            return DeliveryError(.permanent, message + "; the group is now supergroup \(error.migrateToChatID ?? 0)")
        default:
            return DeliveryError(.permanent, message)
        }
    }
}
