import Foundation
import Logging
import ServiceLifecycle
import SwitchboardChannelKit
import SwitchboardConfig
import SwitchboardCore
import SwitchboardScheduler
internal import Synchronization

/// The running channels, and the one place that starts, restarts and stops them — at start-up
/// and whenever the channel files change (`apply`).
///
/// Each channel's background work (`Channel.run`: polling, registering a webhook) is a task of
/// its own, so one channel can be replaced while the others keep running. A channel being
/// replaced keeps answering its webhooks until its successor is in place; one being removed
/// stops answering (the provider gets 404 and delivers again later), and its chats' work waits
/// in the store (`channel_unavailable`) until it comes back.
final class ChannelSupervisor: Service, CustomStringConvertible, Sendable {
    /// How a channel is created from its file (the gateway supplies its environment). The
    /// health is what `/readyz` shows for the channel, handed to it so it can report a refused
    /// credential itself.
    typealias Factory = @Sendable (ChannelConfig, ChannelType, ComponentHealth) throws -> any Channel

    private struct Running {
        var channel: any Channel
        var fingerprint: String
        var task: Task<Void, Never>?
    }

    private struct State {
        var running: [String: Running] = [:]
        /// Every enabled channel's state for `/readyz`, including ones that could not be created.
        var health: [String: ComponentHealth] = [:]
        /// Files the gateway knows, by channel id: a broken channel is retried when its file changes.
        var fingerprints: [String: String] = [:]
        /// Every configured channel's type (disabled ones included), for pages that name it.
        var types: [String: String] = [:]
        /// `run()` has started the channels; later additions start at once.
        var started = false
        var stopping = false
    }

    private let state = Mutex(State())
    let catalog: ChannelCatalog
    let senders: ChannelSenders
    let metrics: GatewayMetrics
    let logger: Logger
    let factory: Factory

    var description: String { "ChannelSupervisor" }

    init(configs: [ChannelConfig], catalog: ChannelCatalog, senders: ChannelSenders, metrics: GatewayMetrics, logger: Logger, factory: @escaping Factory) {
        self.catalog = catalog
        self.senders = senders
        self.metrics = metrics
        self.logger = logger
        self.factory = factory
        state.withLock { $0.types = Dictionary(configs.map { ($0.id, $0.type) }, uniquingKeysWith: { a, _ in a }) }
        for config in configs where config.enabled {
            if let channel = create(config, health: health(for: config.id)) {
                state.withLock { $0.running[config.id] = Running(channel: channel, fingerprint: config.fingerprint) }
                senders.set(MeteredSender(base: channel, channelID: config.id, metrics: metrics), forChannel: config.id)
            }
            state.withLock { $0.fingerprints[config.id] = config.fingerprint }
        }
    }

    func channel(id: String) -> (any Channel)? { state.withLock { $0.running[id]?.channel } }

    /// The type of every channel in the current files, by id.
    var types: [String: String] { state.withLock { $0.types } }

    var channels: [any Channel] { state.withLock { $0.running.values.map(\.channel) }.sorted { $0.id < $1.id } }

    var health: [(id: String, health: ComponentHealth)] { state.withLock { $0.health.map { (id: $0.key, health: $0.value) } } }

