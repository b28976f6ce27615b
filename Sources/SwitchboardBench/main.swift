// switchboard-bench: measures what the closing notes report. Run with
//   swift run -c release switchboard-bench [planner|store|webhooks|whatsapp|email|all]
// Every figure is a median over repeated rounds, measured side by side in one run.
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SwitchboardChannels
import SwitchboardConfig
import SwitchboardCore
import SwitchboardFakes
import SwitchboardScheduler
import SwitchboardServer
import SwitchboardStorePostgres
import SwitchboardStoreSQLite
import SwitchboardTesting
import Synchronization

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
}

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    return (ContinuousClock.now - start).seconds
}

func format(_ value: Double, _ unit: String) -> String { String(format: "%.2f %@", value, unit) }

let moscow = WorkingHours(
    timeZone: TimeZone(identifier: "Europe/Moscow")!,
    week: [.mon: [WorkingInterval("09:00-13:00")!, WorkingInterval("14:00-18:00")!], .tue: [WorkingInterval("09:00-18:00")!],
           .wed: [WorkingInterval("09:00-18:00")!], .thu: [WorkingInterval("09:00-18:00")!], .fri: [WorkingInterval("09:00-18:00")!]])
let chain = FollowUpChain(enabled: true, steps: [
    FollowUpStep(delay: .seconds(4 * 3600), instruction: "Remind"),
    FollowUpStep(delay: .seconds(24 * 3600), instruction: "Ask", oncePerChat: true),
    FollowUpStep(delay: .seconds(48 * 3600), instruction: "Goodbye"),
])
let start = parseISO("2026-11-27T14:00:00Z")

// MARK: - Planner

func benchPlanner() {
    print("## Planner (pure): a 3-step chain's full timeline per chat")
    let withHours = FollowUpPlanner(chain: chain, hours: moscow)
    let allDay = FollowUpPlanner(chain: chain, hours: .always)
    let n = 20_000
    var a: [Double] = []
    var b: [Double] = []
    var arm: [Double] = []
    for _ in 0..<7 {
        var t = ContinuousClock.now
        for i in 0..<n { _ = withHours.timeline(lastMessageAt: start.addingTimeInterval(Double(i * 97))) }
        a.append((ContinuousClock.now - t).seconds / Double(n))
        t = ContinuousClock.now
        for i in 0..<n { _ = allDay.timeline(lastMessageAt: start.addingTimeInterval(Double(i * 97))) }
        b.append((ContinuousClock.now - t).seconds / Double(n))
        t = ContinuousClock.now
        for i in 0..<n {
            var state = FollowUpState()
            withHours.apply(.employeeMessage(at: start.addingTimeInterval(Double(i * 97))), to: &state, facts: .init())
        }
        arm.append((ContinuousClock.now - t).seconds / Double(n))
    }
    print("- arm one chat (plan step 1, Europe/Moscow split hours): \(format(median(arm) * 1e6, "µs"))")
    print("- whole 3-step timeline, Europe/Moscow split hours: \(format(median(a) * 1e6, "µs"))")
    print("- whole 3-step timeline, always open (UTC): \(format(median(b) * 1e6, "µs"))")
    print("- ratio (working-hours calendar / none): \(String(format: "%.1f×", median(a) / median(b)))")
}

// MARK: - Store

func benchStore(chats: Int) async throws {
    print("\n## SQLite store (WAL): per-event transactions, durability full vs normal, side by side on 2,000 chats")
    for durability in SQLiteStore.Durability.allCases {
        let (_, (create, armed), dir) = try await populate(chats: 2000, durability: durability)
        try? FileManager.default.removeItem(at: dir)
        print("- durability \(durability.rawValue): store an inbound message (new chat) \(format(create * 1e3, "ms")), arm a chain (read state, plan, write state + decision) \(format(armed * 1e3, "ms"))")
    }
    print("\n## SQLite store with \(chats) armed chats (populated with durability normal): the scheduler's and the page's queries")
    let (store, timings, dir) = try await populate(chats: chats, durability: .normal)
    defer { try? FileManager.default.removeItem(at: dir) }
    print("- populated in \(format((timings.0 + timings.1) * Double(chats), "s")) (inbound + arming, one transaction per event)")
    var wake: [Double] = []
    var claim: [Double] = []
    var search: [Double] = []
    for round in 0..<15 {
        wake.append(try await seconds { _ = try await store.nextWakeTime() })
        // Claims nothing due: the index answers "not yet" without touching the rows.
        claim.append(try await seconds {
            _ = try await store.claimDueFollowUps(now: start, owner: "bench\(round)", leaseUntil: start.addingTimeInterval(60), limit: 50)
        })
        search.append(try await seconds { _ = try await store.pendingFollowUps(FollowUpQuery(search: "client 4242", limit: 50)) })
    }
    print("- next wake time over \(chats) pending: \(format(median(wake) * 1e3, "ms"))")
    print("- claim due reminders (none due) over \(chats) pending: \(format(median(claim) * 1e3, "ms"))")
    print("- search pending follow-ups by name over \(chats): \(format(median(search) * 1e3, "ms"))")
}

