import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardCore
import SwitchboardFakes
import SwitchboardScheduler
import SwitchboardServer
import SwitchboardStoreSQLite
import SwitchboardTesting
import Testing

/// A whole gateway on 127.0.0.1 with a fake Telegram and a fake OpenAI-compatible server,
/// its config written to a temporary folder, and time in the test's hands.
final class GatewayHarness: Sendable {
    static let secret = "tg_test-secret_0123"
    static let adminToken = "admin-token-for-tests-0123456789"

    let directory: URL
    let telegram = FakeTelegramServer()
    let openAI = FakeOpenAIServer()
    let gateway: Gateway
    let clock: any WallClock
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    private let port = PortBox()
    private let task: Task<Void, any Error>

    /// - Parameters:
    ///   - employeeYAML: the `employees:` list item(s), indented by two spaces.
    ///   - logger: what the gateway logs to; by default warnings and above, to the console.
    ///   - channelFiles: more files for `channels/`, by name; `{telegram_api}` in them is the fake Telegram's address.
    init(
        employeeYAML: String = GatewayHarness.alexey, clock: any WallClock = ManualClock("2026-11-23T06:00:00Z"), extraConfig: String = "",
        logger: Logger? = nil, composerAPIKey: String = "sk-test", channelFiles: [String: String] = [:], composerExtra: String = "",
        telegramExtra: String = "", tuneScheduler: @escaping @Sendable (inout Scheduler.Configuration) -> Void = { _ in }
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sb-gw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("channels"), withIntermediateDirectories: true)
        let telegramBase = try await telegram.start()
        _ = try await openAI.start()
        openAI.respond(text: "Hello from Alexey")
        try """
            admin: { token: \(GatewayHarness.adminToken) }
            composer: { base_url: \(openAI.baseURL), api_key: \(composerAPIKey), model: fake-model\(composerExtra) }
            \(extraConfig)
            employees:
            \(employeeYAML)
            """.write(to: directory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        try """
            type: telegram
            id: tg
            employee: alexey
            token: \(FakeTelegramServer.defaultToken)
            mode: webhook
            webhook_secret: \(GatewayHarness.secret)
            api_base: \(telegramBase)
            \(telegramExtra)
            """.write(to: directory.appendingPathComponent("channels/telegram.yaml"), atomically: true, encoding: .utf8)
        for (name, text) in channelFiles {
            try text.replacingOccurrences(of: "{telegram_api}", with: telegramBase)
                .write(to: directory.appendingPathComponent("channels/\(name)"), atomically: true, encoding: .utf8)
        }
        let config = try ConfigLoader(channelValidators: ChannelRegistry.validators, environment: [:])
            .load(configPath: directory.appendingPathComponent("config.yaml").path)
        self.clock = clock
        let logger = logger ?? {
            var logger = Logger(label: "gateway-test")
            logger.logLevel = .warning
            return logger
        }()
        let port = self.port
        var options = GatewayOptions(clock: clock, host: "127.0.0.1", port: 0, onServerRunning: { port.set($0) }, logger: logger, channelTypes: ChannelRegistry.catalog)
        options.tuneScheduler = tuneScheduler
        // Opening and migrating the SQLite file blocks: on a thread of its own, not the
        // cooperative pool that dozens of tests starting together share.
        gateway = try await onOwnThread { [options] in try Gateway(config: config, options: options) }
        let app = gateway.application()
        task = Task { try await app.run() }
        for _ in 0..<500 where port.get() == nil { try await Task.sleep(nanoseconds: 10_000_000) }
        guard port.get() != nil else { throw ContractViolation(description: "gateway did not start") }
    }

    static let alexey = """
          - id: alexey
            name: Alexey
            persona: Friendly concierge of the Riverside hotel.
            working_hours:
              timezone: Europe/Moscow
              week: { mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"], thu: ["09:00-18:00"], fri: ["09:00-18:00"] }
              outside_hours: { reply: auto, text: "We are closed now and will answer in the morning." }
            auto_followup:
              enabled: true
              steps:
                - { delay: { hours: 4 },  instruction: "Remind the user that we're available and ready to help" }
                - { delay: { hours: 24 }, instruction: "Ask if the question is still relevant", once_per_chat: true }
                - { delay: { hours: 48 }, instruction: "Say a warm goodbye and let them know we're always happy to help" }
        """

