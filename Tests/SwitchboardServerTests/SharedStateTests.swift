import Foundation
@testable import SwitchboardServer
import SwitchboardStoreSQLite
import Testing

/// Two gateways on one database stand for two processes behind a load balancer: what one
/// admin request set up, a request to the other sees.
@Suite(.serialized, .awaitedTeardown) struct SharedStateTests {
    /// Two gateways sharing a SQLite file in a folder of its own.
    func withTwoGateways(_ body: (GatewayHarness, GatewayHarness) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sb-shared-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = "storage: { sqlite: \(folder.appendingPathComponent("switchboard.sqlite").path) }"
        let a = try await GatewayHarness(extraConfig: storage)
        let b = try await GatewayHarness(extraConfig: storage)
        do {
            try await body(a, b)
        } catch {
            await a.shutdown()
            await b.shutdown()
            throw error
        }
        await a.shutdown()
        await b.shutdown()
    }

    @Test func aSessionSignedInOnOneProcessWorksOnAnotherAndSignsOutEverywhere() async throws {
        try await withTwoGateways { a, b in
            let browser = a.pageClient()
            onTeardown { await browser.shutdown() }
            #expect(try await browser.signIn().status == 303)
            let cookie = try #require(browser.sessionCookie)
            let other = b.pageClient()
            onTeardown { await other.shutdown() }
            let page = try await other.get("/followups", headers: [("Cookie", cookie)])
            #expect(page.status == 200, "the other process knows the session: \(page.status) \(page.location ?? "")")
            let csrf = try #require(PageClient.csrf(in: page.body))
            // Signing out on b ends the session on a as well.
            #expect(try await other.postForm("/signout", [("csrf", csrf)], headers: [("Cookie", cookie), ("Sec-Fetch-Site", "same-origin")]).status == 303)
            let after = try await browser.get("/followups")
            #expect(after.status == 303 && after.location?.hasPrefix("/signin") == true, "signed out everywhere: \(after.status)")
        }
    }

    @Test func failedAdminTokensCountAcrossProcesses() async throws {
        try await withTwoGateways { a, b in
            for attempt in 0..<5 {
                let target = attempt.isMultiple(of: 2) ? a : b
                let status = try await target.get("/api/followups", token: "wrong-token-\(attempt)-0123456789").0
                #expect(status == 401)
            }
            let limited = try await a.get("/api/followups", token: "wrong-token-5-0123456789").0
            #expect(limited == 429, "five failures spread over two processes limit the client")
            let elsewhere = try await b.get("/api/followups").0
            #expect(elsewhere == 429, "on every process")
        }
    }

    @Test func processesAgreeOnTheOriginOfScaledTime() async throws {
        let store = try SQLiteStore()
        let first = SharedOriginClock(scale: 3600)
        let origin = try await first.adopt(from: store)
        try await Task.sleep(for: .milliseconds(200))
        // A process started 0.2 s later would be 12 simulated minutes behind on its own.
        let second = SharedOriginClock(scale: 3600)
        #expect(try await second.adopt(from: store) == origin)
        let gap = abs(first.now().timeIntervalSince(second.now()))
        #expect(gap < 60, "the clocks differ by \(gap) simulated seconds")
        // The origin lapses a while after the last process stopped: a later demo starts afresh.
        let lapsed = try await store.shared(SharedOriginClock.name, now: Date().addingTimeInterval(SharedOriginClock.keepAlive + 1))
        #expect(lapsed == nil)
    }
}
