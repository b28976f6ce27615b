import AsyncHTTPClient
import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import ServiceLifecycle
import Synchronization
public import SwitchboardChannelKit
import SwitchboardComposer
public import SwitchboardConfig
public import SwitchboardCore
public import SwitchboardScheduler
public import SwitchboardStorePostgres
import SwitchboardStoreSQLite

/// What the host can change about a gateway beyond its config — mostly for tests and demos.
public struct GatewayOptions: Sendable {
    /// Time source; default: real time, scaled by `time_scale`.
    public var clock: (any WallClock)?
    /// Overrides the composer the config describes.
    public var composer: (any Composer)?
    /// Overrides `server.listen`; port 0 picks a free port.
    public var host: String?
    public var port: Int?
    /// Called with the bound port once the server accepts connections.
    public var onServerRunning: @Sendable (Int) async -> Void
    public var logger: Logger
    /// Adjusts the scheduler's tunables (attempt limits, pool sizes) after the config's.
    public var tuneScheduler: @Sendable (inout Scheduler.Configuration) -> Void = { _ in }
    /// The channel types the gateway can run (`SwitchboardChannels.ChannelRegistry.catalog`).
    /// The server imports no channel module: a channel file whose type is not here is reported
    /// as an unknown type.
    public var channelTypes: ChannelCatalog

    public init(
        clock: (any WallClock)? = nil, composer: (any Composer)? = nil, host: String? = nil, port: Int? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }, logger: Logger = Logger(label: "switchboard"),
        channelTypes: ChannelCatalog = .empty
    ) {
        self.channelTypes = channelTypes
        self.clock = clock
        self.composer = composer
        self.host = host
        self.port = port
        self.onServerRunning = onServerRunning
        self.logger = logger
    }
}

/// The whole gateway, wired from its config: the one composition root that `switchboard serve`
/// and the tests both use.
///
/// Service order (start in order, stop in reverse): store (PostgreSQL's connection pool; SQLite
/// needs no service) → HTTP client → channels → scheduler → HTTP server — so on SIGTERM the
/// server stops accepting first, in-flight sends finish, and the store is closed last.
public final class Gateway: Sendable {
    public let config: GatewayConfig
    public let store: any Store
    /// The store's own service, when it has one (PostgreSQL's connection pool): first to start,
    /// last to stop.
    let storeService: (any Service)?
    public let clock: any WallClock
    /// The clock when `time_scale` is set: its origin is agreed through the store at start.
    let sharedClock: SharedOriginClock?
    public let roster: LiveRoster
    public let senders: ChannelSenders
    public let scheduler: Scheduler
    public let conversation: Conversation
    public let composer: any Composer
    /// Whether the composer can compose: `/readyz` reports it. Whoever sees a permanent composer
    /// failure (a refused API key, an unknown model) calls `fail(_:)`, the next success `recover()`.
    public let composerHealth = ComponentHealth()
    /// The admin token in force (rotated on reload), sessions, and the failed-attempt limiter.
    let adminAccess: AdminAccess
    /// Who a request comes from, honouring `X-Forwarded-For` only from `server.trusted_proxies`.
    let clientAddresses: ClientAddressResolver
    /// The configured composer, replaced on reload; `nil` when a test supplied its own.
    let reloadableComposer: ReloadableComposer?
    /// The running channels; replaced while running when channel files change.
    let channels: ChannelSupervisor
    let httpClient: HTTPClient
    let metrics: GatewayMetrics
    /// Open connections against `server.max_connections`, and the ones the server closed itself.
    let connectionEvents: ConnectionEvents
    let options: GatewayOptions
    let logger: Logger
    let reloadTrigger = ReloadTrigger()
    /// The configuration in force: the start's, then each reload's — what the console shows
    /// (employees' settings with the file and line of each value).
    private let liveConfig: Mutex<GatewayConfig>
    var currentConfig: GatewayConfig { liveConfig.withLock { $0 } }

