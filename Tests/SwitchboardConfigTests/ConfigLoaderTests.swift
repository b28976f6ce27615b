import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardConfig

/// A channel's own settings as an adapter would declare them: strict about unknown keys.
private struct PigeonSettings: Decodable, Sendable {
    var token: String
    var speed: Int

    enum CodingKeys: String, CodingKey, CaseIterable { case token, speed }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys where CodingKeys(rawValue: key.stringValue) == nil {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "unknown key '\(key.stringValue)'")
        }
        let known = try decoder.container(keyedBy: CodingKeys.self)
        token = try known.decode(String.self, forKey: .token)
        speed = try known.decodeIfPresent(Int.self, forKey: .speed) ?? 1
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private let loader = ConfigLoader(channelValidators: ["pigeon": { _ = try PigeonSettings(from: $0) }], environment: ["TOKEN": "s3cret", "EMPTY": ""])

private func parse(_ config: String, channels: [(String, String)] = []) throws(ConfigError) -> GatewayConfig {
    try loader.parse(config: config, file: "config.yaml", channels: channels, baseDirectory: "/srv/sb")
}

/// The diagnostics a broken config produces, as printed.
private func problems(_ config: String, channels: [(String, String)] = []) -> [String] {
    do {
        _ = try parse(config, channels: channels)
        return []
    } catch {
        return error.diagnostics.map(\.description)
    }
}

private let minimal = """
    employees:
      - id: alexey
        name: Alexey

    """

