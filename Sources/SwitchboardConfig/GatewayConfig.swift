public import SwitchboardCore

/// Everything `config.yaml` and `channels/*.yaml` say, typed and validated.
public struct GatewayConfig: Sendable {
    public var server: Server
    public var storage: Storage
    public var admin: Admin
    public var composer: ComposerSettings
    public var conversation: Conversation
    public var workers = Workers()
    /// Simulated time runs this many times faster than real time (demos, black-box tests).
    public var timeScale: Double
    public var employees: [Employee]
    public var channels: [ChannelConfig]
    /// The config file, and the folder relative paths are resolved against.
    public var configPath: String
    public var baseDirectory: String
    /// Where every value was written (file and line), for the admin console.
    public var sources = ConfigSources()

    /// `server:` — where the gateway listens.
    public struct Server: Sendable, Hashable {
        /// `listen`, default `127.0.0.1:8080`.
        public var host = "127.0.0.1"
        public var port = 8080
        /// `public_url`: the address providers reach the gateway at, for registering webhooks.
        public var publicURL: String?
        /// `max_body_bytes`: larger webhook bodies are refused with 413. Default 1 MiB.
        public var maxBodyBytes = 1 << 20
        /// `trusted_proxies`: IP addresses of reverse proxies in front of the gateway. Only a
        /// request from one of them has its `X-Forwarded-For` believed (for the per-client limits
        /// on admin sign-in and the admin API); from anyone else the header is ignored. Default: none.
        public var trustedProxies: [String] = []
        /// `metrics_token`: when set, `/metrics` needs `Authorization: Bearer <metrics_token>`.
        /// Default: none, `/metrics` is open (bind to loopback or filter it at the proxy).
        public var metricsToken: Secret?
        /// `header_timeout`: a new connection that has not sent a whole request head (request line
        /// and headers) this long after connecting gets `408` and is closed. Default 10 s.
        public var headerTimeout: Duration = .seconds(10)
        /// `body_timeout`: a request whose body has not fully arrived this long after its head gets
        /// `408` and is closed — a total, not per read, so a trickled body cannot hold a connection. Default 30 s.
        public var bodyTimeout: Duration = .seconds(30)
        /// `idle_timeout`: a kept-alive connection with no new request this long after the last
        /// response is closed. Default 60 s.
        public var idleTimeout: Duration = .seconds(60)
        /// `max_connections`: open connections (widget WebSockets included) beyond which a new
        /// connection is answered `503` and closed, with one warning a minute in the log. Default 1000.
        public var maxConnections = 1000
        /// `max_header_bytes`: the largest request head (request line and headers); a larger one
        /// gets `400` and a closed connection. Default 32 KiB.
        public var maxHeaderBytes = 32 * 1024
    }

    /// `storage:` — embedded SQLite by default, or PostgreSQL for several processes.
    public struct Storage: Sendable, Hashable {
        /// `sqlite`: the database file, relative to the config's folder. Default `data/switchboard.sqlite`.
        /// Without `postgres` the store; with it, only where the generated admin token is kept.
        public var sqlitePath: String
        /// `postgres`: a PostgreSQL URL (`postgres://user:pass@host:5432/db`, `sslmode` honoured).
        /// When set, the gateway stores everything there instead of in SQLite; `sqlite` may not
        /// be set with it.
        public var postgres: PostgresURL?
        /// `durability`: `full` (default) — every commit reaches the disk before the provider is
        /// acknowledged; `normal` — commits survive a process crash, not a power cut, and are faster.
        public var durableCommits = true
        /// `group_commit`: writes from concurrent requests and workers share transactions (one
        /// disk sync per batch). `false` gives each its own transaction — only for comparing
        /// (bench/ingest.sh, the drain benchmark). Default `true`.
        public var groupCommit = true
        /// `pool_size` (PostgreSQL only): connections each process keeps at most. The server's
        /// `max_connections` must cover every process's pool. Default 20.
        public var poolSize = 20
        /// `statement_timeout` (PostgreSQL only): the longest a statement may run, and the
        /// longest a store call waits for a connection — a webhook arriving while the database
        /// is down is answered `503` after this. Default 10 s.
        public var statementTimeout: Duration = .seconds(10)

        public init(sqlitePath: String) { self.sqlitePath = sqlitePath }
    }

    /// `admin:` — access to the admin API and the Follow-ups page.
    public struct Admin: Sendable, Hashable {
        /// `token`: the bearer token for `/api` and the sign-in form. Without one the gateway
        /// generates a random token on first start and keeps it in `admin-token` beside the SQLite
        /// file. Shorter than 16 characters or a placeholder such as `change-me-admin-token`: the
        /// gateway refuses to start unless it listens on loopback only. A change applies on reload.
        public var token: Secret?
    }

