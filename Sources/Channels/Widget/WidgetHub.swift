import Synchronization

/// The sockets open in this process, by visitor. It only speeds delivery up — a reply reaches
/// an open page at once instead of at the next heartbeat or reconnect; what a page shows is
/// always read from the store, so a gateway process may die or several may share the load
/// without anything being lost or shown twice.
final class WidgetHub: Sendable {
    private struct State {
        /// Oldest first.
        var visitors: [String: [WidgetSession]] = [:]
        var count = 0
    }

    private let state = Mutex(State())

    /// Adds a session; returns the visitor's oldest sessions beyond `limit`, which the caller
    /// closes with 4409.
    func register(_ session: WidgetSession, visitorID: String, limit: Int) -> [WidgetSession] {
        state.withLock { state in
            var sessions = state.visitors[visitorID] ?? []
            sessions.append(session)
            state.count += 1
            var evicted: [WidgetSession] = []
            while sessions.count > limit {
                evicted.append(sessions.removeFirst())
                state.count -= 1
            }
            state.visitors[visitorID] = sessions
            return evicted
        }
    }

    func unregister(_ session: WidgetSession, visitorID: String) {
        state.withLock { state in
            guard var sessions = state.visitors[visitorID], let index = sessions.firstIndex(where: { $0 === session }) else { return }
            sessions.remove(at: index)
            state.count -= 1
            state.visitors[visitorID] = sessions.isEmpty ? nil : sessions
        }
    }

    /// Tells the visitor's open pages to read what is new; `expecting` is the provider id of a
    /// message being recorded right now, which they wait for briefly.
    func poke(visitorID: String, expecting providerMessageID: String? = nil) {
        let sessions = state.withLock { $0.visitors[visitorID] ?? [] }
        for session in sessions { session.wake(expecting: providerMessageID) }
    }

    func isOnline(_ visitorID: String) -> Bool { state.withLock { $0.visitors[visitorID]?.isEmpty == false } }

    /// Open sockets that have authenticated.
    var connectionCount: Int { state.withLock { $0.count } }
}
