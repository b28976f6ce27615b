import Hummingbird

/// A fake provider's routes served on a free port of 127.0.0.1 until `stop()` — the start-up and
/// shutdown every fake shares.
struct LoopbackServer: Sendable {
    let port: Int
    private let task: Task<Void, any Error>

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    /// - Parameter name: the fake, for the server header and the error if it cannot start.
    static func start(_ router: Router<FakeRequestContext>, name: String) async throws -> LoopbackServer {
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: name),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            })
        // Startup lines at info would drown test output, and stopping by cancellation logs an
        // error for every keep-alive connection a client still holds; neither is news in a test.
        app.logger.logLevel = .critical
        let task = Task {
            defer { portContinuation.finish() }
            try await app.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            _ = await task.result
            throw FakeServerStartError(description: "\(name) did not start on 127.0.0.1: is the loopback interface up?")
        }
        return LoopbackServer(port: port, task: task)
    }

    /// Stops the server and waits until it has closed its port.
    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

/// A fake could not start.
public struct FakeServerStartError: Error, CustomStringConvertible {
    public var description: String
}
