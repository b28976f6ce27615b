import Foundation
import SwitchboardCore
import SwitchboardConfig
import Testing

/// A config describes itself without its secrets, however it is printed.
@Suite struct RedactionTests {
    static let secrets = ["admin-token-0123456789abcdef", "sk-composer-key-0123456789", "tg-secret-0123456789", "123456:bot-token-abcdef"]

    static func config() throws -> GatewayConfig {
        try ConfigLoader(channelValidators: ["pigeon": { _ in }], environment: [:]).parse(
            config: """
                admin: { token: \(secrets[0]) }
                composer: { base_url: "http://localhost:11434/v1", api_key: \(secrets[1]) }
                employees:
                  - id: alexey
                """,
            file: "config.yaml",
            channels: [("channels/p.yaml", "type: pigeon\nid: p\nemployee: alexey\nwebhook_secret: \(secrets[2])\ntoken: \"\(secrets[3])\"\n")],
            baseDirectory: "/tmp")
    }

    @Test(arguments: ["description", "debugDescription", "dump"])
    func aConfigPrintsNoSecret(how: String) throws {
        let config = try Self.config()
        let texts: [String]
        switch how {
        case "description": texts = [String(describing: config), String(describing: config.channels[0]), "\(config.admin)", "\(config.composer)"]
        case "debugDescription": texts = [String(reflecting: config), String(reflecting: config.channels), String(reflecting: config.composer)]
        default:
            var text = ""
            dump(config, to: &text)
            texts = [text]
        }
        for text in texts {
            #expect(text.contains("alexey") || text.contains("***"), "describes something: \(text)")
            for secret in Self.secrets { #expect(!text.contains(secret), "\(how) leaks a secret: \(text)") }
        }
    }
}
