import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SwitchboardConfig
import SwitchboardCore
import SwitchboardFakes
import SwitchboardServer
import Synchronization
import SwitchboardTesting
import Testing

/// Every log line, kept in memory: the label, level, message and all metadata as text.
final class LogCapture: Sendable {
    /// One captured entry; `line` has everything in it as text.
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
        var line: String
    }

    private let entries = Mutex<[Entry]>([])

    var all: [String] { entries.withLock { $0.map(\.line) } }

    var captured: [Entry] { entries.withLock { $0 } }

    func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    /// A logger at `level` whose every line (and its metadata) lands here.
    func logger(level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "capture") { label in CapturingLogHandler(label: label, capture: self) }
        logger.logLevel = level
        return logger
    }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append(.init(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" },
                             line: "\(label) \(event.level) \(event.message) \(fields) @\(event.source)"))
    }
}

/// §8: tokens and secrets never appear in logs — at any level, from our code or a library's.
@Suite(.serialized) struct SecretsInLogsTests {
    static let apiKey = "sk-live-composer-key-7f3a9c21e8"
    static let widgetSecret = "widget-signing-secret-4b9d2e7a1c6f8035"

    @Test func aWholeConversationAtTraceLevelLogsNoSecret() async throws {
        let capture = LogCapture()
        let widget = """
            type: widget
            id: web
            employee: alexey
            allowed_origins: [https://riverside.example]
            token_secret: \(Self.widgetSecret)
            """
        let h = try await GatewayHarness(logger: capture.logger(), composerAPIKey: Self.apiKey, channelFiles: ["widget.yaml": widget])
        let secrets = [GatewayHarness.secret, GatewayHarness.adminToken, Self.apiKey, Self.widgetSecret, FakeTelegramServer.defaultToken]
        do {
            // A client writes on Telegram; the employee answers through the composer and the Bot API.
            #expect(try await h.deliver(GatewayHarness.textUpdate("Hello, is breakfast included?")).0 == 200)
            try await eventually("reply") { h.sentTexts.count == 1 }
            // A forged webhook, a wrong and a right admin token, a sign-in, a widget session.
            #expect(try await h.deliver(GatewayHarness.textUpdate("forged"), secret: "wrong-secret").0 == 401)
            #expect(try await h.get("/api/followups", token: "wrong-token-0123456789").0 == 401)
            #expect(try await h.get("/api/followups").0 == 200)
            var signIn = HTTPClientRequest(url: h.baseURL + "/signin")
            signIn.method = .POST
            signIn.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            signIn.body = .bytes(ByteBuffer(string: "token=\(GatewayHarness.adminToken)&next=/followups"))
            _ = try await h.client.execute(signIn, timeout: .seconds(10))
            var session = HTTPClientRequest(url: h.baseURL + "/widget/web/session")
            session.method = .POST
            session.headers.add(name: "Origin", value: "https://riverside.example")
            session.body = .bytes(ByteBuffer(string: #"{"visitor_token": null}"#))
            #expect(try await h.client.execute(session, timeout: .seconds(10)).status.code == 200)
            // A reload: the watcher reads the config (and its secrets) again.
            let path = h.directory.appendingPathComponent("config.yaml")
            try (try String(contentsOf: path, encoding: .utf8) + "\n# edited\n").write(to: path, atomically: true, encoding: .utf8)
            try await eventually("reloaded") { capture.all.contains { $0.contains("config reloaded") } }
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()

        let lines = capture.all
        // The run really was logged in depth, service-lifecycle's descriptions of services included.
        #expect(lines.count > 20)
        #expect(lines.contains { $0.contains("ConfigWatcher") })
        for secret in secrets {
            let leaks = lines.filter { $0.contains(secret) }
            #expect(leaks.isEmpty, "secret \(secret.prefix(4))… in \(leaks.count) log lines, e.g. \(leaks.first ?? "")")
        }
    }
}
