import Foundation

/// Reads one YAML mapping key by key, reporting wrong types and — when finished — every key
/// nobody asked for. Problems are collected, never thrown, so one pass reports them all.
final class MappingReader {
    let node: ConfigNode
    let context: String
    private let sink: DiagnosticSink
    private let entries: [(key: String, keyMark: ConfigNode.Mark, value: ConfigNode)]
    private var used: Set<String> = []

    /// `nil` (with a diagnostic) when `node` is not a mapping.
    init?(_ node: ConfigNode, context: String, sink: DiagnosticSink) {
        guard case .mapping(let entries) = node.value else {
            sink.report("\(context) must be a mapping, found \(node.kindName)", at: node)
            return nil
        }
        self.node = node
        self.context = context
        self.sink = sink
        self.entries = entries
    }

    var keys: [String] { entries.map(\.key) }

    func value(_ key: String) -> ConfigNode? {
        used.insert(key)
        guard let entry = entries.first(where: { $0.key == key }), case .null = entry.value.value else {
            return entries.first(where: { $0.key == key })?.value
        }
        return nil
    }

    func keyMark(_ key: String) -> ConfigNode.Mark? { entries.first(where: { $0.key == key })?.keyMark }

    func report(_ message: String, at node: ConfigNode) { sink.report(message, at: node) }
    func reportMissing(_ key: String) { sink.report("\(context): missing required key '\(key)'", at: node) }

    func string(_ key: String, required: Bool = false) -> String? {
        guard let value = value(key) else {
            if required { reportMissing(key) }
            return nil
        }
        guard let s = value.scalar else {
            sink.report("'\(key)' must be a text value, found \(value.kindName)", at: value)
            return nil
        }
        if required && s.trimmingCharacters(in: .whitespaces).isEmpty {
            sink.report("'\(key)' must not be empty", at: value)
            return nil
        }
        return s
    }

    func bool(_ key: String) -> Bool? {
        guard let value = value(key) else { return nil }
        switch value.scalar?.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            sink.report("'\(key)' must be true or false", at: value)
            return nil
        }
    }

    func int(_ key: String, range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard let value = value(key) else { return nil }
        guard let n = value.scalar.flatMap({ Int($0) }), range.contains(n) else {
            sink.report("'\(key)' must be a whole number\(range == Int.min...Int.max ? "" : " from \(range.lowerBound) to \(range.upperBound)")", at: value)
            return nil
        }
        return n
    }

    func double(_ key: String, range: ClosedRange<Double>) -> Double? {
        guard let value = value(key) else { return nil }
        guard let n = value.scalar.flatMap({ Double($0) }), range.contains(n) else {
            sink.report("'\(key)' must be a number from \(range.lowerBound) to \(range.upperBound)", at: value)
            return nil
        }
        return n
    }

    func mapping(_ key: String, required: Bool = false) -> MappingReader? {
        guard let value = value(key) else {
            if required { reportMissing(key) }
            return nil
        }
        return MappingReader(value, context: "'\(key)'", sink: sink)
    }

    func list(_ key: String) -> [ConfigNode]? {
        guard let value = value(key) else { return nil }
        guard case .sequence(let items) = value.value else {
            sink.report("'\(key)' must be a list, found \(value.kindName)", at: value)
            return nil
        }
        return items
    }

    /// Reports every key that was never read, with the closest known key as a hint.
    func finish(known extra: [String] = []) {
        let known = used.union(extra)
        for entry in entries where !known.contains(entry.key) {
            var message = "unknown key '\(entry.key)' in \(context)"
            if let hint = known.min(by: { editDistance($0, entry.key) < editDistance($1, entry.key) }), editDistance(hint, entry.key) <= 2 {
                message += " (did you mean '\(hint)'?)"
            }
            sink.report(message, file: node.file, mark: entry.keyMark)
        }
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
