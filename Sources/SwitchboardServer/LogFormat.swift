import Foundation
public import Logging

/// How `switchboard serve` writes its log: one line per entry on standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `ts=… level=info msg="message in" chat.id=… source=…` — for people and `grep`.
    case logfmt
    /// One JSON object per line — for log shippers:
    /// `{"ts":…,"level":"info","message":"message in","label":…,"source":…,"metadata":{…}}`.
    case json
}

/// Writes log entries as logfmt or JSON lines. Each line is built whole and written at once, so
/// lines from concurrent tasks never interleave.
public struct GatewayLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let format: LogFormat
    let write: @Sendable (String) -> Void

    /// - Parameter write: receives each finished line, newline included; standard error by default.
    public init(label: String, format: LogFormat, metadataProvider: Logger.MetadataProvider? = nil,
                write: @escaping @Sendable (String) -> Void = GatewayLogHandler.standardError) {
        self.label = label
        self.format = format
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        let ts = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let line: String
        switch format {
        case .logfmt:
            line = Self.logfmt(ts: ts, level: event.level, message: "\(event.message)", source: event.source, metadata: merged)
        case .json:
            line = Self.json(ts: ts, level: event.level, message: "\(event.message)", label: label, source: event.source, metadata: merged)
        }
        write(line + "\n")
    }

    public static let standardError: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data(line.utf8)) }

    // MARK: - logfmt

    static func logfmt(ts: String, level: Logger.Level, message: String, source: String, metadata: Logger.Metadata) -> String {
        var pairs = ["ts=\(ts)", "level=\(level)", "msg=\(logfmtValue(message))"]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            pairs.append("\(logfmtKey(key))=\(logfmtValue(plain(value)))")
        }
        pairs.append("source=\(logfmtValue(source))")
        return pairs.joined(separator: " ")
    }

    /// Bare when it is one word; otherwise quoted, with `"`, `\` and control characters escaped
    /// so an entry stays on one line whatever a value holds.
    static func logfmtValue(_ value: String) -> String {
        let bare = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "=" && !needsEscape($0) }
        return bare ? value : "\"" + escaped(value) + "\""
    }

    static func logfmtKey(_ key: String) -> String {
        let cleaned = String(key.unicodeScalars.map { $0.value > 0x20 && $0 != "=" && $0 != "\"" ? Character($0) : "_" })
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// A metadata value as one string: nested dictionaries and arrays in their swift-log form.
    static func plain(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: value.description
        }
    }

    // MARK: - JSON

    static func json(ts: String, level: Logger.Level, message: String, label: String, source: String, metadata: Logger.Metadata) -> String {
        let fields = [("ts", quoted(ts)), ("level", quoted("\(level)")), ("message", quoted(message)), ("label", quoted(label)),
                      ("source", quoted(source)), ("metadata", jsonObject(metadata))]
        return "{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    static func jsonObject(_ metadata: Logger.Metadata) -> String {
        "{" + metadata.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(jsonValue($0.value))" }.joined(separator: ",") + "}"
    }

    static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): quoted(string)
        case .stringConvertible(let convertible): quoted(convertible.description)
        case .dictionary(let dictionary): jsonObject(dictionary)
        case .array(let array): "[" + array.map(jsonValue).joined(separator: ",") + "]"
        }
    }

    static func quoted(_ string: String) -> String { "\"" + escaped(string) + "\"" }

    /// Characters some reader would take as the end of a line or a string: control characters
    /// (C0, DEL, C1, so also NEL) and the Unicode line and paragraph separators.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 || scalar == "\"" || scalar == "\\"
    }

    /// JSON string escaping, which logfmt's quoted values share.
    static func escaped(_ string: String) -> String {
        var out = ""
        out.reserveCapacity(string.utf8.count)
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where needsEscape(scalar):
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
