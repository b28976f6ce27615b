// Times the Chats inbox — every chat newest activity first, with search, filters and keyset
// pages — over a large SQLite database.
//
// The database is built with the store's own schema (SQLiteStore runs its migrations, whose
// triggers keep each chat's activity and state columns), the store's search normalization
// (`SearchText`) and state encoding, in one transaction. Every timed query goes through the code
// the page and `GET /api/chats` use: `ChatInboxListing.list` → `SQLiteStore.chatInbox`.
//
// Usage: chats-inbox [--chats N] [--runs N] [--limit N] [--db PATH]
import Foundation
import GRDB
import SwitchboardCore
import SwitchboardStoreSQLite

struct Options {
    var chats = 100_000
    var runs = 30
    /// Chats per page: the page's and the API's default.
    var limit = 50
    var db = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench/inbox.sqlite").path

    init(_ arguments: [String]) {
        var it = arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            guard let value = it.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--chats": chats = Int(value) ?? chats
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
let channels = ["tg", "wa", "web", "mail"]
let firstNames = ["Михаил", "Анна", "Ivan", "Olga", "José", "Алёна", "Peter", "Mei", "Дмитрий", "Sofia", "Omar", "Екатерина", "Liam", "Noah", "Юлия", "Carlos"]
let lastNames = ["Петров", "Smith", "Иванова", "García", "Kowalski", "Сидоров", "Chen", "Müller", "Кузнецова", "Rossi", "Novak", "Попов"]
let companies = ["", "", "", " (Riverside Hotel)", " · Acme", " — booking", " (Северный порт)"]
let questions = [
    "Hello, is the room still available for the weekend?", "Is breakfast included in the price?", "Можно ли поздний выезд?",
    "Do you have parking for two cars?", "Сколько стоит трансфер из аэропорта?", "Can I bring my dog?", "Есть ли свободные номера на 12 декабря?",
    "What time is check-in?", "Could you send the invoice again?", "Нужна детская кроватка в номер", "Is the spa open on Sundays?",
]
let answers = [
    "Yes, it is. Shall I book it for you?", "Breakfast is included from 7 to 11.", "Да, выезд до 14:00 возможен.",
    "We have free parking behind the hotel.", "Трансфер стоит 1500 рублей.", "Pets are welcome in our garden rooms.",
    "Check-in starts at 15:00.", "I have sent the invoice to your email.", "Конечно, поставим кроватку бесплатно.",
]

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

let now = Date(timeIntervalSince1970: 1_795_000_000)

func build(path: String) async throws -> Int {
    try? FileManager.default.removeItem(atPath: path)
    for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    _ = try SQLiteStore(path: path)  // creates the file and runs the store's migrations
    let queue = try DatabaseQueue(path: path)
    let encoder = JSONEncoder()
    let messageCount = try await queue.write { db -> Int in
        var messageCount = 0
        var random = SplitMix(state: 42)
        for i in 0..<options.chats {
            let client = "\(firstNames.randomElement(using: &random)!) \(lastNames.randomElement(using: &random)!)"
            let title = client + companies.randomElement(using: &random)!
            let employee = employees[i % employees.count]
            let channel = channels[(i / employees.count) % channels.count]
            let id = String(format: "chat%012d", i)
            let created = now.addingTimeInterval(-Double.random(in: 86400...(90 * 86400), using: &random).rounded())
            let roll = Int.random(in: 0..<1000, using: &random)
            try db.execute(
                sql: """
                    INSERT INTO chats (id, channel_id, conversation_key, employee_id, title, client_name, search_text, created_at, unreachable)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, channel, "\(i)", employee.id, title, client, SearchText.index(title: title, clientName: client),
                            created.timeIntervalSince1970, roll < 10])
            // A few turns; the client writes last in about a fifth of the chats. Every 500th
            // chat mentions a booking code, for searches with few matches.
            let turns = Int.random(in: 2...4, using: &random)
            let clientLast = roll >= 800
            var at = created
            for turn in 0..<(turns * 2 - (clientLast ? 1 : 0)) {
                at = at.addingTimeInterval(Double.random(in: 60...7200, using: &random).rounded())
                var text = turn.isMultiple(of: 2) ? questions.randomElement(using: &random)! : answers.randomElement(using: &random)!
                if turn == 0 && i.isMultiple(of: 500) { text += " My booking is BK-\(i)." }
                let author = turn.isMultiple(of: 2) ? "client" : "employee"
                try db.execute(
                    sql: "INSERT INTO messages (chat_id, channel_id, author, kind, text, at) VALUES (?, ?, ?, 'text', ?, ?)",
                    arguments: [id, channel, author, text, at.timeIntervalSince1970])
                try db.execute(
                    sql: "INSERT INTO messages_search (rowid, search_text) VALUES (?, ?)", arguments: [db.lastInsertedRowID, SearchText.normalize(text)])
                messageCount += 1
            }
            var state = FollowUpState()
            state.run = 1
            state.anchor = at
            switch roll {
            case 0..<20:
                state.status = .cancelled
                state.optOut = .client
                state.lastReason = .clientOptedOut
            case 20..<450 where !clientLast:
                state.status = .scheduled
                state.step = 1
                state.sendsAt = at.addingTimeInterval(3600 * Double(Int.random(in: 1...72, using: &random)))
                state.due = state.sendsAt
            case 450..<750 where !clientLast:
                state.status = .finished
                state.lastReason = .chainComplete
            default:
                state.status = .cancelled
                state.lastReason = .clientReplied
            }
            try db.execute(
                sql: "INSERT INTO followups (chat_id, employee_id, status, sends_at, state, search_text) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [id, employee.id, state.status.rawValue, state.sendsAt?.timeIntervalSince1970,
                            String(decoding: try encoder.encode(state), as: UTF8.self), SearchText.index(title: title, clientName: client)])
            if roll >= 990 {
                try db.execute(
                    sql: """
                        INSERT INTO outbox (chat_id, purpose, idempotency_key, text, delivery, author, status, next_attempt_at, last_error)
                        VALUES (?, 'reply', 'reply:dead', 'x', '"freeForm"', 'employee', 'dead', ?, 'refused')
                        """,
                    arguments: [id, at.timeIntervalSince1970])
            }
        }
        return messageCount
    }
    try queue.close()
    return messageCount
}

func milliseconds(_ duration: Duration) -> Double { Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000 }

let started = ContinuousClock.now
if ProcessInfo.processInfo.environment["BENCH_REUSE_DB"] != nil && FileManager.default.fileExists(atPath: options.db) {
    print("reusing \(options.db)")
} else {
    let messages = try await build(path: options.db)
    print("built \(options.chats) chats with \(messages) messages in \(ContinuousClock.now - started) at \(options.db)")
}

let store = try SQLiteStore(path: options.db)
let listing = ChatInboxListing(store: store, roster: LiveRoster(Roster(employees: employees, channelOwners: Dictionary(uniqueKeysWithValues: channels.map { ($0, "alexey") }))))

// A cursor half-way down the list: the page after 50,000 chats.
let reader = try DatabaseQueue(path: options.db)
let deep = try await reader.read { db -> ChatInboxCursor? in
    guard let row = try Row.fetchOne(db, sql: "SELECT last_activity_at, id FROM chats ORDER BY last_activity_at DESC, id DESC LIMIT 1 OFFSET ?", arguments: [options.chats / 2])
    else { return nil }
    return ChatInboxCursor(lastActivityAt: Date(timeIntervalSince1970: row["last_activity_at"]), chatID: row["id"])
}
try await reader.close()

struct Case {
    var name: String
    var employee: String? = nil
    var channel: String? = nil
    var state: ChatInboxState? = nil
    var search: String? = nil
    var after: ChatInboxCursor? = nil
}
let cases: [Case] = [
    Case(name: "everything, first page"),
    Case(name: "everything, the page after 50,000 chats", after: deep),
    Case(name: "employee filter", employee: "olga"),
    Case(name: "channel filter", channel: "wa"),
    Case(name: "state: waiting for the employee", state: .waiting),
    Case(name: "state: reminder scheduled", state: .scheduled),
    Case(name: "state: chain finished", state: .finished),
    Case(name: "state: opted out", state: .optedOut),
    Case(name: "state: unreachable", state: .unreachable),
    Case(name: "state: dead letter", state: .deadLetter),
    Case(name: "employee + state: olga, dead letter", employee: "olga", state: .deadLetter),
    Case(name: "search client, many: \"smith\"", search: "smith"),
    Case(name: "search Cyrillic: \"михаил\"", search: "михаил"),
    Case(name: "search without accents: \"алена\"", search: "алена"),
    Case(name: "search employee name: \"мария\"", search: "мария"),
    Case(name: "search message text, many: \"breakfast\"", search: "breakfast"),
    Case(name: "search message text, Cyrillic: \"поздний выезд\"", search: "поздний выезд"),
    Case(name: "search message text, few: \"bk-4500\"", search: "bk-4500"),
    Case(name: "search, no match: \"zzzz\"", search: "zzzz"),
    Case(name: "search, two letters: \"ми\"", search: "ми"),
    Case(name: "employee + search: olga + \"петров\"", employee: "olga", search: "петров"),
    Case(name: "state + search: waiting + \"breakfast\"", state: .waiting, search: "breakfast"),
    Case(name: "state + search: dead letter + \"smith\"", state: .deadLetter, search: "smith"),
]
print("\(options.runs) runs each after one warm-up; a page of \(options.limit) chats")
print("case".padding(toLength: 52, withPad: " ", startingAt: 0) + "   median       p95   shown")
var worst = 0.0
for test in cases {
    func run() async throws -> Int {
        try await listing.list(employeeID: test.employee, channelID: test.channel, state: test.state, search: test.search, after: test.after, limit: options.limit)
            .items.count
    }
    _ = try await run()
    var times: [Double] = []
    var shown = 0
    for _ in 0..<options.runs {
        let start = ContinuousClock.now
        shown = try await run()
        times.append(milliseconds(ContinuousClock.now - start))
    }
    times.sort()
    let median = times[times.count / 2]
    let p95 = times[min(times.count - 1, Int(Double(times.count) * 0.95))]
    worst = max(worst, median)
    print(test.name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%7.1f ms %7.1f ms %7d", median, p95, shown))
}
print(String(format: "slowest median: %.1f ms (budget 50 ms)", worst))
