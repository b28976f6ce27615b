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
    /// afterwards, goes nowhere.
    func dropConnection() async {
        try? await channel.close()
    }
}
