import Foundation
import HummingbirdWSClient
import SwitchboardCore
import SwitchboardTesting
import Synchronization
import Testing

private func at(_ iso: String) -> Date { parseISO(iso) }

/// The widget's WebSocket protocol against a real gateway on 127.0.0.1 (docs/widget-protocol.md).
@Suite(.serialized, .awaitedTeardown) struct WidgetProtocolTests {
    /// A visitor chats, leaves; the seed's 4 h / 24 h / 48 h reminders are stored while they are
    /// away; on reconnect with their last `seq` they get exactly those three, in order, once —
    /// and the chat records when each was stored and when it was delivered.
    @Test func replayAfterReconnectHasNoGapsAndNoDuplicates() async throws {
        let h = try await WidgetGatewayHarness()
        onTeardown { await h.shutdown() }
        let clock = h.manualClock
        let token = try await h.newVisitorToken()
        let lastSeen = Mutex<Int64>(0)

        try await h.withSocket { socket in
            try await socket.auth(token)
            let ready = try await socket.read(until: "ready").last!
            #expect(ready["employee_name"] as? String == "Alexey" && ready["last_seq"] is NSNull)
            try await socket.send(#"{"type":"message","client_msg_id":"c1","text":"Is breakfast included?"}"#)
            let frames = try await socket.read { $0.ofType("message").count == 2 }
            #expect(frames.ofType("ack").count == 1)
            #expect(frames.texts == ["Is breakfast included?", "Reply from Alexey"])
            #expect(frames.ofType("message").map { $0["author"] as? String } == ["client", "employee"])
            lastSeen.withLock { $0 = frames.seqs.last! }
        }
        let chat = try #require(try await h.chat(visitorToken: token))
        try await eventually("chain armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == at("2026-11-23T10:00:00Z") }

        // Away: the three reminders go out while no page is open.
        for (time, count) in [("2026-11-23T10:00:00Z", 3), ("2026-11-24T10:00:00Z", 4), ("2026-11-26T10:00:00Z", 5)] {
            clock.advance(to: at(time))
            try await eventually("reminder at \(time)") { try await h.gateway.store.messages(chatID: chat.id, limit: 50).count == count }
        }
        let since = lastSeen.withLock { $0 }
        let stored = try await h.gateway.store.messages(chatID: chat.id, after: since, limit: 10)
        #expect(stored.map(\.text) == ["Reminder 1 from Alexey", "Reminder 2 from Alexey", "Reminder 3 from Alexey"])
        #expect(stored.map(\.at) == [at("2026-11-23T10:00:00Z"), at("2026-11-24T10:00:00Z"), at("2026-11-26T10:00:00Z")], "when each was stored")
        #expect(stored.allSatisfy { $0.deliveredAt == nil }, "not delivered while the visitor is away")

        clock.advance(to: at("2026-11-26T18:30:00Z"))
        let replayed = Mutex<[Int64]>([])
        try await h.withSocket { socket in
            try await socket.auth(token, lastSeq: since)
            let frames = try await socket.read(until: "ready")
            #expect(frames.texts == ["Reminder 1 from Alexey", "Reminder 2 from Alexey", "Reminder 3 from Alexey"], "exactly what was missed")
            #expect(frames.last?["type"] as? String == "ready" && frames.dropLast().allSatisfy { $0["type"] as? String == "message" })
            replayed.withLock { $0 = frames.seqs }
        }
        #expect(replayed.withLock { $0 } == stored.map(\.id), "in seq order, no gaps, no duplicates")
        let delivered = try await h.gateway.store.messages(chatID: chat.id, after: since, limit: 10)
        #expect(delivered.allSatisfy { $0.deliveredAt == at("2026-11-26T18:30:00Z") }, "delivered when the visitor came back")
        let reply = try #require(try await h.gateway.store.messages(chatID: chat.id, limit: 10).first { $0.text == "Reply from Alexey" })
        #expect(reply.deliveredAt == reply.at, "the reply reached the open page at once")

        // Up to date: a reconnect with the latest seq gets nothing but `ready`.
        let latest = replayed.withLock { $0.last! }
        try await h.withSocket { socket in
            try await socket.auth(token, lastSeq: latest)
            let frames = try await socket.read(until: "ready")
            #expect(frames.count == 1)
        }
    }

    @Test func aMissingBadOrLateTokenIsRefusedWith4401Or4408() async throws {
        let h = try await WidgetGatewayHarness(widgetYAML: "auth_timeout: 1")
        onTeardown { await h.shutdown() }
        for first in [#"{"type":"auth","last_seq":null}"#, #"{"type":"auth","visitor_token":"v1.0123456789abcdef01234567.1795000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
                      #"{"type":"message","client_msg_id":"x","text":"let me in"}"#]
        {
            let close = try await h.withSocket { socket in
                try await socket.send(first)
                #expect(try await socket.drain().isEmpty, "nothing is sent to an unauthenticated socket")
            }
            #expect(closeCode(close) == 4401, "\(first)")
        }
        let silent = try await h.withSocket { socket in _ = try await socket.drain() }
        #expect(closeCode(silent) == 4408)
        let (status, _, _) = try await h.request("/widget/web/ws")
        #expect(status == 426, "a plain GET is told this is a WebSocket endpoint")
    }

    @Test func aForeignOriginIsRefusedAtTheHandshakeAndAtTheSessionCall() async throws {
        let h = try await WidgetGatewayHarness()
        onTeardown { await h.shutdown() }
        let token = try await h.newVisitorToken()
        try await h.withSocket { socket in
            try await socket.auth(token)
            try await socket.read(until: "ready")
        }
        // The same client with a foreign Origin beside its own: refused without upgrading.
        await #expect(throws: WebSocketClientError.self) {
            try await h.withSocket(extraOrigin: "https://evil.example") { _ in Issue.record("upgraded a foreign origin") }
        }
        let (status, headers, body) = try await h.request("/widget/web/session", post: true, body: "{}", headers: ["Origin": "https://evil.example"])
        #expect(status == 403 && body.contains("origin_not_allowed") && headers["access-control-allow-origin"] == "https://evil.example")
        // The gateway's own page (the demo) is always allowed.
        let (own, ownHeaders, _) = try await h.request("/widget/web/session", post: true, body: "{}", headers: ["Origin": h.baseURL])
        #expect(own == 200 && ownHeaders["access-control-allow-origin"] == h.baseURL)
    }

    @Test func anOversizedFrameClosesTheSocketWith1009() async throws {
        let h = try await WidgetGatewayHarness(widgetYAML: "max_frame_bytes: 2048\nmax_text_length: 300")
        onTeardown { await h.shutdown() }
        let token = try await h.newVisitorToken()
        let close = try await h.withSocket { socket in
            try await socket.auth(token)
            try await socket.read(until: "ready")
            try await socket.send(#"{"type":"message","client_msg_id":"big","text":"\#(String(repeating: "a", count: 4000))"}"#)
            _ = try await socket.drain()
        }
        #expect(closeCode(close) == 1009)
        #expect(try await h.chat(visitorToken: token) == nil, "nothing was stored")
    }

    @Test func aMessageTooLargeInFragmentsClosesWith1009LikeOneInOneFrame() async throws {
        let h = try await WidgetGatewayHarness()
        defer { Task { await h.shutdown() } }
        let token = try await h.newVisitorToken()
        // Fragments of 8 KiB: each frame is within the 16 KiB limit, the 40 KB message is not.
        let close = try await h.withSocket(maxFrameSize: 8192) { socket in
            try await socket.auth(token)
            try await socket.read(until: "ready")
            // A fragmented message within the limit is joined and read.
            try await socket.sendFragmented(#"{"type":"message","client_msg_id":"joined","text":"\#(String(repeating: "b", count: 3000))"}"#)
            let ack = try await socket.read(until: "ack").ofType("ack")[0]
            #expect(ack["client_msg_id"] as? String == "joined")
            try await socket.sendFragmented(#"{"type":"message","client_msg_id":"big","text":"\#(String(repeating: "a", count: 40_000))"}"#)
            _ = try await socket.drain()
        }
        #expect(closeCode(close) == 1009)
        let chat = try #require(try await h.chat(visitorToken: token))
        #expect(try await h.gateway.store.messages(chatID: chat.id, limit: 50).filter { $0.author == .client }.count == 1)
    }

    @Test func aFloodOfPingFramesClosesWith4429() async throws {
        let h = try await WidgetGatewayHarness()
        defer { Task { await h.shutdown() } }
        let token = try await h.newVisitorToken()
        let close = try await h.withSocket { socket in
            try await socket.auth(token)
            try await socket.read(until: "ready")
            // The gateway closes while pings are still being written: later writes may fail.
            for _ in 0..<100 { try? await socket.ping() }
            _ = try await socket.drain()
        }
        #expect(closeCode(close) == 4429)
        // Before `auth` too: the connection's own allowance, not the 10 s auth deadline.
        let started = ContinuousClock.now
        let early = try await h.withSocket { socket in
            for _ in 0..<100 { try? await socket.ping() }
            _ = try await socket.drain()
        }
        #expect(closeCode(early) == 4429 && ContinuousClock.now - started < .seconds(5))
    }

    @Test func newVisitorsAreLimitedByTheConnectionsRealAddress() async throws {
        let h = try await WidgetGatewayHarness(widgetYAML: "new_visitor_burst: 2\nnew_visitors_per_hour: 1")
        defer { Task { await h.shutdown() } }
        let token = try await h.newVisitorToken()
        _ = try await h.newVisitorToken()
        let session = #"{"visitor_token": null}"#
        let (status, headers, body) = try await h.request("/widget/web/session", post: true, body: session, headers: ["Origin": WidgetGatewayHarness.origin])
        #expect(status == 429 && body.contains("rate_limited"))
        #expect(Int(headers["retry-after"] ?? "") ?? 0 > 3000, "one an hour: \(headers["retry-after"] ?? "none")")
        // 127.0.0.1 is not a trusted proxy: its X-Forwarded-For is anyone's to write, and ignored.
        let (spoofed, _, _) = try await h.request(
            "/widget/web/session", post: true, body: session, headers: ["Origin": WidgetGatewayHarness.origin, "X-Forwarded-For": "198.51.100.9"])
        #expect(spoofed == 429)
        let (returning, _, _) = try await h.request(
            "/widget/web/session", post: true, body: #"{"visitor_token": "\#(token)"}"#, headers: ["Origin": WidgetGatewayHarness.origin])
        #expect(returning == 200, "a returning visitor is never refused")
    }

    @Test func theRateLimitRefusesMessagesAndAFloodClosesWith4429() async throws {
        let h = try await WidgetGatewayHarness(widgetYAML: "messages_per_minute: 6\nmessage_burst: 2")
        onTeardown { await h.shutdown() }
        let token = try await h.newVisitorToken()
        let close = try await h.withSocket { socket in
            try await socket.auth(token)
            try await socket.read(until: "ready")
            for i in 1...3 { try await socket.send(#"{"type":"message","client_msg_id":"m\#(i)","text":"hello \#(i)"}"#) }
            let frames = try await socket.read { $0.ofType("ack").count == 2 && $0.ofType("error").count == 1 }
            let refusal = frames.ofType("error")[0]
            #expect(refusal["code"] as? String == "rate_limited" && refusal["client_msg_id"] as? String == "m3")
            #expect(((refusal["retry_after_ms"] as? NSNumber)?.intValue ?? 0) > 0)
            for _ in 0..<100 { try await socket.send(#"{"type":"ping"}"#) }
            _ = try await socket.drain()
        }
        #expect(closeCode(close) == 4429)
        let chat = try #require(try await h.chat(visitorToken: token))
        #expect(try await h.gateway.store.messages(chatID: chat.id, limit: 50).filter { $0.author == .client }.count == 2)
    }

    @Test func theScriptTheDemoAndTheIndexAreServed() async throws {
        let h = try await WidgetGatewayHarness()
        onTeardown { await h.shutdown() }
        let (status, headers, script) = try await h.request("/widget/web/widget.js")
        #expect(status == 200 && headers["content-type"] == "text/javascript; charset=utf-8" && script.contains(#""channel":"web""#))
        let (demoStatus, _, demo) = try await h.request("/widget/web/demo")
        #expect(demoStatus == 200 && demo.contains(#"<script src="/widget/web/widget.js" async></script>"#) && demo.contains("Riverside Hotel"))
        let (_, _, index) = try await h.request("/")
        #expect(index.contains(#"href="/widget/web/demo""#))
        #expect(try await h.request("/widget/nope/widget.js").0 == 404)
        #expect(try await h.request("/widget/web/nope").0 == 404)
    }
}
