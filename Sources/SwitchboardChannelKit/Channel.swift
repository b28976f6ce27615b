public import AsyncHTTPClient
public import Logging
public import SwitchboardCore

/// A connected messaging channel: a Telegram bot, a WhatsApp number, a widget, a mailbox.
/// It verifies and normalizes what the provider sends, and sends what the employee writes.
/// It knows nothing of follow-ups or storage: it hands messages to `ChannelEnvironment.intake`.
public protocol Channel: ChannelSender {
    /// The channel's `id` from its YAML file.
    var id: String { get }

    /// Handles a request to `/webhooks/<channel-id>`: verify the raw bytes first, then decode
    /// and normalize. Never throws: every outcome is an HTTP answer.
    func handleWebhook(_ request: WebhookRequest) async -> WebhookResult

    /// Checks what a webhook request carries in its headers (a secret-token header), before the
    /// host reads the body: a request refused here costs the gateway no body bytes. `nil` lets
    /// it through to `handleWebhook`, which must still verify everything itself.
    func screenWebhook(method: String, headers: [String: String]) -> WebhookResponse?

    /// Background work the channel needs (polling, registering its webhook), until cancelled.
    /// Channels with none return at once.
    func run() async throws

    /// The largest webhook body the host reads for this channel (its `max_body_bytes`); larger
    /// ones are answered 413 unread. `nil`: the gateway's `server.max_body_bytes`.
    var maxWebhookBodyBytes: Int? { get }

    /// The host could not store what `handleWebhook` accepted from `request` and answered 503:
    /// nothing of it was acknowledged. A channel that remembers requests (replay protection)
    /// forgets this one, so the provider's identical retry is taken.
    func webhookNotStored(_ request: WebhookRequest)
}

extension Channel {
    public func run() async throws {}

    public var maxWebhookBodyBytes: Int? { nil }

    public func webhookNotStored(_ request: WebhookRequest) {}

    /// Channels whose credentials are in the body (HMAC signatures) screen nothing.
    public func screenWebhook(method: String, headers: [String: String]) -> WebhookResponse? { nil }
}

/// What the host gives a channel when it creates it.
public struct ChannelEnvironment: Sendable {
    public var channelID: String
    public var employeeID: String
    public var httpClient: HTTPClient
    public var logger: Logger
    public var clock: any WallClock
    /// Where inbound messages go; returns once they are durably stored.
    public var intake: any InboundIntake
    /// Durable named values, e.g. a polling offset.
    public var cursors: any CursorStore
    /// The gateway's public base URL (`server.public_url`), for registering webhooks.
    public var publicURL: String?
    /// The employee's display name, for channels that show it to clients (the widget's header).
    public var employeeName: String?
    /// The channel's own conversations as stored, for channels whose clients fetch what they
    /// missed themselves (the widget replays on reconnect). `nil` where the host offers none.
    public var history: (any ConversationHistory)?
    /// What `/readyz` shows for this channel. A channel marks it failing when the provider
    /// refuses its credentials (a revoked access token) and recovers it on the next success;
    /// `nil` where the host reports none.
    public var health: ComponentHealth?
    /// State every gateway process sharing the store sees alike (a polling lease, rate limits);
    /// `nil` where the host runs one process only and offers none.
    public var shared: (any SharedStateStore)?
    /// The gateway's running channels by id, for a channel that hands a message on to another
    /// (the widget emails a reminder to an offline visitor through `email_fallback`). `nil`
    /// where the host offers none.
    public var channels: ChannelSenders?

    public init(
        channelID: String, employeeID: String, httpClient: HTTPClient, logger: Logger, clock: any WallClock, intake: any InboundIntake,
        cursors: any CursorStore, publicURL: String? = nil, employeeName: String? = nil, history: (any ConversationHistory)? = nil,
        health: ComponentHealth? = nil, shared: (any SharedStateStore)? = nil, channels: ChannelSenders? = nil
    ) {
        self.shared = shared
        self.channelID = channelID
        self.employeeID = employeeID
        self.httpClient = httpClient
        self.logger = logger
        self.clock = clock
        self.intake = intake
        self.cursors = cursors
        self.publicURL = publicURL
        self.employeeName = employeeName
        self.history = history
        self.health = health
        self.channels = channels
    }
}

/// A channel type as the YAML `type` names it: how to decode its settings and build it.
/// Register one line per type in `SwitchboardChannels` (the only target that imports channels).
public struct ChannelType: Sendable {
    public let name: String
    private let decode: @Sendable (any Decoder) throws -> any Sendable
    private let make: @Sendable (any Sendable, ChannelEnvironment) throws -> any Channel

    /// - Parameters:
    ///   - configuration: the channel's own settings; decoding must reject what it cannot use.
    ///     The shared keys `type`, `id` and `employee` are not passed to it.
    public init<Configuration: Decodable & Sendable>(
        name: String, configuration: Configuration.Type,
        make: @escaping @Sendable (Configuration, ChannelEnvironment) throws -> any Channel
    ) {
        self.name = name
        self.decode = { try Configuration(from: $0) }
        self.make = { settings, environment in
            // `decode` produced it, so the cast cannot fail.
            try make(settings as! Configuration, environment)
        }
    }

    /// Checks settings without starting anything (for `switchboard check`).
    public func validate(_ settings: any Decoder) throws { _ = try decode(settings) }

    public func makeChannel(settings: any Decoder, environment: ChannelEnvironment) throws -> any Channel {
        try make(try decode(settings), environment)
    }
}

/// The channel types a gateway can run, by YAML `type`. The host receives one and imports no
/// channel module itself: `SwitchboardChannels.ChannelRegistry.catalog` is the full list.
public struct ChannelCatalog: Sendable {
    public let types: [ChannelType]

    public init(_ types: [ChannelType]) { self.types = types }

    public static let empty = ChannelCatalog([])

    public func type(named name: String) -> ChannelType? { types.first { $0.name == name } }

    public var names: [String] { types.map(\.name) }

    /// Each type's settings check by name, as `ConfigLoader` takes them.
    public var validators: [String: @Sendable (any Decoder) throws -> Void] {
        Dictionary(types.map { type in (type.name, { @Sendable decoder in try type.validate(decoder) }) }, uniquingKeysWith: { a, _ in a })
    }
}
