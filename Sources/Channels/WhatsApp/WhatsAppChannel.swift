import Crypto
import Foundation
import Logging
public import SwitchboardChannelKit
public import SwitchboardCore

/// Registers the WhatsApp Cloud API adapter under `type: whatsapp`.
public let whatsAppChannelType = ChannelType(name: "whatsapp", configuration: WhatsAppChannel.Configuration.self) { configuration, environment in
    WhatsAppChannel(configuration: configuration, environment: environment)
}

/// One WhatsApp Business number (Cloud API) connected to one employee.
///
/// Inbound, Meta POSTs batches of messages and delivery statuses to `/webhooks/<channel-id>`,
/// signed with the App Secret; the channel verifies the signature over the raw bytes before it
/// parses anything, and answers the GET verification handshake. Outbound, it sends text (split
/// at 4096 characters) or the configured re-engagement template, paced under the number's
/// throughput, and classifies Graph's error codes for the outbox. It declares WhatsApp's 24-hour
/// window, so the follow-up planner never schedules free-form text the provider would refuse.
public struct WhatsAppChannel: Channel {
    public static let maxTextLength = 4096
    /// The customer service window: free-form messages only this long after the client's last.
    public static let window: Duration = .seconds(24 * 3600)
    /// A pulled-in reminder goes out at least this long before the window closes, so a slow
    /// composition or a retry still lands inside it.
    public static let pullInMargin: Duration = .seconds(5 * 60)

    public let id: String
    public let configuration: Configuration
    public var capabilities: ChannelCapabilities {
        ChannelCapabilities(
            maxTextLength: Self.maxTextLength, freeFormWindow: Self.window, pullIn: configuration.window.pullIn, pullInMargin: Self.pullInMargin,
            reengagementTemplate: configuration.window.template?.name)
    }

    let environment: ChannelEnvironment
    let api: GraphAPI
    let normalizer: WhatsAppNormalizer
    let pacer: Pacer
    let logger: Logger

    /// - Parameter requestTimeout: how long one Graph call may take, connecting included (the
    ///   HTTP client keeps retrying a refused connection until then).
    public init(configuration: Configuration, environment: ChannelEnvironment, requestTimeout: Duration = .seconds(30)) {
        self.id = environment.channelID
        self.configuration = configuration
        self.environment = environment
        var logger = environment.logger
        logger[metadataKey: "channel.id"] = "\(environment.channelID)"
        self.logger = logger
        self.api = GraphAPI(
            httpClient: environment.httpClient, apiBase: configuration.apiBase, phoneNumberID: configuration.phoneNumberID,
            accessToken: configuration.accessToken, timeout: requestTimeout)
        self.normalizer = WhatsAppNormalizer(channelID: environment.channelID, phoneNumberID: configuration.phoneNumberID)
        self.pacer = Pacer(messagesPerSecond: configuration.messagesPerSecond)
    }

    public var maxWebhookBodyBytes: Int? { configuration.maxBodyBytes }

    // MARK: - Inbound

    public func handleWebhook(_ request: WebhookRequest) async -> WebhookResult {
        guard request.path.isEmpty else { return .respond(.text(404, "a WhatsApp channel serves only /webhooks/\(id)")) }
        switch request.method {
        case "GET": return .respond(verificationAnswer(query: request.query))
        case "POST": return receive(request)
        default: return .respond(.text(405, "WhatsApp webhooks are GET (verification) and POST (events)"))
        }
    }

    /// Meta's GET when the callback URL is saved in the App Dashboard: echo `hub.challenge`
    /// exactly, and only to someone who knows the verify token.
    func verificationAnswer(query: [String: String]) -> WebhookResponse {
        guard query["hub.mode"] == "subscribe", let presented = query["hub.verify_token"],
            constantTimeEquals(Array(presented.utf8), Array(configuration.verifyToken.value.utf8)), let challenge = query["hub.challenge"],
            !challenge.isEmpty, challenge.utf8.count <= 256
        else {
            logger.notice("Refused a webhook verification: wrong hub.mode or hub.verify_token (compare verify_token with the App Dashboard)")
            return .text(403, "verification refused")
        }
        logger.info("Webhook verified by Meta")
        return WebhookResponse(status: 200, contentType: "text/plain", body: Array(challenge.utf8))
    }

