import Foundation
internal import Synchronization

/// Who works where: the employees and which employee each channel belongs to. Built from
/// config; swapped as a whole on reload.
public struct Roster: Sendable {
    public var employees: [String: Employee]
    /// Channel id → employee id.
    public var channelOwners: [String: String]

    public init(employees: [Employee], channelOwners: [String: String] = [:]) {
        self.employees = Dictionary(employees.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.channelOwners = channelOwners
    }

    public func employee(forChannel channelID: String) -> Employee? {
        channelOwners[channelID].flatMap { employees[$0] }
    }

    /// Employees whose name or id contains `search` (case-insensitive, Unicode-aware).
    public func employees(matching search: String) -> Set<String> {
        let needle = SearchText.normalize(search)
        guard !needle.isEmpty else { return [] }
        return Set(employees.values.filter { SearchText.normalize($0.name).contains(needle) || $0.id.lowercased().contains(needle) }.map(\.id))
    }
}

/// The current roster, readable from any task and replaced atomically on config reload.
public final class LiveRoster: Sendable {
    private let current: Mutex<Roster>

    public init(_ roster: Roster) { current = Mutex(roster) }

    public var roster: Roster { current.withLock { $0 } }
    public func replace(with roster: Roster) { current.withLock { $0 = roster } }
}
