import Foundation
import Hummingbird
import NIOCore
import SwitchboardChannelKit
import SwitchboardCore

/// Refuses admin requests without `Authorization: Bearer <admin.token>`.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: Secret?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token else {
            throw HTTPError(.forbidden, message: "the admin API is closed: set admin.token in config.yaml")
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            constantTimeEquals(Array(header.dropFirst("Bearer ".count).utf8), Array(token.value.utf8))
        else {
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "missing or wrong admin token")
        }
        return try await next(request, context)
    }
}

struct OperatorMessage: Decodable {
    var text: String
}

extension Gateway {
    func addAdminRoutes(to router: Router<BasicRequestContext>) {
        let api = router.group("api").add(middleware: BearerAuthMiddleware(token: config.admin.token))
        api.post("chats/{id}/messages") { request, context -> Response in
            let id = try context.parameters.require("id")
            let message = try await request.decode(as: OperatorMessage.self, context: context)
            let text = message.text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw HTTPError(.badRequest, message: "text must not be empty") }
            guard try await self.store.chat(id: id) != nil else { throw HTTPError(.notFound, message: "no chat \(id)") }
            let entry = try await self.conversation.sendOperatorMessage(chatID: id, text: text)
            let json = #"{"outbox_id": \#(entry.id), "status": "queued"}"#
            return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
        }
    }
}
