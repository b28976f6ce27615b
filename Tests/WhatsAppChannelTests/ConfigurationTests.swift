import Foundation
import SwitchboardChannelKit
import SwitchboardCore
import Testing
import WhatsAppChannel

@Suite("WhatsApp configuration")
struct ConfigurationTests {
    private func decode(_ json: String) throws -> WhatsAppChannel.Configuration {
        try JSONDecoder().decode(WhatsAppChannel.Configuration.self, from: Data(json.utf8))
    }

    private let required = #""phone_number_id": "106540352242922", "access_token": "EAAG-abc", "app_secret": "s3cret", "verify_token": "v""#

    @Test func decodesWithDefaults() throws {
        let configuration = try decode("{\(required)}")
        #expect(configuration.phoneNumberID == "106540352242922")
        #expect(configuration.apiBase == "https://graph.facebook.com/v25.0")
        #expect(configuration.window == .init(pullIn: true, template: nil))
        #expect(configuration.maxBodyBytes == 4 << 20)
        #expect(configuration.messagesPerSecond == 80)
        #expect(!"\(configuration)".contains("EAAG-abc") && !"\(configuration)".contains("s3cret"), "secrets print as ***")
    }

    @Test func decodesEveryKey() throws {
        let configuration = try decode(
            #"""
            {"phone_number_id": 106540352242922, "access_token": "EAAG-abc", "app_secret": "s3cret", "verify_token": "v",
             "api_base": "http://127.0.0.1:8081/v25.0/", "max_body_bytes": 5000000, "messages_per_second": 20,
             "window": {"pull_in": false, "template": {"name": "followup_reengage", "language": "en_US", "parameters": ["{client_name}", "Hi from {employee_name}"]}}}
            """#)
        #expect(configuration.phoneNumberID == "106540352242922", "a YAML number is read as the id's digits")
        #expect(configuration.apiBase == "http://127.0.0.1:8081/v25.0")
        #expect(configuration.maxBodyBytes == 5_000_000)
        #expect(configuration.messagesPerSecond == 20)
        #expect(configuration.window.pullIn == false)
        #expect(configuration.window.template == .init(name: "followup_reengage", language: "en_US", parameters: ["{client_name}", "Hi from {employee_name}"]))
    }

    @Test(arguments: [
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "webhook_secret": "x"}"#, "unknown key 'webhook_secret'"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "window": {"pullin": true}}"#, "unknown key 'pullin'"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "window": {"template": {"name": "t", "language": "en", "lang": "x"}}}"#, "unknown key 'lang'"),
        (#"{"phone_number_id": "+1 555", "access_token": "a", "app_secret": "s", "verify_token": "v"}"#, "not the phone number"),
        (#"{"phone_number_id": "1", "access_token": "", "app_secret": "s", "verify_token": "v"}"#, "access_token"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "", "verify_token": "v"}"#, "App Secret"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": ""}"#, "verify_token"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "api_base": "graph.facebook.com"}"#, "api_base"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "max_body_bytes": 1000}"#, "3 MB"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "messages_per_second": 0}"#, "messages_per_second"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "window": {"template": {"name": "Re Engage", "language": "en"}}}"#, "template name"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "window": {"template": {"name": "t", "language": "en", "parameters": ["{name}"]}}}"#, "{client_name}"),
        (#"{"phone_number_id": "1", "access_token": "a", "app_secret": "s", "verify_token": "v", "window": {"template": {"name": "t"}}}"#, "language"),
    ])
    func rejectsWhatCannotWork(json: String, says: String) throws {
        do {
            _ = try decode(json)
            Issue.record("accepted \(json)")
        } catch {
            #expect("\(error)".contains(says), "\(error)")
        }
    }

    @Test func capabilitiesDeclareTheWindow() throws {
        let plain = makeChannel()
        #expect(plain.capabilities.maxTextLength == 4096)
        #expect(plain.capabilities.freeFormWindow == .seconds(24 * 3600))
        #expect(plain.capabilities.pullIn)
        #expect(plain.capabilities.pullInMargin == .seconds(300))
        #expect(plain.capabilities.reengagementTemplate == nil)
        let templated = makeChannel(window: .init(pullIn: false, template: .init(name: "followup_reengage", language: "en_US")))
        #expect(!templated.capabilities.pullIn)
        #expect(templated.capabilities.reengagementTemplate == "followup_reengage")
    }
}
