import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardFakes
import SwitchboardStorePostgres
import SwitchboardTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Three real `switchboard serve` processes on one PostgreSQL, behind no balancer but the test
/// itself: webhooks are spread across them, a wave of reminders falls due within seconds
/// (`time_scale`), and one process is killed with SIGKILL in the middle of the wave.
@Suite(.serialized) struct MultiProcessTests {
    static let secret = "multi-process-secret_0123"
    static let chats = 30
    static let steps = ["just checking in", "still relevant", "leave this conversation"]

    static func config(postgresURL: String) -> String {
        """
        storage:
          postgres: "\(postgresURL)"
        # One hour of chain time is one real second.
        time_scale: 3600
        workers:
          # A killed process's claims are taken over after 3 real seconds.
          lease_seconds: 3
        admin:
          token: multi-process-admin-token-0123456789
        employees:
          - id: alexey
            name: Alexey
            auto_followup:
              enabled: true
              steps:
                - delay: 1h
                  instruction: Check in with the client
                - delay: 1h
                  instruction: Ask if the question is still relevant
                - delay: 1h
                  instruction: Say a warm goodbye
        """
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, "PostgreSQL is not installed"), .timeLimit(.minutes(4)))
    func threeProcessesShareTheWorkAndAKilledOnesRemindersGoOutOnce() async throws {
        let server = try await PostgresTestServer.shared()
        let database = try await server.createDatabase()
        let telegram = FakeTelegramServer()
        let apiBase = try await telegram.start()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", Self.config(postgresURL: server.url(database: database)))
        try folder.write("channels/telegram.yaml", """
            type: telegram
            id: tg
            employee: alexey
            token: "\(FakeTelegramServer.defaultToken)"
            mode: webhook
            webhook_secret: \(Self.secret)
            api_base: \(apiBase)
            """)
        var processes: [CLI.Running] = []
        var killed: Set<Int> = []
        defer { for (index, process) in processes.enumerated() where !killed.contains(index) { process.send(SIGKILL) } }
        for _ in 0..<3 { processes.append(try CLI.start(["serve", "--config", config, "--listen", "127.0.0.1:0"])) }
        var ports: [String] = []
        for process in processes {
            try await eventually(timeout: .seconds(90), "listening") { process.output.contains("server.port=") }
            ports.append(String(try #require(process.output.split(separator: "server.port=").last?.prefix { $0.isNumber })))
        }

        // One message per chat, round-robin across the three processes.
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let acknowledged = try await withThrowingTaskGroup(of: Int?.self) { group in
            for index in 0..<Self.chats {
                let port = ports[index % 3]
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhooks/tg")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "X-Telegram-Bot-Api-Secret-Token", value: Self.secret)
                    let id = 900_000 + index
                    request.body = .bytes(ByteBuffer(string: """
                        {"update_id": \(id), "message": {"message_id": \(id), "date": 1763633100, "text": "Hello \(index)",
                         "from": {"id": \(8000 + index), "is_bot": false, "first_name": "Ana"},
                         "chat": {"id": \(8000 + index), "type": "private", "first_name": "Ana"}}}
                        """))
                    let response = try await client.execute(request, timeout: .seconds(30))
                    return response.status == .ok ? index : nil
                }
            }
            return try await group.reduce(into: [Int]()) { if let index = $1 { $0.append(index) } }
        }
        try await client.shutdown()
        #expect(acknowledged.count == Self.chats, "every webhook acknowledged")

        // Replies go out, then the first reminders fall due about a second later: kill one
        // process once the wave is under way.
        func reminders() -> Int { telegram.sentMessages.filter { sent in Self.steps.contains { sent.text.contains($0) } }.count }
        try await eventually(timeout: .seconds(60), "the first reminders go out") { reminders() >= Self.chats / 3 }
        processes[1].send(SIGKILL)
        killed.insert(1)
        #expect(await processes[1].wait() == 128 + SIGKILL)
        let killedAt = reminders()

        let store = PostgresStore(
            configuration: .init(host: server.host, port: server.port, username: server.user, password: server.password, database: database, tls: .disable))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            var chats: [Int: Chat] = [:]
            for index in acknowledged {
                chats[index] = try await store.chat(channelID: "tg", conversationKey: "\(8000 + index)")
            }
            #expect(chats.count == acknowledged.count, "every acknowledged message has its chat")

            // Every chain runs to its end: each step is recorded sent, or ended visibly.
            func settled() async throws -> Bool {
                for chat in chats.values {
                    let status = try await store.followUpState(chatID: chat.id)?.status
                    if status == .scheduled || status == .sending || status == nil { return false }
                    if try await store.outbox(chatID: chat.id).contains(where: { $0.status == .pending || $0.status == .sending }) { return false }
                }
                return true
            }
            try await eventually(timeout: .seconds(90), "every chain ends") { try await settled() }

            var interrupted = 0
            var interruptedUnsent = 0
            var sentReminders = 0
            let byChat = Dictionary(grouping: telegram.sentMessages) { $0.chatID.int ?? -1 }
            for (index, chat) in chats.sorted(by: { $0.key < $1.key }) {
                let messages = try await store.messages(chatID: chat.id, limit: 100)
                let clientMessages = messages.filter { $0.author == .client }
                #expect(clientMessages.map(\.providerMessageID) == ["\(900_000 + index)"], "chat \(index): stored once: \(clientMessages)")
                let received = byChat[Int64(8000 + index)] ?? []
                let outbox = try await store.outbox(chatID: chat.id)
                for (step, marker) in Self.steps.enumerated() {
                    let got = received.filter { $0.text.contains(marker) }.count
                    let entries = outbox.filter { $0.entry.purpose == .reminder && $0.entry.followUpStep == step + 1 }
                    #expect(entries.count <= 1, "chat \(index) step \(step + 1) queued \(entries.count) times")
                    #expect(got <= 1, "chat \(index) step \(step + 1) reached Telegram \(got) times")
                    guard let entry = entries.first else { continue }
                    switch entry.status {
                    case .sent:
                        #expect(got == 1, "chat \(index) step \(step + 1) recorded sent, received \(got) times")
                        sentReminders += 1
                    case .dead:
                        // In flight in the killed process: maybe delivered, never sent twice.
                        #expect(entry.lastError?.contains("interrupted") == true, "chat \(index) step \(step + 1): \(entry.lastError ?? "")")
                        // One that never reached Telegram was claimed but waiting for a send slot.
                        interrupted += 1
                        if got == 0 { interruptedUnsent += 1 }
                    default:
                        Issue.record("chat \(index) step \(step + 1) ended \(entry.status)")
                    }
                }
                // A chain whose reply or reminder was cut off mid-delivery may stop there; all others ran every step.
                let chainSteps = outbox.filter { $0.entry.purpose == .reminder }.count
                let cutOff = outbox.contains { $0.status == .dead && $0.lastError?.contains("interrupted") == true }
                #expect(cutOff || chainSteps == Self.steps.count, "chat \(index): \(chainSteps) of \(Self.steps.count) steps")
                #expect(received.filter { $0.text.hasPrefix("Thanks for your message") }.count <= 1, "chat \(index): one reply")
            }
            // Lost to the kill: at most the deliveries the killed process had claimed and not
            // yet sent (its pool claims 8 ahead of its sends). Those it had sent but not yet
            // recorded reached the client; they end as interrupted too, never sent twice.
            #expect(interruptedUnsent <= 8, "\(interruptedUnsent) reminders interrupted before they were sent")
            #expect(sentReminders + interrupted >= killedAt, "reminders sent before the kill are all recorded")
            #expect(sentReminders >= Self.chats * Self.steps.count - 8 * Self.steps.count, "\(sentReminders) reminders sent")
        }
        for (index, process) in processes.enumerated() where !killed.contains(index) {
            process.send(SIGTERM)
            #expect(await process.wait() == 0, "a surviving process stops cleanly")
            killed.insert(index)
        }
        await telegram.stop()
    }
}
