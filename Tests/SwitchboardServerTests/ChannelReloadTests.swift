import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing

/// Channel files applied while the gateway runs: added, edited, disabled, removed, broken —
/// and a reload in the middle of a burst of webhooks.
@Suite(.serialized, .awaitedTeardown) struct ChannelReloadTests {
    static let publicURL = "https://gateway.example"

    static func telegramFile(id: String = "tg", secret: String = GatewayHarness.secret, enabled: Bool = true, extra: String = "") -> String {
        """
        type: telegram
        id: \(id)
        employee: alexey
        enabled: \(enabled)
        token: \(FakeTelegramServer.defaultToken)
        mode: webhook
        webhook_secret: \(secret)
        api_base: {telegram_api}
        \(extra)
        """
    }

    func write(_ h: GatewayHarness, _ name: String, _ text: String) throws {
        try text.replacingOccurrences(of: "{telegram_api}", with: h.telegram.baseURL ?? "")
            .write(to: h.directory.appendingPathComponent("channels/\(name)"), atomically: true, encoding: .utf8)
    }

    func decisions(_ h: GatewayHarness, _ chat: Chat) async throws -> [FollowUpDecision] { try await h.gateway.store.decisions(chatID: chat.id) }

    @Test func aChannelFileAddedWhileRunningStartsItsChannel() async throws {
        let h = try await GatewayHarness(extraConfig: "server: { public_url: \(Self.publicURL) }")
        onTeardown { await h.shutdown() }
        #expect(try await h.deliver(GatewayHarness.textUpdate("Hi", chatID: 5151), secret: "second-secret_0123", path: "/webhooks/tg2").0 == 404)

        try write(h, "second.yaml", Self.telegramFile(id: "tg2", secret: "second-secret_0123"))
        h.gateway.reloadNow()
        try await eventually("the new channel registered its webhook") {
            h.telegram.calls("setWebhook").contains { $0.parameters["url"]?.string == "\(Self.publicURL)/webhooks/tg2" }
        }
        #expect(try await h.deliver(GatewayHarness.textUpdate("Hi from the new bot", chatID: 5151), secret: "second-secret_0123", path: "/webhooks/tg2").0 == 200)
        try await eventually("answered through the new channel") { !h.sentTexts(toChat: 5151).isEmpty }
        #expect(try await h.gateway.store.chat(channelID: "tg2", conversationKey: "5151") != nil)
        #expect(try await h.get("/readyz", token: nil).0 == 200)
    }

    @Test func anEditedChannelRestartsWithItsNewSettingsAndReRegistersItsWebhook() async throws {
        let h = try await GatewayHarness(extraConfig: "server: { public_url: \(Self.publicURL) }")
        onTeardown { await h.shutdown() }
        try await eventually("registered at start") { h.telegram.calls("setWebhook").count == 1 }

        try write(h, "telegram.yaml", Self.telegramFile(secret: "rotated-secret_0123"))
        h.gateway.reloadNow()
        try await eventually("re-registered with the new secret") {
            h.telegram.calls("setWebhook").last?.parameters["secret_token"]?.string == "rotated-secret_0123"
        }
        #expect(try await h.deliver(GatewayHarness.textUpdate("old secret")).0 == 401)
        #expect(try await h.deliver(GatewayHarness.textUpdate("new secret"), secret: "rotated-secret_0123").0 == 200)

        // Saving the file again unchanged (layout aside) restarts nothing.
        try write(h, "telegram.yaml", "# rotated on Monday\n" + Self.telegramFile(secret: "rotated-secret_0123"))
        h.gateway.reloadNow()
        try await eventually("reloaded") { h.telegram.calls("setWebhook").count >= 2 }
        let registrations = h.telegram.calls("setWebhook").count
        #expect(try await h.deliver(GatewayHarness.otherClientUpdate(), secret: "rotated-secret_0123").0 == 200)
        try await eventually("the gateway moved on") { !h.sentTexts(toChat: GatewayHarness.otherChatID).isEmpty }
        #expect(h.telegram.calls("setWebhook").count == registrations)
    }

