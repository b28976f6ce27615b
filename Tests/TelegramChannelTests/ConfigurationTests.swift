import Foundation
import SwitchboardChannelKit
import SwitchboardCore
import Testing
import TelegramChannel

@Suite("Telegram configuration")
struct ConfigurationTests {
    private func decode(_ json: String) throws -> TelegramChannel.Configuration {
        try JSONDecoder().decode(TelegramChannel.Configuration.self, from: Data(json.utf8))
    }

    @Test func decodesWithDefaults() throws {
        let configuration = try decode(#"{"token": "7012345678:AAF-abc", "webhook_secret": "tg_7Qk2-VxP9_aLm4"}"#)
        #expect(configuration.token.value == "7012345678:AAF-abc")
        #expect(configuration.mode == .webhook)
        #expect(configuration.webhookSecret?.value == "tg_7Qk2-VxP9_aLm4")
        #expect(configuration.apiBase == "https://api.telegram.org")
        #expect(configuration.publicURL == nil)
        #expect(configuration.pollTimeout == 50)
        #expect(configuration.requestTimeout == 30)
        #expect(configuration.maxBodyBytes == 1_048_576)
    }

    @Test func decodesEveryKey() throws {
        let configuration = try decode(
            #"""
            {"token": "7012345678:AAF-abc", "mode": "polling", "webhook_secret": "s3cret", "api_base": "http://127.0.0.1:8081/",
             "public_url": "https://gw.example.com/", "poll_timeout": 25, "request_timeout": 10, "max_body_bytes": 65536}
            """#)
        #expect(configuration.mode == .polling)
        #expect(configuration.apiBase == "http://127.0.0.1:8081")
        #expect(configuration.publicURL == "https://gw.example.com")
        #expect(configuration.pollTimeout == 25)
        #expect(configuration.requestTimeout == 10)
        #expect(configuration.maxBodyBytes == 65536)
    }

    @Test func pollingNeedsNoWebhookSecret() throws {
        let configuration = try decode(#"{"token": "7012345678:AAF-abc", "mode": "polling"}"#)
        #expect(configuration.webhookSecret == nil)
    }

    @Test func rejectsUnknownKeys() {
        do {
            _ = try decode(#"{"token": "7012345678:AAF-abc", "webhook_secret": "abc", "webhook_secrett": "abc"}"#)
            Issue.record("an unknown key was accepted")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.codingPath.last?.stringValue == "webhook_secrett")
            #expect(context.debugDescription.contains("webhook_secrett"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func rejectsABadModeNamingTheAllowedValues() {
        do {
            _ = try decode(#"{"token": "7012345678:AAF-abc", "mode": "push", "webhook_secret": "abc"}"#)
            Issue.record("mode 'push' was accepted")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.codingPath.last?.stringValue == "mode")
            #expect(context.debugDescription.contains("webhook"))
            #expect(context.debugDescription.contains("polling"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func webhookModeRequiresASecret() {
        #expect(throws: DecodingError.self) { try decode(#"{"token": "7012345678:AAF-abc"}"#) }
    }

    @Test(arguments: ["", "has space", "semi;colon", String(repeating: "a", count: 257), "ünïcode"])
    func rejectsSecretsTelegramWouldRefuse(secret: String) throws {
        let json = String(data: try JSONEncoder().encode(["token": "7012345678:AAF-abc", "webhook_secret": secret]), encoding: .utf8) ?? ""
        do {
            _ = try decode(json)
            Issue.record("secret accepted")
        } catch let DecodingError.dataCorrupted(context) {
            // The message explains the rule without echoing the secret.
            #expect(!secret.isEmpty ? !context.debugDescription.contains(secret) : true)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func requiresAToken() {
        #expect(throws: DecodingError.self) { try decode(#"{"mode": "polling"}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"token": "", "mode": "polling"}"#) }
    }

    @Test(arguments: [#""poll_timeout": 0"#, #""poll_timeout": 51"#, #""max_body_bytes": 0"#, #""api_base": "ftp://x""#])
    func rejectsOutOfRangeValues(entry: String) {
        #expect(throws: DecodingError.self) { try decode(#"{"token": "7012345678:AAF-abc", "mode": "polling", \#(entry)}"#) }
    }

    @Test func secretsDoNotPrint() throws {
        let configuration = try decode(#"{"token": "7012345678:AAF-abc", "webhook_secret": "tg_7Qk2-VxP9_aLm4"}"#)
        let printed = "\(configuration)"
        #expect(!printed.contains("AAF-abc"))
        #expect(!printed.contains("tg_7Qk2"))
    }

    @Test func channelTypeIsRegisteredAsTelegramAndValidates() throws {
        #expect(telegramChannelType.name == "telegram")
        // `validate` takes a Decoder; a wrapper hands it JSONDecoder's.
        struct Probe: Decodable {
            init(from decoder: any Decoder) throws { try telegramChannelType.validate(decoder) }
        }
        _ = try JSONDecoder().decode(Probe.self, from: Data(#"{"token": "7012345678:AAF-abc", "mode": "polling"}"#.utf8))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Probe.self, from: Data(#"{"token": "7012345678:AAF-abc", "mode": "polling", "colour": "red"}"#.utf8))
        }
    }

    @Test func channelTypeMakesATelegramChannel() throws {
        struct Probe: Decodable {
            let channel: any Channel
            init(from decoder: any Decoder) throws {
                channel = try telegramChannelType.makeChannel(settings: decoder, environment: makeEnvironment())
            }
        }
        let probe = try JSONDecoder().decode(Probe.self, from: Data(#"{"token": "7012345678:AAF-abc", "webhook_secret": "abc"}"#.utf8))
        #expect(probe.channel.id == testChannelID)
        #expect(probe.channel.capabilities.maxTextLength == 4096)
        #expect(probe.channel is TelegramChannel)
    }
}
