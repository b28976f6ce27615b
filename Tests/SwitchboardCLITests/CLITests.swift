import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardConfig
import SwitchboardCore
import SwitchboardStoreSQLite
import SwitchboardTesting
import Testing

/// `switchboard check`, `simulate` and `followups` as a user runs them: exit status, the
/// exact output a script would parse, and errors that say what is wrong.
@Suite struct CLITests {
    static let shippedConfig = CLI.packageRoot.appendingPathComponent("config.yaml").path
    /// The shipped employee with office hours, for the README's `simulate` example.
    static let officeHours = CLI.packageRoot.appendingPathComponent("docs/examples/office-hours.yaml").path

    /// One employee working 09:00–18:00 Moscow time on weekdays, with the shipped chain.
    static let alexey = """
        employees:
          - id: alexey
            name: Alexey
            working_hours:
              timezone: Europe/Moscow
              week: { mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"], thu: ["09:00-18:00"], fri: ["09:00-18:00"] }
            auto_followup:
              enabled: true
              steps:
                - { delay: { hours: 4 },  instruction: "Remind the user that we're available" }
                - { delay: { hours: 24 }, instruction: "Ask if the question is still relevant" }
        """

    // MARK: check

    @Test(arguments: [shippedConfig, officeHours])
    func checkPassesOnTheShippedConfigAndTheExample(config: String) async throws {
        let result = try await CLI.run(["check", "--config", config])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains(": OK"), "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }

    @Test func checkPrintsEveryProblemAsFileLineColumnAndFails() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write(
            "config.yaml",
            """
            employees:
              - id: alexey
                name: Alexey
                colour: red
                working_hours: { timezone: Mars/Olympus }
            """)
        let result = try await CLI.run(["check", "--config", config])
        #expect(result.status == 1, "\(result)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count >= 2, "both mistakes are reported at once: \(result)")
        let shape = try Regex(#"^(.+):(\d+):(\d+): (.+)$"#)
        for line in lines {
            let match = try #require(line.wholeMatch(of: shape), "not file:line:column: message — \(line)")
            #expect(match.output[1].substring.map(String.init) == config)
        }
        #expect(lines.contains { $0.hasPrefix("\(config):4:5: ") && $0.contains("colour") }, "the unknown key, where it is: \(result)")
        #expect(lines.contains { $0.hasPrefix("\(config):5:") && $0.contains("Mars/Olympus") }, "the unknown time zone, where it is: \(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    @Test func checkReportsABrokenYAMLFileWithItsPosition() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", "employees: [ {id: alexey, name: Alexey\n")
        let result = try await CLI.run(["check", "--config", config])
        #expect(result.status == 1, "\(result)")
        #expect(try result.stderr.split(separator: "\n").allSatisfy { $0.wholeMatch(of: try Regex(#"^.+:\d+:\d+: .+$"#)) != nil }, "\(result)")
        #expect(result.stderr.hasPrefix("\(config):"), "\(result)")
    }

    // MARK: simulate

    /// The README's example: a message on Friday at 17:00 Moscow time, to an employee with office hours.
    @Test func simulateJSONIsOneArrayOfStepDueAndSendsAtInUTC() async throws {
        let result = try await CLI.run(["simulate", "--config", Self.officeHours, "--employee", "alexey", "--last-message", "2026-11-27T14:00:00Z", "--json"])
        #expect(result.status == 0, "\(result)")
        // 18:00Z is 21:00 in Moscow, after hours: step 1 moves to Monday 09:00 (06:00Z); the
        // later steps count from when it is sent.
        #expect(
            result.stdout == """
                [{"step":1,"due":"2026-11-27T18:00:00Z","sends_at":"2026-11-30T06:00:00Z"},\
                {"step":2,"due":"2026-12-01T06:00:00Z","sends_at":"2026-12-01T06:00:00Z"},\
                {"step":3,"due":"2026-12-03T06:00:00Z","sends_at":"2026-12-03T06:00:00Z"}]

                """, "\(result)")
        let steps = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(steps.allSatisfy { Set($0.keys) == ["step", "due", "sends_at"] })
    }

