public import Foundation
import SwitchboardCore

/// Loads `config.yaml` and the channel files beside it, validating everything and reporting
/// every problem at once.
public struct ConfigLoader: Sendable {
    /// Channel `type` name → a check of the adapter's own settings. Supplied by the channel
    /// registry, so adding a channel type never touches the loader.
    public typealias ChannelValidators = [String: @Sendable (any Decoder) throws -> Void]

    public var channelValidators: ChannelValidators
    public var environment: [String: String]

    public init(channelValidators: ChannelValidators, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.channelValidators = channelValidators
        self.environment = environment
    }

    /// Reads `configPath` and `channels/*.yaml` in its folder.
    public func load(configPath: String) throws(ConfigError) -> GatewayConfig {
        let sink = DiagnosticSink()
        let url = URL(fileURLWithPath: configPath)
        let base = url.deletingLastPathComponent().path
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw ConfigError([ConfigDiagnostic(file: configPath, line: 1, column: 1, message: "cannot read the config file (does it exist?)")])
        }
        let channelsDir = url.deletingLastPathComponent().appendingPathComponent("channels")
        let channelFiles = ((try? FileManager.default.contentsOfDirectory(atPath: channelsDir.path)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
            .map { (display: relative(channelsDir.appendingPathComponent($0).path, to: configPath), path: channelsDir.appendingPathComponent($0).path) }
        var channelTexts: [(String, String)] = []
        for file in channelFiles {
            guard let content = try? String(contentsOfFile: file.path, encoding: .utf8) else {
                sink.report("cannot read the channel file", file: file.display, mark: .init(line: 1, column: 1))
                continue
            }
            channelTexts.append((file.display, content))
        }
        return try parse(config: text, file: configPath, channels: channelTexts, baseDirectory: base, sink: sink)
    }

    /// Validates YAML texts directly; `channels` pairs a display path with its text.
    public func parse(config text: String, file: String, channels: [(String, String)], baseDirectory: String) throws(ConfigError) -> GatewayConfig {
        try parse(config: text, file: file, channels: channels, baseDirectory: baseDirectory, sink: DiagnosticSink())
    }

    private func parse(config text: String, file: String, channels: [(String, String)], baseDirectory: String, sink: DiagnosticSink) throws(ConfigError)
        -> GatewayConfig
    {
        var config = GatewayConfig(
            server: .init(), storage: .init(sqlitePath: (baseDirectory as NSString).appendingPathComponent("data/switchboard.sqlite")),
            admin: .init(), composer: .init(), conversation: .init(), timeScale: 1, employees: [], channels: [],
            configPath: file, baseDirectory: baseDirectory)
        guard let root = ConfigNode.parse(yaml: text, file: file, environment: environment, sink: sink) else {
            // Reported first and alone: without the employees, every channel file would add an
            // "employee … does not exist" that only hides the real mistake.
            throw ConfigError(sink.diagnostics)
        }
        config.sources.record(root, under: "", baseDirectory: baseDirectory)
        if let top = MappingReader(root, context: "the config file", sink: sink) {
            readServer(top, into: &config, sink: sink)
            config.employees = EmployeeReader(sink: sink).readEmployees(top)
            top.finish()
        }
        var seenChannelIDs: [String: String] = [:]
        let employeeIDs = Set(config.employees.map(\.id))
        let roots = channels.compactMap { file, text in ConfigNode.parse(yaml: text, file: file, environment: environment, sink: sink) }
        // Every channel's id and type first, so a setting naming another channel can be checked.
        var types: [String: String] = [:]
        for root in roots {
            guard case .mapping(let entries) = root.value, let id = entries.first(where: { $0.key == "id" })?.value.scalar,
                let type = entries.first(where: { $0.key == "type" })?.value.scalar, types[id] == nil
            else { continue }
            types[id] = type
        }
        let configured = ConfiguredChannels(types: types)
        for root in roots {
            if let channel = readChannel(root, employeeIDs: employeeIDs, configured: configured, seen: &seenChannelIDs, sink: sink) {
                config.sources.record(root, under: "channels." + channel.id, baseDirectory: baseDirectory)
                config.channels.append(channel)
            }
        }
        if !sink.diagnostics.isEmpty { throw ConfigError(sink.diagnostics) }
        return config
    }

    private func readServer(_ top: MappingReader, into config: inout GatewayConfig, sink: DiagnosticSink) {
        if let server = top.mapping("server") {
            if let listen = server.string("listen") {
                let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
                if parts.count >= 2, let port = Int(parts.last!), (0...65535).contains(port) {
                    config.server.host = parts.dropLast().joined(separator: ":")
                    config.server.port = port
                } else if let node = server.value("listen") {
                    server.report("'listen' must be HOST:PORT, e.g. 127.0.0.1:8080", at: node)
                }
            }
            if let url = server.string("public_url") {
                if let node = server.value("public_url"), URL(string: url)?.scheme?.hasPrefix("http") != true {
                    server.report("'public_url' must be an http(s) URL", at: node)
                }
                config.server.publicURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            }
            if let bytes = server.int("max_body_bytes", range: 1024...(64 << 20)) { config.server.maxBodyBytes = bytes }
            if let node = server.value("trusted_proxies") {
                if case .sequence(let items) = node.value {
                    for item in items {
                        if let address = item.scalar?.trimmingCharacters(in: .whitespaces), isIPAddress(address) {
                            config.server.trustedProxies.append(address)
                        } else {
                            server.report("'trusted_proxies' entries must be IP addresses such as 10.0.0.5 or ::1", at: item)
                        }
                    }
                } else {
                    server.report("'trusted_proxies' must be a list of IP addresses, e.g. [10.0.0.5]", at: node)
                }
            }
            if let token = server.string("metrics_token"), !token.isEmpty {
                if token.count < 16, let node = server.value("metrics_token") {
                    server.report("'metrics_token' must be at least 16 characters", at: node)
                }
                config.server.metricsToken = Secret(token)
            }
            for (key, path) in [("header_timeout", \GatewayConfig.Server.headerTimeout), ("body_timeout", \.bodyTimeout), ("idle_timeout", \.idleTimeout)] {
                guard let node = server.value(key) else { continue }
                if let duration = DurationText.parse(node), duration >= .seconds(1), duration <= .seconds(3600) {
                    config.server[keyPath: path] = duration
                } else {
                    server.report("'\(key)' must be a duration from 1s to 1h, such as 10s or 1m", at: node)
                }
            }
            if let count = server.int("max_connections", range: 1...1_000_000) { config.server.maxConnections = count }
            if let bytes = server.int("max_header_bytes", range: 1024...(1 << 20)) { config.server.maxHeaderBytes = bytes }
            server.finish()
        }
        if let storage = top.mapping("storage") {
            let sqlite = storage.string("sqlite", required: false)
            if let path = sqlite {
                config.storage.sqlitePath = path.hasPrefix("/") ? path : (config.baseDirectory as NSString).appendingPathComponent(path)
            }
            if let url = storage.string("postgres", required: false), let node = storage.value("postgres") {
                if sqlite != nil {
                    storage.report("'sqlite' and 'postgres' are alternatives: keep the one the gateway should store in", at: node)
                } else {
                    do throws(PostgresURLError) {
                        config.storage.postgres = try PostgresURL.parse(url)
                    } catch {
                        storage.report(error.description, at: node)
                    }
                }
            }
            switch storage.string("durability") {
            case nil, "full"?: break
            case "normal"?: config.storage.durableCommits = false
            case let other?:
                if let node = storage.value("durability") { storage.report("'durability' must be full or normal, not '\(other)'", at: node) }
            }
            if let batched = storage.bool("group_commit") { config.storage.groupCommit = batched }
            if let size = storage.int("pool_size", range: 1...1000) { config.storage.poolSize = size }
            if let node = storage.value("statement_timeout") {
                if let timeout = DurationText.parse(node), timeout >= .seconds(1), timeout <= .seconds(3600) {
                    config.storage.statementTimeout = timeout
                } else {
                    storage.report("'statement_timeout' must be a duration from 1s to 1h, such as 5s or 30s", at: node)
                }
            }
            if storage.value("postgres") == nil {
                for key in ["pool_size", "statement_timeout"] {
                    if let node = storage.value(key) { storage.report("'\(key)' applies to storage.postgres only: SQLite has no pool or server", at: node) }
                }
            }
            storage.finish()
        }
        if let admin = top.mapping("admin") {
            // A short or placeholder token is judged by the gateway: refused beyond loopback, a
            // warning on loopback (`switchboard serve --listen` may change which applies).
            if let token = admin.string("token"), !token.isEmpty { config.admin.token = Secret(token) }
            admin.finish()
        }
        if let composer = top.mapping("composer") {
            if let base = composer.string("base_url"), !base.isEmpty {
                if URL(string: base)?.scheme?.hasPrefix("http") != true, let node = composer.value("base_url") {
                    composer.report("'base_url' must be an http(s) URL such as http://localhost:11434/v1", at: node)
                }
                config.composer.baseURL = base
            }
            if let key = composer.string("api_key"), !key.isEmpty { config.composer.apiKey = Secret(key) }
            if let model = composer.string("model", required: false) { config.composer.model = model }
            if let t = composer.double("temperature", range: 0...2) { config.composer.temperature = t }
            if let m = composer.int("max_tokens", range: 1...100_000) { config.composer.maxTokens = m }
            if let field = composer.string("max_tokens_field") {
                if ["max_tokens", "max_completion_tokens"].contains(field) {
                    config.composer.maxTokensField = field
                } else if let node = composer.value("max_tokens_field") {
                    composer.report("'max_tokens_field' must be max_tokens or max_completion_tokens", at: node)
                }
            }
            if let timeout = composer.int("timeout", range: 1...600) { config.composer.timeoutSeconds = timeout }
            composer.finish()
        }
        if let conversation = top.mapping("conversation") {
            if let node = conversation.value("operator_pause") {
                if let pause = DurationText.parse(node) { config.conversation.operatorPause = pause } else {
                    conversation.report("'operator_pause' must be a duration such as 15m or 1h", at: node)
                }
            }
            if let history = conversation.int("history", range: 1...200) { config.conversation.historyLimit = history }
            if let budget = conversation.int("daily_token_budget", range: 1...Int.max) { config.conversation.dailyTokenBudget = budget }
            if let text = conversation.string("budget_reply"), let node = conversation.value("budget_reply") {
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty || trimmed.count > 2000 {
                    conversation.report("'budget_reply' must be 1 to 2000 characters: what a client reads when the day's token budget is spent", at: node)
                } else {
                    config.conversation.budgetReply = trimmed
                }
            }
            conversation.finish()
        }
        if let workers = top.mapping("workers") {
            if let count = workers.int("compositions", range: 1...256) { config.workers.compositions = count }
            if let count = workers.int("deliveries", range: 1...1024) { config.workers.deliveries = count }
            if let seconds = workers.int("lease_seconds", range: 2...3600) { config.workers.leaseSeconds = seconds }
            workers.finish()
        }
        if let scale = top.double("time_scale", range: 0.001...1_000_000) { config.timeScale = scale }
    }

    private func readChannel(
        _ root: ConfigNode, employeeIDs: Set<String>, configured: ConfiguredChannels, seen: inout [String: String], sink: DiagnosticSink
    ) -> ChannelConfig? {
        guard let reader = MappingReader(root, context: "the channel file", sink: sink) else { return nil }
        let type = reader.string("type", required: true)
        let id = reader.string("id", required: true)
        let employee = reader.string("employee", required: true)
        let enabled = reader.bool("enabled") ?? true
        var valid = type != nil && id != nil && employee != nil
        if let id, let node = reader.value("id") {
            if !isIdentifier(id) {
                reader.report("channel id '\(id)' may contain only a-z, 0-9, '-' and '_'", at: node)
                valid = false
            } else if let other = seen[id] {
                reader.report("duplicate channel id '\(id)' (also in \(other))", at: node)
                valid = false
            } else {
                seen[id] = root.file
            }
        }
        if let employee, !employeeIDs.contains(employee), let node = reader.value("employee") {
            reader.report("channel belongs to employee '\(employee)', which config.yaml does not define", at: node)
            valid = false
        }
        guard case .mapping(let entries) = root.value else { return nil }
        let settings = ConfigNode(value: .mapping(entries.filter { !["type", "id", "employee", "enabled"].contains($0.key) }), file: root.file, mark: root.mark)
        if let type, let node = reader.value("type") {
            if let validate = channelValidators[type] {
                do {
                    try validate(NodeDecoder(node: settings, userInfo: [.configuredChannels: configured]))
                } catch let error as DecodingError {
                    report(error, settings: settings, sink: sink)
                    valid = false
                } catch {
                    sink.report("\(error)", at: settings)
                    valid = false
                }
            } else {
                let known = channelValidators.keys.sorted().joined(separator: ", ")
                reader.report("unknown channel type '\(type)' (known types: \(known))", at: node)
                valid = false
            }
        }
        // Settings keys are the adapter's to judge; the shared keys were read above.
        reader.finish(known: reader.keys)
        guard valid, let type, let id, let employee else { return nil }
        return ChannelConfig(type: type, id: id, employeeID: employee, enabled: enabled, file: root.file, settings: settings)
    }

    private func report(_ error: DecodingError, settings: ConfigNode, sink: DiagnosticSink) {
        switch error {
        case .keyNotFound(let key, let context):
            let (node, _) = NodeDecoder.locate(context.codingPath, in: settings)
            sink.report("missing required key '\(key.stringValue)'", at: node)
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let (_, mark) = NodeDecoder.locate(context.codingPath, in: settings)
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            let message = path.isEmpty || context.debugDescription.contains("'\(path)'") ? context.debugDescription : "'\(path)': \(context.debugDescription)"
            sink.report(message, file: settings.file, mark: mark)
        @unknown default:
            sink.report("\(error)", at: settings)
        }
    }
}

/// An IPv4 or IPv6 address in text form.
func isIPAddress(_ text: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
}

func isIdentifier(_ text: String) -> Bool {
    !text.isEmpty && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
}

func relative(_ path: String, to configPath: String) -> String {
    let base = URL(fileURLWithPath: configPath).deletingLastPathComponent().path
    let configDir = (configPath as NSString).deletingLastPathComponent
    guard path.hasPrefix(base + "/") else { return path }
    let rest = String(path.dropFirst(base.count + 1))
    return configDir.isEmpty ? rest : (configDir as NSString).appendingPathComponent(rest)
}
