import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore

/// `/readyz`: whether the gateway can do its job now — the store accepts writes, every enabled
/// channel is running, the composer is not failing permanently. `/healthz` stays a liveness
/// check (the process answers); a load balancer or orchestrator should route by `/readyz`.
struct ReadinessReport: Encodable, Sendable, Equatable {
    struct Problem: Encodable, Sendable, Equatable {
        /// `store`, `composer`, or `channel:<id>`.
        var component: String
        /// What is wrong, phrased as what to fix; never a secret.
        var problem: String
    }

    /// `ready` or `not_ready`.
    var status: String
    var problems: [Problem]

    init(problems: [Problem]) {
        self.status = problems.isEmpty ? "ready" : "not_ready"
        self.problems = problems
    }

    var isReady: Bool { problems.isEmpty }

    /// The report from each part's state: `store` is the write probe's error, if any.
    static func assemble(store: String?, channels: [(id: String, health: ComponentHealth)], composer: ComponentHealth) -> ReadinessReport {
        var problems: [Problem] = []
        if let store { problems.append(Problem(component: "store", problem: store)) }
        for (id, health) in channels.sorted(by: { $0.id < $1.id }) {
            if let problem = health.problem { problems.append(Problem(component: "channel:\(id)", problem: problem)) }
        }
        if let problem = composer.problem { problems.append(Problem(component: "composer", problem: problem)) }
        return ReadinessReport(problems: problems)
    }
}

extension Gateway {
    /// How long the store's write probe may take before the store counts as not writable.
    static let storeProbeTimeout: Duration = .seconds(3)

    /// A small write the store must accept: a cursor row with the current time.
    func probeStore() async -> String? {
        let store = self.store
        let now = ISO8601DateFormatter().string(from: Date())
        do {
            // Not a task group: a group waits for its cancelled child, and a store call waiting
            // for an unreachable database may take its own timeout to notice the cancellation.
            let wrote: Bool = try await FirstAnswer<Bool>().wait { answer in
                let write = Task {
                    do {
                        try await store.setCursor("readyz.probe", to: now)
                        answer(.success(true))
                    } catch {
                        answer(.failure(error))
                    }
                }
                Task {
                    try? await Task.sleep(for: Self.storeProbeTimeout)
                    write.cancel()
                    answer(.success(false))
                }
            }
            if !wrote { throw GatewayStartupError("timed out") }
            return nil
        } catch {
            logger.error("readiness: the store cannot write", metadata: ["error": "\(error)"])
            return "the store cannot write (\(String(describing: error).prefix(200))): check the disk and the database file's permissions"
        }
    }

    func readiness() async -> ReadinessReport {
        ReadinessReport.assemble(
            store: await probeStore(), channels: channels.health, composer: composerHealth)
    }

    func readinessResponse() async throws -> Response {
        let report = await readiness()
        return try jsonResponse(report, status: report.isReady ? .ok : .serviceUnavailable)
    }
}
