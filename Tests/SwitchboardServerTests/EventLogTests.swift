import Foundation
import Logging
import SwitchboardCore
import SwitchboardFakes
import SwitchboardServer
import SwitchboardTesting
import Synchronization
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

/// README "Logs": at `info` the log is an event stream — one line per message in, reply sent,
/// reminder scheduled, sent or skipped, dead letter, channel up or down — with ids and reason
/// codes, never what a client wrote or is called; those ride along only at `debug`.
@Suite(.serialized) struct EventLogTests {
    static let events: Set<String> = [
        "message in", "reply sent", "reminder scheduled", "reminder sent", "reminder skipped", "dead letter", "channel up", "channel down",
    ]

    /// Two 60-minute steps, the first once per chat, around the clock.
    static let chain = """
          - id: alexey
            name: Alexey
            auto_followup:
              steps:
                - { delay: 60m, instruction: "Check in", once_per_chat: true }
                - { delay: 60m, instruction: "Say goodbye" }
        """

    static let question = "Is breakfast included in the River King rate?"
    static let answer = "Thank you, that is all I needed"
    static func update(_ text: String) -> String { GatewayHarness.textUpdate(text, firstName: "Zinaida", lastName: "Quill") }

    /// A whole chain in manual time: Zinaida asks, Alexey answers, reminder 1 goes out; she
    /// answers, so the chain starts over — step 1 is skipped (once per chat) — and step 2 finds
    /// she has blocked the bot: a dead letter. Then the gateway stops.
    @Test func aWholeChainIsOneInfoLinePerEventWithoutWhatTheClientWrote() async throws {
        let capture = LogCapture()
        let h = try await GatewayHarness(employeeYAML: Self.chain, logger: capture.logger(level: .info))
        let clock = h.manualClock
        var chatID = ""
        do {
            #expect(try await h.deliver(Self.update(Self.question)).0 == 200)
            try await eventually("the answer") { h.sentTexts.count == 1 }
            let chat = try #require(try await h.chat)
            chatID = chat.id
            try await eventually("step 1 planned") { try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == at("2026-11-23T07:00:00Z") }
            clock.advance(to: at("2026-11-23T07:00:00Z"))
            try await eventually("reminder 1") { h.sentTexts.count == 2 }
            try await eventually("step 2 planned") { try await h.gateway.store.followUpState(chatID: chat.id)?.step == 2 }

            #expect(try await h.deliver(Self.update(Self.answer)).0 == 200)
            try await eventually("the second answer") { h.sentTexts.count == 3 }
            try await eventually("run 2, step 2 planned") {
                let state = try await h.gateway.store.followUpState(chatID: chat.id)
                return state?.run == 2 && state?.step == 2 && state?.sendsAt == at("2026-11-23T08:00:00Z")
            }
            h.telegram.script("sendMessage", .blocked)
            clock.advance(to: at("2026-11-23T08:00:00Z"))
            try await eventually("the chat is unreachable") { try await h.chat?.unreachable == true }
            try await eventually("the dead letter is logged") { capture.captured.contains { $0.message == "dead letter" } }
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()

        let entries = capture.captured
        let events = entries.filter { Self.events.contains($0.message) }
        let summary = events.map { entry in
            ([entry.message] + ["followup.run", "followup.step", "reason", "outbox.purpose"].compactMap { key in entry.metadata[key].map { "\(key)=\($0)" } })
                .joined(separator: " ")
        }
        #expect(
            summary == [
                "channel up",
                "message in",
                "reply sent outbox.purpose=reply",
                "reminder scheduled followup.run=1 followup.step=1 reason=employee_message",
                "reminder sent followup.run=1 followup.step=1",
                "reminder scheduled followup.run=1 followup.step=2 reason=previous_reminder_sent",
                "message in",
                "reply sent outbox.purpose=reply",
                "reminder skipped followup.run=2 followup.step=1 reason=once_per_chat_already_fired",
                "reminder scheduled followup.run=2 followup.step=2 reason=employee_message",
                "dead letter followup.step=2 reason=chat_unreachable outbox.purpose=reminder",
                "channel down reason=shutdown",
            ], "\(summary)")
        // Every conversation event names its chat; channel events name the channel.
        for entry in events {
            let key = entry.message.hasPrefix("channel") ? "channel.id" : "chat.id"
            #expect(entry.metadata[key] == (key == "chat.id" ? chatID : "tg"), "\(entry.line)")
        }
        #expect(events.first { $0.message == "reminder scheduled" }?.metadata["followup.sends_at"] == "2026-11-23T07:00:00Z")

        // While the chain played out, the info stream held these events and nothing else but
        // warnings (here Telegram's own, about the refused send).
        let first = try #require(entries.firstIndex { $0.message == "message in" })
        let last = try #require(entries.lastIndex { $0.message == "dead letter" })
        let others = entries[first...last].filter { !Self.events.contains($0.message) && $0.level < .warning }
        #expect(others.isEmpty, "not an event: \(others.map(\.line))")

        // No message text, reply text or client name at info.
        let personal = [Self.question, Self.answer, "breakfast", "Zinaida", "Quill", "Hello from Alexey"]
        for word in personal {
            #expect(!entries.contains { $0.line.contains(word) }, "\(word) at info: \(entries.filter { $0.line.contains(word) }.map(\.line))")
        }
    }

