import Foundation
import Yams

/// A YAML document as the loader reads it: values with the file, line and column they came
/// from, environment references already substituted. Components never see this type; the
/// loader maps it onto their configuration structs.
struct ConfigNode: Sendable {
    struct Mark: Hashable, Sendable {
        var line: Int
        var column: Int
    }

    enum Value: Sendable {
        case scalar(String)
        /// Keys in file order, each with its own position.
        case mapping([(key: String, keyMark: Mark, value: ConfigNode)])
        case sequence([ConfigNode])
        case null
    }

    var value: Value
    var file: String
    var mark: Mark

    var scalar: String? {
        if case .scalar(let s) = value { return s }
        return nil
    }

    /// The values without their positions, in a stable form: two nodes with the same fingerprint
    /// say the same thing, however the file is laid out.
    var fingerprint: String {
        switch value {
        case .scalar(let text): "s" + String(text.utf8.count) + ":" + text
        case .null: "n"
        case .sequence(let items): "[" + items.map(\.fingerprint).joined(separator: ",") + "]"
        case .mapping(let pairs):
            "{" + pairs.sorted { $0.key < $1.key }.map { "k" + String($0.key.utf8.count) + ":" + $0.key + "=" + $0.value.fingerprint }
                .joined(separator: ",") + "}"
        }
    }

    var kindName: String {
        switch value {
        case .scalar: "a value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .null: "nothing"
        }
    }

    /// Parses YAML text. A syntax error becomes one diagnostic and `nil`.
    static func parse(yaml: String, file: String, environment: [String: String], sink: DiagnosticSink) -> ConfigNode? {
        do {
            guard let root = try Yams.compose(yaml: yaml) else {
                return ConfigNode(value: .null, file: file, mark: Mark(line: 1, column: 1))
            }
            return convert(root, file: file, environment: environment, sink: sink)
        } catch let error as YamlError {
            let (mark, problem) = describe(error)
            sink.report("YAML syntax error: \(problem)", file: file, mark: mark)
            return nil
        } catch {
            sink.report("YAML syntax error: \(error)", file: file, mark: Mark(line: 1, column: 1))
            return nil
        }
    }

    private static func describe(_ error: YamlError) -> (Mark, String) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return (Mark(line: mark.line, column: mark.column), problem)
        default:
            return (Mark(line: 1, column: 1), "\(error)")
        }
    }

    private static func convert(_ node: Node, file: String, environment: [String: String], sink: DiagnosticSink) -> ConfigNode {
        let mark = node.mark.map { Mark(line: $0.line, column: $0.column) } ?? Mark(line: 1, column: 1)
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                return ConfigNode(value: .null, file: file, mark: mark)
            }
            let text = substitute(scalar.string, mark: mark, file: file, environment: environment, sink: sink)
            return ConfigNode(value: .scalar(text), file: file, mark: mark)
        case .mapping(let mapping):
            var entries: [(String, Mark, ConfigNode)] = []
            for (key, value) in mapping {
                let keyMark = key.mark.map { Mark(line: $0.line, column: $0.column) } ?? mark
                entries.append((key.string ?? "\(key)", keyMark, convert(value, file: file, environment: environment, sink: sink)))
            }
            return ConfigNode(value: .mapping(entries.map { (key: $0.0, keyMark: $0.1, value: $0.2) }), file: file, mark: mark)
        case .sequence(let sequence):
            return ConfigNode(value: .sequence(sequence.map { convert($0, file: file, environment: environment, sink: sink) }), file: file, mark: mark)
        case .alias:
            return ConfigNode(value: .null, file: file, mark: mark)
        }
    }

    /// Replaces `${NAME}` and `${NAME:-default}`; `$${` writes a literal `${`.
    static func substitute(_ text: String, mark: Mark, file: String, environment: [String: String], sink: DiagnosticSink) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            if start.lowerBound > rest.startIndex, rest[rest.index(before: start.lowerBound)] == "$" {
                result += rest[..<rest.index(before: start.lowerBound)] + "${"
                rest = rest[start.upperBound...]
                continue
            }
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                result += rest[start.lowerBound...]
                rest = ""
                break
            }
            let expression = rest[start.upperBound..<end]
            let column = mark.column + text.distance(from: text.startIndex, to: start.lowerBound)
            let name: Substring
            let fallback: Substring?
            if let separator = expression.range(of: ":-") {
                name = expression[..<separator.lowerBound]
                fallback = expression[separator.upperBound...]
            } else {
                name = expression
                fallback = nil
            }
            if let value = environment[String(name)], !(fallback != nil && value.isEmpty) {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                sink.report("environment variable \(name) is not set (use ${\(name):-default} for an optional value)", file: file,
                            mark: Mark(line: mark.line, column: column))
            }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
