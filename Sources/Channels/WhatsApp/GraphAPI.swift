import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore

/// Calls `POST {api_base}/{phone_number_id}/messages` with the bearer token and reads the
/// answer into the wamid or a `WhatsAppError`.
struct GraphAPI: Sendable {
    let httpClient: HTTPClient
    let apiBase: String
    let phoneNumberID: String
    let accessToken: Secret
    let timeout: Duration

    private static let maxResponseBytes = 1 << 20

    /// Sends one message; returns its wamid.
    func send(_ body: SendRequest) async throws -> String {
        var request = HTTPClientRequest(url: "\(apiBase)/\(phoneNumberID)/messages")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken.value)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try WhatsAppJSON.encoder().encode(body)))
        let status: Int
        let bytes: ByteBuffer
        let retryAfter: Duration?
        do {
            // No logger for the HTTP client: its debug lines would carry the Authorization header.
            let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
            status = Int(response.status.code)
            retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map { .seconds(max(0, $0)) }
            bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
        } catch let error as CancellationError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw WhatsAppError(.transport, "could not reach the Graph API: \(redacted(String(describing: error)))")
        }
        let data = Data(bytes.readableBytesView)
        if (200..<300).contains(status) {
            guard let sent = try? WhatsAppJSON.decoder().decode(SendResponse.self, from: data), let id = sent.messages?.first?.id else {
                throw WhatsAppError(.badResponse, "the Graph API accepted a message but its answer has no message id")
            }
            return id
        }
        guard let envelope = try? WhatsAppJSON.decoder().decode(GraphErrorEnvelope.self, from: data), let code = envelope.error.code else {
            throw WhatsAppError(.http(status: status), "the Graph API answered HTTP \(status) without an error body", retryAfter: retryAfter)
        }
        let error = envelope.error
        // The envelope's `message` repeats the code as "(#131047) Re-engagement message".
        let title = error.title ?? error.message.map { $0.hasPrefix("(#\(code)) ") ? String($0.dropFirst("(#\(code)) ".count)) : $0 }
        var message = "\(code): \(redacted(title ?? error.errorUserTitle ?? "error"))"
        if let details = error.errorData?.details ?? error.errorUserMsg, !details.isEmpty, details != title { message += " — \(redacted(details))" }
        message += Self.advice(code)
        throw WhatsAppError(.graph(code: code, subcode: error.errorSubcode), message, retryAfter: retryAfter)
    }

    /// What an operator should do, where the code says.
    static func advice(_ code: Int) -> String {
        switch code {
        case 190, 102: " (the access token expired or was revoked: put a new one in access_token, e.g. a system user's permanent token)"
        case 10, 200...299: " (the access token lacks whatsapp_business_messaging: grant it to the system user and make a new token)"
        case 100: " (check phone_number_id: it must be the Phone number ID from API Setup, not the number)"
        case 132000...132999: " (check window.template: name, language and parameter count must match an approved template)"
        default: ""
        }
    }

    /// Replaces the token wherever a lower layer may have quoted it.
    func redacted(_ text: String) -> String {
        accessToken.value.isEmpty ? text : text.replacingOccurrences(of: accessToken.value, with: "***")
    }
}

/// Spaces outbound calls so the number stays under its throughput (`messages_per_second`):
/// each call takes the next free slot, in real time (Meta counts real seconds).
actor Pacer {
    private let interval: Duration
    private var next: ContinuousClock.Instant

    init(messagesPerSecond: Int) {
        interval = .nanoseconds(1_000_000_000 / Int64(max(1, messagesPerSecond)))
        next = ContinuousClock.now
    }

    func waitForSlot() async throws {
        let now = ContinuousClock.now
        let slot = max(now, next)
        next = slot + interval
        if slot > now { try await Task.sleep(until: slot, clock: .continuous) }
    }
}
