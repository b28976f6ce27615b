import ArgumentParser
import Foundation
import SwitchboardConfig
import SwitchboardCore
import SwitchboardServer
import SwitchboardStorePostgres
import SwitchboardStoreSQLite

struct Followups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every chat with a follow-up reminder scheduled, as the Follow-ups page shows it.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Only this employee's chats (by id).") var employee: String?
    @Option(help: "Match client name, employee name or any word of the chat title (case-insensitive).") var search: String?
    @Flag(help: "Print the API's item array as JSON.") var json = false

    func run() async throws {
        let config = try options.load()
        if let url = config.storage.postgres {
            let store = PostgresStore(configuration: Gateway.postgresConfiguration(url, config.storage))
            let pool = Task { await store.run() }
            defer { pool.cancel() }
            try await list(store, config)
            return
        }
        // Opening a missing database would create an empty one and report "nothing scheduled":
        // a wrong --config must say so instead.
        let path = config.storage.sqlitePath
        guard FileManager.default.fileExists(atPath: path) else {
            FileHandle.standardError.write(Data("""
                \(options.config): no database at \(path). The gateway creates it on its first start; \
                is --config the file `switchboard serve` runs with?\n
                """.utf8))
            throw ExitCode.failure
        }
        try await list(try SQLiteStore(path: path), config)
    }

    private func list(_ store: any Store, _ config: GatewayConfig) async throws {
        let listing = FollowUpListing(store: store, roster: LiveRoster(config.roster))
        let (items, total) = try await listing.list(employeeID: employee, search: search)
        if json {
            print(String(decoding: try AdminJSON.encoder().encode(items), as: UTF8.self))
            return
        }
        if items.isEmpty {
            let filtered = employee != nil || search != nil
            print((filtered ? "" : "No follow-ups are scheduled. ") + listing.emptyExplanation(filtered: filtered))
            return
        }
        let rows = items.map { item -> [String] in
            let zone = TimeZone(identifier: item.timeZone) ?? .gmt
            return [item.chat, item.employee, item.step.map(String.init) ?? "-", item.sendsAt.map { ISO8601.local($0, zone) } ?? "sending", item.channel]
        }
        printTable(header: ["Chat", "Employee", "Step", "Sends at", "Channel"], rows: rows)
        if total > items.count { print("… and \(total - items.count) more") }
    }
}

func printTable(header: [String], rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    print(line(header))
    print(line(widths.map { String(repeating: "-", count: $0) }))
    rows.forEach { print(line($0)) }
}
