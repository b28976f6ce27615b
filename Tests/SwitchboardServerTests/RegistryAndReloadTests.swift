import Foundation
import Logging
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardCore
import SwitchboardServer
import SwitchboardTesting
import Testing

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct ChannelRegistryTests {
    /// Every channel folder is registered under its YAML type, and its sample decodes.
    @Test func everyChannelFolderIsRegisteredAndItsSampleValidates() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Sources/Channels").path).sorted()
        #expect(!folders.isEmpty)
        for folder in folders {
            let sample = try String(contentsOf: root.appendingPathComponent("Sources/Channels/\(folder)/sample.yaml"), encoding: .utf8)
            let type = try #require(sample.split(separator: "\n").first { $0.hasPrefix("type:") }?.split(separator: ":")[1]
                .trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init))
            #expect(ChannelRegistry.type(named: type) != nil, "\(folder) is not registered")
            let environment = Dictionary(uniqueKeysWithValues: ProcessInfo.processInfo.environment.map { ($0.key, $0.value) }).merging(
                [
                    "TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_SECRET": "secret_0123", "HTTP_CHANNEL_SECRET": "http-sample-secret-0123",
                    "WHATSAPP_ACCESS_TOKEN": "EAAG-sample", "WHATSAPP_APP_SECRET": "sample-app-secret", "WHATSAPP_VERIFY_TOKEN": "sample-verify-token",
                    "SMTP_PASSWORD": "sample-smtp-password", "IMAP_PASSWORD": "sample-imap-password",
                ], uniquingKeysWith: { _, new in new })
            let sampleEmployee = sample.split(separator: "\n").first { $0.hasPrefix("employee:") }?.split(separator: ":")[1]
                .trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? "alexey"
            _ = try ConfigLoader(channelValidators: ChannelRegistry.validators, environment: environment).parse(
                config: "employees:\n  - id: \(sampleEmployee)\n", file: "config.yaml", channels: [("Sources/Channels/\(folder)/sample.yaml", sample)],
                baseDirectory: "/tmp")
        }
    }

    /// The server takes the catalog it is given: no file of it imports a channel module, and
    /// Package.swift gives it none as a dependency.
    @Test func theServerImportsNoChannelModule() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Sources/Channels").path)
        let modules = folders.map { "\($0)Channel" }
        let serverDirectory = root.appendingPathComponent("Sources/SwitchboardServer")
        for file in try FileManager.default.contentsOfDirectory(atPath: serverDirectory.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: serverDirectory.appendingPathComponent(file), encoding: .utf8)
            for module in modules {
                #expect(!text.contains("import \(module)\n"), "SwitchboardServer/\(file) imports \(module)")
            }
        }
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let server = try #require(manifest.range(of: "name: \"SwitchboardServer\"")).upperBound
        let serverTarget = try #require(manifest[server...].components(separatedBy: "swiftSettings").first)
        for module in modules { #expect(!serverTarget.contains("\"\(module)\""), "SwitchboardServer depends on \(module)") }
        #expect(Set(ChannelRegistry.catalog.names).count == ChannelRegistry.catalog.names.count, "one type per name")
    }

    @Test func theShippedConfigAndChannelsPassCheck() throws {
        let config = try ConfigLoader(channelValidators: ChannelRegistry.validators, environment: [:])
            .load(configPath: root.appendingPathComponent("config.yaml").path)
        #expect(config.employees.map(\.id) == ["alexey"])
        #expect(!config.channels.isEmpty)
    }
}

@Suite(.serialized, .awaitedTeardown) struct ConfigReloadTests {
    @Test func anEditedChainReplansPendingRemindersAndABrokenFileIsIgnored() async throws {
        let logs = LogCapture()
        let h = try await GatewayHarness(logger: logs.logger(level: .info))
        onTeardown { await h.shutdown() }
        _ = try await h.deliver(GatewayHarness.textUpdate("Hello"))
        try await eventually("reply") { h.sentTexts.count == 1 }
        let chat = try #require(try await h.chat)
        try await eventually("armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == parseISO("2026-11-23T10:00:00Z") }

        let path = h.directory.appendingPathComponent("config.yaml")
        let original = try String(contentsOf: path, encoding: .utf8)
        try original.replacingOccurrences(of: "{ delay: { hours: 4 },", with: "{ delay: { hours: 1 },").write(to: path, atomically: true, encoding: .utf8)
        try await eventually("re-planned from its anchor") {
            try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == parseISO("2026-11-23T07:00:00Z")
        }

        try "employees: [ {id: alexey, colour: red".write(to: path, atomically: true, encoding: .utf8)
        try await eventually("the broken file reported") { logs.all.contains { $0.contains("config not reloaded") } }
        #expect(try await h.get("/healthz", token: nil).0 == 200, "a bad file never takes the gateway down")
        #expect(try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == parseISO("2026-11-23T07:00:00Z"))
    }
}
