import AsyncHTTPClient
import Foundation
import Logging
import SwitchboardChannelKit
import SwitchboardCore
import SwitchboardFakes
import Synchronization
import TelegramChannel

/// Cursors kept in memory; shared between two channel instances it plays the durable store
/// across a restart.
final class MemoryCursorStore: CursorStore {
    private let values: Mutex<[String: String]>

    init(_ values: [String: String] = [:]) { self.values = Mutex(values) }

    func cursor(_ name: String) async throws -> String? { values.withLock { $0[name] } }
    func setCursor(_ name: String, to value: String) async throws { values.withLock { $0[name] = value } }
    subscript(name: String) -> String? { values.withLock { $0[name] } }
}

/// Records what a channel hands in, and can be told to fail the next calls.
final class RecordingIntake: InboundIntake {
    struct Failure: Error {}

    private let state = Mutex<(batches: [[InboundMessage]], failures: Int)>(([], 0))

    var batches: [[InboundMessage]] { state.withLock { $0.batches } }
    var messages: [InboundMessage] { batches.flatMap { $0 } }

    func failNext(_ count: Int) { state.withLock { $0.failures += count } }

    func receive(_ messages: [InboundMessage]) async throws {
        let fail = state.withLock { state -> Bool in
            if state.failures > 0 {
                state.failures -= 1
                return true
            }
            state.batches.append(messages)
            return false
        }
        if fail { throw Failure() }
    }

    /// Telegram reports no delivery statuses.
    func receiveStatuses(_ updates: [DeliveryStatusUpdate]) async throws { precondition(updates.isEmpty) }
}

enum Fixtures {
    static func bytes(_ name: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureMissing(name: name)
        }
        return Array(try Data(contentsOf: url))
    }

    struct FixtureMissing: Error { var name: String }
}

let testChannelID = "riverside-telegram"
let testWebhookSecret = "tg_7Qk2-VxP9_aLm4"

func makeEnvironment(
    intake: RecordingIntake = RecordingIntake(), cursors: MemoryCursorStore = MemoryCursorStore(), shared: (any SharedStateStore)? = nil
) -> ChannelEnvironment {
    ChannelEnvironment(
        channelID: testChannelID, employeeID: "alexey", httpClient: HTTPClient.shared,
        logger: Logger(label: "telegram-tests", factory: { _ in SwiftLogNoOpLogHandler() }),
        clock: ScaledClock(), intake: intake, cursors: cursors, shared: shared)
}

func makeChannel(
    apiBase: String = "http://127.0.0.1:9", mode: TelegramChannel.Mode = .webhook, token: String = "7012345678:AAF-fakeTokenForTests_0123456789abc",
    publicURL: String? = nil, pollTimeout: Int = 1, requestTimeout: Int = 5, environment: ChannelEnvironment = makeEnvironment()
) -> TelegramChannel {
    TelegramChannel(
        configuration: .init(
            token: Secret(token), mode: mode, webhookSecret: Secret(testWebhookSecret), apiBase: apiBase, publicURL: publicURL,
            pollTimeout: pollTimeout, requestTimeout: requestTimeout),
        environment: environment)
}

/// Runs `body` against a fresh fake Bot API on 127.0.0.1 and stops it afterwards.
func withFakeTelegram(
    token: String = FakeTelegramServer.defaultToken, _ body: (FakeTelegramServer, String) async throws -> Void
) async throws {
    let telegram = FakeTelegramServer(token: token)
    let apiBase = try await telegram.start()
    do {
        try await body(telegram, apiBase)
    } catch {
        await telegram.stop()
        throw error
    }
    await telegram.stop()
}
