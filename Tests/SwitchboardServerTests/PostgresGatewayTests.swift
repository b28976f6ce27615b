import Foundation
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing

/// The gateway with `storage.postgres`: the same conversation as on SQLite, and `/readyz`
/// answering 503 while the database cannot be reached.
@Suite(.serialized, .awaitedTeardown, .enabled(if: PostgresTestServer.isAvailable, "PostgreSQL is not installed (apt-get install postgresql)"))
struct PostgresGatewayTests {
    @Test func aClientMessageIsStoredOnceAndAnsweredOnPostgres() async throws {
        let server = try await PostgresTestServer.shared()
        // The test cluster trusts loopback, so the password is never asked for — but it is in
        // the config, and must appear in no log line at any level.
        let url = server.url(database: try await server.createDatabase()).replacingOccurrences(of: "://switchboard@", with: "://switchboard:pw-in-the-url@")
        let capture = LogCapture()
        let h = try await GatewayHarness(extraConfig: "storage: { postgres: \"\(url)\" }", logger: capture.logger(level: .trace))
        onTeardown { await h.shutdown() }
        let update = GatewayHarness.textUpdate("Hi, is breakfast included?", updateID: 501)
        // Generous: at the start of a full run the cluster shares the machine with browsers and
        // mail servers starting, and this is the database's first write.
        #expect(try await h.deliver(update, timeout: .seconds(60)).0 == 200)
        #expect(try await h.deliver(update).0 == 200, "a provider's retry is acknowledged")
        try await eventually("AI reply sent") { h.sentTexts == ["Hello from Alexey"] }
        let chat = try #require(try await h.chat)
        #expect(try await h.gateway.store.messages(chatID: chat.id, limit: 10).filter { $0.author == .client }.count == 1, "stored once")
        try await eventually("chain armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled }
        #expect(try await h.get("/readyz", token: nil).0 == 200)
        #expect(!FileManager.default.fileExists(atPath: h.directory.appendingPathComponent("data/switchboard.sqlite").path), "nothing went to SQLite")
        #expect(capture.all.contains { $0.contains("PostgresStore(") }, "the store is described in the log")
        #expect(capture.all.allSatisfy { !$0.contains("pw-in-the-url") }, "the password is logged")
    }

    @Test func readyzAnswers503WhileTheDatabaseIsUnreachable() async throws {
        // Nothing listens on port 1.
        let capture = LogCapture()
        let h = try await GatewayHarness(
            extraConfig: "storage: { postgres: \"postgres://switchboard:pw-not-logged@127.0.0.1:1/none?sslmode=disable\" }", logger: capture.logger(level: .trace))
        onTeardown { await h.shutdown() }
        let started = ContinuousClock.now
        // Generous bounds: the point is an answer instead of a hang, and at the start of a full
        // run the machine may be busy for seconds with browsers and database clusters starting.
        let (status, body) = try await h.get("/readyz", token: nil, timeout: .seconds(40))
        #expect(status == 503)
        #expect(body.contains("store"), "names the store: \(body)")
        #expect(!body.contains("pw-not-logged"))
        #expect(ContinuousClock.now - started < .seconds(30), "answers, after the probe's timeout at most")
        #expect(capture.all.contains { $0.contains("readiness: the store cannot write") })
        #expect(capture.all.allSatisfy { !$0.contains("pw-not-logged") }, "the password is logged")
    }

    /// Across a restart PostgresNIO can leave a query on a broken connection unanswered; the
    /// store's backstop (three statement timeouts) answers the caller with an error instead of
    /// holding the inbound writer, and with it this test, forever. Alone it passed 10 runs of 10.
    /// Opt-in (`SWITCHBOARD_TEST_PG_RESTART=1`) all the same: one full `swift test` run with it
    /// enabled once looked stalled (every thread idle, a 10 ms timer loop ticking). That is also
    /// what a test waiting out a long retry backoff in `eventually` looks like, which is what a
    /// later "stall" turned out to be; the next full run with it enabled passed. It becomes a
    /// default test once a few more full runs pass.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_PG_RESTART"] == "1", "a full run with it stalled once; see the comment"))
    func aDatabaseRestartLosesNoAcknowledgedMessageAndSendsNothingTwice() async throws {
        // A cluster of its own: stopping the shared one would fail every other test's database.
        let server = try await PostgresTestServer.dedicated()
        let url = server.url(database: try await server.createDatabase())
        let h = try await GatewayHarness(extraConfig: "storage: { postgres: \"\(url)\", pool_size: 4, statement_timeout: 2s }")
        onTeardown { await h.shutdown() }
        #expect(try await h.deliver(GatewayHarness.textUpdate("Hi, is breakfast included?", updateID: 601)).0 == 200)
        try await eventually("the first answer") { h.sentTexts(toChat: 4242).count == 1 }
        let chat = try #require(try await h.chat)
        try await eventually("chain armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled }

        h.manualClock.advance(by: .seconds(60))
        try await server.stop()
        let whileDown = GatewayHarness.textUpdate("And is there parking?", updateID: 602)
        let started = ContinuousClock.now
        #expect(try await h.deliver(whileDown).0 == 503, "a message that could not be stored is not acknowledged: the provider retries")
        #expect(ContinuousClock.now - started < .seconds(8), "refused within statement_timeout, not held until the pool gives up")
        #expect(try await h.get("/readyz", token: nil).0 == 503)

        try await server.start()
        // The provider's retries: refused until the pool has reconnected, then acknowledged.
        try await eventually(timeout: .seconds(60), "acknowledged once the database is back") { try await h.deliver(whileDown).0 == 200 }
        try await eventually("the second answer") { h.sentTexts(toChat: 4242).count == 2 }
        let clientTexts = try await h.gateway.store.messages(chatID: chat.id, limit: 20).filter { $0.author == .client }.map(\.text)
        #expect(clientTexts == ["Hi, is breakfast included?", "And is there parking?"], "each acknowledged message stored once")
        #expect(try await h.get("/readyz", token: nil).0 == 200)

        // The chain re-armed by the second answer fires once, four hours on.
        h.manualClock.advance(to: parseISO("2026-11-23T10:01:30Z"))
        try await eventually("the reminder, sent and recorded") {
            try await h.gateway.store.outbox(chatID: chat.id).map(\.status) == [.sent, .sent, .sent]
        }
        try await h.advanceAndWaitForAnotherClientsAnswer(to: parseISO("2026-11-23T10:05:00Z"))
        #expect(h.sentTexts(toChat: 4242).count == 3, "nothing sent twice: \(h.sentTexts(toChat: 4242))")
    }
}
