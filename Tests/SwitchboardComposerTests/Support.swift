import Foundation
import Logging
import SwitchboardCore
import Synchronization

let t0 = Date(timeIntervalSince1970: 1_795_000_000)

func employee(name: String = "Anna", persona: String = "You are a friendly sales assistant at Flowers & Co.") -> Employee {
    Employee(id: "anna", name: name, persona: persona)
}

func message(_ id: Int64, _ author: Author, _ text: String, kind: MessageKind = .text) -> StoredMessage {
    StoredMessage(id: id, chatID: "c1", author: author, kind: kind, text: text, at: t0.addingTimeInterval(TimeInterval(id * 60)))
}

func request(
    _ purpose: CompositionRequest.Purpose, history: [StoredMessage] = [], title: String = "Mike", employee: Employee = employee()
) -> CompositionRequest {
    CompositionRequest(employee: employee, chatTitle: title, purpose: purpose, history: history, now: t0.addingTimeInterval(3600))
}

let sampleHistory = [
    message(1, .client, "Hi! Do you deliver roses on Sunday?"),
    message(2, .employee, "Yes, we deliver every day from 9 to 21."),
    message(3, .system, "client blocked the bot"),
    message(4, .client, "", kind: .image),
    message(5, .operator, "That bouquet is available, 45 EUR."),
]

let quietLogger = Logger(label: "test.composer", factory: { _ in SwiftLogNoOpLogHandler() })

/// Records the waits a composer asks for instead of sleeping.
final class SleepRecorder: Sendable {
    private let waits = Mutex<[Duration]>([])
    var recorded: [Duration] { waits.withLock { $0 } }
    var sleep: @Sendable (Duration) async throws -> Void { { [self] duration in waits.withLock { $0.append(duration) } } }
}
