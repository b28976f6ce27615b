import ArgumentParser
import Foundation
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardCore
import SwitchboardServer

@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "Connects AI employees to Telegram, WhatsApp, a website widget and email, with Auto Follow-up.",
        subcommands: [Serve.self, Check.self, Simulate.self, Followups.self, Migrate.self, Backup.self])
}

/// `--config`, shared by every command.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The gateway config; channels are read from channels/ beside it.")
    var config = "config.yaml"

    func load() throws -> GatewayConfig {
        do {
            return try ConfigLoader(channelValidators: ChannelRegistry.validators).load(configPath: config)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode.failure
        }
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate the config and channel files; print every problem as path:line:column: message.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = try options.load()
        let enabled = config.employees.filter(\.followUp.enabled).count
        print("\(options.config): OK — \(config.employees.count) employee(s) (\(enabled) with Auto Follow-up), \(config.channels.count) channel(s)")
    }
}

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the planned follow-up timeline of an employee's chain, armed by a last message at the given time.")

    @OptionGroup var options: ConfigOption
    @Option(help: "The employee's id.") var employee: String
    @Option(name: .customLong("last-message"), help: "When the employee's last message was sent, ISO 8601 (e.g. 2026-11-27T17:00:00Z).")
    var lastMessage: String
    @Flag(help: "Print JSON: [{\"step\":n,\"due\":…,\"sends_at\":…}] in UTC.") var json = false

    func run() async throws {
        let config = try options.load()
        guard let employee = config.employees.first(where: { $0.id == employee }) else {
            throw ValidationError("no employee '\(employee)' in \(options.config); known: \(config.employees.map(\.id).joined(separator: ", "))")
        }
        guard let start = ISO8601.parse(lastMessage) else {
            throw ValidationError("--last-message must be ISO 8601, such as 2026-11-27T17:00:00Z")
        }
        let timeline = FollowUpPlanner(employee: employee).timeline(lastMessageAt: start)
        if json {
            let objects = timeline.map { #"{"step":\#($0.step),"due":"\#(ISO8601.format($0.due))","sends_at":"\#(ISO8601.format($0.sendsAt))"}"# }
            print("[" + objects.joined(separator: ",") + "]")
            return
        }
        guard employee.followUp.enabled else {
            print("Auto Follow-up is off for \(employee.name): nothing would be sent.")
            return
        }
        let zone = employee.workingHours.timeZone
        print("Chain of \(employee.name), armed by a message at \(ISO8601.format(start)) (\(ISO8601.local(start, zone)) \(zone.identifier)):")
        for entry in timeline {
            let moved = entry.sendsAt != entry.due ? "  (moved by working hours from \(ISO8601.local(entry.due, zone)))" : ""
            print("  step \(entry.step): sends \(ISO8601.local(entry.sendsAt, zone))  [\(ISO8601.format(entry.sendsAt))]\(moved)")
        }
        if timeline.count < employee.followUp.steps.count {
            print("  (\(employee.followUp.steps.count - timeline.count) step(s) not shown: no working time ahead)")
        }
    }
}

/// Instants as the CLI reads and prints them.
enum ISO8601 {
    static func parse(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return ISO8601DateFormatter().date(from: text) ?? withFraction.date(from: text)
    }

    /// UTC with a `Z`.
    static func format(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    static func local(_ date: Date, _ zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "EEE yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }
}