    /// A disabled channel stops; a reminder that falls due meanwhile waits in the store with
    /// `channel_unavailable` on the chat, and goes out once the channel is back.
    @Test func aDisabledChannelsRemindersWaitAndGoOutWhenItIsBack() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        #expect(try await h.deliver(GatewayHarness.textUpdate("Hello")).0 == 200)
        try await eventually("reply") { h.sentTexts.count == 1 }
        let chat = try #require(try await h.chat)
        try await eventually("armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.sendsAt == parseISO("2026-11-23T10:00:00Z") }

        try write(h, "telegram.yaml", Self.telegramFile(enabled: false))
        h.gateway.reloadNow()
        try await eventually("the webhook is gone") { try await h.get("/webhooks/tg", token: nil).0 == 404 }
        #expect(try await h.get("/readyz", token: nil).0 == 200, "a disabled channel is not a fault")

        h.manualClock.advance(to: parseISO("2026-11-23T10:00:00Z"))
        try await eventually("the due reminder waits, visibly") {
            try await decisions(h, chat).contains { $0.kind == .deferred && $0.reason == .channelUnavailable }
        }
        let state = try #require(try await h.gateway.store.followUpState(chatID: chat.id))
        #expect(state.status == .scheduled && state.step == 1, "still pending: \(state)")
        #expect(h.sentTexts.count == 1 && h.openAI.requests.count == 1, "nothing composed or sent for a stopped channel")
        let (_, detail) = try await h.get("/api/chats/\(chat.id)")
        #expect(detail.contains("channel_unavailable"))

        try write(h, "telegram.yaml", Self.telegramFile())
        h.gateway.reloadNow()
        try await eventually("the webhook is back") { try await h.get("/webhooks/tg", token: nil).0 == 405 }
        h.manualClock.advance(by: .seconds(61))
        try await eventually("the reminder went out") { h.sentTexts(toChat: 4242).count == 2 }
        #expect(try await decisions(h, chat).filter { $0.kind == .deferred && $0.reason == .channelUnavailable }.count == 1, "logged once per outage")
        // Recorded just after the provider took it.
        try await eventually("the sent decision") { try await decisions(h, chat).contains { $0.kind == .sent && $0.step == 1 } }
    }