/// A store with `chats` chats, each with a client message and an armed chain; median seconds
/// per inbound message and per arming.
func populate(chats: Int, durability: SQLiteStore.Durability) async throws -> (store: SQLiteStore, timings: (Double, Double), dir: URL) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-bench-\(UUID().uuidString)")
    let store = try SQLiteStore(path: dir.appendingPathComponent("bench.sqlite").path, durability: durability)
    let planner = FollowUpPlanner(chain: chain, hours: moscow)
    var create: [Double] = []
    var armed: [Double] = []
    let batch = 1000
    for b in 0..<(chats / batch) {
        var ids: [String] = []
        create.append(try await seconds {
            for i in 0..<batch {
                let n = b * batch + i
                let message = InboundMessage(channelID: "tg", conversationKey: "\(n)", providerMessageID: "u\(n)", senderName: "Client \(n)",
                                             chatTitle: "Client \(n)", receivedAt: start, text: "Hello")
                if case .stored(let chat, _) = try await store.recordInbound(message, employeeID: "alexey", followUp: { _, _ in [] }) { ids.append(chat.id) }
            }
        } / Double(batch))
        armed.append(try await seconds {
            for (i, id) in ids.enumerated() {
                let at = start.addingTimeInterval(Double(i))
                _ = try await store.updateFollowUp(chatID: id) { state, chat in planner.apply(.employeeMessage(at: at), to: &state, facts: .init(chat: chat)) }
            }
        } / Double(batch))
    }
    return (store, (median(create), median(armed)), dir)
}

// MARK: - Webhooks

