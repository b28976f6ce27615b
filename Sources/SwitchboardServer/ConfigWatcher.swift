import Foundation
import Logging
import ServiceLifecycle
import SwitchboardConfig
import SwitchboardCore
import SwitchboardScheduler

/// Reloads `config.yaml` when it or a channel file changes. A file with mistakes is reported
/// and ignored — the gateway keeps running on the last good config. Employee changes
/// (personas, hours, chains) apply at once and re-plan pending reminders; `admin.token`,
/// `composer:` and the reply budget (`conversation.daily_token_budget`, `budget_reply`) apply at
/// once through `onReload`; channel and `server:` changes need a restart.
struct ConfigWatcher: Service, CustomStringConvertible {
    let configPath: String
    let current: GatewayConfig
    let channelValidators: ConfigLoader.ChannelValidators
    let conversation: Conversation
    let logger: Logger
    var interval: Duration = .seconds(2)
    /// Applies the rest of a good config (admin token, composer).
    var onReload: @Sendable (GatewayConfig) async -> Void = { _ in }

    /// service-lifecycle logs every service's description at debug level; the config it holds
    /// carries secrets, so the watcher names only its file.
    var description: String { "ConfigWatcher(\(configPath))" }

    func run() async throws {
        var lastSeen = fingerprint()
        var good = current
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            let seen = fingerprint()
            guard seen != lastSeen else { continue }
            lastSeen = seen
            do {
                let loaded = try ConfigLoader(channelValidators: channelValidators).load(configPath: configPath)
                if loaded.channels.map(\.id).sorted() != good.channels.map(\.id).sorted() {
                    logger.warning("channel files changed: restart the gateway to apply channel changes")
                }
                try await conversation.replan(roster: Roster(employees: loaded.employees, channelOwners: good.roster.channelOwners))
                await onReload(loaded)
                good = loaded
                logger.info("config reloaded", metadata: ["config.employees": "\(loaded.employees.count)"])
            } catch let error as ConfigError {
                for diagnostic in error.diagnostics {
                    logger.error("config not reloaded: \(diagnostic.description)")
                }
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
