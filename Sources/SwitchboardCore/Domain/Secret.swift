/// A credential from config. It prints as `***` so it cannot leak into logs or error messages;
/// read `value` only where the secret is used. `dump` and other reflection see no children.
public struct Secret: Sendable, Hashable, Decodable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let value: String

    public init(_ value: String) { self.value = value }

    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
    }

    public var description: String { "***" }
    public var debugDescription: String { "***" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// A type that holds secrets (directly or deep inside) and describes itself only by the fields
/// that are safe to show, so `print`, `dump`, string interpolation and a library's log line
/// about it (service-lifecycle logs every service's description) cannot leak a credential.
/// Secrets among the fields are `Secret` values, which print `***`.
public protocol RedactedDescription: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The fields shown, in order.
    var redactedFields: KeyValuePairs<String, Any> { get }
}

extension RedactedDescription {
    public var description: String {
        let fields = redactedFields.map { name, value in "\(name): \(redactedText(value))" }
        return "\(Self.self)(\(fields.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: redactedFields, displayStyle: .struct) }
}

/// An optional without the `Optional(...)` wrapper; everything else as it describes itself.
private func redactedText(_ value: Any) -> String {
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .optional {
        guard let wrapped = mirror.children.first?.value else { return "nil" }
        return redactedText(wrapped)
    }
    return "\(value)"
}
