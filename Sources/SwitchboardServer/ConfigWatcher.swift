import Foundation
import Logging
import ServiceLifecycle
import SwitchboardConfig
import SwitchboardCore
import SwitchboardScheduler
internal import Synchronization

/// Reloads `config.yaml` when it or a channel file changes, and at once on `reloadNow()`
/// (`switchboard serve` calls it on SIGHUP). A file with mistakes is reported as
/// `file:line:col` and ignored — the gateway keeps running on the last good config. Employee
/// changes (personas, hours, chains) apply at once and re-plan pending reminders; channel files
/// start, restart and stop channels; `admin.token`, `composer:` and the reply budget apply
/// through `onReload`; `server:` and `storage:` changes need a restart.
struct ConfigWatcher: Service, CustomStringConvertible {
    let configPath: String
    let channelValidators: ConfigLoader.ChannelValidators
    /// The config the gateway started with.
    let initialPlanning: PlanningInputs
    let conversation: Conversation
    let logger: Logger
    let trigger: ReloadTrigger
    var interval: Duration = .seconds(2)
    /// Applies the rest of a good config (channels, admin token, composer).
    var onReload: @Sendable (GatewayConfig) async -> Void = { _ in }

    /// service-lifecycle logs every service's description at debug level; the config it holds
    /// carries secrets, so the watcher names only its file.
    var description: String { "ConfigWatcher(\(configPath))" }

    /// How often the watcher looks for a reload request between file checks.
    static let tick: Duration = .milliseconds(250)

    /// What pending reminders are planned from, to tell whether a reload must re-plan them.
    struct PlanningInputs: Equatable {
        var employees: [Employee]
        var channels: [String]
        init(_ config: GatewayConfig) {
            employees = config.employees
            channels = config.channels.map(\.fingerprint).sorted()
        }
    }

    func run() async throws {
        var lastSeen = fingerprint()
        var lastPlanning = initialPlanning
        var sinceCheck: Duration = .zero
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.tick) }
            } catch {
                return
            }
            sinceCheck += Self.tick
            let requested = trigger.consume()
            guard requested || sinceCheck >= interval else { continue }
            sinceCheck = .zero
            let seen = fingerprint()
            guard requested || seen != lastSeen else { continue }
            lastSeen = seen
            do {
                let loaded = try ConfigLoader(channelValidators: channelValidators).load(configPath: configPath)
                // The roster first: a channel that starts now must find its employee. Then the
                // channels, so a re-planned reminder that is due at once finds its channel
                // running. Pending reminders are re-planned only when what plans them changed
                // (a chain, working hours, a channel's window): with a million armed chats a
                // reload must not rewrite them all for a changed admin token.
                conversation.useRoster(loaded.roster)
                await onReload(loaded)
                let planning = PlanningInputs(loaded)
                if planning != lastPlanning {
                    try await conversation.replan(roster: loaded.roster)
                    lastPlanning = planning
                }
                logger.info("config reloaded", metadata: ["config.employees": "\(loaded.employees.count)", "config.channels": "\(loaded.channels.count)",
                                                          "reload.cause": "\(requested ? "signal" : "file change")"])
            } catch let error as ConfigError {
                for diagnostic in error.diagnostics {
                    logger.error("config not reloaded: \(diagnostic.description)")
                }
                logger.error("config not reloaded: the gateway keeps running on the last good config; fix the file and save it again")
            } catch {
                logger.error("config reload failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Modification times and sizes of the config and channel files.
    private func fingerprint() -> [String] {
        let url = URL(fileURLWithPath: configPath)
        let channels = url.deletingLastPathComponent().appendingPathComponent("channels")
        let files = [url.path] + ((try? FileManager.default.contentsOfDirectory(atPath: channels.path)) ?? []).sorted().map { channels.appendingPathComponent($0).path }
        return files.map { path in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(path):\(modified):\(attributes?[.size] as? Int ?? -1)"
        }
    }
}

/// A request to reload now (SIGHUP), picked up by the watcher within a tick.
public final class ReloadTrigger: Sendable {
    private let requested = Mutex(false)

    public init() {}

    public func fire() { requested.withLock { $0 = true } }

    func consume() -> Bool { requested.withLock { value in defer { value = false }; return value } }
}
