import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SwitchboardCore

/// Calls Bot API methods: `POST <api_base>/bot<token>/<method>` with a JSON body, and reads the
/// `ok`/`result`/`error_code` envelope into a result or a `TelegramError`.
struct TelegramAPI: Sendable {
    let httpClient: HTTPClient
    let apiBase: String
    let token: Secret
    let logger: Logger

    /// The largest answer read; a full `getUpdates` batch of 100 updates is far below it.
    private static let maxResponseBytes = 16 << 20

    func call<Parameters: Encodable, Result: Decodable>(
        _ method: String, _ parameters: Parameters, as _: Result.Type = Result.self, timeout: Duration
    ) async throws -> Result {
        var request = HTTPClientRequest(url: "\(apiBase)/bot\(token.value)/\(method)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        let body: Data
        do {
            body = try TelegramJSON.encoder().encode(parameters)
        } catch {
            throw TelegramError(.badResponse, "could not encode \(method) parameters: \(error)")
        }
        request.body = .bytes(ByteBuffer(bytes: body))

        let status: Int
        let bytes: ByteBuffer
        do {
            // No logger is handed to the HTTP client: its debug output includes the request URL,
            // and the URL includes the token.
            let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
            status = Int(response.status.code)
            bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
        } catch let error as CancellationError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw TelegramError(.transport, "could not reach Telegram for \(method): \(redacted(String(describing: error)))")
        }
        return try interpret(method: method, status: status, body: bytes)
    }

    private func interpret<Result: Decodable>(method: String, status: Int, body: ByteBuffer) throws -> Result {
        let envelope = try? TelegramJSON.decoder().decode(TelegramResponse<Result>.self, from: Data(body.readableBytesView))
        guard let envelope else {
            if (200..<300).contains(status) {
                throw TelegramError(.badResponse, "Telegram answered \(method) with a body the adapter cannot read")
            }
            throw TelegramError(.http(status: status), Self.explain(status: status, method: method, description: nil))
        }
        if envelope.ok, let result = envelope.result { return result }
        let code = envelope.errorCode ?? (status >= 400 ? status : 400)
        let retryAfter = envelope.parameters?.retryAfter.map { Duration.seconds(max(0, $0)) }
        let description = envelope.description.map(redacted)
        logger.debug(
            "Bot API call failed",
            metadata: ["telegram.method": "\(method)", "telegram.error_code": "\(code)", "telegram.description": "\(description ?? "")"])
        throw TelegramError(
            .api(status: code), Self.explain(status: code, method: method, description: description), retryAfter: retryAfter,
            providerDescription: description, migrateToChatID: envelope.parameters?.migrateToChatId)
    }

    /// An operator-facing message for an error status.
    private static func explain(status: Int, method: String, description: String?) -> String {
        let said = description.map { ": \($0)" } ?? ""
        switch status {
        case 401, 404:
            return "Telegram refused the bot token (\(status)\(said)); check `token` in the channel file against @BotFather"
        case 429:
            return "Telegram flood control on \(method)\(said)"
        case 500...:
            return "Telegram had a server error on \(method) (\(status)\(said))"
        default:
            return "Telegram refused \(method) (\(status)\(said))"
        }
    }

    /// Replaces the token wherever it appears. Error descriptions from lower layers may quote
    /// the URL, and the URL contains the token.
    func redacted(_ text: String) -> String {
        token.value.isEmpty ? text : text.replacingOccurrences(of: token.value, with: "***")
    }
}
