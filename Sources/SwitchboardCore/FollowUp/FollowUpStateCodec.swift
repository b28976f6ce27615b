import Foundation
internal import Synchronization

/// Follow-up states as the stores keep them (JSON text), with recently seen texts remembered
/// decoded. A reminder's state is written and read back at every stage of the scheduler —
/// claimed, gated, queued, delivered — and decoding it each time was a measurable share of
/// draining a wave. A text always decodes to the same state, so a remembered one is exact.
public final class FollowUpStateCodec: Sendable {
    /// The one the stores use.
    public static let shared = FollowUpStateCodec()

    private let remembered = Mutex<[String: FollowUpState]>([:])
    /// Texts kept at most (a few kilobytes each at worst); all are forgotten when it is reached.
    private let capacity: Int

    public init(capacity: Int = 4096) { self.capacity = max(1, capacity) }

    public func decode(_ json: String) throws -> FollowUpState {
        if let state = remembered.withLock({ $0[json] }) { return state }
        let state = try JSONDecoder().decode(FollowUpState.self, from: Data(json.utf8))
        remember(json, state)
        return state
    }

    public func encode(_ state: FollowUpState) throws -> String {
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        // What is written is what the next stage reads back.
        remember(json, state)
        return json
    }

    private func remember(_ json: String, _ state: FollowUpState) {
        remembered.withLock { cache in
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            cache[json] = state
        }
    }
}