final class Box<T: Sendable>: Sendable {
    private let storage: Mutex<T>
    init(_ value: T) { storage = Mutex(value) }
    var value: T {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

/// A gateway on 127.0.0.1 for a bench: Alexey with a one-step chain in `config.yaml`, one
/// channel file, SQLite in a temporary folder (prepared by `prepare` before the gateway opens
/// it), errors-only logging.
struct BenchGateway {
    let dir: URL
    let port: Int
    let server: Task<Void, any Error>

    static func start(
        channelFile name: String, _ yaml: String, logLevel: Logger.Level = .error, prepare: (URL) async throws -> Void = { _ in }
    ) async throws -> BenchGateway {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("channels"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        try """
            employees:
              - id: alexey
                name: Alexey
                auto_followup:
                  steps:
                    - { delay: 4h, instruction: "Remind the user that we're available" }
            """.write(to: dir.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        try yaml.write(to: dir.appendingPathComponent("channels/\(name)"), atomically: true, encoding: .utf8)
        try await prepare(dir)
        let config = try ConfigLoader(channelValidators: ChannelRegistry.validators, environment: [:]).load(configPath: dir.appendingPathComponent("config.yaml").path)
        var logger = Logger(label: "bench")
        logger.logLevel = logLevel
        let port = Box<Int>(0)
        let gateway = try Gateway(
            config: config, options: GatewayOptions(host: "127.0.0.1", port: 0, onServerRunning: { port.value = $0 }, logger: logger, channelTypes: ChannelRegistry.catalog))
        let app = gateway.application()
        let server = Task { try await app.run() }
        while port.value == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        return BenchGateway(dir: dir, port: port.value, server: server)
    }

    func stop() async {
        server.cancel()
        _ = await server.result
        try? FileManager.default.removeItem(at: dir)
    }
}

func benchWebhooks(requests: Int, concurrency: Int) async throws {
    print("\n## Webhook intake: a real gateway on 127.0.0.1, fake Telegram, offline composer, SQLite")
    let telegram = FakeTelegramServer()
    let telegramBase = try await telegram.start()
    let bench = try await BenchGateway.start(channelFile: "telegram.yaml", """
        type: telegram
        id: tg
        employee: alexey
        token: \(FakeTelegramServer.defaultToken)
        webhook_secret: bench_secret
        api_base: \(telegramBase)
        """)
    let url = "http://127.0.0.1:\(bench.port)/webhooks/tg"
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    let padding = String(repeating: "x", count: 1200)
    func update(_ id: Int, chat: Int) -> String {
        """
        {"update_id": \(id), "message": {"message_id": \(id), "date": 1763633100, "text": "Hello, I have a question about my booking \(padding)",
         "from": {"id": \(chat), "is_bot": false, "first_name": "Client", "last_name": "\(chat)", "language_code": "en"},
         "chat": {"id": \(chat), "type": "private", "first_name": "Client", "last_name": "\(chat)"}}}
        """
    }
    func post(_ body: String) async throws -> UInt {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Telegram-Bot-Api-Secret-Token", value: "bench_secret")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 16)
        return response.status.code
    }
    print("- update size: \(update(1, chat: 1).utf8.count) bytes")

    // Reply latency: webhook POST → the AI's answer reaching the provider, one conversation at a time.
    var latencies: [Double] = []
    for i in 0..<40 {
        let before = telegram.sentMessages.count
        let t = ContinuousClock.now
        _ = try await post(update(10_000_000 + i, chat: 5_000_000 + i))
        while telegram.sentMessages.count == before { try await Task.sleep(nanoseconds: 200_000) }
        latencies.append((ContinuousClock.now - t).seconds)
    }
    print("- reply latency (POST → sendMessage at the fake, offline composer), median of 40: \(format(median(latencies) * 1e3, "ms"))")

    // Throughput: distinct updates from many chats, `concurrency` connections at once.
    var rates: [Double] = []
    var next = 20_000_000
    for _ in 0..<3 {
        let base = next
        next += requests
        let elapsed = try await seconds {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var i = worker
                        while i < requests {
                            let status = try await post(update(base + i, chat: 6_000_000 + (base + i) % 50_000))
                            precondition(status == 200, "webhook answered \(status)")
                            i += concurrency
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        rates.append(Double(requests) / elapsed)
    }
    print("- webhook requests per second (\(requests) distinct updates, \(concurrency) concurrent connections, stored before 200), median of 3: \(Int(median(rates)))")
    let duplicates = try await seconds {
        for _ in 0..<500 { _ = try await post(update(20_000_000, chat: 6_000_000)) }
    }
    print("- a provider retry of a stored update (acknowledged, not stored again): \(format(duplicates / 500 * 1e3, "ms")) each, sequential")
    await bench.stop()
    try await client.shutdown()
    await telegram.stop()
}

// MARK: - WhatsApp webhooks

/// Requests per second for signed WhatsApp batch POSTs of `batch` messages each (distinct wamids,
/// clients cycling over 5,000 numbers), `concurrency` connections, every message stored before
/// the 200; replies go to a fake Graph API.
func benchWhatsAppWebhooks(batches: [Int], messagesPerRound: Int, concurrency: Int) async throws {
    print("\n## WhatsApp webhook intake: a real gateway on 127.0.0.1, fake Graph API, offline composer, SQLite")
    let graph = FakeGraphAPI()
    let apiBase = try await graph.start()
    let bench = try await BenchGateway.start(channelFile: "whatsapp.yaml", """
        type: whatsapp
        id: wa
        employee: alexey
        phone_number_id: "\(FakeGraphAPI.defaultPhoneNumberID)"
        access_token: \(FakeGraphAPI.defaultAccessToken)
        app_secret: \(FakeGraphAPI.defaultAppSecret)
        verify_token: bench-verify
        api_base: \(apiBase)
        messages_per_second: 1000
        """)
    graph.connectWebhook(url: "http://127.0.0.1:\(bench.port)/webhooks/wa")
    let counter = Box<Int>(0)
    func body(messages: Int) -> String {
        let first = counter.value
        counter.value = first + messages
        return FakeGraphAPI.Payload.batch(messages: (0..<messages).map { i in
            let n = first + i
            return .text("Hello, I have a question about my booking number \(n)", from: "49151\(String(format: "%07d", n % 5_000))",
                         name: "Client \(n % 5_000)", id: "wamid.BENCH\(n)")
        })
    }
    for batch in batches {
        let sample = body(messages: batch)
        let requests = max(concurrency, messagesPerRound / batch)
        var rates: [Double] = []
        for _ in 0..<3 {
            let bodies = (0..<requests).map { _ in body(messages: batch) }
            let elapsed = try await seconds {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<concurrency {
                        group.addTask {
                            var i = worker
                            while i < requests {
                                let status = try await graph.postWebhook(bodies[i]).status
                                precondition(status == 200, "webhook answered \(status)")
                                i += concurrency
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            rates.append(Double(requests) / elapsed)
        }
        let rate = median(rates)
        print("- \(batch)-message batch (\(sample.utf8.count) bytes, signed), \(requests) POSTs × 3 rounds, \(concurrency) connections: "
              + "\(Int(rate)) requests/s = \(Int(rate * Double(batch))) messages/s (median of 3)")
    }
    await bench.stop()
    await graph.stop()
}

// MARK: - Scale

/// Fills `path` (a gateway's SQLite file) with `chats` chats, each with a client message and an
/// armed 3-step chain whose first reminder is due 30 days from now — in batches of 1,000 per
/// transaction, through the store's own group-commit API. For bench/scale.py.
func populateArmedChats(path: String, chats: Int) async throws {
    let store = try SQLiteStore(path: path, durability: .normal)
    let employee = Employee(id: "alexey", name: "Alexey", followUp: chain)
    let planner = FollowUpPlanner(employee: employee)
    let armedAt = Date().addingTimeInterval(30 * 86_400)
    let started = ContinuousClock.now
    for first in stride(from: 0, to: chats, by: 1000) {
        let records = (first..<min(first + 1000, chats)).map { n in
            InboundRecord(
                message: InboundMessage(channelID: "tg", conversationKey: "\(n)", providerMessageID: "u\(n)", senderName: "Client \(n)",
                                        chatTitle: "Client \(n)", receivedAt: armedAt, text: "Hello"),
                employeeID: "alexey",
                followUp: { state, chat in planner.apply(.employeeMessage(at: armedAt.addingTimeInterval(Double(n % 3600))), to: &state, facts: .init(chat: chat)) })
        }
        _ = try await store.recordInbound(records)
    }
    let counts = try await store.rowCounts()
    print("populated \(chats) armed chats in \(String(format: "%.0f", (ContinuousClock.now - started).seconds)) s: \(counts)")
}

// MARK: - Pacing

/// `reminders` reminders fall due at once on a Telegram channel whose (fake) Bot API refuses
/// more than 30 messages a second with 429: how fast they go out, and how many were refused.
func benchPacing(reminders: Int) async throws {
    print("\n## Pacing: \(reminders) reminders due at once, a fake Telegram that answers 429 above 30 messages/s")
    let telegram = FakeTelegramServer()
    let telegramBase = try await telegram.start()
    telegram.limitRate(perSecond: 30)
    // Armed four hours ago, so every first reminder is due now.
    let bench = try await BenchGateway.start(channelFile: "telegram.yaml", """
        type: telegram
        id: tg
        employee: alexey
        token: \(FakeTelegramServer.defaultToken)
        webhook_secret: bench_secret
        api_base: \(telegramBase)
        """, logLevel: .critical
    ) { dir in
        let store = try SQLiteStore(path: dir.appendingPathComponent("data/switchboard.sqlite").path, durability: .normal)
        let employee = Employee(id: "alexey", name: "Alexey", followUp: FollowUpChain(enabled: true, steps: [FollowUpStep(delay: .seconds(4 * 3600), instruction: "Remind")]))
        let planner = FollowUpPlanner(employee: employee)
        let armedAt = Date().addingTimeInterval(-4 * 3600 - 60)
        for first in stride(from: 0, to: reminders, by: 1000) {
            _ = try await store.recordInbound((first..<min(first + 1000, reminders)).map { n in
                InboundRecord(
                    message: InboundMessage(channelID: "tg", conversationKey: "\(700_000 + n)", providerMessageID: "u\(n)", senderName: "Client \(n)", receivedAt: armedAt, text: "Hello"),
                    employeeID: "alexey", followUp: { state, chat in planner.apply(.employeeMessage(at: armedAt), to: &state, facts: .init(chat: chat)) })
            })
        }
    }
    let deadline = ContinuousClock.now + .seconds(Double(reminders) / 30 * 2 + 60)
    while telegram.sentMessages.count < reminders, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
    await bench.stop()
    await telegram.stop()
    let calls = telegram.calls("sendMessage")
    let sent = telegram.sentMessages.count
    guard let first = calls.first?.receivedAt, let last = calls.last?.receivedAt, sent > 1 else { print("- nothing sent"); return }
    let rate = Double(sent - 1) / last.timeIntervalSince(first)
    let refused = telegram.rateLimitedCount
    print("- \(sent) of \(reminders) delivered in \(String(format: "%.1f", last.timeIntervalSince(first))) s: \(String(format: "%.2f", rate)) messages/s = \(String(format: "%.3f", rate / 30))× the 30/s cap")
    print("- 429s: \(refused) of \(calls.count) sendMessage calls = \(String(format: "%.3f", Double(refused) / Double(calls.count) * 100))% (goal ≤ 0.1%)")
}

// MARK: - Drain

/// `reminders` reminders due in the same second, the scheduler on SQLite — or on the PostgreSQL
/// database `postgres` names, with `schedulers` schedulers sharing it (each with its own pool
/// and lease owner, as separate processes would have) — with a composer and a sender that cost
/// (almost) nothing: reminders drained per second, and the fire lag — when each went out after
/// its due time — for the first 10,000. Every chat must get exactly one reminder.
func benchDrain(
    reminders: Int, postgres: String?, schedulers: Int, workers: (compositions: Int, deliveries: Int), groupCommit: Bool, batch: Int
) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sb-bench-drain-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    var stores: [any Store] = []
    var pools: [Task<Void, Never>] = []
    defer { pools.forEach { $0.cancel() } }
    let setup = "workers \(workers.compositions) compositions / \(workers.deliveries) deliveries; "
        + (batch > 1 ? "pipeline batches of up to \(batch)" : "no batching: store calls per reminder, as before")
    if let postgres {
        print("\n## Drain: \(reminders) reminders due in the same second (PostgreSQL, \(schedulers) scheduler(s), instant composer and sender; \(setup))")
        let url = try PostgresURL.parse(postgres)
        for _ in 0..<max(1, schedulers) {
            let store = PostgresStore(configuration: Gateway.postgresConfiguration(url, GatewayConfig.Storage(sqlitePath: "")))
            pools.append(Task { await store.run() })
            stores.append(store)
        }
    } else {
        print("\n## Drain: \(reminders) reminders due in the same second (SQLite, instant composer and sender; \(setup); group commit \(groupCommit ? "on" : "off"))")
        stores = [try SQLiteStore(path: dir.appendingPathComponent("drain.sqlite").path, groupCommit: groupCommit)]
    }
    let employee = Employee(id: "alexey", name: "Alexey", followUp: FollowUpChain(enabled: true, steps: [FollowUpStep(delay: .seconds(3600), instruction: "Remind")]))
    let planner = FollowUpPlanner(employee: employee)
    let due = Date()
    let populating = ContinuousClock.now
    for first in stride(from: 0, to: reminders, by: 1000) {
        _ = try await stores[0].recordInbound((first..<min(first + 1000, reminders)).map { n in
            InboundRecord(
                message: InboundMessage(channelID: "tg", conversationKey: "\(n)", providerMessageID: "u\(n)", senderName: "Client \(n)", receivedAt: due, text: "Hello"),
                employeeID: "alexey", followUp: { state, chat in planner.apply(.employeeMessage(at: due.addingTimeInterval(-3600)), to: &state, facts: .init(chat: chat)) })
        })
    }
    print("- armed in \(String(format: "%.1f", (ContinuousClock.now - populating).seconds)) s (not timed below)")
    let sender = TimedSender()
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let started = Date()
    let services = stores.map { store in
        // Its own lease owner, as a separate process would have.
        var configuration = Scheduler.Configuration()
        configuration.compositionWorkers = workers.compositions
        configuration.deliveryWorkers = workers.deliveries
        configuration.pipelineBatch = batch
        let scheduler = Scheduler(
            store: store, composer: RecordingComposer(), senders: ChannelSenders(["tg": sender]),
            roster: LiveRoster(Roster(employees: [employee], channelOwners: ["tg": "alexey"])), clock: ScaledClock(scale: 1), logger: logger,
            configuration: configuration)
        return Task { try await scheduler.run() }
    }
    while sender.count < reminders, Date().timeIntervalSince(started) < 600 { try await Task.sleep(for: .milliseconds(100)) }
    let elapsed = Date().timeIntervalSince(started)
    services.forEach { $0.cancel() }
    for service in services { _ = await service.result }
    // Due since arming began; the scheduler starts only now, so lag counts from now (arming a
    // slow store would otherwise count as lag).
    let lags = sender.times.prefix(10_000).map { $0.timeIntervalSince(max(due, started)) }.sorted()
    func pct(_ p: Double) -> Double { lags.isEmpty ? .nan : lags[min(lags.count - 1, Int(Double(lags.count) * p))] }
    print("- \(sender.count) of \(reminders) sent in \(String(format: "%.1f", elapsed)) s: \(String(format: "%.0f", Double(sender.count) / elapsed)) reminders/s (goal ≥ \(postgres == nil ? "20,000" : "10,000")/s)")
    print("- fire lag of the first 10,000 after the scheduler started (all due by then): p50 \(String(format: "%.2f", pct(0.5))) s, p99 \(String(format: "%.2f", pct(0.99))) s (goal p99 ≤ 1 s)")
    print("- chats sent to more than once: \(sender.count - sender.distinctChats) (must be 0)")
}

/// Takes every message at once and notes when.
final class TimedSender: ChannelSender {
    let capabilities = ChannelCapabilities.plain
    private let state = Mutex<(times: [Date], chats: Set<String>)>(([], []))
    var times: [Date] { state.withLock { $0.times } }
    var count: Int { state.withLock { $0.times.count } }
    var distinctChats: Int { state.withLock { $0.chats.count } }
    func send(_ message: OutboundMessage) async throws -> DeliveryReceipt {
        state.withLock {
            $0.times.append(Date())
            $0.chats.insert(message.chatID)
        }
        return DeliveryReceipt(providerMessageIDs: [UUID().uuidString])
    }
}

let what = CommandLine.arguments.dropFirst().first ?? "all"
if what == "populate" {
    try await populateArmedChats(path: CommandLine.arguments[2], chats: Int(CommandLine.arguments.dropFirst(3).first ?? "") ?? 1_000_000)
    exit(0)
}
if what == "planner" || what == "all" { benchPlanner() }
if what == "store" || what == "all" { try await benchStore(chats: Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 100_000) }
if what == "webhooks" || what == "all" { try await benchWebhooks(requests: 2000, concurrency: 16) }
if what == "drain" {
    // drain [REMINDERS] [POSTGRES_URL [SCHEDULERS]] [--workers COMPOSITIONS/DELIVERIES] [--no-group-commit] [--batch N[,N…]]
    // Several --batch sizes run one after another on fresh stores (`--batch 1,256`: before/after).
    var arguments = Array(CommandLine.arguments.dropFirst(2))
    var batches = [256]
    if let i = arguments.firstIndex(of: "--batch"), i + 1 < arguments.count {
        batches = arguments[i + 1].split(separator: ",").compactMap { Int($0) }
        arguments.removeSubrange(i...(i + 1))
    }
    var workers = (compositions: 4, deliveries: 8)
    if let i = arguments.firstIndex(of: "--workers"), i + 1 < arguments.count {
        let parts = arguments[i + 1].split(separator: "/").compactMap { Int($0) }
        if parts.count == 2 { workers = (parts[0], parts[1]) }
        arguments.removeSubrange(i...(i + 1))
    }
    let groupCommit = !arguments.contains("--no-group-commit")
    arguments.removeAll { $0 == "--no-group-commit" }
    for batch in batches {
        try await benchDrain(
            reminders: Int(arguments.first ?? "") ?? 100_000, postgres: arguments.count > 1 ? arguments[1] : nil,
            schedulers: arguments.count > 2 ? Int(arguments[2]) ?? 1 : 1, workers: workers, groupCommit: groupCommit, batch: batch)
    }
}
if what == "pacing" { try await benchPacing(reminders: Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 3000) }
if what == "email" { try await benchEmailIngest(mails: Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 2000) }
if what == "whatsapp" || what == "all" { try await benchWhatsAppWebhooks(batches: [1, 50], messagesPerRound: 4000, concurrency: 16) }