    public init(config: GatewayConfig, options: GatewayOptions = GatewayOptions()) throws {
        self.config = config
        self.options = options
        self.liveConfig = Mutex(config)
        self.logger = options.logger
        // First, before anything that needs shutting down: the gateway may refuse to start here.
        let host = options.host ?? config.server.host
        let port = options.port ?? config.server.port
        let dataDirectory = (config.storage.sqlitePath as NSString).deletingLastPathComponent
        let signInURL = (config.server.publicURL ?? "http://\(host.contains(":") ? "[\(host)]" : host):\(port)") + "/signin"
        let adminToken = try AdminTokenPolicy.resolve(
            configured: config.admin.token, host: host, dataDirectory: dataDirectory, signInURL: signInURL, logger: options.logger)
        self.clientAddresses = ClientAddressResolver(trustedProxies: config.server.trustedProxies)

        // Scaled time runs from an origin kept in the store, so processes sharing it agree on
        // "now"; real time needs no agreement.
        let sharedClock = options.clock == nil && config.timeScale != 1 ? SharedOriginClock(scale: config.timeScale) : nil
        self.sharedClock = sharedClock
        let clock = options.clock ?? sharedClock ?? ScaledClock(scale: config.timeScale)
        self.clock = clock
        let metrics = GatewayMetrics()
        self.metrics = metrics
        self.connectionEvents = ConnectionEvents(maxConnections: config.server.maxConnections, logger: options.logger, metrics: metrics)
        let store: any Store
        let eventLogger = options.logger
        let observeDecisions: DecisionObserver = { chatID, decisions in
            metrics.decisions(decisions)
            eventLogger.followUpEvents(chatID: chatID, decisions)
        }
        if let url = config.storage.postgres {
            // Nothing is connected yet: the pool starts as the first service of `application()`,
            // and the schema is migrated then (or on first use), so `init` stays synchronous.
            let postgres = PostgresStore(configuration: Self.postgresConfiguration(url, config.storage), logger: options.logger, decisionObserver: observeDecisions)
            store = postgres
            storeService = postgres
        } else {
            store = try SQLiteStore(
                path: config.storage.sqlitePath, durability: config.storage.durableCommits ? .full : .normal,
                groupCommit: config.storage.groupCommit, decisionObserver: observeDecisions)
            storeService = nil
        }
        self.store = store
        // Sign-in sessions and failed attempts live in the store: every process sees them.
        self.adminAccess = AdminAccess(token: adminToken, shared: store)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        self.httpClient = httpClient
        let roster = LiveRoster(config.roster)
        self.roster = roster
        let senders = ChannelSenders()
        self.senders = senders

        var composer: any Composer
        if let override = options.composer {
            composer = override
            reloadableComposer = nil
        } else {
            let reloadable = ReloadableComposer(settings: config.composer, httpClient: httpClient, logger: options.logger)
            composer = reloadable
            reloadableComposer = reloadable
        }
        composer = MeteredComposer(base: composer, metrics: metrics)
        self.composer = composer

        var schedulerConfiguration = Scheduler.Configuration()
        schedulerConfiguration.historyLimit = config.conversation.historyLimit
        schedulerConfiguration.replyBudget = Self.replyBudget(config.conversation)
        schedulerConfiguration.compositionWorkers = config.workers.compositions
        schedulerConfiguration.deliveryWorkers = config.workers.deliveries
        schedulerConfiguration.lease = .seconds(config.workers.leaseSeconds)
        schedulerConfiguration.onLeaseLost = { metrics.leaseLost(work: $0.work.rawValue) }
        options.tuneScheduler(&schedulerConfiguration)
        let scheduler = Scheduler(
            store: store, composer: composer, senders: senders, roster: roster, clock: clock, logger: options.logger,
            configuration: schedulerConfiguration, composerHealth: composerHealth)
        self.scheduler = scheduler
        let conversation = Conversation(
            store: store, roster: roster, senders: senders, clock: clock, scheduler: scheduler, operatorPause: config.conversation.operatorPause,
            logger: options.logger, groupCommit: config.storage.groupCommit)
        self.conversation = conversation

        // A channel that cannot be built is reported and left out; the others keep working.
        let history = StoreConversationHistory(store)
        let publicURL = config.server.publicURL
        let logger = options.logger
        self.channels = ChannelSupervisor(
            configs: config.channels, catalog: options.channelTypes, senders: senders, metrics: metrics, logger: logger,
            factory: { [roster] channelConfig, type, health in
                var channelLogger = logger
                channelLogger[metadataKey: "channel.id"] = "\(channelConfig.id)"
                let environment = ChannelEnvironment(
                    channelID: channelConfig.id, employeeID: channelConfig.employeeID, httpClient: httpClient, logger: channelLogger, clock: clock,
                    intake: conversation, cursors: store, publicURL: publicURL,
                    employeeName: roster.roster.employees[channelConfig.employeeID]?.name, history: history, health: health, shared: store,
                    channels: senders)
                return try type.makeChannel(settings: channelConfig.settingsDecoder(), environment: environment)
            })
    }