    func run() async throws {
        let ids = state.withLock { state -> [String] in
            state.started = true
            return state.running.keys.sorted()
        }
        for id in ids { start(id) }
        try? await gracefulShutdown()
        let (stopped, tasks) = state.withLock { state -> ([String], [Task<Void, Never>]) in
            state.stopping = true
            // A channel that failed while running said "channel down" then.
            let up = state.running.keys.filter { state.health[$0]?.problem == nil }.sorted()
            return (up, state.running.values.compactMap(\.task))
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for id in stopped { logger.event("channel down", ["channel.id": "\(id)", "reason": "shutdown"]) }
    }

    /// What a reload changed.
    struct Changes: Equatable, Sendable {
        var started: [String] = []
        var restarted: [String] = []
        var stopped: [String] = []
        var isEmpty: Bool { started.isEmpty && restarted.isEmpty && stopped.isEmpty }
    }

    /// Brings the running channels in line with `configs`: new or re-enabled files start,
    /// changed ones restart with their new settings, disabled or removed ones stop. A channel
    /// whose new settings cannot be created keeps running on its old ones (and is reported).
    /// One caller at a time (the config watcher's loop).
    func apply(_ configs: [ChannelConfig]) async -> Changes {
        var changes = Changes()
        state.withLock { $0.types = Dictionary(configs.map { ($0.id, $0.type) }, uniquingKeysWith: { a, _ in a }) }
        let wanted = Dictionary(configs.filter(\.enabled).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let known = state.withLock { $0.fingerprints }
        for id in known.keys.sorted() where wanted[id] == nil {
            await stop(id, reason: configs.contains { $0.id == id } ? "disabled" : "removed")
            state.withLock {
                $0.fingerprints[id] = nil
                $0.health[id] = nil
            }
            changes.stopped.append(id)
        }
        for (id, config) in wanted.sorted(by: { $0.key < $1.key }) {
            // Unchanged and healthy: left alone. A channel that failed (could not be created, or
            // stopped with an error) is tried again on every reload, SIGHUP included.
            let failed = state.withLock { $0.health[id]?.problem != nil }
            guard known[id] != config.fingerprint || failed else { continue }
            let wasRunning = state.withLock { $0.running[id] != nil }
            let health = ComponentHealth()
            guard let channel = create(config, health: health) else {
                if wasRunning {
                    logger.error("channel not changed: its new settings could not be applied; it keeps its old ones", metadata: ["channel.id": "\(id)"])
                    continue
                }
                state.withLock {
                    $0.health[id] = health
                    $0.fingerprints[id] = config.fingerprint
                }
                continue
            }
            // The old instance answers webhooks until this moment; its background work ends
            // first, so two pollers never compete for one bot's updates.
            if wasRunning {
                await stopTask(id)
                logger.event("channel down", ["channel.id": "\(id)", "reason": "settings_changed"])
            }
            state.withLock {
                $0.running[id] = Running(channel: channel, fingerprint: config.fingerprint)
                $0.health[id] = health
                $0.fingerprints[id] = config.fingerprint
            }
            senders.set(MeteredSender(base: channel, channelID: id, metrics: metrics), forChannel: id)
            start(id)
            if wasRunning { changes.restarted.append(id) } else { changes.started.append(id) }
        }
        return changes
    }

    private func health(for id: String) -> ComponentHealth {
        state.withLock { state in
            if let existing = state.health[id] { return existing }
            let health = ComponentHealth()
            state.health[id] = health
            return health
        }
    }

    private func create(_ config: ChannelConfig, health: ComponentHealth) -> (any Channel)? {
        guard let type = catalog.type(named: config.type) else {
            health.fail("unknown channel type '\(config.type)'; known: \(catalog.names.joined(separator: ", "))")
            return nil
        }
        do {
            return try factory(config, type, health)
        } catch {
            logger.error("channel disabled: it could not be created", metadata: ["channel.id": "\(config.id)", "error": "\(error)"])
            health.fail("could not be created (\(String(describing: error).prefix(300))): fix \(config.file); it is tried again when the file is saved or on SIGHUP")
            return nil
        }
    }

    /// Starts a channel's background work if the supervisor runs (before `run()`, it waits).
    private func start(_ id: String) {
        state.withLock { state in
            guard state.started, !state.stopping, var entry = state.running[id], entry.task == nil else { return }
            let channel = entry.channel
            let health = state.health[id] ?? ComponentHealth()
            let senders = self.senders
            let logger = self.logger
            logger.event("channel up", ["channel.id": "\(id)", "channel.type": "\(state.types[id] ?? "unknown")"])
            entry.task = Task {
                do {
                    try await channel.run()
                } catch is CancellationError {
                } catch {
                    if Task.isCancelled { return }
                    logger.event("channel down", level: .error, ["channel.id": "\(id)", "reason": "failed", "error": "\(error)"])
                    senders.set(nil, forChannel: id)
                    health.fail("stopped (\(String(describing: error).prefix(300))): fix the channel's settings; it is tried again when its file is saved or on SIGHUP")
                }
            }
            state.running[id] = entry
        }
    }

    /// Ends a channel's background work and waits for it; the channel itself stays in place.
    private func stopTask(_ id: String) async {
        let task = state.withLock { state -> Task<Void, Never>? in
            let task = state.running[id]?.task
            state.running[id]?.task = nil
            return task
        }
        task?.cancel()
        await task?.value
    }

    /// `reason`: `disabled` (in its file) or `removed` (the file is gone).
    private func stop(_ id: String, reason: String) async {
        let removed = state.withLock { $0.running.removeValue(forKey: id) }
        guard let removed else { return }
        senders.set(nil, forChannel: id)
        removed.task?.cancel()
        await removed.task?.value
        // Its chats' work waits in the store (`channel_unavailable`) until it is back.
        logger.event("channel down", ["channel.id": "\(id)", "reason": "\(reason)"])
    }
}
