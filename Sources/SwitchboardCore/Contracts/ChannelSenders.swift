internal import Synchronization

/// The running channels' senders by channel id; channels come and go on reload and failures.
public final class ChannelSenders: Sendable {
    private let senders: Mutex<[String: any ChannelSender]>

    public init(_ senders: [String: any ChannelSender] = [:]) { self.senders = Mutex(senders) }

    public func sender(forChannel id: String) -> (any ChannelSender)? { senders.withLock { $0[id] } }
    public func set(_ sender: (any ChannelSender)?, forChannel id: String) { senders.withLock { $0[id] = sender } }
    public func capabilities(ofChannel id: String) -> ChannelCapabilities { sender(forChannel: id)?.capabilities ?? .plain }
}
