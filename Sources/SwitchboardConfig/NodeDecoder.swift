import Foundation

/// A `Decoder` over a config node, so channel adapters declare their settings as plain
/// `Decodable` structs. Decoding errors are mapped back to the file, line and column.
struct NodeDecoder: Decoder {
    let node: ConfigNode
    let codingPath: [any CodingKey]
    /// Given to the top level only: what a channel's settings may check against the rest of the
    /// configuration (`CodingUserInfoKey.configuredChannels`).
    let userInfo: [CodingUserInfoKey: Any]

    init(node: ConfigNode, codingPath: [any CodingKey] = [], userInfo: [CodingUserInfoKey: Any] = [:]) {
        self.node = node
        self.codingPath = codingPath
        self.userInfo = userInfo
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        switch node.value {
        case .mapping(let entries):
            return KeyedDecodingContainer(KeyedContainer<Key>(entries: entries, parent: node, codingPath: codingPath))
        case .null:
            return KeyedDecodingContainer(KeyedContainer<Key>(entries: [], parent: node, codingPath: codingPath))
        default:
            throw DecodingError.typeMismatch([String: Any].self, .init(codingPath: codingPath, debugDescription: "expected a mapping, found \(node.kindName)"))
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let items) = node.value else {
            throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "expected a list, found \(node.kindName)"))
        }
        return UnkeyedContainer(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValue(node: node, codingPath: codingPath) }

    /// The node at a coding path, for positioning an error; the deepest node found.
    static func locate(_ path: [any CodingKey], in root: ConfigNode) -> (ConfigNode, ConfigNode.Mark) {
        var node = root
        var mark = root.mark
        for key in path {
            switch node.value {
            case .mapping(let entries):
                guard let entry = entries.first(where: { $0.key == key.stringValue }) else { return (node, mark) }
                node = entry.value
                mark = entry.keyMark
            case .sequence(let items):
                guard let index = key.intValue, items.indices.contains(index) else { return (node, mark) }
                node = items[index]
                mark = node.mark
            default:
                return (node, mark)
            }
        }
        return (node, mark)
    }
}

private struct IndexKey: CodingKey {
    var stringValue: String { "\(intValue!)" }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private func parse<T>(_ node: ConfigNode, _ type: T.Type, codingPath: [any CodingKey]) throws -> T {
    guard let text = node.scalar else {
        throw DecodingError.typeMismatch(T.self, .init(codingPath: codingPath, debugDescription: "expected \(describe(T.self)), found \(node.kindName)"))
    }
    let value: Any?
    switch T.self {
    case is String.Type: value = text
    case is Bool.Type:
        switch text.lowercased() {
        case "true", "yes", "on": value = true
        case "false", "no", "off": value = false
        default: value = nil
        }
    case is Int.Type: value = Int(text)
    case is Int64.Type: value = Int64(text)
    case is Double.Type: value = Double(text)
    default: value = nil
    }
    guard let typed = value as? T else {
        throw DecodingError.typeMismatch(T.self, .init(codingPath: codingPath, debugDescription: "expected \(describe(T.self)), found '\(text)'"))
    }
    return typed
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "text"
    case is Bool.Type: "true or false"
    case is Int.Type, is Int64.Type: "a whole number"
    case is Double.Type: "a number"
    default: "\(type)"
    }
}

private func decodeValue<T: Decodable>(_ type: T.Type, node: ConfigNode, codingPath: [any CodingKey]) throws -> T {
    switch T.self {
    case is String.Type, is Bool.Type, is Int.Type, is Int64.Type, is Double.Type:
        return try parse(node, T.self, codingPath: codingPath)
    default:
        return try T(from: NodeDecoder(node: node, codingPath: codingPath))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let entries: [(key: String, keyMark: ConfigNode.Mark, value: ConfigNode)]
    let parent: ConfigNode
    let codingPath: [any CodingKey]

    var allKeys: [Key] { entries.compactMap { Key(stringValue: $0.key) } }

    func contains(_ key: Key) -> Bool { entries.contains { $0.key == key.stringValue } }

    private func node(_ key: Key) throws -> ConfigNode {
        guard let entry = entries.first(where: { $0.key == key.stringValue }) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing required key '\(key.stringValue)'"))
        }
        return entry.value
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let entry = entries.first(where: { $0.key == key.stringValue }) else { return true }
        if case .null = entry.value.value { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decodeValue(T.self, node: try node(key), codingPath: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: try node(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try NodeDecoder(node: try node(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { NodeDecoder(node: parent, codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { NodeDecoder(node: try node(key), codingPath: codingPath + [key]) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [ConfigNode]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [ConfigNode], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    private mutating func next() throws -> (ConfigNode, [any CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "the list has no more items"))
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .null = items[currentIndex].value else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = try next()
        return try decodeValue(T.self, node: node, codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (node, path) = try next()
        return try NodeDecoder(node: node, codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (node, path) = try next()
        return try NodeDecoder(node: node, codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (node, path) = try next()
        return NodeDecoder(node: node, codingPath: path)
    }
}

private struct SingleValue: SingleValueDecodingContainer {
    let node: ConfigNode
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool {
        if case .null = node.value { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(T.self, node: node, codingPath: codingPath) }
}