    /// At `debug` the same events carry what was written, for someone tracing one conversation.
    @Test func atDebugTheEventsCarryTheTextAndTheTitle() async throws {
        let capture = LogCapture()
        let h = try await GatewayHarness(employeeYAML: Self.chain, logger: capture.logger(level: .debug))
        do {
            #expect(try await h.deliver(Self.update(Self.question)).0 == 200)
            try await eventually("the answer is logged") { capture.captured.contains { $0.message == "reply sent" } }
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
        let incoming = capture.captured.filter { $0.message == "message in" }
        #expect(incoming.count == 1, "one line per message, also at debug")
        #expect(incoming.first?.metadata["message.text"] == Self.question)
        #expect(incoming.first?.metadata["chat.title"] == "Zinaida Quill")
        #expect(capture.captured.first { $0.message == "reply sent" }?.metadata["message.text"] == "Hello from Alexey")
    }
}

/// `--log-format`: logfmt for people, one JSON object per line for log shippers.
@Suite struct LogFormatTests {
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func append(_ text: String) { lines.withLock { $0.append(text) } }
    }

    func logger(_ format: LogFormat, into lines: Lines) -> Logger {
        var logger = Logger(label: "switchboard") { label in GatewayLogHandler(label: label, format: format, write: { lines.append($0) }) }
        logger.logLevel = .debug
        logger[metadataKey: "channel.id"] = "tg"
        return logger
    }

    /// Values that could break a line or a JSON string: quotes, backslashes, newlines, control
    /// characters, a line separator, emoji, nested metadata.
    static let awkward = "she said \"hi\"\\ then\nleft\t\u{01}\u{2028}\u{85}🙂"

    @Test func jsonIsOneValidObjectPerLineWithLevelMessageAndMetadata() throws {
        let lines = Lines()
        let log = logger(.json, into: lines)
        log.info("message in", metadata: ["chat.id": "c1", "followup.step": .stringConvertible(2)])
        log.debug("\(Self.awkward)", metadata: ["message.text": "\(Self.awkward)", "nested": ["a": ["1", "2"], "b": "x"]])
        log.warning("dead letter")

        let output = lines.all.joined()
        let split = output.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(split.count == 4 && split.last == "", "three lines, each ended by a newline: \(output)")
        let objects = try split.dropLast().map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
        }
        #expect(objects.map { $0["level"] as? String } == ["info", "debug", "warning"])
        #expect(objects.map { $0["message"] as? String } == ["message in", Self.awkward, "dead letter"])
        let first = try #require(objects[0]["metadata"] as? [String: Any])
        #expect(first["chat.id"] as? String == "c1" && first["followup.step"] as? String == "2" && first["channel.id"] as? String == "tg")
        let second = try #require(objects[1]["metadata"] as? [String: Any])
        #expect(second["message.text"] as? String == Self.awkward)
        let nested = try #require(second["nested"] as? [String: Any])
        #expect(nested["a"] as? [String] == ["1", "2"] && nested["b"] as? String == "x")
        #expect(objects.allSatisfy { ($0["ts"] as? String)?.hasSuffix("Z") == true && $0["label"] as? String == "switchboard" && $0["source"] != nil })
    }

    @Test func logfmtIsOneLinePerEntryWithQuotedValues() {
        let lines = Lines()
        let log = logger(.logfmt, into: lines)
        log.info("message in", metadata: ["chat.id": "c1", "reason": "once_per_chat_already_fired"])
        log.debug("text", metadata: ["message.text": "\(Self.awkward)", "empty": ""])

        #expect(lines.all.count == 2 && lines.all.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().firstIndex(of: "\n") == nil })
        let first = lines.all[0]
        #expect(first.hasPrefix("ts=") && first.contains(" level=info msg=\"message in\" channel.id=tg chat.id=c1 reason=once_per_chat_already_fired source="))
        let second = lines.all[1]
        #expect(second.contains(#"message.text="she said \"hi\"\\ then\nleft\t\u0001\u2028\u0085🙂""#), "\(second)")
        #expect(second.contains(#"empty="""#))
    }
}