    /// Alexey with three 60-minute steps and no working hours: a chain a scaled clock plays out in seconds.
    static let hourlyChain = """
          - id: alexey
            name: Alexey
            auto_followup:
              steps:
                - { delay: 60m, instruction: "Check in" }
                - { delay: 60m, instruction: "Check in again" }
                - { delay: 60m, instruction: "Say goodbye" }
        """

    var baseURL: String { "http://127.0.0.1:\(port.get() ?? 0)" }
    var manualClock: ManualClock { clock as! ManualClock }

    func shutdown() async {
        task.cancel()
        _ = await task.result
        try? await client.shutdown()
        // The test may still hold the gateway, and with it the store: close its files now, or a
        // long run exhausts descriptors (Foundation's Process breaks above 1,024).
        if let sqlite = gateway.store as? SQLiteStore {
            do { try await sqlite.closeConnections() } catch { print("HARNESS-CLOSE-FAILED \(error)") }
        }
        await telegram.stop()
        await openAI.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// POSTs a Telegram update to the webhook, as Telegram would.
    func deliver(_ update: String, secret: String? = GatewayHarness.secret, path: String = "/webhooks/tg", timeout: TimeAmount = .seconds(10)) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let secret { request.headers.add(name: "X-Telegram-Bot-Api-Secret-Token", value: secret) }
        request.body = .bytes(ByteBuffer(string: update))
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    func get(_ path: String, token: String? = GatewayHarness.adminToken, timeout: Duration = .seconds(10)) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: baseURL + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await client.execute(request, timeout: .init(timeout))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 22)))
    }

    func post(_ path: String, json: String, token: String? = GatewayHarness.adminToken) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await client.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 22)))
    }

    private static let updateCounter = Counter()

    /// A private text message from the client Ana K (chat 4242), or another client.
    static func textUpdate(_ text: String, updateID: Int? = nil, chatID: Int64 = 4242, firstName: String = "Ana", lastName: String = "K") -> String {
        let id = updateID ?? updateCounter.next()
        return """
            {"update_id": \(id), "message": {"message_id": \(id), "date": 1763633100, "text": "\(text)",
             "from": {"id": \(chatID), "is_bot": false, "first_name": "\(firstName)", "last_name": "\(lastName)"},
             "chat": {"id": \(chatID), "type": "private", "first_name": "\(firstName)", "last_name": "\(lastName)"}}}
            """
    }

    /// A message from Boris B (chat 4343): answering it shows the gateway has worked since.
    static func otherClientUpdate(_ text: String = "Hello, a question from Boris") -> String {
        textUpdate(text, chatID: otherChatID, firstName: "Boris", lastName: "B")
    }

    static let otherChatID: Int64 = 4343

    var chat: Chat? {
        get async throws { try await gateway.store.chat(channelID: "tg", conversationKey: "4242") }
    }

    var sentTexts: [String] { telegram.sentMessages.map(\.text) }

    /// What `sendMessage` accepted for one Telegram chat.
    func sentTexts(toChat chatID: Int64) -> [String] { telegram.sentMessages.filter { $0.chatID.int == chatID }.map(\.text) }

    /// Every `sendMessage` call for one Telegram chat, failed ones included.
    func sendAttempts(toChat chatID: Int64) -> Int { telegram.calls("sendMessage").filter { $0.parameters["chat_id"]?.int == chatID }.count }

    /// Moves the manual clock, then proves the gateway has worked at the new time: another client
    /// (Boris, chat 4343) writes and the answer to him goes out. Use it instead of sleeping
    /// before asserting that something did *not* happen.
    func advanceAndWaitForAnotherClientsAnswer(to instant: Date) async throws {
        manualClock.advance(to: instant)
        let before = sentTexts(toChat: Self.otherChatID).count
        #expect(try await deliver(Self.otherClientUpdate()).0 == 200)
        try await eventually("the answer to another client after the clock moved") { self.sentTexts(toChat: Self.otherChatID).count > before }
    }
}

final class PortBox: Sendable {
    private let value = Mutex<Int?>(nil)
    func set(_ port: Int) { value.withLock { $0 = port } }
    func get() -> Int? { value.withLock { $0 } }
}

final class Counter: Sendable {
    private let value = Mutex(900_000)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

import Synchronization