    /// A channel that stopped with an error (here: its bot token refused) is tried again on the
    /// next reload even though its file did not change — the fix may have been elsewhere.
    @Test func aFailedChannelIsTriedAgainOnReload() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        try write(h, "poller.yaml", """
            type: telegram
            id: poller
            employee: alexey
            token: "999:not-yet-valid"
            mode: polling
            api_base: {telegram_api}
            """)
        h.gateway.reloadNow()
        try await eventually("reported not ready") { try await h.get("/readyz", token: nil).1.contains("channel:poller") }
        h.telegram.setToken("999:not-yet-valid")
        h.gateway.reloadNow()
        try await eventually("ready again, the same file") { try await h.get("/readyz", token: nil).0 == 200 }
        h.telegram.enqueueTextMessage("Hello through the poller", chatID: 8181)
        try await eventually("polled and stored") { try await h.gateway.store.chat(channelID: "poller", conversationKey: "8181") != nil }
        #expect(try await h.get("/readyz", token: nil).0 == 200)
    }

    /// A reload re-plans pending reminders only when what plans them changed: a new admin token
    /// leaves every armed chat alone (with a million of them, rewriting each would be the cost).
    @Test func aReloadRePlansPendingRemindersOnlyWhenTheirChainOrChannelChanged() async throws {
        let logs = LogCapture()
        let h = try await GatewayHarness(logger: logs.logger(level: .info))
        onTeardown { await h.shutdown() }
        #expect(try await h.deliver(GatewayHarness.textUpdate("Hello")).0 == 200)
        try await eventually("the chat") { try await h.chat != nil }
        let chat = try #require(try await h.chat)
        try await eventually("armed") { try await h.gateway.store.followUpState(chatID: chat.id)?.status == .scheduled }
        func replans() async throws -> Int { try await decisions(h, chat).filter { $0.reason == .chainChanged }.count }

        let path = h.directory.appendingPathComponent("config.yaml")
        let original = try String(contentsOf: path, encoding: .utf8)
        try original.replacingOccurrences(of: GatewayHarness.adminToken, with: "another-admin-token-0123456789")
            .write(to: path, atomically: true, encoding: .utf8)
        h.gateway.reloadNow()
        try await eventually("reloaded") { logs.all.filter { $0.contains("config reloaded") }.count == 1 }
        #expect(try await replans() == 0, "a new admin token re-plans nothing")

        try original.replacingOccurrences(of: "{ delay: { hours: 4 },", with: "{ delay: { hours: 1 },").write(to: path, atomically: true, encoding: .utf8)
        h.gateway.reloadNow()
        try await eventually("re-planned for the new chain") { try await replans() == 1 }
    }

    @Test func aRemovedChannelFileStopsItsChannel() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        #expect(try await h.deliver(GatewayHarness.textUpdate("Hello")).0 == 200)
        try FileManager.default.removeItem(at: h.directory.appendingPathComponent("channels/telegram.yaml"))
        h.gateway.reloadNow()
        try await eventually("the webhook is gone") { try await h.get("/webhooks/tg", token: nil).0 == 404 }
        let (status, body) = try await h.get("/readyz", token: nil)
        #expect(status == 200 && !body.contains("channel:tg"), "\(body)")
    }

    @Test func aChannelFileWithMistakesChangesNothingAndIsReportedWithItsPosition() async throws {
        let logs = LogCapture()
        let h = try await GatewayHarness(logger: logs.logger(level: .info))
        onTeardown { await h.shutdown() }
        try write(h, "telegram.yaml", Self.telegramFile(secret: "new-secret_01234", extra: "mode_typo: polling"))
        h.gateway.reloadNow()
        try await eventually("reported") { logs.all.contains { $0.contains("config not reloaded") && $0.contains("telegram.yaml:9:1") } }
        #expect(try await h.deliver(GatewayHarness.textUpdate("still here")).0 == 200, "the old settings stay in force")
        #expect(try await h.deliver(GatewayHarness.textUpdate("new secret"), secret: "new-secret_01234").0 == 401)
    }

    /// Webhooks keep arriving while the channel restarts twice: every one acknowledged with 200
    /// is stored, and none is refused (the old instance answers until its successor is in place).
    @Test func aReloadDuringABurstOfWebhooksLosesNothingAcknowledged() async throws {
        let h = try await GatewayHarness()
        onTeardown { await h.shutdown() }
        let total = 300
        let statuses = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            var results: [(Int, Int)] = []
            for index in 0..<total {
                if index == 100 || index == 200 {
                    try write(h, "telegram.yaml", Self.telegramFile(extra: "request_timeout: \(20 + index / 100)"))
                    h.gateway.reloadNow()
                }
                if index >= 16, let result = try await group.next() { results.append(result) }
                group.addTask {
                    let update = GatewayHarness.textUpdate("burst \(index)", updateID: 7_000_000 + index, chatID: 6_000 + Int64(index % 10))
                    return (index, try await h.deliver(update).0)
                }
            }
            for try await result in group { results.append(result) }
            return results
        }
        let acknowledged = Set(statuses.filter { $0.1 == 200 }.map(\.0))
        #expect(acknowledged.count == total, "refused: \(statuses.filter { $0.1 != 200 }.prefix(10))")
        var stored = Set<String>()
        for key in 0..<10 {
            guard let chat = try await h.gateway.store.chat(channelID: "tg", conversationKey: "\(6_000 + key)") else { continue }
            for message in try await h.gateway.store.messages(chatID: chat.id, limit: 1000) where message.author == .client {
                stored.insert(message.text)
            }
        }
        let missing = acknowledged.filter { !stored.contains("burst \($0)") }
        #expect(missing.isEmpty, "acknowledged but not stored: \(missing.sorted().prefix(10))")
    }
}