@Suite struct ConfigLoaderTests {
    @Test func shippedConfigAndChannelsPass() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try ConfigLoader(channelValidators: [:], environment: [:]).parse(
            config: String(contentsOf: root.appendingPathComponent("config.yaml"), encoding: .utf8), file: "config.yaml", channels: [],
            baseDirectory: root.path)
        let alexey = try #require(config.employees.first)
        #expect(alexey.followUp.steps.map(\.delay) == [.seconds(4 * 3600), .seconds(24 * 3600), .seconds(48 * 3600)])
        #expect(alexey.followUp.steps[1].oncePerChat)
        #expect(alexey.workingHours.timeZone.identifier == "Europe/Moscow")
        // Around the clock, so the demo's first message gets an answer: every hour of a week works.
        let monday = Date(timeIntervalSince1970: 1_795_000_000)
        #expect((0..<(7 * 24 * 4)).allSatisfy { alexey.workingHours.isWorking(at: monday.addingTimeInterval(Double($0) * 900)) })
        #expect(config.storage.sqlitePath == root.path + "/data/switchboard.sqlite")
        #expect(config.composer.baseURL == nil, "empty base_url means the offline composer")
    }

    @Test func tenMistakesGiveTenPositionedLines() {
        let config = """
            server:
              listen: nowhere
            employees:
              - id: alexey
                colour: blue
                working_hours:
                  timezone: Mars/Olympus
                  week:
                    mon: ["09:00-13:00", "12:00-18:00"]
                    tue: ["18:00-09:00"]
                auto_followup:
                  steps:
                    - { delay: { hours: 4 } }
                    - { delay: { minutes: 0 }, instruction: "x" }
              - id: alexey
                persona: ${MISSING}

            """
        let channels = [
            ("channels/a.yaml", "type: telegraph\nid: a\nemployee: alexey\n"),
            ("channels/b.yaml", "type: pigeon\nid: a\nemployee: nobody\ntoken: x\n"),
        ]
        let lines = problems(config, channels: channels)
        #expect(lines == [
            "channels/a.yaml:1:7: unknown channel type 'telegraph' (known types: pigeon)",
            "channels/b.yaml:2:5: duplicate channel id 'a' (also in channels/a.yaml)",
            "channels/b.yaml:3:11: channel belongs to employee 'nobody', which config.yaml does not define",
            "config.yaml:2:11: 'listen' must be HOST:PORT, e.g. 127.0.0.1:8080",
            "config.yaml:5:5: unknown key 'colour' in an employee",
            "config.yaml:7:17: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Moscow)",
            "config.yaml:9:30: interval 12:00-18:00 overlaps 09:00-13:00 on the same day",
            "config.yaml:10:15: interval 18:00-09:00 ends before it starts (a day ends at 24:00; split overnight hours across two days)",
            "config.yaml:13:11: a follow-up step: missing required key 'instruction'",
            "config.yaml:14:20: 'delay' must be at least 1 minute",
            "config.yaml:15:9: duplicate employee id 'alexey'",
            "config.yaml:16:14: environment variable MISSING is not set (use ${MISSING:-default} for an optional value)",
        ])
    }

    @Test func environmentSubstitution() throws {
        let config = try parse("""
            admin: { token: "${TOKEN}-${TOKEN}-padding" }
            composer:
              model: ${MODEL:-llama3}
              api_key: ${EMPTY:-fallback}
            employees:
              - id: alexey
                persona: "costs $${PRICE}"

            """)
        #expect(config.admin.token?.value == "s3cret-s3cret-padding")
        #expect(config.admin.token?.description == "***", "secrets never print")
        #expect(config.composer.model == "llama3")
        #expect(config.composer.apiKey?.value == "fallback", ":- applies to empty variables too")
        #expect(config.employees[0].persona == "costs ${PRICE}")
    }

    @Test(arguments: [
        ("{ hours: 4, minutes: 30 }", 16200), ("\"4h30m\"", 16200), ("90m", 5400), ("{ minutes: 1 }", 60), ("2d", 172_800),
    ])
    func delayForms(_ text: String, seconds: Int64) throws {
        let config = try parse(minimal + """
                auto_followup:
                  steps:
                    - { delay: \(text), instruction: "Check in" }

            """)
        #expect(config.employees[0].followUp.steps[0].delay == .seconds(seconds))
    }

    @Test(arguments: ["{ minutes: 0 }", "30s", "\"0h\""])
    func delayUnderAMinuteIsRefused(_ text: String) {
        let lines = problems(minimal + """
                auto_followup:
                  steps:
                    - { delay: \(text), instruction: "Check in" }

            """)
        #expect(lines.count == 1 && lines[0].hasSuffix("'delay' must be at least 1 minute"), "\(lines)")
    }

    @Test func theReplyBudgetIsReadAndValidated() throws {
        #expect(try parse(minimal).conversation.dailyTokenBudget == nil, "absent: unlimited")
        #expect(try parse(minimal).conversation.budgetReply == GatewayConfig.Conversation.defaultBudgetReply)
        let config = try parse("""
            conversation:
              daily_token_budget: 50000
              budget_reply: "  We got your message and will answer soon.  "

            """ + minimal)
        #expect(config.conversation.dailyTokenBudget == 50000)
        #expect(config.conversation.budgetReply == "We got your message and will answer soon.")

        let lines = problems("""
            conversation:
              daily_token_budget: 0
              budget_reply: "   "
              daily_token_budgt: 5

            """ + minimal)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("config.yaml:2:23:") && $0.contains("'daily_token_budget' must be a whole number from 1") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("config.yaml:3:17:") && $0.contains("'budget_reply' must be 1 to 2000 characters") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("config.yaml:4:") && $0.contains("daily_token_budgt") }, "\(lines)")
        #expect(!problems("conversation: { daily_token_budget: lots }\n" + minimal).isEmpty)
    }

    @Test func moreThanTenStepsIsRefused() {
        let steps = (1...11).map { "        - { delay: { hours: \($0) }, instruction: \"Step \($0)\" }" }.joined(separator: "\n")
        let lines = problems(minimal + "    auto_followup:\n      steps:\n" + steps + "\n")
        #expect(lines == ["config.yaml:16:11: a chain may have at most 10 steps; this is step 11 of 11"])
    }

    @Test func fullDaysSpecialDaysAndOutsideHours() throws {
        let config = try parse(minimal + """
                working_hours:
                  timezone: Asia/Kolkata
                  week:
                    mon: ["00:00-24:00"]
                    tue: "09:00-18:00"
                    sat: off
                  special_days:
                    - { date: 2026-12-31, hours: ["10:00-15:00"] }
                    - { date: 2026-11-30, hours: off }
                  outside_hours: { reply: silent }

            """)
        let hours = config.employees[0].workingHours
        #expect(hours.week[.mon] == [WorkingInterval("00:00-24:00")!])
        #expect(hours.week[.tue] == [WorkingInterval("09:00-18:00")!])
        #expect(hours.week[.sat] == [])
        #expect(hours.specialDays[LocalDate("2026-11-30")!] == [])
        #expect(config.employees[0].outsideHours == .silent)
    }

    @Test func aCalendarWithoutWorkingTimeIsRefused() {
        let lines = problems(minimal + """
                working_hours:
                  timezone: UTC
                  week: { mon: off }

            """)
        #expect(lines == ["config.yaml:5:7: working_hours has no working time at all: list at least one interval in 'week' or 'special_days'"])
    }

    @Test func channelSettingsAreStrictAndPositioned() {
        let lines = problems(minimal, channels: [
            ("channels/p.yaml", "type: pigeon\nid: p\nemployee: alexey\ntoken: abc\nspeeed: 3\n"),
            ("channels/q.yaml", "type: pigeon\nid: q\nemployee: alexey\n"),
            ("channels/r.yaml", "type: pigeon\nid: r\nemployee: alexey\ntoken: abc\nspeed: fast\n"),
        ])
        #expect(lines == [
            "channels/p.yaml:5:1: unknown key 'speeed'",
            "channels/q.yaml:1:1: missing required key 'token'",
            "channels/r.yaml:5:1: 'speed': expected a whole number, found 'fast'",
        ])
    }

    @Test func channelsMapToTheirEmployees() throws {
        let config = try parse(minimal, channels: [("channels/p.yaml", "type: pigeon\nid: p\nemployee: alexey\nenabled: false\ntoken: ${TOKEN}\n")])
        let channel = try #require(config.channels.first)
        #expect(channel.id == "p" && channel.employeeID == "alexey" && !channel.enabled)
        let settings = try PigeonSettings(from: channel.settingsDecoder())
        #expect(settings.token == "s3cret" && settings.speed == 1)
        #expect(config.roster.employee(forChannel: "p")?.name == "Alexey")
    }

    @Test func yamlSyntaxErrorsArePositioned() {
        let lines = problems("employees:\n  - id: [unclosed\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("config.yaml:3:") && lines[0].contains("YAML syntax error"), "\(lines)")
    }

    /// The channel files name employees config.yaml would define: a syntax error there is the
    /// one thing to fix, not the first of a cascade of "employee … does not define".
    @Test func aYAMLSyntaxErrorInTheConfigIsReportedAlone() {
        let lines = problems(
            "employees:\n  - id: [unclosed\n",
            channels: [("channels/p.yaml", "type: pigeon\nid: p\nemployee: alexey\ntoken: x\n"), ("channels/q.yaml", "type: pigeon\nid: q\nemployee: alexey\ntoken: y\n")])
        #expect(lines.count == 1 && lines[0].hasPrefix("config.yaml:") && lines[0].contains("YAML syntax error"), "\(lines)")
    }

    @Test func aChannelFingerprintIgnoresLayoutAndSeesEveryValue() throws {
        let a = try parse(minimal, channels: [("channels/p.yaml", "type: pigeon\nid: p\nemployee: alexey\ntoken: abc\nspeed: 2\n")])
        let b = try parse(minimal, channels: [("channels/p.yaml", "# comment\ntype: pigeon\nid: p\nspeed: 2   # fast\nemployee: alexey\ntoken: \"abc\"\n")])
        let c = try parse(minimal, channels: [("channels/p.yaml", "type: pigeon\nid: p\nemployee: alexey\ntoken: abd\nspeed: 2\n")])
        #expect(a.channels[0].fingerprint == b.channels[0].fingerprint)
        #expect(a.channels[0].fingerprint != c.channels[0].fingerprint)
    }

    @Test func workerPoolsHaveDefaultsAndAreRead() throws {
        #expect(try parse(minimal).workers == GatewayConfig.Workers())
        let workers = try parse("workers: { compositions: 8, deliveries: 32 }\n" + minimal).workers
        #expect(workers.compositions == 8 && workers.deliveries == 32)
        #expect(problems("workers: { compositions: 0, deliverys: 3 }\n" + minimal).count == 2)
    }

    @Test func connectionLimitsHaveDefaultsAndAreRead() throws {
        let defaults = try parse(minimal).server
        #expect(defaults.headerTimeout == .seconds(10) && defaults.bodyTimeout == .seconds(30) && defaults.idleTimeout == .seconds(60))
        #expect(defaults.maxConnections == 1000 && defaults.maxHeaderBytes == 32 * 1024)
        let server = try parse(
            "server: { header_timeout: 2s, body_timeout: 1m, idle_timeout: 90s, max_connections: 50, max_header_bytes: 8192 }\n" + minimal
        ).server
        #expect(server.headerTimeout == .seconds(2) && server.bodyTimeout == .seconds(60) && server.idleTimeout == .seconds(90))
        #expect(server.maxConnections == 50 && server.maxHeaderBytes == 8192)
    }

    @Test func connectionLimitsOutOfRangeArePositioned() {
        let lines = problems("server: { header_timeout: 0s, body_timeout: soon, idle_timeout: 2h, max_connections: 0, max_header_bytes: 10 }\n" + minimal)
        #expect(
            lines == [
                "config.yaml:1:27: 'header_timeout' must be a duration from 1s to 1h, such as 10s or 1m",
                "config.yaml:1:45: 'body_timeout' must be a duration from 1s to 1h, such as 10s or 1m",
                "config.yaml:1:65: 'idle_timeout' must be a duration from 1s to 1h, such as 10s or 1m",
                "config.yaml:1:86: 'max_connections' must be a whole number from 1 to 1000000",
                "config.yaml:1:107: 'max_header_bytes' must be a whole number from 1024 to 1048576",
            ], "\(lines)")
    }
}
