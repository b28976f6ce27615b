import Foundation

/// Where each value of the configuration was written: file and line, by a dotted path — so the
/// admin console can show, next to every value, where to edit it.
///
/// Paths follow the YAML: mapping keys, and list items by their `id` (or `date`, for special
/// days), or by their 0-based position when they have neither. Examples:
/// `employees.alexey.persona`, `employees.alexey.working_hours.week.mon`,
/// `employees.alexey.working_hours.special_days.2026-12-31`,
/// `employees.alexey.auto_followup.steps.0.delay`, `channels.tg.type` (a channel file's keys
/// under its id). A key's position is the line of the key itself.
public struct ConfigSources: Sendable, Hashable {
    /// `config.yaml:12`.
    public struct Position: Sendable, Hashable, CustomStringConvertible {
        /// Relative to the config file's folder when inside it.
        public var file: String
        public var line: Int

        public init(file: String, line: Int) {
            self.file = file
            self.line = line
        }

        public var description: String { "\(file):\(line)" }
    }

    private var positions: [String: Position] = [:]

    public init() {}

    /// Where `path` was written, if it was.
    public subscript(_ path: String) -> Position? { positions[path] }

    /// Where `path` was written, or else its nearest parent (a default value shows the mapping
    /// it would go into); `nil` when not even the first component was written.
    public func nearest(_ path: String) -> Position? {
        var components = path.split(separator: ".").map(String.init)
        while !components.isEmpty {
            if let position = positions[components.joined(separator: ".")] { return position }
            components.removeLast()
        }
        return nil
    }

    mutating func record(_ node: ConfigNode, under prefix: String, baseDirectory: String) {
        let file = Self.display(node.file, baseDirectory: baseDirectory)
        record(node, path: prefix, file: file)
    }

    private mutating func record(_ node: ConfigNode, path: String, file: String) {
        switch node.value {
        case .mapping(let pairs):
            for pair in pairs {
                let child = path.isEmpty ? pair.key : path + "." + pair.key
                positions[child] = Position(file: file, line: pair.keyMark.line)
                record(pair.value, path: child, file: file)
            }
        case .sequence(let items):
            for (index, item) in items.enumerated() {
                let child = path + "." + (Self.itemKey(item) ?? String(index))
                positions[child] = Position(file: file, line: item.mark.line)
                record(item, path: child, file: file)
            }
        case .scalar, .null:
            break
        }
    }

    /// A list item's name in paths: its `id`, or its `date`.
    private static func itemKey(_ node: ConfigNode) -> String? {
        guard case .mapping(let pairs) = node.value else { return nil }
        for key in ["id", "date"] {
            if let value = pairs.first(where: { $0.key == key })?.value.scalar, !value.isEmpty, !value.contains(".") { return value }
        }
        return nil
    }

    private static func display(_ file: String, baseDirectory: String) -> String {
        let base = baseDirectory.hasSuffix("/") ? baseDirectory : baseDirectory + "/"
        return file.hasPrefix(base) ? String(file.dropFirst(base.count)) : file
    }
}
