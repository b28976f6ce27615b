/// A credential from config. It prints as `***` so it cannot leak into logs or error messages;
/// read `value` only where the secret is used.
public struct Secret: Sendable, Hashable, Decodable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String

    public init(_ value: String) { self.value = value }

    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
    }

    public var description: String { "***" }
    public var debugDescription: String { "***" }
}
