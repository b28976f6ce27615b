/// Receives normalized inbound messages from channels.
public protocol InboundIntake: Sendable {
    /// Stores the messages (deduplicated) and schedules the employee's answer. Returns once
    /// they are durable: only then may the provider be acknowledged.
    func receive(_ messages: [InboundMessage]) async throws

    /// Records what providers report about messages the gateway sent (delivered, read, failed).
    /// Ids the gateway never sent are ignored. Returns once durable.
    func receiveStatuses(_ updates: [DeliveryStatusUpdate]) async throws
}

/// Durable named strings a channel keeps across restarts.
public protocol CursorStore: Sendable {
    func cursor(_ name: String) async throws -> String?
    func setCursor(_ name: String, to value: String) async throws
}