    /// The HTTP application with every service attached, ready to `runService()`.
    public func application() -> some ApplicationProtocol {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: LogRequestsMiddleware(.debug))
        // One collection per area; each is built from the gateway it serves.
        router.addRoutes(HealthRoutes<GatewayRequestContext>(gateway: self).collection)
        router.addRoutes(WebhookRoutes<GatewayRequestContext>(gateway: self).collection)
        router.addRoutes(AdminAPIRoutes<GatewayRequestContext>(gateway: self).collection, atPath: "/api")
        router.addRoutes(PageRoutes<GatewayRequestContext>(gateway: self).collection)
        router.addRoutes(WidgetRoutes<GatewayRequestContext>(gateway: self).collection)
        let logger = self.logger
        var services: [any Service] = storeService.map { [$0] } ?? []
        services += [HTTPClientService(client: httpClient), channels] as [any Service]
        if let sharedClock {
            services.append(ClockAgreement(clock: sharedClock, shared: store, scheduler: scheduler, logger: logger))
        } else {
            services.append(scheduler)
        }
        services.append(
            ConfigWatcher(
                configPath: config.configPath, channelValidators: options.channelTypes.validators, initialPlanning: .init(config),
                conversation: conversation, logger: logger,
                trigger: reloadTrigger,
                onReload: { [self] reloaded in
                    await self.applyReloaded(reloaded)
                }))
        let onServerRunning = options.onServerRunning
        return Application(
            router: router,
            server: guardedServer(),
            configuration: .init(address: .hostname(options.host ?? config.server.host, port: options.port ?? config.server.port), serverName: "switchboard"),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("gateway listening", metadata: ["server.port": "\(port)"])
                await onServerRunning(port)
            },
            logger: logger)
    }

    func channel(id: String) -> (any Channel)? { channels.channel(id: id) }

    /// Plain HTTP/1.1 plus WebSocket upgrades for the widget (only `/widget/<id>/ws` upgrades),
    /// behind the server-wide limits: header, body and idle timeouts, `max_connections`, the
    /// largest request head, and `400` for malformed framing (see `ConnectionGuard.swift`).
    func guardedServer() -> HTTPServerBuilder {
        let server = config.server
        let limits = ConnectionLimits(
            headerTimeout: server.headerTimeout, bodyTimeout: server.bodyTimeout, idleTimeout: server.idleTimeout,
            maxConnections: server.maxConnections, maxHeaderBytes: server.maxHeaderBytes)
        let events = connectionEvents
        let socketResponder = widgetSocketRouter().buildResponder()
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes, maxHeaderFieldCount: 200)
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(httpDecoderConfiguration: decoder), ws: browserSocketConfiguration)
        return HTTPServerBuilder { responder in
            GuardedChildChannel(
                base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: socketResponder, configuration: configuration),
                limits: limits, events: events)
        }
    }

    /// Reloads the config now, as SIGHUP does (`switchboard serve` wires the signal here).
    public func reloadNow() { reloadTrigger.fire() }

    /// Applies what a reloaded config changes besides employees: the channels (started,
    /// restarted, stopped), the admin token (old sessions end with it) and the composer (a new
    /// key, model or server). A weak admin token that the
    /// listening address forbids is refused and the old one stays in force.
    func applyReloaded(_ reloaded: GatewayConfig) async {
        liveConfig.withLock { $0 = reloaded }
        let changes = await channels.apply(reloaded.channels)
        if !changes.isEmpty {
            logger.notice("channels applied", metadata: [
                "channels.started": "\(changes.started)", "channels.restarted": "\(changes.restarted)", "channels.stopped": "\(changes.stopped)",
            ])
            scheduler.nudge()
        }
        let host = options.host ?? config.server.host
        let dataDirectory = (config.storage.sqlitePath as NSString).deletingLastPathComponent
        do {
            let token = try AdminTokenPolicy.resolve(
                configured: reloaded.admin.token, host: host, dataDirectory: dataDirectory, signInURL: "/signin", logger: logger)
            if adminAccess.rotate(to: token) { logger.notice("admin token changed: the old one and its sessions no longer work") }
        } catch {
            logger.error("admin token not changed: \(error)")
        }
        if let reloadableComposer, reloadableComposer.apply(reloaded.composer) {
            logger.notice("composer settings changed: the next message uses them", metadata: ["composer.model": "\(reloaded.composer.model)"])
        }
        let budget = Self.replyBudget(reloaded.conversation)
        if scheduler.replyBudget != budget {
            scheduler.updateReplyBudget(budget)
            logger.notice("reply token budget changed: the next reply uses it", metadata: ["budget.tokens": "\(budget?.dailyTokens.description ?? "unlimited")"])
        }
    }

    /// `storage.postgres` as the PostgreSQL store takes it, with the pool size and statement
    /// timeout of `storage`.
    public static func postgresConfiguration(_ url: PostgresURL, _ storage: GatewayConfig.Storage) -> PostgresStore.Configuration {
        let tls: PostgresStore.Configuration.TLSMode =
            switch url.sslMode {
            case .disable: .disable
            case .allow, .prefer: .prefer
            case .require: .require
            case .verifyCA: .verifyCA
            case .verifyFull: .verifyFull
            }
        return PostgresStore.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password?.value, database: url.database, tls: tls,
            maximumConnections: storage.poolSize, statementTimeout: storage.statementTimeout)
    }

    /// `conversation.daily_token_budget` and `budget_reply` as the scheduler takes them.
    static func replyBudget(_ conversation: GatewayConfig.Conversation) -> Scheduler.ReplyBudget? {
        conversation.dailyTokenBudget.map { Scheduler.ReplyBudget(dailyTokens: $0, fallbackText: conversation.budgetReply) }
    }
}

/// Shuts the shared HTTP client down after everything that uses it has stopped.
struct HTTPClientService: Service, CustomStringConvertible {
    let client: HTTPClient
    var description: String { "HTTPClientService" }

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