    /// The shipped employee works around the clock: a newcomer's first message is answered, and
    /// no reminder waits for opening hours — not even on a Friday night.
    @Test func theShippedEmployeeWorksAroundTheClock() async throws {
        let result = try await CLI.run(["simulate", "--config", Self.shippedConfig, "--employee", "alexey", "--last-message", "2026-11-27T14:00:00Z", "--json"])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdout == """
                [{"step":1,"due":"2026-11-27T18:00:00Z","sends_at":"2026-11-27T18:00:00Z"},\
                {"step":2,"due":"2026-11-28T18:00:00Z","sends_at":"2026-11-28T18:00:00Z"},\
                {"step":3,"due":"2026-11-30T18:00:00Z","sends_at":"2026-11-30T18:00:00Z"}]

                """, "\(result)")
    }

    @Test func simulateRefusesAnUnknownEmployeeAndABadInstant() async throws {
        let unknown = try await CLI.run(["simulate", "--config", Self.shippedConfig, "--employee", "nobody", "--last-message", "2026-11-27T14:00:00Z"])
        #expect(unknown.status != 0 && unknown.stderr.contains("nobody") && unknown.stderr.contains("alexey"), "\(unknown)")
        let badTime = try await CLI.run(["simulate", "--config", Self.shippedConfig, "--employee", "alexey", "--last-message", "friday"])
        #expect(badTime.status != 0 && badTime.stderr.contains("ISO 8601"), "\(badTime)")
    }

    // MARK: followups

    @Test func followupsJSONListsTheScheduledChats() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", Self.alexey)
        // The state the gateway leaves behind: Ana wrote, Alexey answered at 09:30 Moscow time.
        let loaded = try ConfigLoader(channelValidators: [:], environment: [:]).load(configPath: config)
        let employee = try #require(loaded.employees.first)
        do {
            let store = try SQLiteStore(path: loaded.storage.sqlitePath)
            let repliedAt = parseISO("2026-11-23T06:30:00Z")
            let message = InboundMessage(
                channelID: "tg", conversationKey: "4242", providerMessageID: "1", senderName: "Ana K", chatTitle: "Ana K",
                receivedAt: repliedAt.addingTimeInterval(-120), text: "Is breakfast included?")
            guard case .stored(let chat, _) = try await store.recordInbound(message, employeeID: employee.id, followUp: { _, _ in [] }) else {
                Issue.record("the chat was not stored")
                return
            }
            let planner = FollowUpPlanner(employee: employee)
            _ = try await store.appendMessage(NewMessage(chatID: chat.id, author: .employee, text: "Yes, it is.", at: repliedAt)) { state, _ in
                planner.apply(.employeeMessage(at: repliedAt), to: &state, facts: .init())
            }
        }

        let result = try await CLI.run(["followups", "--config", config, "--json"])
        #expect(result.status == 0, "\(result)")
        let items = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]], "\(result)")
        #expect(items.count == 1)
        let item = try #require(items.first)
        #expect(Set(item.keys) == ["chat_id", "chat", "client", "employee_id", "employee", "channel", "step", "sends_at", "status", "time_zone"])
        #expect(item["chat"] as? String == "Ana K" && item["employee"] as? String == "Alexey" && item["employee_id"] as? String == "alexey")
        #expect(item["step"] as? Int == 1 && item["sends_at"] as? String == "2026-11-23T10:30:00Z" && item["status"] as? String == "scheduled")
        #expect(item["time_zone"] as? String == "Europe/Moscow" && item["channel"] as? String == "tg")

        let none = try await CLI.run(["followups", "--config", config, "--json", "--search", "nobody-by-that-name"])
        #expect(none.status == 0 && none.stdout == "[]\n", "\(none)")
    }

    @Test func followupsWithAMissingConfigIsAnError() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let missing = folder.url.appendingPathComponent("wrong/path/config.yaml").path
        let result = try await CLI.run(["followups", "--config", missing, "--json"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains(missing) && result.stderr.contains("cannot read the config file"), "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("wrong").path), "nothing created")
    }

    /// A config that is not the one the gateway runs with has no database beside it: say so
    /// rather than create an empty one and report that nothing is scheduled.
    @Test func followupsWithoutADatabaseIsAnErrorAndCreatesNone() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", Self.alexey)
        let result = try await CLI.run(["followups", "--config", config])
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("no database at") && result.stderr.contains("data/switchboard.sqlite"), "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("data").path), "no empty database left behind")
    }

    // MARK: serve

    /// SIGHUP reloads the config and channel files at once, without a file having changed, and
    /// SIGTERM still stops the gateway cleanly.
    @Test func sighupReloadsTheConfigAtOnce() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", "employees:\n  - id: alexey\n    name: Alexey\n")
        let gateway = try CLI.start(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        var stopped = false
        defer { if !stopped { gateway.send(SIGKILL) } }
        try await eventually(timeout: .seconds(60), "listening") { gateway.output.contains("gateway listening") }
        #expect(!gateway.output.contains("config reloaded"))
        gateway.send(SIGHUP)
        try await eventually("reloaded on the signal") { gateway.output.contains("config reloaded") && gateway.output.contains("reload.cause=signal") }
        gateway.send(SIGTERM)
        let status = await gateway.wait()
        stopped = true
        #expect(status == 0, "SIGTERM ends it cleanly")
    }

    /// A gateway started by the tests holds none of the test process's sockets. NIO opens them
    /// without `CLOEXEC`; a child that inherited one kept connections open after the server
    /// closed them (no FIN until the child exited), which other tests saw as 15–30 s hangs.
    @Test func aStartedGatewayInheritsNoSocket() async throws {
        // A socket as NIO makes one: no close-on-exec.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        let inode = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", "employees:\n  - id: alexey\n    name: Alexey\n")
        let gateway = try CLI.start(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        defer { gateway.send(SIGKILL) }
        try await eventually(timeout: .seconds(60), "listening") { gateway.output.contains("gateway listening") }
        let held = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(gateway.pid)/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(gateway.pid)/fd/\($0)")
        }
        #expect(!held.isEmpty, "the child's descriptors are readable")
        #expect(!held.contains(inode), "the child holds the test's socket \(inode)")
    }

    /// Every webhook answered 200 is in the database after `kill -9` right after the answers:
    /// the 200 goes out only once the group commit holding the message has reached the disk.
    @Test func webhooksAcknowledgedInGroupCommitsSurviveKill9() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", "employees:\n  - id: alexey\n    name: Alexey\n")
        // Replies cannot go anywhere (nothing listens on port 9): only the intake matters here.
        try folder.write("channels/telegram.yaml", """
            type: telegram
            id: tg
            employee: alexey
            token: "123456:test-token"
            mode: webhook
            webhook_secret: kill-nine-secret_0123
            api_base: http://127.0.0.1:9
            """)
        let gateway = try CLI.start(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        var killed = false
        defer { if !killed { gateway.send(SIGKILL) } }
        try await eventually(timeout: .seconds(60), "listening") { gateway.output.contains("server.port=") }
        let port = try #require(gateway.output.split(separator: "server.port=").last?.prefix { $0.isNumber })
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let total = 200
        let acknowledged = try await withThrowingTaskGroup(of: Int?.self) { group in
            for index in 0..<total {
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhooks/tg")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.headers.add(name: "X-Telegram-Bot-Api-Secret-Token", value: "kill-nine-secret_0123")
                    let id = 500_000 + index
                    request.body = .bytes(ByteBuffer(string: """
                        {"update_id": \(id), "message": {"message_id": \(id), "date": 1763633100, "text": "Привет \(index)",
                         "from": {"id": \(7000 + index % 20), "is_bot": false, "first_name": "Ana"},
                         "chat": {"id": \(7000 + index % 20), "type": "private", "first_name": "Ana"}}}
                        """))
                    let response = try await client.execute(request, timeout: .seconds(30))
                    return response.status == .ok ? index : nil
                }
            }
            var done: [Int] = []
            for try await index in group { if let index { done.append(index) } }
            return done
        }
        gateway.send(SIGKILL)
        killed = true
        #expect(await gateway.wait() == 128 + SIGKILL)
        try await client.shutdown()
        #expect(acknowledged.count == total)

        let store = try SQLiteStore(path: folder.url.appendingPathComponent("data/switchboard.sqlite").path)
        var stored = Set<String>()
        for key in 0..<20 {
            guard let chat = try await store.chat(channelID: "tg", conversationKey: "\(7000 + key)") else { continue }
            for message in try await store.messages(chatID: chat.id, limit: 1000) where message.author == .client { stored.insert(message.text) }
        }
        let lost = acknowledged.filter { !stored.contains("Привет \($0)") }
        #expect(lost.isEmpty, "acknowledged, then lost: \(lost.sorted().prefix(10))")
    }

    /// `--log-format json`: every line the gateway writes is one JSON object, the libraries' too.
    @Test func serveWithJSONLogsWritesOneObjectPerLine() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("config.yaml", "employees:\n  - id: alexey\n    name: Alexey\n")
        let gateway = try CLI.start(["serve", "--config", config, "--listen", "127.0.0.1:0", "--log-format", "json"])
        var stopped = false
        defer { if !stopped { gateway.send(SIGKILL) } }
        try await eventually(timeout: .seconds(60), "listening") { gateway.output.contains("gateway listening") }
        let output = gateway.output  // `wait()` removes the files
        gateway.send(SIGTERM)
        #expect(await gateway.wait() == 0)
        stopped = true
        let lines = output.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count >= 3, "\(output)")
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] is String && object?["message"] is String && object?["metadata"] is [String: Any], "\(line)")
        }
        #expect(lines.contains { $0.contains(#""message":"gateway listening""#) && $0.contains(#""server.port":""#) })
    }

    @Test func anUnknownLogFormatIsAUsageError() async throws {
        let result = try await CLI.run(["serve", "--config", Self.shippedConfig, "--log-format", "xml"])
        #expect(result.status == 64, "a usage error (EX_USAGE), before anything starts: \(result)")
        #expect(result.stderr.contains("xml") && result.stderr.contains("json") && result.stderr.contains("logfmt"), "\(result)")
    }

    @Test func anUnknownLogLevelIsAUsageError() async throws {
        let result = try await CLI.run(["serve", "--config", Self.shippedConfig, "--log-level", "nonsense"])
        #expect(result.status == 64, "a usage error (EX_USAGE), before anything starts: \(result)")
        #expect(result.stderr.contains("nonsense") && result.stderr.contains("debug"), "names the bad value and the good ones: \(result)")
    }
}
