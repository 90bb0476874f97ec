// Keyed containers write entries as (key, value) in call order.

/// A keyed container open in an `EncoderState`. `id` nil means the container could not be
/// created (the reason is in `state.deferredError`) and every write fails.
struct KeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: EncoderState
    let id: Int?
    let depth: Int
    /// Keys of nested containers, which live outside `state.codingPath`.
    let extraPath: [any CodingKey]

    var codingPath: [any CodingKey] { Array(state.codingPath.prefix(depth)) + extraPath }

    /// Accounts for one entry and writes its key.
    private func begin(_ key: Key) throws {
        guard let id else { throw state.deferredError ?? state.failure("unusable container") }
        try state.willAppend(toContainer: id)
        state.writeKey(key)
    }

    mutating func encodeNil(forKey key: Key) throws { try begin(key); state.writeNil() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try begin(key); state.writeBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try begin(key); state.writeString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try begin(key); state.writeDouble(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try begin(key); state.writeFloat(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try begin(key); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try begin(key); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try begin(key); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try begin(key); state.writeSigned(Int64(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try begin(key); state.writeSigned(value) }
    mutating func encode(_ value: Int128, forKey key: Key) throws { try begin(key); state.writeInt128(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try begin(key); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try begin(key); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try begin(key); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try begin(key); state.writeUnsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try begin(key); state.writeUnsigned(value) }
    mutating func encode(_ value: UInt128, forKey key: Key) throws { try begin(key); state.writeUInt128(value) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try state.encodeNested(value, keys: extraPath, key: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = beginNested(key, kind: .keyed)
        return KeyedEncodingContainer(
            KeyedEncoding<NestedKey>(state: state, id: nested, depth: depth, extraPath: extraPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = beginNested(key, kind: .unkeyed)
        return UnkeyedEncoding(state: state, id: nested, depth: depth, extraPath: extraPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(key: SuperKey()) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: key) }

    /// Starts a container as the value of `key`; nil (error deferred) when this one is unusable.
    private func beginNested(_ key: Key, kind: EncoderState.ItemKind) -> Int? {
        do {
            try begin(key)
            return state.beginContainer(kind)
        } catch {
            state.record(error as? EncodingError ?? state.failure("\(error)"))
            return nil
        }
    }

    /// A slot for the value of `key`, left open until the next write to this container.
    private func superEncoder(key: any CodingKey) -> any Encoder {
        do {
            guard let id else { throw state.deferredError ?? state.failure("unusable container") }
            try state.willAppend(toContainer: id)
            state.writeRawString(key.stringValue)
            let slot = try state.openSlot()
            return SlotEncoder(state: state, slot: slot, depth: depth, extraPath: extraPath + [key])
        } catch {
            state.record(error as? EncodingError ?? state.failure("\(error)"))
            return SlotEncoder(state: state, slot: -1, depth: depth, extraPath: extraPath + [key])
        }
    }
}
