import Synchronization
import Testing

/// Awaited teardown: `onTeardown { await h.shutdown() }` registers work that runs after the
/// test body returns or throws, last registered first (like `defer`), and the test ends only
/// when it has finished.
///
/// `defer { Task { await h.shutdown() } }` did not wait: the next test of a serialized suite
/// started while the previous gateway was still stopping, and its shutdown's log lines and
/// cancellations landed in the wrong test. Put `.awaitedTeardown` on the suite (or the test).
struct AwaitedTeardown: TestTrait, SuiteTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let stack = TeardownStack()
        do {
            try await TeardownStack.$current.withValue(stack) { try await function() }
        } catch {
            await stack.runAll()
            throw error
        }
        await stack.runAll()
    }
}

extension Trait where Self == AwaitedTeardown {
    /// Runs what the test registers with `onTeardown`, awaited, when it ends.
    static var awaitedTeardown: Self { Self() }
}

/// Registers `action` to run, awaited, when the current test ends (see `AwaitedTeardown`).
func onTeardown(sourceLocation: SourceLocation = #_sourceLocation, _ action: @escaping @Sendable () async -> Void) {
    guard let stack = TeardownStack.current else {
        Issue.record("onTeardown needs the .awaitedTeardown trait on the test or its suite", sourceLocation: sourceLocation)
        return
    }
    stack.push(action)
}

final class TeardownStack: Sendable {
    @TaskLocal static var current: TeardownStack?

    private let actions = Mutex<[@Sendable () async -> Void]>([])

    func push(_ action: @escaping @Sendable () async -> Void) { actions.withLock { $0.append(action) } }

    func runAll() async {
        while let action = actions.withLock({ $0.popLast() }) { await action() }
    }
}
