import Hummingbird
import NIOCore

/// Hummingbird's basic request context plus the connection, so a fake can drop it
/// (``FaultPlan/Fault/dropConnection``) — something no response can express.
struct FakeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Closes the connection without writing a response. The handler's own answer, written
    /// afterwards, goes nowhere. Not awaited: the close completes on the channel's event loop,
    /// and waiting for it from inside the connection's own handler can wait on the handler.
    func dropConnection() async {
        channel.close(mode: .all, promise: nil)
    }
}
