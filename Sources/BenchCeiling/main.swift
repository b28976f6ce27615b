// The ceiling for bench/ingest.sh: a bare Hummingbird 2 server whose POST handler reads the
// body and answers 200 — no parsing, no storage. `switchboard-bench-ceiling <port>`.
import Hummingbird

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 8090
let router = Router()
router.post("/webhooks/{channel}") { request, _ -> Response in
    _ = try await request.body.collect(upTo: 1 << 20)
    return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok")))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
