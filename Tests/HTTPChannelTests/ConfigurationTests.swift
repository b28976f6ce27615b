import Foundation
import HTTPChannel
import SwitchboardCore
import Testing

@Suite("http channel configuration")
struct ConfigurationTests {
    private func decode(_ json: String) throws -> HTTPChannel.Configuration {
        try JSONDecoder().decode(HTTPChannel.Configuration.self, from: Data(json.utf8))
    }

    private func failure(_ json: String) -> DecodingError? {
        do {
            _ = try decode(json)
            Issue.record("accepted \(json)")
            return nil
        } catch let error as DecodingError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    private func message(_ error: DecodingError?) -> String {
        switch error {
        case .dataCorrupted(let context)?, .keyNotFound(_, let context)?, .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            context.debugDescription
        default: ""
        }
    }

    @Test func decodesWithDefaults() throws {
        let configuration = try decode(#"{"secret": "0123456789abcdef", "outbound_url": "https://crm.example.com/in"}"#)
        #expect(configuration.secret.value == "0123456789abcdef")
        #expect(configuration.outboundURL == "https://crm.example.com/in")
        #expect(configuration.maxText == nil)
        #expect(configuration.window == nil)
        #expect(configuration.offlineDelivery == false)
        #expect(configuration.maxBodyBytes == 4 << 20)
        #expect(configuration.requestTimeout == 10)
    }

    @Test func decodesEveryKeyIntoCapabilities() throws {
        let configuration = try decode(
            #"""
            {"secret": "0123456789abcdef", "outbound_url": "http://127.0.0.1:8080/x?token=abc", "max_text": 160, "window_hours": 24,
             "window": {"pull_in": false, "template": {"name": "reengage_v1"}}, "offline_delivery": true, "max_body_bytes": 65536,
             "request_timeout": 3}
            """#)
        #expect(configuration.maxText == 160)
        #expect(configuration.window == HTTPChannel.Window(duration: .seconds(86_400), pullIn: false, template: "reengage_v1"))
        #expect(configuration.offlineDelivery)
        #expect(configuration.maxBodyBytes == 65536)
        #expect(configuration.requestTimeout == 3)
        let capabilities = makeChannel(maxText: 160, window: configuration.window, offlineDelivery: true).capabilities
        #expect(capabilities.maxTextLength == 160)
        #expect(capabilities.freeFormWindow == .seconds(86_400))
        #expect(capabilities.pullIn == false)
        #expect(capabilities.reengagementTemplate == "reengage_v1")
        #expect(capabilities.recipientMayBeOffline)
    }

    @Test func windowHoursAlonePullsInByDefault() throws {
        let configuration = try decode(#"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "window_hours": 0.5}"#)
        #expect(configuration.window == HTTPChannel.Window(duration: .seconds(1800), pullIn: true, template: nil))
        #expect(makeChannel(window: configuration.window).capabilities.pullIn)
        #expect(makeChannel().capabilities == .plain)
    }

    @Test func rejectsUnknownKeysAtTheTopAndInsideWindow() {
        let top = failure(#"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "outbound": "x"}"#)
        #expect(message(top).contains("unknown key 'outbound'"))
        let nested = failure(
            #"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "window_hours": 24, "window": {"pullin": true}}"#)
        #expect(message(nested).contains("unknown key 'pullin'"))
        if case .dataCorrupted(let context)? = nested { #expect(context.codingPath.map(\.stringValue) == ["window", "pullin"]) }
        let template = failure(
            #"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "window_hours": 24, "window": {"template": {"name": "t", "language": "en"}}}"#)
        #expect(message(template).contains("unknown key 'language'"))
    }

    @Test(arguments: [
        (#"{"outbound_url": "https://a.example"}"#, "secret"),
        (#"{"secret": "short", "outbound_url": "https://a.example"}"#, "at least 16"),
        (#"{"secret": "0123456789abcdef"}"#, "outbound_url"),
        (#"{"secret": "0123456789abcdef", "outbound_url": "ftp://a.example"}"#, "http:// or https://"),
        (#"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "max_text": 0}"#, "max_text"),
        (#"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "window": {"pull_in": true}}"#, "window needs window_hours"),
        (#"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "window_hours": -1}"#, "window_hours"),
        (#"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "request_timeout": 0}"#, "request_timeout"),
        (#"{"secret": "0123456789abcdef", "outbound_url": "https://a.example", "max_body_bytes": 0}"#, "max_body_bytes"),
    ])
    func rejectsWhatCannotWork(json: String, mentioning: String) {
        let error = failure(json)
        let text: String
        if case .keyNotFound(let key, _)? = error { text = key.stringValue + " " + message(error) } else { text = message(error) }
        #expect(text.contains(mentioning), "\(text)")
    }

    @Test func neverPrintsTheSecretOrTheURLsQuery() throws {
        let configuration = try decode(#"{"secret": "0123456789abcdef-very-secret", "outbound_url": "https://crm.example.com/in?token=tok-123"}"#)
        let text = "\(configuration) \(String(reflecting: configuration)) \(makeChannel(outboundURL: configuration.outboundURL))"
        #expect(!text.contains("very-secret"))
        #expect(!text.contains(testSecret))
        #expect(!text.contains("tok-123"))
        #expect(text.contains("https://crm.example.com"))
    }
}