    /// Signature over the raw bytes first, then decode, then normalize the whole batch into one
    /// `.accept`: the host stores every message and status before Meta gets its 200.
    func receive(_ request: WebhookRequest) -> WebhookResult {
        guard request.body.count <= configuration.maxBodyBytes else { return .respond(.text(413, "body larger than max_body_bytes")) }
        guard Self.signatureIsValid(request.header("x-hub-signature-256"), body: request.body, secret: configuration.appSecret) else {
            logger.notice("Rejected a webhook request without a valid X-Hub-Signature-256 (check app_secret)")
            return .respond(.text(401, "invalid signature"))
        }
        let payload: WebhookPayload
        do {
            payload = try WhatsAppJSON.decoder().decode(WebhookPayload.self, from: Data(request.body))
        } catch {
            logger.notice("Rejected a signed webhook body that is not a WhatsApp payload")
            return .respond(.text(400, "body is not a WhatsApp webhook payload"))
        }
        guard payload.object == nil || payload.object == "whatsapp_business_account" else {
            // Another product's events on the same app: acknowledged so Meta stops resending.
            return .accept([], statuses: [], response: .ok)
        }
        let result = normalizer.normalize(payload, now: environment.clock.now())
        if result.dropped > 0 {
            logger.warning("Ignored webhook items the adapter could not read", metadata: ["whatsapp.dropped": "\(result.dropped)"])
        }
        if result.otherNumbers > 0 {
            logger.info(
                "Ignored events for another phone number of the account (is phone_number_id right?)",
                metadata: ["whatsapp.other_numbers": "\(result.otherNumbers)"])
        }
        logger.debug("Webhook batch", metadata: ["whatsapp.messages": "\(result.messages.count)", "whatsapp.statuses": "\(result.statuses.count)"])
        return .accept(result.messages, statuses: result.statuses, response: .ok)
    }

    /// `sha256=<lowercase hex HMAC-SHA256(app secret, raw body)>`, compared in constant time.
    static func signatureIsValid(_ header: String?, body: [UInt8], secret: Secret) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "sha256=" else { return false }
        let presented = Array(header.dropFirst(7).lowercased().utf8)
        let expected = Array(signature(of: body, secret: secret).utf8)
        return constantTimeEquals(presented, expected)
    }

    static func signature(of body: [UInt8], secret: Secret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.value.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Outbound

    /// Free-form text (split at 4096 characters, each part its own message) or, for
    /// `.template(name)`, the configured template with its body parameters filled in.
    public func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        let digits = message.conversationKey.hasPrefix("+") ? String(message.conversationKey.dropFirst()) : message.conversationKey
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else {
            throw DeliveryError(.permanent, "conversation key is not a WhatsApp number (wa_id)")
        }
        // With the + and country code: without it Meta prepends the business number's own code.
        let to = "+" + digits
        let bodies: [SendRequest]
        switch message.delivery {
        case .freeForm:
            bodies = TextSplitter.split(message.text, limit: Self.maxTextLength).map {
                SendRequest(to: to, type: "text", text: .init(body: $0))
            }
        case .template(let name):
            bodies = [SendRequest(to: to, type: "template", template: await template(named: name, for: message))]
        }
        var ids: [String] = []
        for body in bodies {
            try await pacer.waitForSlot()
            do {
                ids.append(try await api.send(body))
            } catch let error as WhatsAppError {
                let failure = error.deliveryError(partsDelivered: ids.count, of: bodies.count)
                if error.isCredentialProblem {
                    environment.health?.fail("WhatsApp refused the access token (\(error.message)); update access_token in the channel file")
                    logger.error("WhatsApp refused the access token; messages wait until it is fixed", metadata: ["error.label": "\(error.label)"])
                } else {
                    logger.warning(
                        "WhatsApp did not take a message",
                        metadata: ["error.label": "\(error.label)", "delivery.kind": "\(failure.kind.rawValue)", "whatsapp.error": "\(error.message)"])
                }
                throw failure
            }
        }
        environment.health?.recover()
        logger.debug("Sent", metadata: ["whatsapp.parts": "\(ids.count)", "whatsapp.type": "\(bodies.first?.type ?? "")"])
        return DeliveryReceipt(providerMessageIDs: ids)
    }

    /// The template object for `name`: the configured language and parameters when `name` is
    /// the configured template. `{client_name}` is the client's WhatsApp profile name as stored.
    func template(named name: String, for message: OutboundMessage) async -> SendRequest.Template {
        let configured = configuration.window.template
        var parameters: [String] = []
        if let configured, configured.name == name, !configured.parameters.isEmpty {
            let chat = try? await environment.history?.chat(channelID: message.channelID, conversationKey: message.conversationKey)
            // Meta refuses an empty parameter (131008); a neutral word keeps the template valid.
            let client = chat?.clientName.flatMap { $0.isEmpty ? nil : $0 } ?? "there"
            let employee = environment.employeeName.flatMap { $0.isEmpty ? nil : $0 } ?? "our team"
            parameters = configured.bodyParameters(clientName: client, employeeName: employee)
        }
        return SendRequest.Template(
            name: name, language: .init(code: configured?.language ?? "en_US"),
            components: parameters.isEmpty ? nil : [.init(parameters: parameters.map { .init(text: $0) })])
    }
}
