import Foundation
import Hummingbird
import NIOCore
import SwitchboardChannelKit
import SwitchboardCore

/// `/healthz` (liveness), `/readyz` (store, channels, composer) and `/metrics` (Prometheus,
/// behind `server.metrics_token` when one is set).
struct HealthRoutes<Context: RequestContext>: Sendable {
    let gateway: Gateway

    var collection: RouteCollection<Context> {
        let router = RouteCollection(context: Context.self)
        // Liveness: the process answers. Readiness (store, channels, composer) is `/readyz`.
        router.get("/healthz") { _, _ in "ok" }
        router.get("/readyz") { _, _ in try await gateway.readinessResponse() }
        let metricsToken = gateway.config.server.metricsToken
        router.get("/metrics") { request, _ in
            if let metricsToken {
                guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                    constantTimeEquals(Array(header.dropFirst("Bearer ".count).utf8), Array(metricsToken.value.utf8))
                else {
                    return Response(
                        status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"],
                        body: .init(byteBuffer: ByteBuffer(string: "/metrics needs Authorization: Bearer <server.metrics_token>")))
                }
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: gateway.metrics.registry.emitToBuffer())))
        }
        return router
    }
}

/// `/webhooks/<channel-id>` (and `/webhooks/<channel-id>/<path>`): the channel verifies and
/// normalizes; the gateway stores the messages and delivery statuses durably and only then
/// answers the provider.
struct WebhookRoutes<Context: RequestContext>: Sendable {
    let gateway: Gateway

    var collection: RouteCollection<Context> {
        let router = RouteCollection(context: Context.self)
        let handler: @Sendable (Request, Context) async throws -> Response = { request, context in
            let id = try context.parameters.require("channel")
            let path = context.parameters.get("path") ?? ""
            guard let channel = gateway.channel(id: id) else {
                return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "no running channel '\(id)'")))
            }
            // Header credentials first: a request without them costs no body bytes.
            var headers: [String: String] = [:]
            for field in request.headers where headers[field.name.canonicalName] == nil {
                headers[field.name.canonicalName] = field.value
            }
            if let refusal = channel.screenWebhook(method: request.method.rawValue, headers: headers) {
                gateway.metrics.webhook(channel: id, status: refusal.status)
                return Response(
                    status: .init(code: refusal.status), headers: [.contentType: refusal.contentType],
                    body: .init(byteBuffer: ByteBuffer(bytes: refusal.body)))
            }
            let limit = channel.maxWebhookBodyBytes ?? gateway.config.server.maxBodyBytes
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                gateway.metrics.webhook(channel: id, status: 413)
                return Response(status: .contentTooLarge, body: .init(byteBuffer: ByteBuffer(string: "body over \(limit) bytes")))
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: limit)
            } catch is NIOTooManyBytesError {
                gateway.metrics.webhook(channel: id, status: 413)
                return Response(status: .contentTooLarge, body: .init(byteBuffer: ByteBuffer(string: "body over \(limit) bytes")))
            }
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters where query[String(key)] == nil {
                query[String(key)] = String(value)
            }
            let webhook = WebhookRequest(method: request.method.rawValue, path: path, query: query, headers: headers, body: Array(buffer: body))
            let response: WebhookResponse
            switch await channel.handleWebhook(webhook) {
            case .respond(let answer):
                response = answer
            case .accept(let messages, let statuses, let answer):
                do {
                    try await gateway.conversation.receive(messages)
                    if !statuses.isEmpty { try await gateway.conversation.receiveStatuses(statuses) }
                    for message in messages { gateway.metrics.inbound(channel: id, outcome: message.isEdit ? "edit" : "stored") }
                } catch {
                    // Not stored, so not acknowledged: the provider will deliver it again.
                    context.logger.error("storing inbound messages failed", metadata: ["channel.id": "\(id)", "error": "\(error)"])
                    channel.webhookNotStored(webhook)
                    gateway.metrics.webhook(channel: id, status: 503)
                    return Response(status: .serviceUnavailable, headers: [.retryAfter: "5"])
                }
                response = answer
            }
            gateway.metrics.webhook(channel: id, status: response.status)
            return Response(
                status: .init(code: response.status), headers: [.contentType: response.contentType],
                body: .init(byteBuffer: ByteBuffer(bytes: response.body)))
        }
        router.post("/webhooks/{channel}", use: handler)
        router.get("/webhooks/{channel}", use: handler)
        // Sub-paths are the channel's to serve (the http channel's `/receipts`).
        router.post("/webhooks/{channel}/{path}", use: handler)
        router.get("/webhooks/{channel}/{path}", use: handler)
        return router
    }
}