    /// `composer:` — who writes the employee's messages.
    public struct ComposerSettings: Sendable, Hashable {
        /// `base_url` of an OpenAI-compatible API including the version path
        /// (`https://api.openai.com/v1`, `http://localhost:11434/v1`); absent: the offline composer.
        public var baseURL: String?
        public var apiKey: Secret?
        public var model = "gpt-4o-mini"
        public var temperature = 0.3
        public var maxTokens = 300
        /// `max_tokens_field`: `max_tokens` (default) or `max_completion_tokens` for newer OpenAI models.
        public var maxTokensField = "max_tokens"
        /// `timeout` in seconds, default 30.
        public var timeoutSeconds = 30
    }

    /// `conversation:` — how the employee behaves in a chat.
    public struct Conversation: Sendable, Hashable {
        /// `operator_pause`: after an operator writes, the AI stays quiet this long. Default 15 minutes.
        public var operatorPause: Duration = .seconds(15 * 60)
        /// `history`: messages of history a composer sees. Default 20.
        public var historyLimit = 20
        /// `daily_token_budget`: tokens the AI replies to clients may spend per employee per local
        /// day (the employee's time zone), counting every composition of `purpose: reply`.
        /// `nil` (the default): unlimited. Once spent, a client gets `budgetReply` instead of an
        /// AI reply until the day ends.
        public var dailyTokenBudget: Int?
        /// `budget_reply`: what a client gets instead of an AI reply once `daily_token_budget` is
        /// spent. Not composed, so it costs nothing.
        public var budgetReply = Conversation.defaultBudgetReply

        public static let defaultBudgetReply = "Thank you for your message! We have received it and will get back to you as soon as we can."
    }

    /// `workers:` — how much the scheduler does at once.
    public struct Workers: Sendable, Hashable {
        /// `compositions`: AI replies composed at once; reminders have a pool of the same size. Default 4.
        public var compositions = 4
        /// `deliveries`: messages handed to channels at once (each channel's send-rate cap applies on top). Default 8.
        public var deliveries = 8
        /// `lease_seconds`: how long, in real time, a process holds a reminder, reply or delivery
        /// it claimed. After a crash its work waits this long before another process takes it
        /// over; work that takes longer than this may be taken over while under way (its late
        /// result is then refused). Default 120.
        public var leaseSeconds = 120
    }

    /// The roster the core works with.
    public var roster: Roster {
        Roster(employees: employees, channelOwners: Dictionary(channels.map { ($0.id, $0.employeeID) }, uniquingKeysWith: { a, _ in a }))
    }
}

/// One `channels/*.yaml` file: the shared keys, and the adapter's own settings still undecoded.
public struct ChannelConfig: Sendable {
    public var type: String
    public var id: String
    public var employeeID: String
    /// `enabled: false` keeps a channel configured and validated but not started.
    public var enabled: Bool
    public var file: String
    let settings: ConfigNode

    /// A decoder over the adapter's own keys (everything but `type`, `id`, `employee`).
    public func settingsDecoder() -> any Decoder { NodeDecoder(node: settings) }

    /// Equal for two files that configure the same channel the same way (layout and comments
    /// aside): a reload restarts a channel only when this changes.
    public var fingerprint: String { [type, id, employeeID, String(enabled), settings.fingerprint].joined(separator: "\u{1}") }
}


// Every type here that carries a secret describes itself redacted: a config is logged by
// libraries that describe whatever they hold (service-lifecycle names services by description).

extension GatewayConfig: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        [
            "server": server, "storage": storage, "admin": admin, "composer": composer, "conversation": conversation, "workers": workers,
            "timeScale": timeScale, "employees": employees.map(\.id), "channels": channels, "configPath": configPath,
        ]
    }
}

extension GatewayConfig.Server: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        [
            "host": host, "port": port, "publicURL": publicURL as Any, "maxBodyBytes": maxBodyBytes, "trustedProxies": trustedProxies,
            "metricsToken": metricsToken as Any, "headerTimeout": headerTimeout, "bodyTimeout": bodyTimeout, "idleTimeout": idleTimeout,
            "maxConnections": maxConnections, "maxHeaderBytes": maxHeaderBytes,
        ]
    }
}

extension GatewayConfig.Storage: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        ["sqlitePath": sqlitePath, "postgres": postgres as Any, "durableCommits": durableCommits, "groupCommit": groupCommit,
         "poolSize": poolSize, "statementTimeout": statementTimeout]
    }
}

extension GatewayConfig.Admin: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> { ["token": token as Any] }
}

extension GatewayConfig.ComposerSettings: RedactedDescription {
    public var redactedFields: KeyValuePairs<String, Any> {
        [
            "baseURL": baseURL as Any, "apiKey": apiKey as Any, "model": model, "temperature": temperature, "maxTokens": maxTokens,
            "maxTokensField": maxTokensField, "timeoutSeconds": timeoutSeconds,
        ]
    }
}

extension ChannelConfig: RedactedDescription {
    /// The adapter's own settings are not shown: which of them are secrets only the adapter knows.
    public var redactedFields: KeyValuePairs<String, Any> {
        ["type": type, "id": id, "employeeID": employeeID, "enabled": enabled, "file": file, "settings": "<redacted>"]
    }
}
