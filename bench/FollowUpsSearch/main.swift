// Times the Follow-ups list — search and employee filter — over a large SQLite database.
//
// The database is built with the store's own schema (SQLiteStore runs its migrations), the
// store's search normalization (`SearchText.index`) and state encoding (`FollowUpState` as
// JSON), in one transaction so that building 100,000 chats takes seconds. Every timed query
// then goes through the code the page, the API and `switchboard followups` use:
// `FollowUpListing.list` → `SQLiteStore.pendingFollowUps`.
//
// Usage: followups-search [--chats N] [--idle N] [--runs N] [--limit N] [--db PATH]
import Foundation
import GRDB
import SwitchboardCore
import SwitchboardStoreSQLite

struct Options {
    var chats = 100_000
    var idle = 50_000
    var runs = 30
    /// Items per page: the API's default.
    var limit = 100
    var db = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench/followups.sqlite").path

    init(_ arguments: [String]) {
        var it = arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            guard let value = it.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--chats": chats = Int(value) ?? chats
            case "--idle": idle = Int(value) ?? idle
            case "--runs": runs = Int(value) ?? runs
            case "--limit": limit = Int(value) ?? limit
            case "--db": db = value
            default: fatalError("unknown option \(flag)")
            }
        }
    }
}

let options = Options(CommandLine.arguments)

let employees: [Employee] = [
    ("alexey", "Alexey"), ("maria", "Мария"), ("olga", "Ольга"), ("sam", "Sam"),
    ("lena", "Лена"), ("tom", "Tom"), ("nika", "Ника"), ("ivan", "Иван"),
].map { Employee(id: $0.0, name: $0.1, followUp: FollowUpChain(enabled: true, steps: [FollowUpStep(delay: .seconds(3600), instruction: "Check in")])) }
let firstNames = ["Михаил", "Анна", "Ivan", "Olga", "José", "Алёна", "Peter", "Mei", "Дмитрий", "Sofia", "Omar", "Екатерина", "Liam", "Noah", "Юлия", "Carlos"]
let lastNames = ["Петров", "Smith", "Иванова", "García", "Kowalski", "Сидоров", "Chen", "Müller", "Кузнецова", "Rossi", "Novak", "Попов"]
let companies = ["", "", "", " (Riverside Hotel)", " · Acme", " — booking", " (Северный порт)"]

/// A deterministic generator, so every run builds the same database.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func build(path: String) async throws {
    try? FileManager.default.removeItem(atPath: path)
    for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    _ = try SQLiteStore(path: path)  // creates the file and runs the store's migrations
    let queue = try DatabaseQueue(path: path)
    let now = Date(timeIntervalSince1970: 1_795_000_000)
    let encoder = JSONEncoder()
    try await queue.write { db in
        var random = SplitMix(state: 42)
        for i in 0..<(options.chats + options.idle) {
            let client = "\(firstNames.randomElement(using: &random)!) \(lastNames.randomElement(using: &random)!)"
            let title = client + companies.randomElement(using: &random)!
            let employee = employees[i % employees.count]
            let id = String(format: "chat%012d", i)
            let searchText = SearchText.index(title: title, clientName: client)
            try db.execute(
                sql: """
                    INSERT INTO chats (id, channel_id, conversation_key, employee_id, title, client_name, search_text, created_at, last_client_message_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, "tg-\(employee.id)", "\(i)", employee.id, title, client, searchText,
                            now.timeIntervalSince1970, now.timeIntervalSince1970])
            var state = FollowUpState()
            state.run = 1
            state.anchor = now
            if i < options.chats {
                state.status = .scheduled
                state.step = Int.random(in: 1...3, using: &random)
                state.sendsAt = now.addingTimeInterval(Double.random(in: 60...(7 * 86400), using: &random).rounded())
                state.due = state.sendsAt
            } else {
                state.status = i.isMultiple(of: 2) ? .finished : .cancelled
                state.lastReason = i.isMultiple(of: 2) ? .chainComplete : .clientReplied
            }
            try db.execute(
                sql: "INSERT INTO followups (chat_id, employee_id, status, sends_at, state, search_text) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [id, employee.id, state.status.rawValue, state.sendsAt?.timeIntervalSince1970,
                            String(decoding: try encoder.encode(state), as: UTF8.self), searchText])
        }
    }
    try queue.close()
}

func milliseconds(_ duration: Duration) -> Double { Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000 }

let started = ContinuousClock.now
if ProcessInfo.processInfo.environment["BENCH_REUSE_DB"] != nil && FileManager.default.fileExists(atPath: options.db) {
    print("reusing \(options.db)")
} else {
    try await build(path: options.db)
    print("built \(options.chats) scheduled + \(options.idle) idle chats in \(ContinuousClock.now - started) at \(options.db)")
}

let store = try SQLiteStore(path: options.db)
let listing = FollowUpListing(store: store, roster: LiveRoster(Roster(employees: employees)))
let cases: [(String, String?, String?)] = [
    ("everything (first page + total)", nil, nil),
    ("employee filter", "olga", nil),
    ("search Latin, many matches: \"smith\"", nil, "smith"),
    ("search Cyrillic: \"михаил\"", nil, "михаил"),
    ("search without accents: \"алена\" (finds Алёна)", nil, "алена"),
    ("search by employee name: \"мария\"", nil, "мария"),
    ("search, few matches: \"omar rossi\"", nil, "omar rossi"),
    ("search, no match: \"zzzz\"", nil, "zzzz"),
    ("search, two letters (no trigram): \"ми\"", nil, "ми"),
    ("employee filter + search: olga + \"петров\"", "olga", "петров"),
]
print("\(options.runs) runs each after one warm-up; a page of \(options.limit) items and the total count")
print("case".padding(toLength: 52, withPad: " ", startingAt: 0) + "   median       p95   matches")
var worst = 0.0
for (name, employee, search) in cases {
    _ = try await listing.list(employeeID: employee, search: search, limit: options.limit)
    var times: [Double] = []
    var total = 0
    for _ in 0..<options.runs {
        let start = ContinuousClock.now
        total = try await listing.list(employeeID: employee, search: search, limit: options.limit).total
        times.append(milliseconds(ContinuousClock.now - start))
    }
    times.sort()
    let median = times[times.count / 2]
    let p95 = times[min(times.count - 1, Int(Double(times.count) * 0.95))]
    worst = max(worst, median)
    print(name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%7.1f ms %7.1f ms %9d", median, p95, total))
}
print(String(format: "slowest median: %.1f ms (budget 50 ms)", worst))
