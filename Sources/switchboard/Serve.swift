import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway: webhooks, channels, the scheduler, the admin API and pages.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Listen on HOST:PORT instead of server.listen.") var listen: String?
    @Option(name: .customLong("time-scale"), help: "Run simulated time N times faster (overrides time_scale).") var timeScale: Double?
    @Option(name: .customLong("log-level"), help: "How much to log; message text and names only at debug and trace.") var logLevel: LogLevel = .info
    @Option(name: .customLong("log-format"), help: "logfmt (for people) or json (one object per line, for log shippers).")
    var logFormat: LogFormatOption = .logfmt

    func run() async throws {
        var config = try options.load()
        if let timeScale {
            guard timeScale > 0 else { throw ValidationError("--time-scale must be positive") }
            config.timeScale = timeScale
        }
        var gatewayOptions = GatewayOptions(channelTypes: ChannelRegistry.catalog)
        if let listen {
            let parts = listen.split(separator: ":")
            guard parts.count >= 2, let port = Int(parts.last!) else { throw ValidationError("--listen must be HOST:PORT") }
            gatewayOptions.host = parts.dropLast().joined(separator: ":")
            gatewayOptions.port = port
        }
        // Every logger in the process — ours and the libraries' — writes the chosen format.
        let format = logFormat.format
        LoggingSystem.bootstrap { label in GatewayLogHandler(label: label, format: format) }
        var logger = Logger(label: "switchboard")
        logger.logLevel = logLevel.level
        gatewayOptions.logger = logger
        let gateway = try Gateway(config: config, options: gatewayOptions)
        logger.info("starting", metadata: [
            "config": "\(options.config)", "storage": "\(config.storage.postgres.map { "\($0)" } ?? config.storage.sqlitePath)", "time_scale": "\(config.timeScale)",
            "composer": "\(config.composer.baseURL == nil ? "offline (not AI)" : config.composer.model)",
        ])
        // SIGHUP reloads the config and channel files at once (they are also watched).
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler { [gateway] in
            logger.info("SIGHUP: reloading the config")
            gateway.reloadNow()
        }
        hangup.resume()
        defer { hangup.cancel() }
        try await gateway.application().runService()
    }
}

/// `--log-format`: one of `LogFormat`'s names; anything else is a usage error.
enum LogFormatOption: String, CaseIterable, ExpressibleByArgument {
    case logfmt, json

    var format: LogFormat { self == .json ? .json : .logfmt }
}

/// `--log-level`: one of swift-log's levels by name; anything else is a usage error, not `info`.
enum LogLevel: String, CaseIterable, ExpressibleByArgument {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }
}
