/// One problem in a config file, printed as `path:line:column: message`.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Every problem found while loading a configuration — all at once, in file order.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(_ diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics.sorted { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Collects diagnostics while a file is read.
final class DiagnosticSink {
    private(set) var diagnostics: [ConfigDiagnostic] = []

    func report(_ message: String, at node: ConfigNode) {
        report(message, file: node.file, mark: node.mark)
    }

    func report(_ message: String, file: String, mark: ConfigNode.Mark) {
        diagnostics.append(ConfigDiagnostic(file: file, line: mark.line, column: mark.column, message: message))
    }
}
