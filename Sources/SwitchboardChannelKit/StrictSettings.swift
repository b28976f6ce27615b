/// Rejects settings keys a channel does not know, so a typo in a channel file is an error
/// (with its position) instead of a silently ignored value. Call it first in a channel
/// configuration's `init(from:)`.
public func rejectUnknownKeys<Keys: CodingKey & CaseIterable & RawRepresentable>(
    of decoder: any Decoder, allowed: Keys.Type, channelType: String
) throws where Keys.RawValue == String {
    let all = try decoder.container(keyedBy: AnySettingsKey.self)
    let known = Keys.allCases.map(\.rawValue)
    if let unknown = all.allKeys.first(where: { !known.contains($0.stringValue) }) {
        throw DecodingError.dataCorrupted(
            .init(
                codingPath: decoder.codingPath + [unknown],
                debugDescription: "unknown key '\(unknown.stringValue)' for a \(channelType) channel; known keys: \(known.joined(separator: ", "))"))
    }
}

/// Any key, so the keys a `CodingKeys` container would silently drop can be listed, and list
/// positions can be named in a coding path.
public struct AnySettingsKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}
