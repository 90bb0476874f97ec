// Keyed containers are read in the order they were written when the caller asks in that order
// (synthesized Codable does), in O(1) per key; any other order falls back to an index built once.

import Glibc

/// One entry of a keyed container: where its key's bytes are and where its value starts and ends.
///
/// Declared outside `KeyedDecoding` on purpose: a type nested in a generic class is generic too,
/// and every `Entry?` or `[Entry]` would then cost a run-time metadata lookup per container.
struct KeyedEntry {
    let keyStart: Int
    let keyCount: Int
    let value: Int
    let valueEnd: Int
}

/// A keyed container being read.
///
/// A class because `KeyedDecodingContainerProtocol`'s methods are non-mutating but reading in
/// order advances a cursor.
final class KeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    typealias Entry = KeyedEntry

    let state: DecoderState
    let header: DecoderState.ContainerHeader
    let depth: Int
    let extraPath: [any CodingKey]

    /// The next entry in written order and its position.
    private var cursor: Int
    private var cursorIndex = 0
    /// The entry found last; `decodeIfPresent` asks for the same key up to three times.
    private var lastFound: Entry?
    /// Every entry, built on the first out-of-order request.
    private var index: [Entry]?

    init(state: DecoderState, header: DecoderState.ContainerHeader, depth: Int, extraPath: [any CodingKey]) {
        self.state = state
        self.header = header
        self.depth = depth
        self.extraPath = extraPath
        self.cursor = header.bodyStart
    }

    var codingPath: [any CodingKey] { Array(state.codingPath.prefix(depth)) + extraPath }

    var allKeys: [Key] {
        guard let entries = try? allEntries() else { return [] }
        return entries.compactMap { entry in
            let bytes = UnsafeRawBufferPointer(start: state.base + entry.keyStart, count: entry.keyCount)
            return String(validating: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
                .flatMap { Key(stringValue: $0) }
        }
    }

    func contains(_ key: Key) -> Bool { (try? find(key)) != nil }

    // MARK: Lookup

    private func parseEntry(at offset: Int) throws -> Entry {
        var cursor = offset
        let keyCount = try state.length(at: &cursor, limit: header.end)
        try state.require(keyCount, at: cursor, limit: header.end)
        let value = cursor + keyCount
        return Entry(
            keyStart: cursor, keyCount: keyCount, value: value,
            valueEnd: try state.valueEnd(at: value, limit: header.end))
    }

    private func allEntries() throws -> [Entry] {
        if let index { return index }
        var entries: [Entry] = []
        entries.reserveCapacity(header.count)
        var offset = header.bodyStart
        for _ in 0..<header.count {
            let entry = try parseEntry(at: offset)
            entries.append(entry)
            offset = entry.valueEnd
        }
        index = entries
        return entries
    }

    private func matches(_ entry: Entry, _ key: Key) -> Bool {
        var name = key.stringValue
        return name.withUTF8 { utf8 in
            utf8.count == entry.keyCount
                && (utf8.isEmpty || memcmp(utf8.baseAddress!, state.base + entry.keyStart, utf8.count) == 0)
        }
    }

    /// The entry for `key`, or nil when absent.
    private func find(_ key: Key) throws -> Entry? {
        if let lastFound, matches(lastFound, key) { return lastFound }
        if cursorIndex < header.count {
            let entry = try parseEntry(at: cursor)
            if matches(entry, key) {
                cursor = entry.valueEnd
                cursorIndex += 1
                lastFound = entry
                return entry
            }
        }
        guard let entry = try allEntries().first(where: { matches($0, key) }) else { return nil }
        lastFound = entry
        return entry
    }

    private func entry(_ key: Key) throws -> Entry {
        guard let entry = try state.mapErrors(codingPath + [key], { try find(key) }) else {
            throw DecodingError.keyNotFound(
                key,
                DecodingError.Context(
                    codingPath: codingPath, debugDescription: "no value for key \"\(key.stringValue)\""))
        }
        return entry
    }

    private func read<R>(_ key: Key, _ body: (Entry) throws -> R) throws -> R {
        let entry = try entry(key)
        return try state.mapErrors(codingPath + [key]) { try body(entry) }
    }

    private func integer<T: FixedWidthInteger>(_ key: Key) throws -> T {
        try read(key) { try state.readInteger(T.self, at: $0.value, limit: $0.valueEnd) }
    }

    // MARK: Decoding

    func decodeNil(forKey key: Key) throws -> Bool {
        try read(key) { try state.isNil(at: $0.value, limit: $0.valueEnd) }
    }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try read(key) { try state.readBool(at: $0.value, limit: $0.valueEnd) }
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try read(key) { try state.readString(at: $0.value, limit: $0.valueEnd) }
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try read(key) { try state.readDouble(at: $0.value, limit: $0.valueEnd) }
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try read(key) { try state.readFloat(at: $0.value, limit: $0.valueEnd) }
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: Int128.Type, forKey key: Key) throws -> Int128 {
        try read(key) { try state.readInt128(at: $0.value, limit: $0.valueEnd) }
    }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }
    func decode(_ type: UInt128.Type, forKey key: Key) throws -> UInt128 {
        try read(key) { try state.readUInt128(at: $0.value, limit: $0.valueEnd) }
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let entry = try entry(key)
        return try state.decodeNested(T.self, at: entry.value, limit: entry.valueEnd, keys: extraPath, key: key)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder(for: key, entry: try entry(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder(for: key, entry: try entry(key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        let key = SuperKey()
        guard
            let found = try state.mapErrors(
                codingPath + [key],
                {
                    try allEntries().first { entry in
                        entry.keyCount == 5 && memcmp("super", state.base + entry.keyStart, 5) == 0
                    }
                })
        else {
            throw DecodingError.keyNotFound(
                key, DecodingError.Context(codingPath: codingPath, debugDescription: "no value for key \"super\""))
        }
        return decoder(for: key, entry: found)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder { decoder(for: key, entry: try entry(key)) }

    private func decoder(for key: any CodingKey, entry: Entry) -> SlotDecoder {
        SlotDecoder(
            state: state, offset: entry.value, limit: entry.valueEnd, depth: depth, extraPath: extraPath + [key])
    }
}
