import Synchronization

/// Carries a value out of a store transaction's `@Sendable` closure (a planner verdict, a reply
/// decision) to the code that started the transaction.
final class Captured<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ initial: Value) { storage = Mutex(initial) }

    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
