// The `Encoder` a value sees in its `encode(to:)`: a view of one slot of the shared state.
// A struct, so encoding a nested value allocates nothing here.

/// An `Encoder` for the value that fills one slot.
struct SlotEncoder: Encoder {
    let state: EncoderState
    let slot: Int
    /// How many leading keys of `state.codingPath` belong to this value.
    let depth: Int
    /// Keys below `depth` that are not on `state.codingPath` (a `superEncoder` slot's key).
    var extraPath: [any CodingKey] = []

    var codingPath: [any CodingKey] { Array(state.codingPath.prefix(depth)) + extraPath }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let id = state.beginContainer(inSlot: slot, kind: .keyed)
        return KeyedEncodingContainer(KeyedEncoding<Key>(state: state, id: id, depth: depth, extraPath: extraPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let id = state.beginContainer(inSlot: slot, kind: .unkeyed)
        return UnkeyedEncoding(state: state, id: id, depth: depth, extraPath: extraPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueEncoding(state: state, slot: slot, depth: depth, extraPath: extraPath)
    }
}
