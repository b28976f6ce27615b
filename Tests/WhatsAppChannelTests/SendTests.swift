import Foundation
import SwitchboardCore
import SwitchboardFakes
import SwitchboardTesting
import Testing
import WhatsAppChannel

@Suite("WhatsApp sending", .serialized)
struct SendTests {
    private func withGraph(_ body: (FakeGraphAPI, String) async throws -> Void) async throws {
        let graph = FakeGraphAPI()
        let base = try await graph.start()
        do {
            try await body(graph, base)
        } catch {
            await graph.stop()
            throw error
        }
        await graph.stop()
    }

    @Test func textGoesToTheNumberWithTheBearerTokenAndLongTextIsSplit() async throws {
        try await withGraph { graph, base in
            let channel = makeChannel(apiBase: base)
            let receipt = try await channel.send(outbound("Yes, it comes in blue."))
            #expect(receipt.providerMessageIDs == ["wamid.FAKE1"])
            let call = try #require(graph.calls.first)
            #expect(call.phoneNumberID == FakeGraphAPI.defaultPhoneNumberID)
            #expect(call.authorization == "Bearer \(FakeGraphAPI.defaultAccessToken)")
            #expect(call.to == "+16505551234", "with + and country code")
            #expect(call.type == "text" && call.text == "Yes, it comes in blue.")

            let long = String(repeating: "Sentence number one. ", count: 400)  // 8400 characters
            let parts = try await channel.send(outbound(long))
            #expect(parts.providerMessageIDs.count == 3)
            #expect(graph.sentTexts.dropFirst().allSatisfy { $0.count <= 4096 })
        }
    }

    @Test func aTemplateDeliveryCarriesLanguageAndFilledParameters() async throws {
        try await withGraph { graph, base in
            let template = WhatsAppChannel.Template(name: "followup_reengage", language: "en_US", parameters: ["{client_name}", "{employee_name} from Riverside"])
            let channel = makeChannel(apiBase: base, window: .init(pullIn: false, template: template), clientName: "Sheena N")
            _ = try await channel.send(outbound("composed text", delivery: .template("followup_reengage")))
            let call = try #require(graph.calls.first)
            #expect(call.type == "template")
            #expect(call.templateName == "followup_reengage" && call.templateLanguage == "en_US")
            #expect(call.templateParameters == ["Sheena N", "Alexey from Riverside"])
            #expect(call.text == nil, "the composed text is not sent outside the window")
        }
    }

    @Test(arguments: [
        (130429, DeliveryError.Kind.retryable), (131056, .retryable), (80007, .retryable), (4, .retryable), (131000, .retryable), (131057, .retryable),
        (131026, .permanent), (131049, .permanent), (131050, .permanent), (132001, .permanent), (100, .permanent), (131008, .permanent),
        (131047, .windowClosed),
    ])
    func errorCodesAreClassified(code: Int, kind: DeliveryError.Kind) async throws {
        try await withGraph { graph, base in
            graph.script(.error(code: code, title: "Title of \(code)", retryAfter: code == 130429 ? 7 : nil))
            do {
                _ = try await makeChannel(apiBase: base).send(outbound("Hi"))
                Issue.record("\(code) was taken as sent")
            } catch let error as DeliveryError {
                #expect(error.kind == kind)
                #expect(error.message.hasPrefix("\(code): Title of \(code)"), "the provider's reason: \(error.message)")
                if code == 130429 { #expect(error.retryAfter == .seconds(7), "Retry-After honoured") }
            }
        }
    }

    @Test func aRefusedTokenMarksTheChannelNotReadyAndASuccessClearsIt() async throws {
        try await withGraph { graph, base in
            let health = ComponentHealth()
            let channel = makeChannel(apiBase: base, health: health)
            graph.script(.tokenExpired)
            do {
                _ = try await channel.send(outbound("Hi"))
                Issue.record("sent with a refused token")
            } catch let error as DeliveryError {
                #expect(error.kind == .retryable && error.retryAfter == .seconds(300), "retried slowly, not in a hot loop")
            }
            #expect(health.problem?.contains("access_token") == true)
            #expect(health.problem?.contains(FakeGraphAPI.defaultAccessToken) == false, "no secret in /readyz")
            _ = try await channel.send(outbound("Hi again"))
            #expect(health.isHealthy)
        }
    }

    @Test func aBadAddressIsPermanentAndNothingIsCalled() async throws {
        try await withGraph { graph, base in
            await #expect(throws: DeliveryError.self) { try await makeChannel(apiBase: base).send(outbound("Hi", to: "not-a-number")) }
            #expect(graph.calls.isEmpty)
        }
    }

    @Test func noAnswerIsRetryable() async throws {
        // A port that just stopped listening: the connection is refused at once.
        let gone = FakeGraphAPI()
        let base = try await gone.start()
        await gone.stop()
        do {
            _ = try await makeChannel(apiBase: base, requestTimeout: .seconds(1)).send(outbound("Hi"))
            Issue.record("sent to nowhere")
        } catch let error as DeliveryError {
            #expect(error.kind == .retryable)
        }
    }

    @Test func outboundIsPacedUnderMessagesPerSecond() async throws {
        try await withGraph { graph, base in
            let channel = makeChannel(apiBase: base, messagesPerSecond: 20)
            let start = Date()
            for i in 0..<6 { _ = try await channel.send(outbound("message \(i)")) }
            // Six messages at 20 per second take at least five 50 ms gaps. (Only the lower bound
            // is checked: when each request reaches the fake depends on the machine's load.)
            #expect(Date().timeIntervalSince(start) >= 0.25)
            #expect(graph.calls.count == 6)
        }
    }
}
