import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import SwitchboardChannelKit
import SwitchboardCore

/// `/widget/<channel-id>/…`: what browser channels serve (scripts, pages, the session call) and
/// their WebSockets. The gateway does the HTTP plumbing; the channel decides everything else.
extension Gateway {
    /// The largest body a browser channel's HTTP route reads (the session call is a few bytes).
    static let browserBodyLimit = 16 * 1024

    func browserChannel(id: String) -> (any BrowserChannel)? { channel(id: id) as? any BrowserChannel }

    /// The WebSocket settings for every browser channel: frames up to the largest channel's
    /// limit (each channel checks its own), and a protocol ping every 30 s — browsers answer it
    /// themselves — so a dead connection is noticed and dropped.
    var browserSocketConfiguration: WebSocketServerConfiguration {
        // Fixed when the server starts; a widget channel added later with a larger limit is
        // held to 64 KiB frames (its messages may still span several frames).
        let largest = max(channels.channels.compactMap { ($0 as? any BrowserChannel)?.maxSocketMessageBytes }.max() ?? 0, 64 * 1024)
        return WebSocketServerConfiguration(maxFrameSize: largest, autoPing: .enabled(timePeriod: .seconds(30)), closeTimeout: .seconds(5))
    }

    /// Routes only WebSocket upgrades: `/widget/<channel-id>/ws`. A handshake the channel
    /// refuses (a foreign `Origin`) is answered without upgrading.
    func widgetSocketRouter() -> Router<BrowserSocketRequestContext> {
        let router = Router(context: BrowserSocketRequestContext.self)
        router.ws(
            "/widget/{channel}/ws",
            shouldUpgrade: { request, context in
                guard let id = context.parameters.get("channel"), let channel = self.browserChannel(id: id),
                    channel.acceptsSocket(Self.browserRequest(request, path: "ws", clientAddress: self.clientAddresses.client(request, context: context)))
                else { return .dontUpgrade }
                return .upgrade([:])
            },
            onUpgrade: { inbound, outbound, context in
                guard let id = context.requestContext.parameters.get("channel"), let channel = self.browserChannel(id: id) else { return }
                let controlFrames = await ControlFrameWatcher.install(on: context.requestContext.connection)
                let messages = BrowserSocketMessages(frames: inbound, outbound: outbound, maxSize: channel.maxSocketMessageBytes)
                let handshake = Self.browserRequest(
                    context.request, path: "ws", clientAddress: self.clientAddresses.client(context.request, context: context.requestContext))
                await channel.serveSocket(HummingbirdChannelSocket(outbound: outbound, controlFrames: controlFrames), inbound: messages, handshake: handshake)
            })
        return router
    }

    static func browserRequest(_ request: Request, path: String, body: [UInt8] = [], clientAddress: String? = nil) -> BrowserRequest {
        // Repeated fields are combined (RFC 9110 §5.3): two `Origin` headers make one value that
        // is no origin at all, so such a request is refused rather than judged by either.
        var headers: [String: String] = [:]
        for field in request.headers {
            headers[field.name.canonicalName] = headers[field.name.canonicalName].map { "\($0), \(field.value)" } ?? field.value
        }
        // HTTP/1.1 carries the host in the Host header; HTTPTypes moves it to the authority.
        if headers["host"] == nil, let authority = request.head.authority { headers["host"] = authority }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where query[String(key)] == nil {
            query[String(key)] = String(value)
        }
        return BrowserRequest(method: request.method.rawValue, path: path, query: query, headers: headers, body: body, clientAddress: clientAddress)
    }
}

/// `/widget/<channel-id>/…` over plain HTTP, and `/`, the start page that lists the widget
/// demos and the admin pages. (The widget's WebSockets are routed by `widgetSocketRouter`.)
struct WidgetRoutes<Context: RequestContext>: Sendable {
    let gateway: Gateway

    var collection: RouteCollection<Context> {
        let router = RouteCollection(context: Context.self)
        let handler: @Sendable (Request, Context) async throws -> Response = { request, context in
            let id = try context.parameters.require("channel")
            let path = context.parameters.get("path") ?? ""
            guard let channel = gateway.browserChannel(id: id) else {
                return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "no running widget channel '\(id)'")))
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: Gateway.browserBodyLimit)
            } catch is NIOTooManyBytesError {
                return Response(status: .contentTooLarge)
            }
            let answer = await channel.handleBrowserRequest(
                Gateway.browserRequest(request, path: path, body: Array(buffer: body), clientAddress: gateway.clientAddresses.client(request, context: context)))
            var headers = HTTPFields()
            for (name, value) in answer.headers {
                if let field = HTTPField.Name(name) { headers[field] = value }
            }
            return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        }
        for method in [HTTPRequest.Method.get, .head, .post, .options] {
            router.on("/widget/{channel}/{path}", method: method, use: handler)
        }
        router.get("/widget/{channel}") { request, context -> Response in
            let id = try context.parameters.require("channel")
            return Response(status: .found, headers: [.location: "/widget/\(id)/demo"])
        }
        router.addRoutes(index)
        return router
    }

    /// `/`: where a new user starts — the widget demos and the admin pages.
    var index: RouteCollection<Context> {
        let router = RouteCollection(context: Context.self)
        router.get("/") { _, _ -> Response in
            let demos = gateway.channels.channels.compactMap { $0 as? any BrowserChannel }
                .flatMap { channel in channel.browserPages.map { (channel.id, $0) } }
            let items = demos.map { id, page in
                #"<li><a href="/widget/\#(id)/\#(page.path)">\#(escapeHTML(page.title))</a> <span>/widget/\#(id)/\#(page.path)</span></li>"#
            }
            let list = items.isEmpty
                ? "<p>No widget channel is running. Add one in <code>channels/</code> (see <code>Sources/Channels/Widget/sample.yaml</code>).</p>"
                : "<ul>\(items.joined())</ul>"
            let html = """
                <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
                <title>Switchboard</title><style>
                body{font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#0f172a;max-width:680px;margin:56px auto;padding:0 20px}
                h1{font-size:28px;margin:0 0 4px}p.sub{color:#475569;margin:0 0 28px}h2{font-size:17px;margin:28px 0 8px}
                ul{padding:0;list-style:none}li{padding:10px 14px;border:1px solid #e2e8f0;border-radius:10px;margin-bottom:8px}
                li span{color:#64748b;font-size:13px;margin-left:8px}a{color:#0f766e;font-weight:600}code{background:#f1f5f9;padding:1px 5px;border-radius:4px}
                </style></head><body>
                <h1>Switchboard</h1><p class="sub">Your gateway is running. Clients talk to AI employees here; follow-ups go out on their own.</p>
                <h2>Try the website chat</h2>\(list)
                <h2>For admins</h2><ul><li><a href="/chats">Chats</a> <span>every chat; reply as the employee (admin token)</span></li>
                <li><a href="/followups">Follow-ups</a> <span>chats with a reminder scheduled (admin token)</span></li>
                <li><a href="/healthz">Health</a> <span>/healthz</span></li><li><a href="/metrics">Metrics</a> <span>/metrics (Prometheus)</span></li></ul>
                </body></html>
                """
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        return router
    }
}

private func escapeHTML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        .replacingOccurrences(of: "\"", with: "&quot;")
}
