// Unkeyed containers write their elements back to back.

/// An unkeyed container open in an `EncoderState`; `id` nil means unusable (see `KeyedEncoding`).
struct UnkeyedEncoding: UnkeyedEncodingContainer {
    let state: EncoderState
    let id: Int?
    let depth: Int
    let extraPath: [any CodingKey]
    /// Elements written through this container value.
    private(set) var count = 0

    init(state: EncoderState, id: Int?, depth: Int, extraPath: [any CodingKey]) {
        self.state = state
        self.id = id
        self.depth = depth
        self.extraPath = extraPath
    }

    var codingPath: [any CodingKey] { Array(state.codingPath.prefix(depth)) + extraPath }

    private mutating func begin() throws {
        guard let id else { throw state.deferredError ?? state.failure("unusable container") }
        try state.willAppend(toContainer: id)
        count += 1
    }

    mutating func encodeNil() throws { try begin(); state.writeNil() }
    mutating func encode(_ value: Bool) throws { try begin(); state.writeBool(value) }
    mutating func encode(_ value: String) throws { try begin(); state.writeString(value) }
    mutating func encode(_ value: Double) throws { try begin(); state.writeDouble(value) }
    mutating func encode(_ value: Float) throws { try begin(); state.writeFloat(value) }
    mutating func encode(_ value: Int) throws { try begin(); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try begin(); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try begin(); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try begin(); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try begin(); state.writeSigned(value) }
    mutating func encode(_ value: Int128) throws { try begin(); state.writeInt128(value) }
    mutating func encode(_ value: UInt) throws { try begin(); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try begin(); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try begin(); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try begin(); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try begin(); state.writeUnsigned(value) }
    mutating func encode(_ value: UInt128) throws { try begin(); state.writeUInt128(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try begin()
        try state.encodeNested(value, keys: extraPath, key: IndexKey(count - 1))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let path = extraPath + [IndexKey(count)]
        let nested = beginNested(.keyed)
        return KeyedEncodingContainer(KeyedEncoding<NestedKey>(state: state, id: nested, depth: depth, extraPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = extraPath + [IndexKey(count)]
        let nested = beginNested(.unkeyed)
        return UnkeyedEncoding(state: state, id: nested, depth: depth, extraPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let path = extraPath + [IndexKey(count)]
        do {
            try begin()
            return SlotEncoder(state: state, slot: try state.openSlot(), depth: depth, extraPath: path)
        } catch {
            state.record(error as? EncodingError ?? state.failure("\(error)"))
            return SlotEncoder(state: state, slot: -1, depth: depth, extraPath: path)
        }
    }

    private mutating func beginNested(_ kind: EncoderState.ItemKind) -> Int? {
        do {
            try begin()
            return state.beginContainer(kind)
        } catch {
            state.record(error as? EncodingError ?? state.failure("\(error)"))
            return nil
        }
    }
}
