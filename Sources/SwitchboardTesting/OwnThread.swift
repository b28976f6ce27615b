import Foundation

/// Runs blocking work (a system call that waits, a child process) on a thread of its own and
/// awaits it. Blocking one of the cooperative pool's few threads instead (two on two cores)
/// would stall every task of the test process, the gateway under test included.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
